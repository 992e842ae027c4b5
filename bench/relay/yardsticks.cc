#include "bench/relay/yardsticks.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/evp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <memory>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "tests/testing/process.h"
#include "bench/relay/pacer.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"

namespace canopy::bench {
namespace {

// A socket fd closed on scope exit.
class Fd {
 public:
  explicit Fd(int fd = -1) : fd_(fd) {}
  Fd(Fd&& o) noexcept : fd_(o.fd_) { o.fd_ = -1; }
  Fd& operator=(Fd&& o) noexcept {
    Reset();
    fd_ = o.fd_;
    o.fd_ = -1;
    return *this;
  }
  ~Fd() { Reset(); }
  int get() const { return fd_; }
  void Reset() {
    if (fd_ >= 0) close(fd_);
    fd_ = -1;
  }

 private:
  int fd_;
};

// A listening loopback socket on a free port.
absl::StatusOr<Fd> Listen(uint16_t* port) {
  Fd fd(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  if (fd.get() < 0 || bind(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
      listen(fd.get(), 4) != 0 ||
      getsockname(fd.get(), reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    return absl::InternalError(absl::StrCat("loopback listen: ", std::strerror(errno)));
  }
  *port = ntohs(addr.sin_port);
  return fd;
}

absl::StatusOr<Fd> Connect(uint16_t port) {
  Fd fd(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(port);
  if (fd.get() < 0 || connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    return absl::InternalError(absl::StrCat("loopback connect: ", std::strerror(errno)));
  }
  return fd;
}

void NoDelay(int fd) {
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

// Bounded socket reads and writes: a stuck peer makes them fail, not hang.
void SetTimeouts(int fd, absl::Duration timeout) {
  timeval tv = absl::ToTimeval(timeout);
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

bool ReadFull(int fd, char* buf, size_t n) {
  while (n > 0) {
    const ssize_t got = read(fd, buf, n);
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) return false;
    buf += got;
    n -= static_cast<size_t>(got);
  }
  return true;
}

bool WriteFull(int fd, const char* buf, size_t n) {
  while (n > 0) {
    const ssize_t put = send(fd, buf, n, MSG_NOSIGNAL);
    if (put < 0 && errno == EINTR) continue;
    if (put <= 0) return false;
    buf += put;
    n -= static_cast<size_t>(put);
  }
  return true;
}

// A port that was free a moment ago (bound, read, closed).
absl::StatusOr<uint16_t> FreePort() {
  uint16_t port = 0;
  auto fd = Listen(&port);
  if (!fd.ok()) return fd.status();
  return port;
}

}  // namespace

absl::StatusOr<double> Iperf3BitsPerSecond(const std::string& iperf3, int seconds) {
  auto port = FreePort();
  if (!port.ok()) return port.status();
  const absl::Duration timeout = absl::Seconds(seconds + 10);
  auto server =
      testing::Process::Start({iperf3, "-s", "-1", "--forceflush", "-p", std::to_string(*port)});
  if (!server.ok()) return server.status();
  if (!(*server)->WaitForStdout("listening", absl::Seconds(5))) {
    return absl::UnavailableError("iperf3 server did not start: " + (*server)->StderrTail());
  }
  auto client = testing::Process::Start(
      {iperf3, "-c", "127.0.0.1", "-p", std::to_string(*port), "-t", std::to_string(seconds), "-J"});
  if (!client.ok()) return client.status();
  auto json = (*client)->WaitForStdoutEnd(timeout);
  if (!json) return absl::DeadlineExceededError("iperf3 did not finish in time");
  google::protobuf::Struct root;
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = true;
  if (!google::protobuf::util::JsonStringToMessage(*json, &root, options).ok()) {
    return absl::InternalError("cannot parse iperf3 -J output: " + json->substr(0, 300));
  }
  const auto& fields = root.fields();
  if (fields.count("error")) {
    return absl::InternalError("iperf3: " + fields.at("error").string_value());
  }
  if (!fields.count("end")) return absl::InternalError("iperf3 JSON has no \"end\"");
  const auto& end = fields.at("end").struct_value().fields();
  if (!end.count("sum_received")) return absl::InternalError("iperf3 JSON has no sum_received");
  const auto& sum = end.at("sum_received").struct_value().fields();
  if (!sum.count("bits_per_second")) return absl::InternalError("iperf3 JSON has no bit rate");
  return sum.at("bits_per_second").number_value();
}

absl::StatusOr<double> RawTcpBitsPerSecond(absl::Duration duration, size_t chunk_bytes,
                                           int relays) {
  // sockets[i] is the sending end of hop i, receivers[i] its receiving end.
  std::vector<Fd> senders, receivers;
  for (int hop = 0; hop <= relays; ++hop) {
    uint16_t port = 0;
    auto listener = Listen(&port);
    if (!listener.ok()) return listener.status();
    auto sender = Connect(port);
    if (!sender.ok()) return sender.status();
    Fd receiver(accept4(listener->get(), nullptr, nullptr, SOCK_CLOEXEC));
    if (receiver.get() < 0) return absl::InternalError("loopback accept failed");
    SetTimeouts(sender->get(), absl::Seconds(5));
    SetTimeouts(receiver.get(), absl::Seconds(5));
    senders.push_back(*std::move(sender));
    receivers.push_back(std::move(receiver));
  }
  // A relay reads what arrives on hop i and writes it to hop i + 1.
  std::vector<std::thread> relay_threads;
  for (int hop = 0; hop < relays; ++hop) {
    relay_threads.emplace_back([&, hop] {
      std::vector<char> buf(chunk_bytes);
      while (true) {
        const ssize_t n = read(receivers[hop].get(), buf.data(), buf.size());
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0 || !WriteFull(senders[hop + 1].get(), buf.data(), static_cast<size_t>(n))) {
          break;
        }
      }
      shutdown(senders[hop + 1].get(), SHUT_WR);
    });
  }
  std::atomic<uint64_t> received{0};
  std::thread reader([&] {
    std::vector<char> buf(chunk_bytes);
    while (true) {
      const ssize_t n = read(receivers.back().get(), buf.data(), buf.size());
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;
      received.fetch_add(static_cast<uint64_t>(n), std::memory_order_relaxed);
    }
  });
  const int sender = senders.front().get();
  const std::vector<char> chunk(chunk_bytes, 'x');
  // Warm up for a tenth of the time, then measure what the reader got.
  const int64_t warm_end = MonotonicNanos() + absl::ToInt64Nanoseconds(duration / 10);
  while (MonotonicNanos() < warm_end && WriteFull(sender, chunk.data(), chunk.size())) {
  }
  const uint64_t start_bytes = received.load();
  const int64_t start = MonotonicNanos();
  const int64_t end = start + absl::ToInt64Nanoseconds(duration);
  while (MonotonicNanos() < end && WriteFull(sender, chunk.data(), chunk.size())) {
  }
  const uint64_t bytes = received.load() - start_bytes;
  const double seconds = static_cast<double>(MonotonicNanos() - start) / 1e9;
  shutdown(sender, SHUT_WR);
  for (std::thread& t : relay_threads) t.join();
  reader.join();
  return static_cast<double>(bytes) * 8 / seconds;
}

absl::StatusOr<std::vector<double>> TcpPingPongOneWayMicros(size_t message_bytes, int count,
                                                            double rate_per_s) {
  uint16_t port = 0;
  auto listener = Listen(&port);
  if (!listener.ok()) return listener.status();
  auto client = Connect(port);
  if (!client.ok()) return client.status();
  Fd server(accept4(listener->get(), nullptr, nullptr, SOCK_CLOEXEC));
  if (server.get() < 0) return absl::InternalError("loopback accept failed");
  NoDelay(client->get());
  NoDelay(server.get());
  SetTimeouts(client->get(), absl::Seconds(5));
  SetTimeouts(server.get(), absl::Seconds(5));
  std::thread echo([&] {
    std::vector<char> buf(message_bytes);
    while (ReadFull(server.get(), buf.data(), buf.size()) &&
           WriteFull(server.get(), buf.data(), buf.size())) {
    }
  });
  std::vector<char> buf(message_bytes, 'p');
  std::vector<double> one_way;
  one_way.reserve(static_cast<size_t>(count));
  Pacer pacer(rate_per_s);
  bool ok = true;
  for (int i = 0; i < count && ok; ++i) {
    pacer.Wait();
    const int64_t sent = MonotonicNanos();
    ok = WriteFull(client->get(), buf.data(), buf.size()) &&
         ReadFull(client->get(), buf.data(), buf.size());
    one_way.push_back(static_cast<double>(MonotonicNanos() - sent) / 2e3);
  }
  shutdown(client->get(), SHUT_WR);
  echo.join();
  if (!ok) return absl::InternalError("ping-pong socket failed");
  return one_way;
}

absl::StatusOr<double> AesGcmBytesPerSecond(absl::Duration duration) {
  constexpr size_t kRecord = 16 << 10;
  std::unique_ptr<EVP_CIPHER_CTX, void (*)(EVP_CIPHER_CTX*)> ctx(EVP_CIPHER_CTX_new(),
                                                                 EVP_CIPHER_CTX_free);
  if (ctx == nullptr) return absl::InternalError("EVP_CIPHER_CTX_new failed");
  const unsigned char key[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
  unsigned char iv[12] = {};
  std::vector<unsigned char> in(kRecord, 'm'), out(kRecord + 16);
  unsigned char aad[13] = {23, 3, 3};
  uint64_t bytes = 0;
  const absl::Time start = absl::Now();
  absl::Time now = start;
  for (uint64_t record = 0; now - start < duration; ++record) {
    std::memcpy(iv + 4, &record, sizeof(record));  // a fresh nonce per record, as TLS does
    int n = 0, tail = 0;
    if (EVP_EncryptInit_ex(ctx.get(), EVP_aes_128_gcm(), nullptr, key, iv) != 1 ||
        EVP_EncryptUpdate(ctx.get(), nullptr, &n, aad, sizeof(aad)) != 1 ||
        EVP_EncryptUpdate(ctx.get(), out.data(), &n, in.data(), static_cast<int>(kRecord)) != 1 ||
        EVP_EncryptFinal_ex(ctx.get(), out.data() + n, &tail) != 1 ||
        EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, 16, out.data() + kRecord) != 1) {
      return absl::InternalError("AES-128-GCM failed");
    }
    bytes += kRecord;
    if (record % 64 == 63) now = absl::Now();
  }
  return static_cast<double>(bytes) / absl::ToDoubleSeconds(absl::Now() - start);
}

}  // namespace canopy::bench
