#!/usr/bin/env node
// Splits the rendered k8s/monitoring kustomization (kubectl kustomize
// output) for the checks tests/k8s/check_monitoring.sh runs:
//   OUT/core.yaml                 the Kubernetes objects (for validate.js)
//   OUT/canopy-alerts.rules.yaml  the PrometheusRule's spec: a Prometheus
//                                 rule file (for promtool)
//   OUT/dashboard.json            the Grafana dashboard from its ConfigMap
// and checks the shape of what the API schemas cannot: exactly one
// ServiceMonitor (selecting Canopy's Services, scraping port "metrics"),
// one PrometheusRule with rule groups, one dashboard ConfigMap labelled
// grafana_dashboard=1 whose data is a dashboard with panels and queries.
//
// Usage: node split_monitoring.js --modules DIR RENDERED OUT
// Prints one line per problem on stderr and exits 1 if there is any.
'use strict';

const fs = require('fs');
const path = require('path');
const { createRequire } = require('module');

const args = process.argv.slice(2);
if (args.length !== 4 || args[0] !== '--modules') {
  process.stderr.write('usage: node split_monitoring.js --modules DIR RENDERED OUT\n');
  process.exit(2);
}
const [, modulesDir, rendered, out] = args;
const yaml = createRequire(path.join(path.resolve(modulesDir), 'package.json'))('js-yaml');

const problems = [];
const docs = yaml.loadAll(fs.readFileSync(rendered, 'utf8')).filter((d) => d);
const monitoring = (d) => String(d.apiVersion).startsWith('monitoring.coreos.com/');
const core = docs.filter((d) => !monitoring(d));
fs.writeFileSync(path.join(out, 'core.yaml'), core.map((d) => yaml.dump(d)).join('---\n'));

const monitors = docs.filter((d) => d.kind === 'ServiceMonitor');
if (monitors.length !== 1) problems.push(`expected one ServiceMonitor, found ${monitors.length}`);
for (const m of monitors) {
  const labels = (m.spec && m.spec.selector && m.spec.selector.matchLabels) || {};
  if (labels['app.kubernetes.io/name'] !== 'canopy') {
    problems.push('ServiceMonitor does not select app.kubernetes.io/name=canopy');
  }
  const ports = ((m.spec && m.spec.endpoints) || []).map((e) => e.port);
  if (!ports.includes('metrics')) problems.push('ServiceMonitor does not scrape port "metrics"');
}
const services = core.filter((d) => d.kind === 'Service');
for (const name of ['canopy-node']) {
  const s = services.find((d) => d.metadata.name === name);
  if (!s || !(s.spec.ports || []).some((p) => p.name === 'metrics')) {
    problems.push(`no Service ${name} with a port named "metrics"`);
  }
}

const rules = docs.filter((d) => d.kind === 'PrometheusRule');
if (rules.length !== 1) {
  problems.push(`expected one PrometheusRule, found ${rules.length}`);
} else if (!rules[0].spec || !Array.isArray(rules[0].spec.groups)) {
  problems.push('PrometheusRule has no spec.groups');
} else {
  fs.writeFileSync(path.join(out, 'canopy-alerts.rules.yaml'), yaml.dump(rules[0].spec));
}

const dashboards = core.filter((d) => d.kind === 'ConfigMap' && d.metadata.labels &&
                                      d.metadata.labels.grafana_dashboard === '1');
if (dashboards.length !== 1) {
  problems.push(`expected one ConfigMap labelled grafana_dashboard=1, found ${dashboards.length}`);
} else {
  const files = Object.entries(dashboards[0].data || {});
  if (files.length !== 1) problems.push('the dashboard ConfigMap should hold one file');
  for (const [name, text] of files) {
    try {
      const dashboard = JSON.parse(text);
      const queries = (dashboard.panels || []).flatMap((p) => (p.targets || []).map((t) => t.expr));
      if (!dashboard.uid || !dashboard.title) problems.push(`${name}: no uid or title`);
      if (queries.length === 0) problems.push(`${name}: no panel queries`);
      fs.writeFileSync(path.join(out, 'dashboard.json'), text);
    } catch (e) {
      problems.push(`${name}: not JSON: ${e.message}`);
    }
  }
}

for (const p of problems) process.stderr.write(`split_monitoring: ${p}\n`);
process.exit(problems.length ? 1 : 0);
