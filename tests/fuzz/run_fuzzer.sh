#!/usr/bin/env bash
# Builds and runs one libFuzzer target for a bounded time; used by the ctest
# entries of tests/fuzz/CMakeLists.txt.
#
#   run_fuzzer.sh --skip "<reason>"
#   run_fuzzer.sh --build-dir B --targets "T1 T2" --fuzzer EXE --gen GEN \
#                 --seeds DIR --dict FILE --work DIR --time SECONDS
#
# The fuzzer runs on a copy of the committed seeds (plus freshly generated
# ones) in --work; nothing is written into the source tree. Exit codes:
# 0 = ran clean, 1 = a finding (crash, leak, UB, timeout, OOM) or a build
# failure, 77 = skipped (ctest SKIP_RETURN_CODE).
set -uo pipefail

skip() { echo "SKIPPED: $*"; exit 77; }
fail() { echo "FAILED: $*"; exit 1; }

build_dir="" targets="" fuzzer="" gen="" seeds="" dict="" work="" secs=20
while (($#)); do
  case "$1" in
    --skip) skip "$2" ;;
    --build-dir) build_dir="$2" ;;
    --targets) targets="$2" ;;
    --fuzzer) fuzzer="$2" ;;
    --gen) gen="$2" ;;
    --seeds) seeds="$2" ;;
    --dict) dict="$2" ;;
    --work) work="$2" ;;
    --time) secs="$2" ;;
    *) fail "unknown argument $1" ;;
  esac
  shift 2
done
[ -n "$fuzzer" ] && [ -n "$work" ] || fail "missing --fuzzer or --work"
name="$(basename "$fuzzer")"

# Build (a no-op when up to date). A compile error is a failure, not a skip:
# configure already checked that the toolchain works.
if [ -n "$build_dir" ]; then
  # shellcheck disable=SC2086
  if ! cmake --build "$build_dir" --target $targets -j 1 >"$work.build.log" 2>&1; then
    tail -n 60 "$work.build.log"
    fail "could not build $targets (log: $work.build.log)"
  fi
fi
[ -x "$fuzzer" ] || fail "$fuzzer was not built"

# Fresh work area: corpus copy, artifacts, log.
rm -rf "$work"
mkdir -p "$work/corpus" "$work/generated" "$work/artifacts"
[ -d "$seeds" ] && cp "$seeds"/* "$work/corpus/" 2>/dev/null
if [ -n "$gen" ]; then
  "$gen" "$work/generated" >/dev/null || fail "seed generator $gen failed"
  for f in "$work/generated"/*; do
    b="$(basename "$f")"
    if ! cmp -s "$f" "$seeds/$b"; then
      echo "warning: committed seed $seeds/$b is missing or stale;" \
           "regenerate with: $gen $seeds"
    fi
    cp "$f" "$work/corpus/$b"
  done
fi
nseeds=$(find "$work/corpus" -type f | wc -l)

symbolizer="$(command -v llvm-symbolizer-14 || command -v llvm-symbolizer || true)"
[ -z "$symbolizer" ] && [ -x /usr/lib/llvm-14/bin/llvm-symbolizer ] &&
  symbolizer=/usr/lib/llvm-14/bin/llvm-symbolizer
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=0:symbolize=1${symbolizer:+:external_symbolizer_path=$symbolizer}"
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1:symbolize=1"

dict_arg=()
[ -n "$dict" ] && [ -f "$dict" ] && dict_arg=("-dict=$dict")

echo "$name: fuzzing for ${secs}s from $nseeds seeds in $work/corpus"
# libFuzzer exits 77 on a crash by default; map findings away from the skip code.
timeout --signal=KILL "$((secs + 60))" "$fuzzer" \
  -max_total_time="$secs" -rss_limit_mb=1024 -timeout=10 -max_len=4096 \
  -error_exitcode=1 -timeout_exitcode=1 -print_final_stats=1 \
  -artifact_prefix="$work/artifacts/" "${dict_arg[@]}" "$work/corpus" \
  >"$work/fuzz.log" 2>&1
rc=$?

findings=$(find "$work/artifacts" -type f ! -name 'slow-unit-*' | sort)
if [ "$rc" -ne 0 ] || [ -n "$findings" ]; then
  # The report from its first line (sanitizer, UBSan, trap or libFuzzer
  # error) on; the plain tail when there is none.
  first=$(grep -n -m1 -E '==[0-9]+==ERROR|runtime error:|deadly signal|^ERROR: libFuzzer' \
            "$work/fuzz.log" | cut -d: -f1)
  echo "---- $work/fuzz.log${first:+ from line $first} ----"
  if [ -n "$first" ]; then
    tail -n "+$first" "$work/fuzz.log" | grep -v -E '^  0x[0-9a-f]+: |^  [A-Z][a-zA-Z -]+: +[0-9a-f ]+$' |
      head -n 150
  else
    tail -n 80 "$work/fuzz.log"
  fi
  for f in $findings; do
    echo "---- reproducer $f ($(stat -c %s "$f") bytes; rerun: $fuzzer $f) ----"
    od -A x -t x1z -v "$f" | head -n 64
  done
  [ "$rc" -eq 137 ] && fail "$name did not stop within $((secs + 60))s (killed)"
  fail "$name exited with $rc${findings:+ and wrote reproducers}"
fi

grep -E '^(INFO: Seed|INFO: Loaded|#[0-9]+[[:space:]]+(INITED|DONE)|Done [0-9]+ runs|stat::)' "$work/fuzz.log"
echo "corpus: $nseeds seeds -> $(find "$work/corpus" -type f | wc -l) inputs"
echo "$name: PASSED"
