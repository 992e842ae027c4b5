#ifndef CANOPY_PROTO_NETWORK_COORDINATE_H_
#define CANOPY_PROTO_NETWORK_COORDINATE_H_

#include <array>
#include <cstdint>
#include <random>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "canopy/v1/controller.pb.h"

namespace canopy {

// Network coordinates (Vivaldi: Dabek, Cox, Kaashoek, Morris, SIGCOMM 2004)
// in the form Serf and Consul use: a point in 8-dimensional Euclidean space
// plus a height (the access link's share of every RTT) and an adjustment
// (the mean offset of measured RTTs from the model). Nodes compute their own
// coordinate from the RTTs they measure (VivaldiClient) and report it; the
// controller estimates the RTT of a pair nobody measured from the two
// coordinates (EstimatedRttUs). The contract: controller.proto, Coordinate.
// Units are microseconds throughout.
inline constexpr int kCoordinateDimensions = 8;
// Largest magnitude of any coordinate term: 1 h, the bound of a link cost.
inline constexpr double kCoordinateBoundUs = 3.6e9;
// A coordinate's error estimate starts here (nothing learnt) and never
// exceeds it.
inline constexpr double kCoordinateMaxError = 1.5;
// Smallest height: 10 µs.
inline constexpr double kCoordinateMinHeightUs = 10;

struct NetworkCoordinate {
  std::array<double, kCoordinateDimensions> vec{};
  double height_us = kCoordinateMinHeightUs;
  double error = kCoordinateMaxError;
  double adjustment_us = 0;
};

// Estimated round-trip time between the holders of `a` and `b`, in µs:
// |a.vec - b.vec| + both heights + both adjustments, or without the
// adjustments when that sum is not positive. Never negative.
double EstimatedRttUs(const NetworkCoordinate& a, const NetworkCoordinate& b);

// OK if `c` is a coordinate as controller.proto documents it (8 finite
// components within the bound, height, error and adjustment finite and in
// range); else InvalidArgument naming the first problem.
absl::Status ValidateCoordinate(const v1::Coordinate& c);

// The coordinate `c` carries; the error of ValidateCoordinate if it is
// invalid.
absl::StatusOr<NetworkCoordinate> CoordinateFromProto(const v1::Coordinate& c);
v1::Coordinate CoordinateToProto(const NetworkCoordinate& c);

// Tuning of VivaldiClient; the defaults are Serf's (coordinate.DefaultConfig),
// in µs.
struct VivaldiOptions {
  double error_max = kCoordinateMaxError;  // VivaldiErrorMax
  double ce = 0.25;                        // VivaldiCE: error update gain
  double cc = 0.25;                        // VivaldiCC: position update gain
  int adjustment_window = 20;              // AdjustmentWindowSize; 0 = no adjustment
  double height_min_us = kCoordinateMinHeightUs;
  int latency_filter_size = 3;  // samples per peer whose median is used
  double gravity_rho_us = 150e6;  // GravityRho (150 s): pull towards the origin
};

// One node's own coordinate, moved by each RTT sample towards agreement with
// the peer's coordinate (a spring relaxation weighted by both error
// estimates), as Serf's coordinate.Client does. A coordinate that turns
// invalid (not finite) is reset to the origin.
//
// Thread-compatible.
class VivaldiClient {
 public:
  // `seed` picks the directions used to separate coincident coordinates.
  explicit VivaldiClient(uint64_t seed, VivaldiOptions options = {});

  // Feeds one RTT sample (µs) to `peer`, whose coordinate is `peer_coordinate`.
  // A sample that is not finite and positive, or at most kCoordinateBoundUs,
  // or a peer coordinate that is not finite, is ignored; returns false then.
  bool Observe(const std::string& peer, const NetworkCoordinate& peer_coordinate, double rtt_us);

  // Drops what was kept for `peer` (its recent samples).
  void Forget(const std::string& peer);

  const NetworkCoordinate& coordinate() const { return coordinate_; }
  // How often the coordinate was reset because it turned invalid.
  uint64_t resets() const { return resets_; }
  // Peers with samples kept (bounded by the caller's Forget calls).
  size_t tracked_peers() const { return filters_.size(); }

 private:
  struct Filter {
    std::array<double, 8> samples{};
    int count = 0;  // samples held, up to latency_filter_size
    int next = 0;   // ring position of the next sample
  };

  double FilteredRtt(const std::string& peer, double rtt_us);
  void UpdateVivaldi(const NetworkCoordinate& other, double rtt_us);
  void UpdateAdjustment(const NetworkCoordinate& other, double rtt_us);
  void UpdateGravity();
  // Moves the coordinate by `force` µs along the direction from `other`.
  void ApplyForce(double force, const NetworkCoordinate& other);

  const VivaldiOptions options_;
  std::mt19937_64 random_;
  NetworkCoordinate coordinate_;
  absl::flat_hash_map<std::string, Filter> filters_;
  std::array<double, 64> adjustment_samples_{};
  int adjustment_next_ = 0;
  uint64_t resets_ = 0;
};

}  // namespace canopy

#endif  // CANOPY_PROTO_NETWORK_COORDINATE_H_
