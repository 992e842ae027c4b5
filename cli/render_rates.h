#ifndef CANOPY_CLI_RENDER_RATES_H_
#define CANOPY_CLI_RENDER_RATES_H_

#include <cstdint>
#include <string>

#include "canopy/v1/controller.pb.h"

namespace canopy::cli {

// How canopyctl shows live traffic (EdgeTraffic, TopResponse) and the
// markers that flag trouble. Pure functions, deterministic for their input.

// The marker the text renderings put after a node whose fan-out exceeds its
// limit, and after an edge or receiver that lags.
inline constexpr char kOverLimitMarker[] = "[OVER LIMIT]";
inline constexpr char kLaggingMarker[] = "[LAGGING]";

// Human units: bit rates in SI ("12.3 Mbit/s", from bytes per second),
// sizes in binary units ("1.5 MiB"), counts with k/M ("1.2k").
std::string BitRate(double bytes_per_s);
std::string Bytes(uint64_t bytes);
std::string Count(double n);

// What an edge or receiver carries, for the end of its tree line, starting
// with two spaces: "  12.3 Mbit/s 1.0k msg/s  lag 0". Lag in bytes, drops,
// repairs, queued bytes and the report's age are shown when not zero (the
// age when the report is older than 2 s); a lagging one ends with
// kLaggingMarker. `edge`: a tree edge (drops, repairs, queue) rather than a
// receiver.
std::string TrafficText(const v1::EdgeTraffic& traffic, bool edge);

// The lines after a tree with traffic: the ingress and every receiver with
// its delivered sequence, rate and lag behind the ingress, e.g.
//   ingress node-a  published 1234  12.3 Mbit/s 1.0k msg/s
//   receiver node-c  delivered 711  lag 523 (2.1 MiB)  [LAGGING]
// Empty without SourceTree.traffic.
std::string RenderReceiversText(const v1::SourceTree& tree);

// `canopyctl top`: two tables, the busiest links and the receivers
// furthest behind, each with a header line.
std::string RenderTopText(const v1::TopResponse& top);

// `text` with every kOverLimitMarker and kLaggingMarker (and the "unreachable:"
// lines) in bold red ANSI colour, for a terminal.
std::string Highlight(const std::string& text);

}  // namespace canopy::cli

#endif  // CANOPY_CLI_RENDER_RATES_H_
