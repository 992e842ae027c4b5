#!/usr/bin/env bash
# Installs the manifest validator's npm packages (pinned by package-lock.json)
# into DIR/node_modules, unless DIR already holds exactly this lock's
# install. Idempotent; needs the npm registry only when something changed.
#
#   tests/k8s/install_validator.sh DIR
set -euo pipefail
src="$(cd "$(dirname "$0")" && pwd)"
dir="${1:?usage: install_validator.sh DIR}"
mkdir -p "$dir"
if cmp -s "$src/package-lock.json" "$dir/package-lock.json" &&
   cmp -s "$src/package.json" "$dir/package.json" &&
   [ -f "$dir/node_modules/.package-lock.json" ]; then
  exit 0
fi
command -v npm >/dev/null || { echo "install_validator: npm not found (run scripts/setup)" >&2; exit 1; }
cp "$src/package.json" "$src/package-lock.json" "$dir/"
# --ignore-scripts: none of these packages needs an install script.
npm ci --prefix "$dir" --no-audit --no-fund --ignore-scripts --loglevel=error
