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
                                              absl::Duration timeout, const ClientLinkTls& tls) {
  absl::StatusOr<FrameSocket> s = FrameSocket::Connect(node, timeout);
  if (!s.ok()) return s.status();
  const absl::Time deadline = absl::Now() + timeout;
  const StopRequested stop = [deadline] { return absl::Now() > deadline; };
  if (tls.context != nullptr) {
    if (absl::Status h = s->StartTls(*tls.context, TlsRole::kConnect, node.host, stop); !h.ok()) {
      return absl::Status(
          absl::IsCancelled(h) ? absl::StatusCode::kUnavailable : h.code(),
          absl::StrCat("client link to ", node.ToString(), ": ",
                       absl::IsCancelled(h) ? "TLS handshake timed out" : h.message()));
    }
    const PeerCertificate& node_cert = *s->peer_certificate();
    if (!tls.peer_unit.empty() && node_cert.unit != tls.peer_unit) {
      return absl::PermissionDeniedError(absl::StrCat(
          "client link to ", node.ToString(),
          ": the certificate there has OU=", node_cert.unit.empty() ? "(none)" : node_cert.unit,
          ", CN=", node_cert.common_name, "; a node's has OU=", tls.peer_unit));
    }
  }
  FramePtr hello = Frame::Make(FrameType::kHello, 0, 0, 0, token);
  const absl::string_view parts[] = {hello->bytes()};
  if (absl::Status w = s->Write(parts, stop); !w.ok()) {
    return absl::UnavailableError(
        absl::StrCat("client link to ", node.ToString(), ": ", w.message()));
  }
  return s;
}

namespace {

// Reads the HELLO of a new client link and checks its token.
absl::Status CheckHello(FrameSocket& s, absl::string_view token, const StopRequested& stop) {
  absl::StatusOr<FrameBuffer> bytes = s.Read(kMaxControlPayload, stop);
  if (!bytes.ok()) return bytes.status();
  absl::StatusOr<FramePtr> hello = Frame::Adopt(std::move(*bytes), kMaxControlPayload);
  if (!hello.ok()) return hello.status();
  if ((*hello)->header().type != FrameType::kHello) {
    return absl::InvalidArgumentError("first frame is not HELLO");
  }
  if (!SameToken((*hello)->payload(), token)) return absl::PermissionDeniedError("wrong token");
  return absl::OkStatus();
}

// OK if connection `s` may be the offered link: its HELLO carries `token`
// and, with TLS, it came over TLS with the expected certificate.
absl::Status Admit(FrameSocket& s, absl::string_view token, const ClientLinkTls& tls,
                   const StopRequested& stop) {
  if (tls.context == nullptr) return CheckHello(s, token, stop);
  // A frame starts with the magic number, a TLS connection with a
  // handshake record (type 22).
  absl::StatusOr<uint8_t> first = s.PeekFirstByte(stop);
  if (!first.ok()) return first.status();
  if (*first == (kMagic >> 8)) {
    if (absl::Status hello = CheckHello(s, token, stop); !hello.ok()) {
      return absl::PermissionDeniedError(
          absl::StrCat("plaintext, but this node's client links need TLS (", hello.message(), ")"));
    }
    return absl::FailedPreconditionError(
        "the client link was opened without TLS, but this node serves its clients with TLS: "
        "the link's token went out in plaintext, so the offer is withdrawn (a client with TLS "
        "files uses TLS on its link too)");
  }
  if (absl::Status h = s.StartTls(*tls.context, TlsRole::kAccept, "", stop); !h.ok()) return h;
  if (absl::Status hello = CheckHello(s, token, stop); !hello.ok()) return hello;
  const PeerCertificate& cert = *s.peer_certificate();
  if (!tls.peer_der.empty() && cert.der != tls.peer_der) {
    return absl::PermissionDeniedError(absl::StrCat(
        "its certificate (OU=", cert.unit.empty() ? "(none)" : cert.unit, ", CN=", cert.common_name,
        ") is not the one the call that was offered the link came with"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<FrameSocket> AcceptClientLink(FrameSocketListener& listener, absl::string_view token,
                                             absl::Time deadline, const StopRequested& stop,
                                             const ClientLinkTls& tls,
                                             const ClientLinkRefused& on_refused) {
  while (true) {
    absl::StatusOr<FrameSocket> s = listener.Accept(deadline, stop);
    if (!s.ok()) return s.status();
    const absl::Time hello_deadline = std::min(deadline, absl::Now() + kHelloTimeout);
    absl::Status why =
        Admit(*s, token, tls, [&] { return absl::Now() > hello_deadline || (stop && stop()); });
    if (why.ok()) return s;
    spdlog::warn("refused client link from {}: {}", s->peer(), std::string(why.message()));
    if (on_refused) on_refused(why);
    if (absl::IsFailedPrecondition(why)) return why;
  }
}

}  // namespace canopy::wire
