#!/usr/bin/env bash
# Renders a kustomization with `kubectl kustomize` and validates every object
# offline (validate.js --canopy).
#
#   check_manifests.sh VALIDATOR_DIR KUSTOMIZATION_DIR
#       exit 0 if it renders and validates
#   check_manifests.sh VALIDATOR_DIR KUSTOMIZATION_DIR --expect-invalid REGEX
#       exit 0 only if it renders, the validator rejects it, and a problem
#       line matches REGEX (grep -E): proves the check catches that mistake
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
validator="${1:?usage: check_manifests.sh VALIDATOR_DIR KUSTOMIZATION_DIR [--expect-invalid REGEX]}"
kustomization="${2:?missing KUSTOMIZATION_DIR}"
expect=""
if [ "${3:-}" = "--expect-invalid" ]; then expect="${4:?missing REGEX}"; fi

command -v kubectl >/dev/null || { echo "check_manifests: kubectl not found (Debian package kubernetes-client; run scripts/setup)" >&2; exit 1; }
command -v node >/dev/null || { echo "check_manifests: node not found (Debian package nodejs; run scripts/setup)" >&2; exit 1; }

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
if ! kubectl kustomize "$kustomization" >"$work/rendered.yaml" 2>"$work/kustomize.err"; then
  cat "$work/kustomize.err" >&2
  echo "check_manifests: kubectl kustomize $kustomization failed" >&2
  exit 1
fi

set +e
node "$here/validate.js" --modules "$validator" --canopy "$work/rendered.yaml" \
  >"$work/out" 2>"$work/err"
rc=$?
set -e
cat "$work/out"
cat "$work/err" >&2
if [ -z "$expect" ]; then
  exit "$rc"
fi
if [ "$rc" -ne 1 ]; then
  echo "check_manifests: expected the validator to reject $kustomization (exit 1), got exit $rc" >&2
  exit 1
fi
if ! grep -Eq -- "$expect" "$work/err"; then
  echo "check_manifests: rejected, but no problem matches '$expect'" >&2
  exit 1
fi
echo "check_manifests: rejected as expected ($expect)"
