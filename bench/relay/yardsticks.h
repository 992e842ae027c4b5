#ifndef CANOPY_BENCH_RELAY_YARDSTICKS_H_
#define CANOPY_BENCH_RELAY_YARDSTICKS_H_

#include <cstddef>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace canopy::bench {

// Raw TCP on loopback, measured in the same run as the relay so ratios
// cancel out the machine.

// Single-stream TCP throughput from `iperf3 -c 127.0.0.1 -t seconds -J`
// against `iperf3 -s -1 --forceflush` started on a free port: the receiver's
// end.sum_received.bits_per_second, in bit/s. `iperf3` is the binary's path.
// Error if iperf3 fails, its JSON cannot be read, or it does not finish
// within seconds + 10 s (the processes are killed then).
absl::StatusOr<double> Iperf3BitsPerSecond(const std::string& iperf3, int seconds);

// The fallback yardstick: one thread writes `chunk_bytes` buffers into a
// loopback TCP socket for `duration`, another reads them. With `relays` > 0
// the bytes pass through that many relay threads, each a bare read/write
// loop between two loopback TCP sockets (no framing, no checksum): the
// least any relay process can cost. Returns bit/s at the reader.
absl::StatusOr<double> RawTcpBitsPerSecond(absl::Duration duration, size_t chunk_bytes,
                                           int relays = 0);

// Direct TCP ping-pong on a loopback socket (an echo thread in this
// process, TCP_NODELAY): `count` round trips of `message_bytes`, one every
// 1/rate seconds. Returns each round trip's one-way time (RTT/2) in µs.
absl::StatusOr<std::vector<double>> TcpPingPongOneWayMicros(size_t message_bytes, int count,
                                                            double rate_per_s);

// The cipher of the TLS phases alone: one thread encrypts 16 KiB records
// (a full TLS record) with AES-128-GCM through OpenSSL's EVP interface for
// `duration`. Returns bytes per second of one core: the ceiling of one
// TLS encryption (or decryption) pass over a stream on this machine.
absl::StatusOr<double> AesGcmBytesPerSecond(absl::Duration duration);

}  // namespace canopy::bench

#endif  // CANOPY_BENCH_RELAY_YARDSTICKS_H_
