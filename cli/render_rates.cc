#include "cli/render_rates.h"

#include <algorithm>
#include <map>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_replace.h"

namespace canopy::cli {
namespace {

// A report older than this is worth saying so.
constexpr uint64_t kOldReportMs = 2000;

// Left-aligned columns, each as wide as its widest cell, two spaces apart;
// the last column is not padded.
std::string Table(const std::vector<std::vector<std::string>>& rows) {
  std::vector<size_t> width;
  for (const auto& row : rows) {
    if (width.size() < row.size()) width.resize(row.size(), 0);
    for (size_t i = 0; i < row.size(); ++i) width[i] = std::max(width[i], row[i].size());
  }
  std::string out;
  for (const auto& row : rows) {
    std::string line;
    for (size_t i = 0; i < row.size(); ++i) {
      if (i + 1 == row.size()) {
        absl::StrAppend(&line, row[i]);
      } else {
        absl::StrAppend(&line, absl::StrFormat("%-*s  ", width[i], row[i]));
      }
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    absl::StrAppend(&out, line, "\n");
  }
  return out;
}

std::string Lag(const v1::EdgeTraffic& t) {
  return absl::StrCat("lag ", t.lag_messages(),
                      t.lag_bytes() > 0 ? absl::StrCat(" (", Bytes(t.lag_bytes()), ")") : "");
}

std::string Age(uint64_t ms) { return absl::StrFormat("report %.1f s old", ms / 1000.0); }

}  // namespace

std::string BitRate(double bytes_per_s) {
  const double bits = std::max(0.0, bytes_per_s) * 8;
  if (bits < 1e3) return absl::StrFormat("%.0f bit/s", bits);
  if (bits < 1e6) return absl::StrFormat("%.1f kbit/s", bits / 1e3);
  if (bits < 1e9) return absl::StrFormat("%.1f Mbit/s", bits / 1e6);
  return absl::StrFormat("%.2f Gbit/s", bits / 1e9);
}

std::string Bytes(uint64_t bytes) {
  const double b = static_cast<double>(bytes);
  if (bytes < 1024) return absl::StrCat(bytes, " B");
  if (bytes < (uint64_t{1} << 20)) return absl::StrFormat("%.1f KiB", b / 1024);
  if (bytes < (uint64_t{1} << 30)) return absl::StrFormat("%.1f MiB", b / (1 << 20));
  return absl::StrFormat("%.2f GiB", b / (1 << 30));
}

std::string Count(double n) {
  n = std::max(0.0, n);
  if (n < 10) return absl::StrFormat("%.1f", n);
  if (n < 1e3) return absl::StrFormat("%.0f", n);
  if (n < 1e6) return absl::StrFormat("%.1fk", n / 1e3);
  return absl::StrFormat("%.1fM", n / 1e6);
}

std::string TrafficText(const v1::EdgeTraffic& t, bool edge) {
  std::string out = absl::StrCat("  ", BitRate(t.bytes_per_s()), " ", Count(t.messages_per_s()),
                                 " msg/s  ", Lag(t));
  if (edge && t.dropped_frames() > 0) absl::StrAppend(&out, "  drops ", t.dropped_frames());
  if (t.repairs() > 0) absl::StrAppend(&out, "  repairs ", t.repairs());
  if (edge && t.queued_bytes() > 0) absl::StrAppend(&out, "  queued ", Bytes(t.queued_bytes()));
  if (t.report_age_ms() > kOldReportMs) absl::StrAppend(&out, "  ", Age(t.report_age_ms()));
  if (t.lagging()) absl::StrAppend(&out, "  ", kLaggingMarker);
  return out;
}

std::string RenderReceiversText(const v1::SourceTree& tree) {
  if (!tree.has_traffic()) return "";
  const v1::SourceTraffic& traffic = tree.traffic();
  std::string out;
  if (traffic.has_ingress()) {
    const v1::EdgeTraffic& t = traffic.ingress();
    absl::StrAppend(
        &out, "ingress ", tree.root(), "  published ", t.sequence(), "  ", BitRate(t.bytes_per_s()),
        " ", Count(t.messages_per_s()), " msg/s",
        t.report_age_ms() > kOldReportMs ? absl::StrCat("  ", Age(t.report_age_ms())) : "", "\n");
  }
  std::vector<std::string> receivers(tree.receivers().begin(), tree.receivers().end());
  std::sort(receivers.begin(), receivers.end());
  for (const std::string& node : receivers) {
    auto it = traffic.receivers().find(node);
    if (it == traffic.receivers().end()) {
      absl::StrAppend(&out, "receiver ", node, "  (no traffic report yet)\n");
      continue;
    }
    absl::StrAppend(&out, "receiver ", node, "  delivered ", it->second.sequence(),
                    TrafficText(it->second, /*edge=*/false), "\n");
  }
  return out;
}

std::string RenderTopText(const v1::TopResponse& top) {
  std::vector<std::vector<std::string>> links = {
      {"PARENT", "CHILD", "RATE", "MSG/S", "FLOWS", "QUEUED", "DROPS", "LAG", "UPLOAD", ""}};
  for (const v1::HotLink& l : top.links()) {
    links.push_back(
        {l.parent(), l.child(), BitRate(l.bytes_per_s()), Count(l.messages_per_s()),
         absl::StrCat(l.flows()), Bytes(l.queued_bytes()), absl::StrCat(l.dropped_frames()),
         absl::StrCat(l.lag_messages()),
         l.parent_upload_bps() == 0 ? "-" : BitRate(static_cast<double>(l.parent_upload_bps()) / 8),
         l.lagging() ? kLaggingMarker : ""});
  }
  std::vector<std::vector<std::string>> receivers = {
      {"GROUP", "SOURCE", "NODE", "DELIVERED", "RATE", "LAG", "LAG BYTES", "REPORT AGE", ""}};
  for (const v1::SlowReceiver& r : top.receivers()) {
    const v1::EdgeTraffic& t = r.traffic();
    receivers.push_back(
        {r.group(), r.source(), r.node_id(), absl::StrCat(t.sequence()), BitRate(t.bytes_per_s()),
         absl::StrCat(t.lag_messages()), Bytes(t.lag_bytes()),
         absl::StrFormat("%.1f s", t.report_age_ms() / 1000.0), t.lagging() ? kLaggingMarker : ""});
  }
  std::string out = "hottest links\n";
  absl::StrAppend(&out, top.links().empty() ? "(no traffic reported)\n" : Table(links));
  absl::StrAppend(&out, "\nslowest receivers\n");
  absl::StrAppend(&out, top.receivers().empty() ? "(no traffic reported)\n" : Table(receivers));
  return out;
}

std::string Highlight(const std::string& text) {
  constexpr char kRed[] = "\033[1;31m";
  constexpr char kReset[] = "\033[0m";
  std::string out = absl::StrReplaceAll(
      text, {{kOverLimitMarker, absl::StrCat(kRed, kOverLimitMarker, kReset)},
             {kLaggingMarker, absl::StrCat(kRed, kLaggingMarker, kReset)},
             {"\nunreachable: ", absl::StrCat("\n", kRed, "unreachable:", kReset, " ")}});
  return out;
}

}  // namespace canopy::cli
