#include "wire/client_link.h"

#include <array>
#include <random>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "spdlog/spdlog.h"

namespace canopy::wire {
namespace {

constexpr size_t kTokenBytes = 16;
// How long an accepted connection may take to present its token.
constexpr absl::Duration kHelloTimeout = absl::Seconds(2);

// Compares without stopping at the first difference, so the time taken
// says nothing about how much of a guess was right.
bool SameToken(absl::string_view a, absl::string_view b) {
  if (a.size() != b.size()) return false;
  unsigned char diff = 0;
  for (size_t i = 0; i < a.size(); ++i) diff |= static_cast<unsigned char>(a[i] ^ b[i]);
  return diff == 0;
}

}  // namespace

std::string NewClientLinkToken() {
  std::random_device entropy;  // the kernel's CSPRNG on Linux
  std::array<char, kTokenBytes> raw;
  for (size_t i = 0; i < raw.size(); i += sizeof(uint32_t)) {
    const uint32_t word = entropy();
    for (size_t j = 0; j < sizeof(uint32_t); ++j) raw[i + j] = static_cast<char>(word >> (8 * j));
  }
  return absl::BytesToHexString(absl::string_view(raw.data(), raw.size()));
}

absl::StatusOr<FrameSocket> ConnectClientLink(const Endpoint& node, absl::string_view token,
                                              absl::Duration timeout) {
  absl::StatusOr<FrameSocket> s = FrameSocket::Connect(node, timeout);
  if (!s.ok()) return s.status();
  FramePtr hello = Frame::Make(FrameType::kHello, 0, 0, 0, token);
  const absl::Time deadline = absl::Now() + timeout;
  const absl::string_view parts[] = {hello->bytes()};
  if (absl::Status w = s->Write(parts, [deadline] { return absl::Now() > deadline; }); !w.ok()) {
    return absl::UnavailableError(
        absl::StrCat("client link to ", node.ToString(), ": ", w.message()));
  }
  return s;
}

absl::StatusOr<FrameSocket> AcceptClientLink(FrameSocketListener& listener, absl::string_view token,
                                             absl::Time deadline, const StopRequested& stop) {
  while (true) {
    absl::StatusOr<FrameSocket> s = listener.Accept(deadline, stop);
    if (!s.ok()) return s.status();
    const absl::Time hello_deadline = std::min(deadline, absl::Now() + kHelloTimeout);
    absl::StatusOr<FrameBuffer> bytes = s->Read(
        kMaxControlPayload, [&] { return absl::Now() > hello_deadline || (stop && stop()); });
    absl::Status why;
    if (!bytes.ok()) {
      why = bytes.status();
    } else if (absl::StatusOr<FramePtr> hello = Frame::Adopt(std::move(*bytes), kMaxControlPayload);
               !hello.ok()) {
      why = hello.status();
    } else if ((*hello)->header().type != FrameType::kHello) {
      why = absl::InvalidArgumentError("first frame is not HELLO");
    } else if (!SameToken((*hello)->payload(), token)) {
      why = absl::PermissionDeniedError("wrong token");
    } else {
      return s;
    }
    spdlog::warn("refused client link from {}: {}", s->peer(), std::string(why.message()));
  }
}

}  // namespace canopy::wire
