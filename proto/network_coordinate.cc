#include "proto/network_coordinate.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"

namespace canopy {
namespace {

// Below this (µs) two positions count as one; Serf's zeroThreshold (1e-6 s).
constexpr double kZeroUs = 1.0;

double Magnitude(const std::array<double, kCoordinateDimensions>& v) {
  double sum = 0;
  for (double x : v) sum += x * x;
  return std::sqrt(sum);
}

double RawDistanceUs(const NetworkCoordinate& a, const NetworkCoordinate& b) {
  std::array<double, kCoordinateDimensions> d;
  for (int i = 0; i < kCoordinateDimensions; ++i) d[i] = a.vec[i] - b.vec[i];
  return Magnitude(d) + a.height_us + b.height_us;
}

bool Finite(const NetworkCoordinate& c) {
  for (double x : c.vec) {
    if (!std::isfinite(x)) return false;
  }
  return std::isfinite(c.height_us) && std::isfinite(c.error) && std::isfinite(c.adjustment_us);
}

absl::Status CheckTerm(const char* name, double value, double low, double high) {
  if (!std::isfinite(value)) return absl::InvalidArgumentError(absl::StrCat(name, " is not finite"));
  if (value < low || value > high) {
    return absl::InvalidArgumentError(
        absl::StrCat(name, " ", value, " is outside ", low, "..", high));
  }
  return absl::OkStatus();
}

}  // namespace

double EstimatedRttUs(const NetworkCoordinate& a, const NetworkCoordinate& b) {
  const double raw = RawDistanceUs(a, b);
  const double adjusted = raw + a.adjustment_us + b.adjustment_us;
  return std::max(0.0, adjusted > 0 ? adjusted : raw);
}

absl::Status ValidateCoordinate(const v1::Coordinate& c) {
  if (c.vec_size() != kCoordinateDimensions) {
    return absl::InvalidArgumentError(absl::StrCat("coordinate has ", c.vec_size(),
                                                   " components; it needs ",
                                                   kCoordinateDimensions));
  }
  for (int i = 0; i < c.vec_size(); ++i) {
    if (absl::Status s = CheckTerm("coordinate component", c.vec(i), -kCoordinateBoundUs,
                                   kCoordinateBoundUs);
        !s.ok()) {
      return s;
    }
  }
  if (absl::Status s = CheckTerm("coordinate height", c.height(), 0, kCoordinateBoundUs); !s.ok()) {
    return s;
  }
  if (absl::Status s = CheckTerm("coordinate error", c.error(), 0, kCoordinateMaxError); !s.ok()) {
    return s;
  }
  return CheckTerm("coordinate adjustment", c.adjustment(), -kCoordinateBoundUs,
                   kCoordinateBoundUs);
}

absl::StatusOr<NetworkCoordinate> CoordinateFromProto(const v1::Coordinate& c) {
  if (absl::Status s = ValidateCoordinate(c); !s.ok()) return s;
  NetworkCoordinate out;
  for (int i = 0; i < kCoordinateDimensions; ++i) out.vec[i] = c.vec(i);
  out.height_us = c.height();
  out.error = c.error();
  out.adjustment_us = c.adjustment();
  return out;
}

v1::Coordinate CoordinateToProto(const NetworkCoordinate& c) {
  v1::Coordinate out;
  for (double x : c.vec) out.add_vec(x);
  out.set_height(c.height_us);
  out.set_error(c.error);
  out.set_adjustment(c.adjustment_us);
  return out;
}

VivaldiClient::VivaldiClient(uint64_t seed, VivaldiOptions options)
    : options_([&] {
        options.latency_filter_size = std::clamp(options.latency_filter_size, 1, 8);
        options.adjustment_window = std::clamp(options.adjustment_window, 0, 64);
        return options;
      }()),
      random_(seed) {
  coordinate_.height_us = options_.height_min_us;
  coordinate_.error = options_.error_max;
}

bool VivaldiClient::Observe(const std::string& peer, const NetworkCoordinate& peer_coordinate,
                            double rtt_us) {
  if (!std::isfinite(rtt_us) || rtt_us <= 0 || rtt_us > kCoordinateBoundUs ||
      !Finite(peer_coordinate)) {
    return false;
  }
  const double rtt = FilteredRtt(peer, rtt_us);
  UpdateVivaldi(peer_coordinate, rtt);
  UpdateAdjustment(peer_coordinate, rtt);
  UpdateGravity();
  if (!Finite(coordinate_)) {
    ++resets_;
    coordinate_ = NetworkCoordinate{};
    coordinate_.height_us = options_.height_min_us;
    coordinate_.error = options_.error_max;
  }
  return true;
}

void VivaldiClient::Forget(const std::string& peer) { filters_.erase(peer); }

double VivaldiClient::FilteredRtt(const std::string& peer, double rtt_us) {
  Filter& f = filters_[peer];
  const int size = options_.latency_filter_size;
  f.samples[f.next] = rtt_us;
  f.next = (f.next + 1) % size;
  f.count = std::min(f.count + 1, size);
  std::array<double, 8> sorted = f.samples;
  std::sort(sorted.begin(), sorted.begin() + f.count);
  return sorted[f.count / 2];
}

void VivaldiClient::UpdateVivaldi(const NetworkCoordinate& other, double rtt_us) {
  const double rtt = std::max(rtt_us, kZeroUs);
  const double dist = EstimatedRttUs(coordinate_, other);
  const double wrongness = std::abs(dist - rtt) / rtt;
  const double total_error = std::max(coordinate_.error + other.error, 1e-6);
  const double weight = coordinate_.error / total_error;
  coordinate_.error = options_.ce * weight * wrongness + coordinate_.error * (1.0 - options_.ce * weight);
  coordinate_.error = std::min(coordinate_.error, options_.error_max);
  const double force = options_.cc * weight * (rtt - dist);
  ApplyForce(force, other);
}

void VivaldiClient::UpdateAdjustment(const NetworkCoordinate& other, double rtt_us) {
  const int window = options_.adjustment_window;
  if (window == 0) return;
  // The raw distance: the adjustments themselves do not take part.
  adjustment_samples_[adjustment_next_] = rtt_us - RawDistanceUs(coordinate_, other);
  adjustment_next_ = (adjustment_next_ + 1) % window;
  double sum = 0;
  for (int i = 0; i < window; ++i) sum += adjustment_samples_[i];
  coordinate_.adjustment_us =
      std::clamp(sum / (2.0 * window), -kCoordinateBoundUs, kCoordinateBoundUs);
}

void VivaldiClient::UpdateGravity() {
  NetworkCoordinate origin;
  origin.height_us = options_.height_min_us;
  const double dist = EstimatedRttUs(origin, coordinate_);
  const double ratio = dist / options_.gravity_rho_us;
  ApplyForce(-ratio * ratio, origin);
}

void VivaldiClient::ApplyForce(double force, const NetworkCoordinate& other) {
  std::array<double, kCoordinateDimensions> unit;
  for (int i = 0; i < kCoordinateDimensions; ++i) unit[i] = coordinate_.vec[i] - other.vec[i];
  const double magnitude = Magnitude(unit);
  if (magnitude > kZeroUs) {
    for (double& x : unit) x /= magnitude;
  } else {
    // Coincident positions: push apart in a random direction.
    std::normal_distribution<double> normal;
    for (double& x : unit) x = normal(random_);
    const double m = Magnitude(unit);
    for (double& x : unit) x = m > 0 ? x / m : 0;
  }
  for (int i = 0; i < kCoordinateDimensions; ++i) coordinate_.vec[i] += unit[i] * force;
  if (magnitude > kZeroUs) {
    coordinate_.height_us =
        (coordinate_.height_us + other.height_us) * force / magnitude + coordinate_.height_us;
    coordinate_.height_us = std::max(coordinate_.height_us, options_.height_min_us);
  }
  // Keep every term within what the contract lets a node report.
  for (double& x : coordinate_.vec) x = std::clamp(x, -kCoordinateBoundUs, kCoordinateBoundUs);
  coordinate_.height_us = std::min(coordinate_.height_us, kCoordinateBoundUs);
}

}  // namespace canopy
