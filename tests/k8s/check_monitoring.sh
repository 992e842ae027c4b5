#!/usr/bin/env bash
# Checks k8s/monitoring: it renders with `kubectl kustomize`; its Kubernetes
# objects pass the strict schema check (validate.js); the ServiceMonitor,
# PrometheusRule and dashboard ConfigMap have the right shape
# (split_monitoring.js); `promtool check rules` accepts the alerts and
# `promtool test rules` fires each on synthetic series
# (k8s/monitoring/tests/alerts_test.yaml).
#
#   check_monitoring.sh VALIDATOR_DIR MONITORING_DIR
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
validator="${1:?usage: check_monitoring.sh VALIDATOR_DIR MONITORING_DIR}"
monitoring="${2:?missing MONITORING_DIR}"

for tool in kubectl node promtool; do
  command -v "$tool" >/dev/null || {
    echo "check_monitoring: $tool not found (run scripts/setup: packages kubernetes-client, nodejs, prometheus)" >&2
    exit 1
  }
done

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
kubectl kustomize "$monitoring" >"$work/rendered.yaml"
node "$here/split_monitoring.js" --modules "$validator" "$work/rendered.yaml" "$work"
node "$here/validate.js" --modules "$validator" "$work/core.yaml"
promtool check rules "$work/canopy-alerts.rules.yaml"
cp "$monitoring/tests/alerts_test.yaml" "$work/"
promtool test rules "$work/alerts_test.yaml"
