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
#   --quick                     N = 1 and 2, 200 messages (a smoke test for the suite)
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
#   {"subscribers":[1,2,4,8], "canopy_uplink_ratio":[…], "unicast_uplink_ratio":[…]}
# --quick: N = 1 and 2, 200 messages (a smoke test for the suite).
#
# Needs root (network namespaces); exits 77 when the lab cannot run here.
set -euo pipefail

SELF_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
BIN=${CANOPY_BIN:-$SELF_DIR}
LAB=${CANOPY_LAB:-@CANOPY_SOURCE_DIR@/scripts/lab}

subs_list="1 2 4 8" messages=2000 bytes=1000
while (($#)); do
  case "$1" in
    --subscribers) subs_list=$2; shift 2 ;;
    --messages) messages=$2; shift 2 ;;
    --bytes) bytes=$2; shift 2 ;;
    --quick) subs_list="1 2" messages=200; shift ;;
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
join() { local IFS=,; echo "$*"; }
echo "{\"subscribers\":[$(join $subs_list)], \"canopy_uplink_ratio\":[$(join "${canopy[@]}")]," \
  "\"unicast_uplink_ratio\":[$(join "${unicast[@]}")]}"
