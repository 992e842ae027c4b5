#!/usr/bin/env bash
# bench-lan: bytes a LAN's uplink carries per published byte as the
# subscribers on that LAN grow, with native multicast against plain unicast
# fan-out, measured in the same run in the network-namespace lab.
#
# Usage: bench-lan [OPTIONS]
#
# Options:
#   -h,--help                   Print this help message and exit
#   --subscribers TEXT="1 2 4 8"
#                               subscribers N on LAN 2, one run each
#   --messages INT:10 to 1000000=2000
#                               messages published
#   --bytes INT:16 to 60000=1000
#                               bytes per message
#   --legacy-rates TEXT="20 100"
#                               rates of the legacy iperf 2 phase, Mbit/s (1..1000 each)
#   --legacy-seconds INT:1 to 600=5
#                               seconds of each legacy stream
#   --quick                     N = 1 and 2, 200 messages, one 2 s legacy stream at 20 Mbit/s
#                               (a smoke test for the suite)
#
# For each N: a lab of two LANs (scripts/lab; the router between them
# forwards no multicast); a controller and the publisher's node on LAN 1, N
# nodes with one canopy-sub each on LAN 2. canopy-pub sends --messages lines
# of --bytes bytes; every subscriber must get all of them. Measured: bytes
# into LAN 2 through its uplink (the router's veth) per published byte —
# once with the nodes' multicast discovery on (LAN 2 becomes one multicast
# domain: one copy enters, its forwarder re-emits it by UDP multicast), once
# with it off (--discovery-interval-ms 0: one unicast copy per node). The
# last line of the run is one JSON object:
#   {"subscribers":[1,2,4,8], "canopy_uplink_ratio":[…], "unicast_uplink_ratio":[…],
#    "legacy":[{"mbit":20, "native":{…}, "overlay":{…}, "added_delay_ms":…,
#               "uplink_copies":…}, …]}
#
# Legacy phase: unmodified programs across the overlay. For each rate, a lab
# of two LANs with an IGMP-driven gateway node (--gateway-auto, no group
# listed) on each; Debian's iperf 2 sends a UDP multicast stream (-T 8,
# 1400-byte datagrams, --legacy-seconds) from LAN 1 that two iperf servers
# receive at once: one on LAN 1 (natively) and one on LAN 2 (through both
# gateways and the overlay). Reported from iperf's own server reports: loss
# and jitter of each, the one-way delay the overlay adds (mean latency on
# LAN 2 less on LAN 1; the namespaces share one clock), and LAN 2's uplink
# bytes per sent byte (copies: 1 is ideal, the envelope and TCP add a
# little).
# --quick: N = 1 and 2, 200 messages, legacy at 20 Mbit/s for 2 s (a smoke
# test for the suite).
#
# Needs root (network namespaces); exits 77 when the lab cannot run here.
set -euo pipefail

SELF_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
BIN=${CANOPY_BIN:-$SELF_DIR}
LAB=${CANOPY_LAB:-@CANOPY_SOURCE_DIR@/scripts/lab}

subs_list="1 2 4 8" messages=2000 bytes=1000 legacy_rates="20 100" legacy_seconds=5
while (($#)); do
  case "$1" in
    --subscribers) subs_list=$2; shift 2 ;;
    --messages) messages=$2; shift 2 ;;
    --bytes) bytes=$2; shift 2 ;;
    --legacy-rates) legacy_rates=$2; shift 2 ;;
    --legacy-seconds) legacy_seconds=$2; shift 2 ;;
    --quick) subs_list="1 2" messages=200 legacy_rates=20 legacy_seconds=2; shift ;;
    -h | --help) sed -n '2,/^set -euo/p' "$0" | grep -v '^set -euo' | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "bench-lan: unknown argument $1" >&2; exit 2 ;;
  esac
done
[[ $messages =~ ^[0-9]+$ ]] && ((messages >= 10 && messages <= 1000000)) ||
  { echo "bench-lan: --messages must be 10..1000000" >&2; exit 2; }
[[ $bytes =~ ^[0-9]+$ ]] && ((bytes >= 16 && bytes <= 60000)) ||
  { echo "bench-lan: --bytes must be 16..60000" >&2; exit 2; }
for n in $subs_list; do
  [[ $n =~ ^[0-9]+$ ]] && ((n >= 1 && n <= 40)) ||
    { echo "bench-lan: every --subscribers must be 1..40" >&2; exit 2; }
done
for r in $legacy_rates; do
  [[ $r =~ ^[0-9]+$ ]] && ((r >= 1 && r <= 1000)) ||
    { echo "bench-lan: every --legacy-rates must be 1..1000 (Mbit/s)" >&2; exit 2; }
done
[[ $legacy_seconds =~ ^[0-9]+$ ]] && ((legacy_seconds >= 1 && legacy_seconds <= 600)) ||
  { echo "bench-lan: --legacy-seconds must be 1..600" >&2; exit 2; }
IPERF=$(command -v iperf || true)
[ -n "$IPERF" ] || { echo "bench-lan: iperf (version 2, Debian package iperf) missing" >&2; exit 1; }
for b in canopy-controller canopy-node canopy-pub canopy-sub canopyctl; do
  [ -x "$BIN/$b" ] || { echo "bench-lan: $BIN/$b missing (build first)" >&2; exit 1; }
done
[ "$(id -u)" = 0 ] || { echo "SKIPPED: the lab needs root"; exit 77; }

PROGRAM=bench-lan
TAG="bl$$"
WORK=$(mktemp -d /tmp/canopy-bench-lan.XXXXXX)
# shellcheck source=bench/lab-bench-lib.sh
source "$SELF_DIR/canopy-lab-bench-lib.sh"
CLEANUP_DIRS=("$WORK")

addr() { echo "10.77.$1.$((10 + $2))"; }
into_lan2() { "$LAB" uplink-bytes "$TAG" 2 | sed -n 's/.*into_lan=\([0-9]*\).*/\1/p'; }

# One run: N subscribers, discovery interval D (0 = no multicast); prints
# the uplink ratio.
run() {
  local n=$1 discovery_ms=$2 label=$3
  local ctl
  ctl="$(addr 1 1):7000"
  "$LAB" exec "$TAG" l1h1 -- "$BIN/canopy-controller" --plaintext --listen "$ctl" \
    --store "$WORK/ctl-$label-$n.db" >"$WORK/ctl-$label-$n.log" 2>&1 &
  PIDS+=($!)
  await "$WORK/ctl-$label-$n.log" listening
  local -a hosts=("1 1")
  for h in $(seq "$n"); do hosts+=("2 $h"); done
  for lh in "${hosts[@]}"; do
    read -r l h <<<"$lh"
    "$LAB" exec "$TAG" "l${l}h$h" -- "$BIN/canopy-node" --plaintext --id "n$l$h" \
      --controller "$ctl" --listen "$(addr "$l" "$h"):7001" --data "$(addr "$l" "$h"):7002" \
      --discovery-interval-ms "$discovery_ms" --probe-interval-ms 0 \
      >"$WORK/node-$label-$n-$l$h.log" 2>&1 &
    PIDS+=($!)
    await "$WORK/node-$label-$n-$l$h.log" listening
  done
  if ((discovery_ms > 0 && n > 1)); then
    # Bounded wait until LAN 2 is one multicast domain.
    local domain ok=0
    domain=$(seq -f "n2%g" 1 "$n" | paste -sd,)
    for _ in $(seq 300); do
      if [ "$("$LAB" exec "$TAG" l1h1 -- "$BIN/canopyctl" --controller "$ctl" nodes |
        grep -c -- " $domain\$")" = "$n" ]; then ok=1; break; fi
      sleep 0.1
    done
    ((ok)) || { echo "bench-lan: LAN 2 formed no multicast domain" >&2; exit 1; }
  fi
  local -a sub_pids=()
  for h in $(seq "$n"); do
    "$LAB" exec "$TAG" "l2h$h" -- "$BIN/canopy-sub" --node "$(addr 2 "$h"):7001" --group g \
      --count "$messages" >"$WORK/sub-$label-$n-$h.out" 2>"$WORK/sub-$label-$n-$h.log" &
    sub_pids+=($!)
    PIDS+=($!)
    await "$WORK/sub-$label-$n-$h.log" joined
  done
  local before after
  before=$(into_lan2)
  head -c $((bytes - 1)) /dev/zero | tr '\0' 'x' >"$WORK/line"
  for i in $(seq "$messages"); do cat "$WORK/line"; echo; done >"$WORK/input"
  "$LAB" exec "$TAG" l1h1 -- "$BIN/canopy-pub" --node "$(addr 1 1):7001" --group g \
    --source cam <"$WORK/input" >/dev/null 2>"$WORK/pub-$label-$n.log" ||
    { cat "$WORK/pub-$label-$n.log" >&2; exit 1; }
  for i in "${!sub_pids[@]}"; do
    if ! timeout 120 tail --pid="${sub_pids[$i]}" -f /dev/null; then
      echo "bench-lan: subscriber $((i + 1)) did not get $messages messages" >&2; exit 1
    fi
    wait "${sub_pids[$i]}" || { cat "$WORK/sub-$label-$n-$((i + 1)).log" >&2; exit 1; }
  done
  after=$(into_lan2)
  stop_all
  awk -v d=$((after - before)) -v p=$((messages * bytes)) 'BEGIN { printf "%.3f", d / p }'
}

# iperf 2 server report (-e) → "loss_pct jitter_ms latency_avg_ms".
iperf_report() {
  grep '%)' "$1" | tail -1 | awk '{
    for (i = 1; i <= NF; i++) {
      if ($i ~ /^[0-9]+\/[0-9]+$/) { split($i, lt, "/"); jitter = $(i - 2) }
      if ($i ~ /^\([0-9.]+%\)$/) { split($(i + 1), lat, "/") }
    }
    if (lt[2] == 0) exit 1
    printf "%.4f %s %s", 100 * lt[1] / lt[2], jitter, lat[1]
  }'
}

# One legacy run at R Mbit/s; prints its JSON object.
legacy() {
  local rate=$1 ctl
  ctl="$(addr 1 1):7000"
  "$LAB" exec "$TAG" l1h1 -- "$BIN/canopy-controller" --plaintext --listen "$ctl" \
    --store "$WORK/ctl-legacy-$rate.db" >"$WORK/ctl-legacy-$rate.log" 2>&1 &
  PIDS+=($!)
  await "$WORK/ctl-legacy-$rate.log" listening
  for l in 1 2; do
    "$LAB" exec "$TAG" "l${l}h1" -- "$BIN/canopy-node" --plaintext --id "gw$l" \
      --controller "$ctl" --listen "$(addr "$l" 1):7001" --data "$(addr "$l" 1):7002" \
      --probe-interval-ms 0 --gateway-auto >"$WORK/gw-$rate-$l.log" 2>&1 &
    PIDS+=($!)
    await "$WORK/gw-$rate-$l.log" attached
  done
  local native="$WORK/iperf-native-$rate.out" overlay="$WORK/iperf-overlay-$rate.out"
  "$LAB" exec "$TAG" l1h3 -- "$IPERF" -s -u -e -B 239.1.2.3 -p 5010 >"$native" 2>&1 &
  PIDS+=($!)
  "$LAB" exec "$TAG" l2h2 -- "$IPERF" -s -u -e -B 239.1.2.3 -p 5010 >"$overlay" 2>&1 &
  PIDS+=($!)
  await "$native" "Server listening"
  await "$overlay" "Server listening"
  await "$WORK/gw-$rate-2.log" "joining mcast/239.1.2.3"
  local before after sent
  before=$(into_lan2)
  "$LAB" exec "$TAG" l1h2 -- "$IPERF" -c 239.1.2.3 -p 5010 -u -e -T 8 -b "${rate}M" \
    -t "$legacy_seconds" -l 1400 >"$WORK/iperf-client-$rate.out" 2>&1 ||
    { cat "$WORK/iperf-client-$rate.out" >&2; exit 1; }
  await "$native" '%)' 600
  await "$overlay" '%)' 600
  after=$(into_lan2)
  sent=$(sed -n 's/.*Sent \([0-9]*\) datagrams.*/\1/p' "$WORK/iperf-client-$rate.out" | tail -1)
  stop_all
  local n o
  n=$(iperf_report "$native") || { cat "$native" >&2; exit 1; }
  o=$(iperf_report "$overlay") || { cat "$overlay" >&2; exit 1; }
  read -r nl nj nd <<<"$n"
  read -r ol oj od <<<"$o"
  echo "legacy ${rate} Mbit/s: native loss ${nl}% jitter ${nj} ms delay ${nd} ms;" \
    "overlay loss ${ol}% jitter ${oj} ms delay ${od} ms" >&2
  awk -v r="$rate" -v nl="$nl" -v nj="$nj" -v nd="$nd" -v ol="$ol" -v oj="$oj" -v od="$od" \
    -v d=$((after - before)) -v p=$((${sent:-0} * 1400)) 'BEGIN {
      printf "{\"mbit\":%d, \"native\":{\"loss_pct\":%s, \"jitter_ms\":%s, \"delay_ms\":%s}, ", r, nl, nj, nd
      printf "\"overlay\":{\"loss_pct\":%s, \"jitter_ms\":%s, \"delay_ms\":%s}, ", ol, oj, od
      printf "\"added_delay_ms\":%.3f, \"uplink_copies\":%.3f}", od - nd, (p > 0 ? d / p : 0)
    }'
}

canopy=() unicast=()
echo "bench-lan: ${messages} messages of ${bytes} bytes, subscribers on LAN 2: ${subs_list}"
for n in $subs_list; do
  if ! "$LAB" up "$TAG" --lans 2 --hosts-per-lan "$n" --owner $$ >"$WORK/lab.log" 2>&1; then
    rc=$?
    if ((rc == 77)); then echo "SKIPPED: $(tail -1 "$WORK/lab.log")"; exit 77; fi
    cat "$WORK/lab.log" >&2; exit 1
  fi
  c=$(run "$n" 200 canopy)
  u=$(run "$n" 0 unicast)
  "$LAB" down "$TAG" >/dev/null 2>&1
  echo "N=$n  uplink bytes per published byte: canopy ${c}, unicast fan-out ${u}"
  canopy+=("$c") unicast+=("$u")
done
legacy_json=()
for r in $legacy_rates; do
  if ! "$LAB" up "$TAG" --lans 2 --hosts-per-lan 3 --owner $$ >"$WORK/lab.log" 2>&1; then
    cat "$WORK/lab.log" >&2; exit 1
  fi
  legacy_json+=("$(legacy "$r")")
  "$LAB" down "$TAG" >/dev/null 2>&1
done
join() { local IFS=,; echo "$*"; }
echo "{\"subscribers\":[$(join $subs_list)], \"canopy_uplink_ratio\":[$(join "${canopy[@]}")]," \
  "\"unicast_uplink_ratio\":[$(join "${unicast[@]}")], \"legacy\":[$(join "${legacy_json[@]}")]}"
