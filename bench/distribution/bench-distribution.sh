#!/usr/bin/env bash
# bench-distribution: bulk distribution of one file to N receivers in the
# network-namespace lab (scripts/lab), against the lower bound and against
# client-server unicast measured in the same run.
#
# Usage: bench-distribution [OPTIONS]
#
# Options:
#   -h,--help                   Print this help message and exit
#   --n TEXT="2 4 8"            receiver counts N, one run each (1..40)
#   --file-mib INT:1 to 4096=256
#                               size of the file sent
#   --link-mbit INT:1 to 10000=200
#                               every host's link speed, both ways
#   --slow-mbit INT=0           upload of the slower half of the receivers (0 = as fast)
#   --stripes INT:1 to 64=1     send over K stripes (canopy-send --stripes)
#   --quick                     N = 2, an 8 MiB file (a smoke test for the suite)
#
# For each N: a lab LAN with N + 1 hosts whose links are all limited by
# `tc tbf` to --link-mbit in both directions; a controller and one
# canopy-node per host; the group uses the `bulk` profile. canopy-send sends
# a random file of --file-mib MiB from host 1, canopy-recv receives it on
# hosts 2..N+1 (into /dev/shm) and every receiver's SHA-256 must equal the
# sender's. Then the same file goes client-server: N parallel iperf3 streams
# from host 1 (reverse mode, -n FILE). Printed per N: Canopy's time (send
# start to the last receiver done), the bound max{F/u_s, F/d_min,
# N·F/(u_s + Σu_i)}, client-server time, time to first byte, the peak
# resident memory of each node, and, as the last line of the run, one JSON
# object:
#   {"n":8, "file_mib":256, "link_mbit":200, "canopy_s":…, "bound_s":…,
#    "client_server_s":…, "ratio_to_bound":…, "speedup_vs_client_server":…, …}
# --slow-mbit M: the upload of the last floor(N/2) receivers is M Mbit/s
# instead (their nodes report it; the bound uses it). --stripes K: send over
# K stripes (canopy-send --stripes), so the planner may build a striped
# forest. Both also appear in the JSON line ("slow_mbit", "stripes").
# --quick: N = 2, an 8 MiB file (a smoke test for the suite).
#
# Needs root (network namespaces); exits 77 when the lab cannot run here.
set -euo pipefail

SELF_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# Installed as build/bin/bench-distribution next to the binaries; the
# source tree's scripts/lab is recorded at configure time.
BIN=${CANOPY_BIN:-$SELF_DIR}
LAB=${CANOPY_LAB:-@CANOPY_SOURCE_DIR@/scripts/lab}

ns_list="2 4 8" file_mib=256 mbit=200 slow_mbit=0 stripes=1
while (($#)); do
  case "$1" in
    --n) ns_list=$2; shift 2 ;;
    --file-mib) file_mib=$2; shift 2 ;;
    --link-mbit) mbit=$2; shift 2 ;;
    --slow-mbit) slow_mbit=$2; shift 2 ;;
    --stripes) stripes=$2; shift 2 ;;
    --quick) ns_list=2 file_mib=8; shift ;;
    -h | --help) sed -n '2,/^set -euo/p' "$0" | grep -v '^set -euo' | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "bench-distribution: unknown argument $1" >&2; exit 2 ;;
  esac
done
[[ $file_mib =~ ^[0-9]+$ ]] && ((file_mib >= 1 && file_mib <= 4096)) ||
  { echo "bench-distribution: --file-mib must be 1..4096" >&2; exit 2; }
[[ $mbit =~ ^[0-9]+$ ]] && ((mbit >= 1 && mbit <= 10000)) ||
  { echo "bench-distribution: --link-mbit must be 1..10000" >&2; exit 2; }
[[ $slow_mbit =~ ^[0-9]+$ ]] && ((slow_mbit <= mbit)) ||
  { echo "bench-distribution: --slow-mbit must be 0..--link-mbit" >&2; exit 2; }
[[ $stripes =~ ^[0-9]+$ ]] && ((stripes >= 1 && stripes <= 64)) ||
  { echo "bench-distribution: --stripes must be 1..64" >&2; exit 2; }
for n in $ns_list; do
  [[ $n =~ ^[0-9]+$ ]] && ((n >= 1 && n <= 40)) ||
    { echo "bench-distribution: every --n must be 1..40" >&2; exit 2; }
done
for b in canopy-controller canopy-node canopy-send canopy-recv canopyctl; do
  [ -x "$BIN/$b" ] || { echo "bench-distribution: $BIN/$b missing (build first)" >&2; exit 1; }
done
command -v iperf3 >/dev/null || { echo "SKIPPED: iperf3 is not installed"; exit 77; }
[ "$(id -u)" = 0 ] || { echo "SKIPPED: the lab needs root"; exit 77; }

PROGRAM=bench-distribution
TAG="bd$$"
WORK=$(mktemp -d /tmp/canopy-bench-dist.XXXXXX)
SHM=$(mktemp -d /dev/shm/canopy-bench-dist.XXXXXX)
# shellcheck source=bench/lab-bench-lib.sh
source "$SELF_DIR/canopy-lab-bench-lib.sh"
CLEANUP_DIRS=("$WORK" "$SHM")

now() { date +%s.%N; }
addr() { echo "10.77.1.$((10 + $1))"; }
json_field() { sed -n "s/.*\"$1\":\"\{0,1\}\([^\",}]*\).*/\1/p" "$2" | head -1; }

file="$WORK/file.bin"
head -c $((file_mib << 20)) /dev/urandom >"$file"
echo "bench-distribution: ${file_mib} MiB file, every host link ${mbit} Mbit/s (tc tbf), N = ${ns_list}," \
  "stripes ${stripes}$( ((slow_mbit > 0)) && echo ", upload of the last N/2 receivers ${slow_mbit} Mbit/s")"
# Upload of host H (1 = the source) in Mbit/s.
upload_of() {
  local h=$1 n=$2
  if ((slow_mbit > 0 && h > n + 1 - n / 2)); then echo "$slow_mbit"; else echo "$mbit"; fi
}

for n in $ns_list; do
  hosts=$((n + 1))
  if ! "$LAB" up "$TAG" --lans 1 --hosts-per-lan "$hosts" --rate "$mbit" --owner $$ >"$WORK/lab.log" 2>&1; then
    rc=$?
    if ((rc == 77)); then echo "SKIPPED: $(tail -1 "$WORK/lab.log")"; exit 77; fi
    cat "$WORK/lab.log" >&2; exit 1
  fi
  for h in $(seq 2 "$hosts"); do
    up=$(upload_of "$h" "$n")
    ((up == mbit)) || "$LAB" exec "$TAG" "l1h$h" -- tc qdisc replace dev eth0 root tbf \
      rate "${up}mbit" burst $((up * 1000000 / 8 / 100 > 16384 ? up * 1000000 / 8 / 100 : 16384)) \
      latency 100ms
  done
  ctl="$(addr 1):7000"
  "$LAB" exec "$TAG" l1h1 -- "$BIN/canopy-controller" --plaintext --listen "$ctl" --store "$WORK/ctl-$n.db" \
    >"$WORK/ctl-$n.log" 2>&1 &
  PIDS+=($!)
  await "$WORK/ctl-$n.log" listening
  declare -A node_pid=()
  for h in $(seq "$hosts"); do
    "$LAB" exec "$TAG" "l1h$h" -- "$BIN/canopy-node" --plaintext --id "h$h" --controller "$ctl" \
      --listen "$(addr "$h"):7001" --data "$(addr "$h"):7002" --upload-bps $(($(upload_of "$h" "$n") * 1000000)) \
      >"$WORK/node-$n-$h.log" 2>&1 &
    node_pid[$h]=$!
    PIDS+=($!)
  done
  for h in $(seq "$hosts"); do await "$WORK/node-$n-$h.log" listening; done
  "$LAB" exec "$TAG" l1h1 -- "$BIN/canopyctl" --controller "$ctl" policy set ckpt --profile bulk \
    >"$WORK/policy-$n.log" 2>&1

  recv_pids=()
  for h in $(seq 2 "$hosts"); do
    mkdir -p "$SHM/$n-$h"
    "$LAB" exec "$TAG" "l1h$h" -- "$BIN/canopy-recv" --node "$(addr "$h"):7001" --group ckpt \
      --out "$SHM/$n-$h" --timeout-s 3600 >"$WORK/recv-$n-$h.json" 2>"$WORK/recv-$n-$h.log" &
    recv_pids+=($!)
    PIDS+=($!)
  done
  for h in $(seq 2 "$hosts"); do await "$WORK/recv-$n-$h.log" joined; done
  t0=$(now)
  if ! "$LAB" exec "$TAG" l1h1 -- "$BIN/canopy-send" "$file" --node "$(addr 1):7001" \
      --group ckpt --source trainer --stripes "$stripes" >"$WORK/send-$n.json" 2>"$WORK/send-$n.log"; then
    cat "$WORK/send-$n.log" >&2; exit 1
  fi
  last_done=$t0
  for i in "${!recv_pids[@]}"; do
    h=$((i + 2))
    if ! wait "${recv_pids[$i]}"; then
      echo "bench-distribution: receiver h$h failed:" >&2; cat "$WORK/recv-$n-$h.log" >&2; exit 1
    fi
    t=$(now)
    last_done=$(echo "$t $last_done" | awk '{print ($1 > $2) ? $1 : $2}')
  done
  canopy_s=$(echo "$last_done $t0" | awk '{printf "%.3f", $1 - $2}')
  sent_sha=$(json_field sha256 "$WORK/send-$n.json")
  ttfb_max=0
  for h in $(seq 2 "$hosts"); do
    got=$(json_field sha256 "$WORK/recv-$n-$h.json")
    [ "$got" = "$sent_sha" ] || { echo "bench-distribution: h$h digest $got != $sent_sha" >&2; exit 1; }
    # From the start of the send to the receiver's first chunk (one clock).
    fb=$(json_field first_byte_unix "$WORK/recv-$n-$h.json")
    ttfb_max=$(echo "$fb $t0 $ttfb_max" | awk '{d = $1 - $2; printf "%.3f", (d > $3) ? d : $3}')
  done
  mem_report="" mem_max=0
  for h in $(seq "$hosts"); do
    kb=$(awk '/VmHWM/ {print $2}' "/proc/${node_pid[$h]}/status" 2>/dev/null || echo 0)
    mem_report+=" h$h=$((kb / 1024))MiB"
    ((kb > mem_max)) && mem_max=$kb
  done
  stop_all

  # Client-server: the source alone uploads N copies in parallel.
  for h in $(seq 2 "$hosts"); do
    "$LAB" exec "$TAG" l1h1 -- iperf3 -s -1 -B "$(addr 1)" -p $((5200 + h)) >/dev/null 2>&1 &
    PIDS+=($!)
  done
  cs_pids=()
  t1=$(now)
  for h in $(seq 2 "$hosts"); do
    "$LAB" exec "$TAG" "l1h$h" -- bash -c "for t in \$(seq 50); do iperf3 -c $(addr 1) -p $((5200 + h)) -R -n ${file_mib}M -J >'$WORK/cs-$n-$h.json' 2>&1 && exit 0; sleep 0.2; done; exit 1" &
    cs_pids+=($!)
  done
  for p in "${cs_pids[@]}"; do wait "$p" || { echo "bench-distribution: iperf3 failed" >&2; exit 1; }; done
  cs_s=$(echo "$(now) $t1" | awk '{printf "%.3f", $1 - $2}')
  stop_all
  "$LAB" down "$TAG" >/dev/null 2>&1

  bound_s=$(awk -v f="$file_mib" -v u="$mbit" -v n="$n" -v slow="$slow_mbit" 'BEGIN {
    F = f * 1048576 * 8; us = u * 1e6; d = u * 1e6;
    k = (slow > 0) ? int(n / 2) : 0; sum = ((n - k) * u + k * slow) * 1e6;
    b = F / us; if (F / d > b) b = F / d; if (n * F / (us + sum) > b) b = n * F / (us + sum);
    printf "%.3f", b }')
  ratio=$(echo "$canopy_s $bound_s" | awk '{printf "%.3f", $1 / $2}')
  speedup=$(echo "$cs_s $canopy_s" | awk '{printf "%.2f", $1 / $2}')
  echo "N=$n  canopy ${canopy_s} s  bound ${bound_s} s (x${ratio})  client-server ${cs_s} s" \
    "(canopy ${speedup}x faster)  time to first byte (last receiver) ${ttfb_max} s  peak RSS per node:${mem_report}"
  echo "{\"n\":$n, \"file_mib\":$file_mib, \"link_mbit\":$mbit, \"canopy_s\":$canopy_s," \
    "\"bound_s\":$bound_s, \"client_server_s\":$cs_s, \"ratio_to_bound\":$ratio," \
    "\"speedup_vs_client_server\":$speedup, \"ttfb_max_s\":$ttfb_max," \
    "\"peak_node_rss_mib\":$((mem_max / 1024)), \"slow_mbit\":$slow_mbit, \"stripes\":$stripes," \
    "\"sha256\":\"$sent_sha\"}"
done
