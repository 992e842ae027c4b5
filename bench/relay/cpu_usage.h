#ifndef CANOPY_BENCH_RELAY_CPU_USAGE_H_
#define CANOPY_BENCH_RELAY_CPU_USAGE_H_

#include <sys/types.h>

#include <vector>

namespace canopy::bench {

// CPU time (utime + stime from /proc/PID/stat, all threads) of `pid` in
// seconds; 0 if the process is gone. Resolution: one clock tick (10 ms).
double ProcessCpuSeconds(pid_t pid);

// Sum of ProcessCpuSeconds over `pids`.
double TotalCpuSeconds(const std::vector<pid_t>& pids);

// Nominal CPU frequency in Hz ("cpu MHz" of the first CPU in
// /proc/cpuinfo), used to turn CPU seconds into cycles because hardware
// cycle counters are not always available (e.g. in a VM). 0 if unknown.
double NominalCpuHz();

}  // namespace canopy::bench

#endif  // CANOPY_BENCH_RELAY_CPU_USAGE_H_
