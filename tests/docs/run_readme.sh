#!/usr/bin/env bash
# Runs the README's by-hand quick start and examples as written: every ```sh
# block that follows the line "<!-- tests/docs/run_readme.sh runs every
# block marked like this one, in order -->", in order, in one bash with
# `set -e`, from a directory that looks like the repository's root (its
# scripts/ and build/ are SOURCE_DIR/scripts and BUILD_DIR), then
# `scripts/demo --stop`. The first block starts the kept demo
# (`eval "$(scripts/demo --keep)"`); SKIP_SETUP=1 keeps it from building.
#
#   run_readme.sh SOURCE_DIR BUILD_DIR
set -euo pipefail
source_dir="$(cd "${1:?usage: run_readme.sh SOURCE_DIR BUILD_DIR}" && pwd)"
build_dir="$(cd "${2:?missing BUILD_DIR}" && pwd)"

work="$(mktemp -d)"
export CANOPY_DEMO_DIR="$work/demo" SKIP_SETUP=1 BUILD_DIR=build
root="$work/root"
mkdir -p "$root"
ln -s "$source_dir/scripts" "$root/scripts"
ln -s "$build_dir" "$root/build"
cleanup() {
  (cd "$root" && scripts/demo --stop) || true
  rm -rf "$work"
}
trap cleanup EXIT

awk '
  /<!-- tests\/docs\/run_readme.sh runs every block marked like this one, in order -->/ { marked = 1; next }
  marked && /^```sh$/ { inside = 1; marked = 0; next }
  inside && /^```$/ { inside = 0; print ""; next }
  inside { print }
' "$source_dir/README.md" >"$work/readme.sh"
blocks=$(grep -c '' "$work/readme.sh" || true)
if ! grep -q 'scripts/demo --keep' "$work/readme.sh"; then
  echo "run_readme: no marked block starts the kept demo (README.md)" >&2
  exit 1
fi
echo "run_readme: running $blocks line(s) of README.md"
cd "$root"
if ! timeout 600 bash -euo pipefail -x "$work/readme.sh"; then
  echo "run_readme: a README example failed; logs:" >&2
  tail -n 20 "$CANOPY_DEMO_DIR"/*.log >&2 || true
  exit 1
fi
echo "run_readme: every marked README block ran"
