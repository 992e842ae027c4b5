// bench-steinlib: runs SteinLib series B, C, D, E and PACE 2018 Track 1 and
// prints, per instance, the optimum, Mehlhorn's cost (the yardstick measured
// in the same run), our cost, the gap and the time; per series the average
// and maximum gap, the instances solved to optimum and the total time.
//
//   bench-steinlib [--data DIR] [--series B,C,D,E,P] [--time-limit-ms N]
//                  [--filter SUBSTR] [--max-per-series K]
//                  [--max-starts N] [--noise-percent P] [--avoid-percent P]
//                  [--elite N] [--recombinations N] [--recombination-starts N]
//                  [--merge-work-percent P] [--exact-max-terminals K] [--no-reduce]

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "CLI/CLI.hpp"
#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "base/program.h"
#include "tree/mehlhorn.h"
#include "tree/steiner.h"
#include "tree/steinlib_reader.h"

namespace {

namespace fs = std::filesystem;

struct Entry {
  std::string name;
  std::string path;
  int64_t optimum = 0;
};

std::string FindData(const std::string& flag) {
  if (!flag.empty()) return flag;
  std::vector<fs::path> candidates = {
      fs::path(CANOPY_SOURCE_DIR) / ".." / "shared" / "data" / "steinlib",
      fs::path("..") / "shared" / "data" / "steinlib",
      fs::path("..") / ".." / "shared" / "data" / "steinlib",
      fs::path("/work/shared/data/steinlib"),
  };
  for (const fs::path& p : candidates) {
    std::error_code ec;
    if (fs::exists(p / "OPTIMA.tsv", ec)) return fs::weakly_canonical(p, ec).string();
  }
  return "";
}

std::vector<Entry> ReadOptima(const fs::path& tsv, const fs::path& dir, const std::string& ext) {
  std::vector<Entry> out;
  std::ifstream in(tsv);
  std::string line;
  while (std::getline(in, line)) {
    std::vector<std::string> cols = absl::StrSplit(line, '\t');
    int64_t opt;
    if (cols.size() < 5 || !absl::SimpleAtoi(cols[4], &opt)) continue;
    out.push_back({cols[0], (dir / (cols[0] + ext)).string(), opt});
  }
  return out;
}

std::string SeriesOf(const std::string& name) {
  if (name.rfind("instance", 0) == 0) return "P";
  return std::string(1, static_cast<char>(std::toupper(name[0])));
}

double Gap(int64_t cost, int64_t opt) {
  return opt == 0 ? 0.0 : 100.0 * static_cast<double>(cost - opt) / static_cast<double>(opt);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"bench-steinlib: Steiner quality on SteinLib and PACE 2018 vs Mehlhorn"};
  std::string data_flag, series = "B,C,D,E,P", filter;
  int64_t time_limit_ms = 0;
  int max_per_series = 0;
  int max_starts = 0;
  int noise = -1, avoid = -1;
  bool no_reduce = false;
  int merge_percent = -1;
  int recombinations = -1, recombination_starts = -1, elite = -1, exact_max = -1;
  // -1 = the search's built-in default.
  const CLI::Validator knob = canopy::IntegerIn(-1, 1000000);
  app.add_option("--data", data_flag, "steinlib directory (default ../shared/data/steinlib)");
  app.add_option("--series", series, "comma-separated series among B,C,D,E,P (P = PACE Track 1)")
      ->check(canopy::ListOf(
          [](absl::string_view one) {
            if (one.size() == 1 &&
                absl::string_view("BCDEP").find(one) != absl::string_view::npos) {
              return absl::OkStatus();
            }
            return absl::InvalidArgumentError("a series is B, C, D, E or P");
          },
          "SERIES"));
  app.add_option("--time-limit-ms", time_limit_ms,
                 "search budget per instance in ms (deterministic work units; 0 = default)")
      ->check(canopy::IntegerIn<int64_t>(0, 3'600'000));
  app.add_option("--filter", filter, "only instances whose name contains this");
  app.add_option("--max-starts", max_starts, "constructive starts per instance (0 = default)")
      ->check(canopy::IntegerIn(0, 1000000));
  app.add_option("--noise-percent", noise, "restart cost noise (-1 = default)")
      ->check(canopy::IntegerIn(-1, 1000));
  app.add_option("--avoid-percent", avoid, "restart penalty on best-tree edges (-1 = default)")
      ->check(canopy::IntegerIn(-1, 1000));
  app.add_option("--recombinations", recombinations, "solution-merging rounds (-1 = default)")
      ->check(knob);
  app.add_option("--recombination-starts", recombination_starts,
                 "starts per merged subgraph (-1 = default)")
      ->check(knob);
  app.add_option("--elite", elite, "elite pool size (-1 = default)")->check(knob);
  app.add_option("--exact-max-terminals", exact_max,
                 "exact DP up to this many terminals (-1 = default, 0 = off)")
      ->check(canopy::IntegerIn(-1, 20));
  app.add_option("--merge-work-percent", merge_percent,
                 "merging work in percent of the starts' work (-1 = default)")
      ->check(canopy::IntegerIn(-1, 1000));
  app.add_flag("--no-reduce", no_reduce, "skip the edge reductions");
  app.add_option("--max-per-series", max_per_series,
                 "at most this many instances per series (0 = all)")
      ->check(canopy::IntegerIn(0, 1000000));
  if (auto exit_code = canopy::ParseCommandLine(app, "bench-steinlib", argc, argv)) {
    return *exit_code;
  }
  std::string data = FindData(data_flag);
  if (data.empty() || !fs::exists(fs::path(data) / "OPTIMA.tsv")) {
    std::fprintf(stderr, "bench-steinlib: no OPTIMA.tsv under %s (use --data)\n",
                 data.empty() ? "../shared/data/steinlib" : data.c_str());
    return 1;
  }
  std::vector<Entry> all = ReadOptima(fs::path(data) / "OPTIMA.tsv", data, ".stp");
  std::vector<Entry> pace = ReadOptima(fs::path(data) / "pace2018" / "OPTIMA.tsv",
                                       fs::path(data) / "pace2018" / "Track1", ".gr");
  all.insert(all.end(), pace.begin(), pace.end());
  std::vector<std::string> wanted = absl::StrSplit(series, ',', absl::SkipEmpty());

  struct Stats {
    int count = 0, optimal = 0, mehlhorn_optimal = 0;
    double gap_sum = 0, gap_max = 0, mgap_sum = 0, mgap_max = 0;
    double millis = 0, millis_max = 0;
  };
  std::map<std::string, Stats> stats;
  std::map<std::string, int> taken;
  std::printf("%-12s %9s %9s %8s %9s %8s %9s\n", "instance", "optimum", "mehlhorn", "m_gap%",
              "ours", "gap%", "ms");
  int failures = 0;
  for (const Entry& e : all) {
    std::string s = SeriesOf(e.name);
    if (std::find(wanted.begin(), wanted.end(), s) == wanted.end()) continue;
    if (!filter.empty() && e.name.find(filter) == std::string::npos) continue;
    if (max_per_series > 0 && taken[s]++ >= max_per_series) continue;
    absl::StatusOr<canopy::tree::SteinerInstance> inst = canopy::tree::ReadSteinLibFile(e.path);
    if (!inst.ok()) {
      std::printf("%-12s ERROR %s\n", e.name.c_str(), std::string(inst.status().message()).c_str());
      ++failures;
      continue;
    }
    absl::StatusOr<canopy::tree::SteinerSolution> mehlhorn =
        canopy::tree::MehlhornSteinerTree(inst->graph, inst->terminals);
    canopy::tree::SteinerOptions options;
    if (time_limit_ms > 0) options.work_budget = time_limit_ms * canopy::tree::kWorkUnitsPerMilli;
    if (max_starts > 0) options.max_starts = max_starts;
    if (noise >= 0) options.noise_percent = noise;
    if (avoid >= 0) options.avoid_percent = avoid;
    if (recombinations >= 0) options.recombinations = recombinations;
    if (recombination_starts >= 0) options.recombination_starts = recombination_starts;
    if (elite >= 0) options.elite_size = elite;
    if (no_reduce) options.reduce = false;
    if (merge_percent >= 0) options.recombination_work_percent = merge_percent;
    if (exact_max >= 0) options.exact_max_terminals = exact_max;
    auto start = std::chrono::steady_clock::now();
    absl::StatusOr<canopy::tree::SteinerSolution> ours =
        canopy::tree::SteinerTreeSearch(inst->graph, inst->terminals, options);
    double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start)
                    .count();
    if (!mehlhorn.ok() || !ours.ok()) {
      std::printf("%-12s ERROR %s\n", e.name.c_str(),
                  std::string((ours.ok() ? mehlhorn.status() : ours.status()).message()).c_str());
      ++failures;
      continue;
    }
    double gap = Gap(ours->cost, e.optimum), mgap = Gap(mehlhorn->cost, e.optimum);
    std::printf("%-12s %9lld %9lld %8.3f %9lld %8.3f %9.1f\n", e.name.c_str(),
                static_cast<long long>(e.optimum), static_cast<long long>(mehlhorn->cost), mgap,
                static_cast<long long>(ours->cost), gap, ms);
    std::fflush(stdout);
    Stats& st = stats[s];
    ++st.count;
    st.optimal += ours->cost == e.optimum;
    st.mehlhorn_optimal += mehlhorn->cost == e.optimum;
    st.gap_sum += gap;
    st.gap_max = std::max(st.gap_max, gap);
    st.mgap_sum += mgap;
    st.mgap_max = std::max(st.mgap_max, mgap);
    st.millis += ms;
    st.millis_max = std::max(st.millis_max, ms);
  }
  std::printf("\n%-6s %4s %9s %9s %9s %9s %8s %11s %10s\n", "series", "n", "avg_gap%", "max_gap%",
              "optimal", "m_avg%", "m_max%", "total_ms", "max_ms");
  for (const auto& [s, st] : stats) {
    std::printf("%-6s %4d %9.3f %9.3f %5d/%-3d %9.3f %8.3f %11.1f %10.1f\n", s.c_str(), st.count,
                st.gap_sum / st.count, st.gap_max, st.optimal, st.count, st.mgap_sum / st.count,
                st.mgap_max, st.millis, st.millis_max);
  }
  return failures == 0 ? 0 : 1;
}
