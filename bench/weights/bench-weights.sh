#!/usr/bin/env bash
# bench-weights: a model's weights from a PyTorch trainer to N workers
# through the Python API (canopy.torch), in the network-namespace lab
# (scripts/lab), against torch.distributed.broadcast (gloo) and the bound
# measured in the same run.
#
# Usage: bench-weights [OPTIONS]
#
# Options:
#   -h,--help                   Print this help message and exit
#   --n INT:1 to 40=8           workers
#   --mib INT:2 to 4096=256     model size in MiB
#   --link-mbit INT=200         every host's link speed, both ways
#   --changed-pct INT=5         percentage of the tensors a delta changes
#   --loopback-mib INT=256      file sent on loopback, Python SDK against C++
#   --skip-gloo                 skip torch.distributed.broadcast (gloo)
#   --quick                     N = 2, a 16 MiB model, 16 MiB on loopback (suite smoke test)
#
# A lab LAN with N + 2 hosts whose links are all limited by `tc tbf` to
# --link-mbit both ways; a controller and one canopy-node per host (replay
# rings of 3 x the model); the group uses the `bulk` profile. The trainer on
# host 1 pushes a state_dict of --mib MiB (float32 tensors of 2 MiB) to
# workers on hosts 2..N+1, which receive it in place into preallocated
# tensors; then a delta with --changed-pct % of the tensors changed; then a
# late joiner on host N+2 subscribes and fetches the latest version. Every
# worker's digest must equal the trainer's. Then the same bytes by
# torch.distributed.broadcast over gloo from host 1 to hosts 2..N+1, and,
# on host 1's loopback, the Python SDK against the C++ SDK (canopy-send ->
# canopy-recv) sending one --loopback-mib file. Printed: full push time
# against the bound max{F/u_s, F/d_min, N·F/(u_s + Σu_i)} and against gloo,
# delta time against the full push, the late joiner's time to a complete
# model, Python/C++ throughput, a worker's peak memory; the last line is
# one JSON object:
#   {"n":8, "model_mib":256, "link_mbit":200, "bound_s":…, "canopy_full_s":…,
#    "ratio_to_bound":…, "gloo_s":…, "speedup_vs_gloo":…, "canopy_delta_s":…,
#    "delta_to_full":…, "late_joiner_s":…, "python_to_cpp":…,
#    "worker_peak_over_model_mib":…, …}
# --quick: N = 2, a 16 MiB model, 16 MiB on loopback (a smoke test for the
# suite). Needs root (network namespaces) and Debian's python3-torch;
# exits 77 when it cannot run here.
set -euo pipefail

SELF_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# Installed as build/bin/bench-weights next to the binaries; the source
# tree's scripts/lab and the build's Python package are recorded at
# configure time.
BIN=${CANOPY_BIN:-$SELF_DIR}
LAB=${CANOPY_LAB:-@CANOPY_SOURCE_DIR@/scripts/lab}
DRIVER=@CANOPY_SOURCE_DIR@/bench/weights/bench_weights.py
PYTHON=@CANOPY_PYTHON@
export PYTHONPATH=@CANOPY_PYTHON_DIR@${PYTHONPATH:+:$PYTHONPATH}
export CANOPY_BIN_DIR=$BIN

n=8 mib=256 mbit=200 pct=5 loop_mib=256 extra=()
while (($#)); do
  case "$1" in
    --n) n=$2; shift 2 ;;
    --mib) mib=$2; shift 2 ;;
    --link-mbit) mbit=$2; shift 2 ;;
    --changed-pct) pct=$2; shift 2 ;;
    --loopback-mib) loop_mib=$2; shift 2 ;;
    --skip-gloo) extra+=(--skip-gloo); shift ;;
    --quick) n=2 mib=16 loop_mib=16; shift ;;
    -h | --help) sed -n '2,/^set -euo/p' "$0" | grep -v '^set -euo' | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "bench-weights: unknown argument $1" >&2; exit 2 ;;
  esac
done
[[ $n =~ ^[0-9]+$ ]] && ((n >= 1 && n <= 40)) || { echo "bench-weights: --n must be 1..40" >&2; exit 2; }
[[ $mib =~ ^[0-9]+$ ]] && ((mib >= 2 && mib <= 4096)) ||
  { echo "bench-weights: --mib must be 2..4096" >&2; exit 2; }
[[ $loop_mib =~ ^[0-9]+$ ]] && ((loop_mib >= 1 && loop_mib <= 4096)) ||
  { echo "bench-weights: --loopback-mib must be 1..4096" >&2; exit 2; }
[[ $mbit =~ ^[0-9]+$ ]] && ((mbit >= 1 && mbit <= 10000)) ||
  { echo "bench-weights: --link-mbit must be 1..10000" >&2; exit 2; }
[[ $pct =~ ^[0-9]+([.][0-9]+)?$ ]] || { echo "bench-weights: --changed-pct must be a number" >&2; exit 2; }
for b in canopy-controller canopy-node canopy-send canopy-recv canopyctl; do
  [ -x "$BIN/$b" ] || { echo "bench-weights: $BIN/$b missing (build first)" >&2; exit 1; }
done
"$PYTHON" -c 'import torch, canopy.torch' 2>/dev/null ||
  { echo "SKIPPED: $PYTHON cannot import torch and canopy (scripts/setup)"; exit 77; }
[ "$(id -u)" = 0 ] || { echo "SKIPPED: the lab needs root"; exit 77; }

PROGRAM=bench-weights
TAG="bw$$"  # a lab of its own: no other benchmark's or engineer's lab is touched
WORK=$(mktemp -d /tmp/canopy-bench-weights.XXXXXX)
# shellcheck source=bench/lab-bench-lib.sh
source "$SELF_DIR/canopy-lab-bench-lib.sh"
CLEANUP_DIRS=("$WORK")

echo "bench-weights: ${mib} MiB state_dict to N = ${n} workers, every host link ${mbit} Mbit/s (tc tbf)"
if ! "$LAB" up "$TAG" --lans 1 --hosts-per-lan $((n + 2)) --rate "$mbit" --owner $$ >"$WORK/lab.log" 2>&1; then
  rc=$?
  if ((rc == 77)); then echo "SKIPPED: $(tail -1 "$WORK/lab.log")"; exit 77; fi
  cat "$WORK/lab.log" >&2; exit 1
fi
if ! "$PYTHON" "$DRIVER" run --lab "$LAB" --tag "$TAG" --bin "$BIN" --work "$WORK" --n "$n" \
    --mib "$mib" --mbit "$mbit" --changed-pct "$pct" --loopback-mib "$loop_mib" "${extra[@]}"; then
  for f in "$WORK"/*.log; do echo "--- $f" >&2; tail -n 20 "$f" >&2; done
  exit 1
fi
