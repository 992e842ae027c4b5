# Shared by the lab benchmarks (bench-distribution, bench-lan), sourced
# after they set PROGRAM (for messages), LAB (scripts/lab) and TAG (their
# lab): the background processes they start (PIDS) are stopped, their lab
# is taken down and the directories in CLEANUP_DIRS are removed on exit,
# even when a step fails; and a bounded wait for a line in a log.
# shellcheck shell=bash

PIDS=()
CLEANUP_DIRS=()
stop_all() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
  PIDS=()
}
cleanup() {
  stop_all
  "$LAB" down "$TAG" >/dev/null 2>&1 || true
  rm -rf "${CLEANUP_DIRS[@]}"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Waits (bounded: TRIES x 0.1 s, default 300) until FILE contains TEXT.
await() {
  local file=$1 text=$2 tries=${3:-300}
  for _ in $(seq "$tries"); do
    grep -q -- "$text" "$file" 2>/dev/null && return 0
    sleep 0.1
  done
  echo "$PROGRAM: timed out waiting for '$text' in $file" >&2
  cat "$file" >&2 || true
  return 1
}
