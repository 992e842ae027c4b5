#!/usr/bin/env node
// Validates rendered Kubernetes manifests (multi-document YAML, as printed by
// `kubectl kustomize`) offline, in two passes:
//
// 1. Schema: every object against the Kubernetes API JSON schemas that the
//    pinned npm package kubernetes-models ships (Kubernetes 1.25), applied
//    strictly: a field the schema does not define is an error, as with the
//    API server's strict field validation (kubectl's default). Unknown
//    apiVersion/kind pairs are errors too.
// 2. Canopy's rules (--canopy): every workload container has gRPC readiness
//    and liveness probes (grpc.health.v1), CPU and memory requests and
//    limits, runs as non-root with a read-only root filesystem, drops ALL
//    capabilities and adds none; no service account token is mounted; every
//    workload has a PodDisruptionBudget; the objects Canopy needs exist.
//
// Usage: node validate.js --modules DIR [--canopy] FILE
//   DIR holds node_modules installed from tests/k8s/package-lock.json
//   (tests/k8s/install_validator.sh). Prints one line per problem on stderr
//   and exits 1 if there is any, 2 on bad usage; else prints a summary and
//   exits 0.
'use strict';

const fs = require('fs');
const path = require('path');
const { createRequire } = require('module');

function usage(message) {
  process.stderr.write(`validate.js: ${message}\n` +
                       'usage: node validate.js --modules DIR [--canopy] FILE\n');
  process.exit(2);
}

const args = process.argv.slice(2);
let modulesDir = null;
let canopyRules = false;
let file = null;
for (let i = 0; i < args.length; ++i) {
  if (args[i] === '--modules') {
    modulesDir = args[++i];
  } else if (args[i] === '--canopy') {
    canopyRules = true;
  } else if (file === null && !args[i].startsWith('--')) {
    file = args[i];
  } else {
    usage(`unexpected argument '${args[i]}'`);
  }
}
if (!modulesDir || !file) usage('--modules DIR and FILE are required');

const requireFromModules = createRequire(path.join(path.resolve(modulesDir), 'package.json'));
let yaml;
let validateLib;
try {
  yaml = requireFromModules('js-yaml');
  validateLib = requireFromModules('@kubernetes-models/validate');
} catch (e) {
  usage(`cannot load the validator's packages from ${modulesDir} (run ` +
        `tests/k8s/install_validator.sh): ${e.message}`);
}

// Strict schemas: every object schema that lists its properties and says
// nothing about others forbids others (what kubeconform's -strict and the
// "-strict" JSON schema flavours do), unless Kubernetes marks it as
// preserving unknown fields.
function strict(schema) {
  if (Array.isArray(schema)) return schema.map(strict);
  if (schema === null || typeof schema !== 'object') return schema;
  const out = {};
  for (const [key, value] of Object.entries(schema)) {
    // Values under these keys are maps of schemas keyed by field name.
    if (key === 'properties' || key === 'patternProperties' || key === 'definitions') {
      out[key] = Object.fromEntries(Object.entries(value).map(([k, v]) => [k, strict(v)]));
    } else if (key === 'enum' || key === 'required' || key === 'default' || key === 'example') {
      out[key] = value;
    } else {
      out[key] = strict(value);
    }
  }
  if (out.properties && !('additionalProperties' in out) &&
      !out['x-kubernetes-preserve-unknown-fields']) {
    out.additionalProperties = false;
  }
  return out;
}

// kubernetes-models' generator drops every property named "description"
// (it strips documentation keys); these types have one in the API.
const kDroppedDescription = new Set([
  'io.k8s.api.scheduling.v1.PriorityClass',
  'io.k8s.api.scheduling.v1beta1.PriorityClass',
  'io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.ExternalDocumentation',
  'io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.JSONSchemaProps',
  'io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.CustomResourceColumnDefinition',
]);

// Every schema module registers itself through this function: make each
// strict before the validator compiles it.
const originalRegister = validateLib.register;
let registered = 0;
validateLib.register = (id, schema) => {
  registered += 1;
  const strictSchema = strict(schema);
  if (kDroppedDescription.has(id) && strictSchema.properties &&
      !strictSchema.properties.description) {
    strictSchema.properties.description = {type: 'string', nullable: true};
  }
  originalRegister(id, strictSchema);
};

const problems = [];
function problem(where, message) {
  problems.push(`${where}: ${message}`);
}

function describe(doc, index) {
  const name = doc && doc.metadata && doc.metadata.name;
  return `object ${index} (${doc && doc.kind}/${name})`;
}

function formatError(e) {
  const where = e.instancePath || '/';
  if (e.keyword === 'additionalProperties') {
    return `unknown field '${e.params.additionalProperty}' at ${where}`;
  }
  return `${where} ${e.message}${e.params ? ' ' + JSON.stringify(e.params) : ''}`;
}

function validateSchema(doc, index) {
  const where = describe(doc, index);
  if (!doc || typeof doc !== 'object' || typeof doc.apiVersion !== 'string' ||
      typeof doc.kind !== 'string') {
    problem(where, 'not a Kubernetes object (apiVersion and kind are required)');
    return;
  }
  let Model;
  try {
    Model = requireFromModules(`kubernetes-models/${doc.apiVersion}`)[doc.kind];
  } catch (e) {
    Model = undefined;
  }
  if (typeof Model !== 'function') {
    problem(where, `no schema for apiVersion ${doc.apiVersion} kind ${doc.kind}`);
    return;
  }
  try {
    new Model(doc).validate();
  } catch (e) {
    const errors = Array.isArray(e.errors) && e.errors.length ? e.errors : null;
    if (!errors) {
      problem(where, e.message);
      return;
    }
    for (const err of errors) problem(where, formatError(err));
  }
}

const kWorkloads = new Set(['Deployment', 'DaemonSet', 'StatefulSet']);

function checkContainer(where, container, podSecurity) {
  const at = `${where} container ${container.name}`;
  for (const probe of ['readinessProbe', 'livenessProbe']) {
    if (!container[probe]) {
      problem(at, `missing ${probe}`);
    } else if (!container[probe].grpc || !container[probe].grpc.port) {
      problem(at, `${probe} is not a gRPC (grpc.health.v1) probe`);
    }
  }
  const resources = container.resources || {};
  for (const kind of ['requests', 'limits']) {
    for (const resource of ['cpu', 'memory']) {
      if (!resources[kind] || resources[kind][resource] === undefined) {
        problem(at, `missing resources.${kind}.${resource}`);
      }
    }
  }
  const security = container.securityContext || {};
  const nonRoot = security.runAsNonRoot !== undefined ? security.runAsNonRoot
                                                      : podSecurity.runAsNonRoot;
  if (nonRoot !== true) problem(at, 'must run as non-root (runAsNonRoot: true)');
  if (security.readOnlyRootFilesystem !== true) {
    problem(at, 'needs readOnlyRootFilesystem: true');
  }
  if (security.allowPrivilegeEscalation !== false) {
    problem(at, 'needs allowPrivilegeEscalation: false');
  }
  if (security.privileged) problem(at, 'must not be privileged');
  const caps = security.capabilities || {};
  if (!Array.isArray(caps.drop) || !caps.drop.includes('ALL')) {
    problem(at, 'must drop ALL capabilities');
  }
  if (Array.isArray(caps.add) && caps.add.length > 0) {
    problem(at, `adds capabilities ${caps.add.join(',')}: Canopy needs none`);
  }
}

function selects(selector, labels) {
  const match = (selector && selector.matchLabels) || {};
  const keys = Object.keys(match);
  return keys.length > 0 && keys.every((k) => labels && labels[k] === match[k]);
}

function checkCanopy(docs) {
  const kinds = new Set(docs.map((d) => d && d.kind));
  // (A PersistentVolumeClaim only where a controller keeps SQLite: replicas
  // on etcd have none.)
  for (const kind of ['Namespace', 'ServiceAccount', 'ConfigMap',
                      'Deployment', 'DaemonSet', 'Service', 'PodDisruptionBudget']) {
    if (!kinds.has(kind)) problem('manifests', `no ${kind}`);
  }
  const budgets = docs.filter((d) => d && d.kind === 'PodDisruptionBudget');
  docs.forEach((doc, index) => {
    if (!doc || !kWorkloads.has(doc.kind)) return;
    const where = describe(doc, index);
    const template = (doc.spec && doc.spec.template) || {};
    const pod = template.spec || {};
    const labels = (template.metadata && template.metadata.labels) || {};
    if (pod.automountServiceAccountToken !== false) {
      problem(where, 'mounts a service account token (automountServiceAccountToken: false)');
    }
    for (const container of pod.containers || []) {
      checkContainer(where, container, pod.securityContext || {});
      const args = container.args || [];
      const tls = args.some((a) => String(a).startsWith('--tls-cert'));
      if (tls && args.includes('--plaintext')) {
        problem(where, `container ${container.name}: --plaintext with --tls-cert`);
      }
      if (tls && !args.some((a) => String(a).startsWith('--health-listen'))) {
        problem(where, `container ${container.name}: mutual TLS without --health-listen: ` +
                       'the kubelet\'s gRPC probes cannot present a certificate');
      }
    }
    if (!budgets.some((b) => selects(b.spec && b.spec.selector, labels))) {
      problem(where, 'no PodDisruptionBudget selects its pods');
    }
  });
}

let docs;
try {
  docs = yaml.loadAll(fs.readFileSync(file, 'utf8')).filter((d) => d !== null && d !== undefined);
} catch (e) {
  process.stderr.write(`validate.js: ${file}: ${e.message}\n`);
  process.exit(1);
}
if (docs.length === 0) problem(file, 'no objects');
docs.forEach(validateSchema);
if (registered === 0 && docs.length > 0) {
  // The strict hook never ran: the packages are not what the lock pins.
  problem(file, 'schemas were not registered through the strict hook; reinstall the validator');
}
if (canopyRules) checkCanopy(docs);

if (problems.length > 0) {
  for (const p of problems) process.stderr.write(`${p}\n`);
  process.stderr.write(`validate.js: ${problems.length} problem(s) in ${file}\n`);
  process.exit(1);
}
const summary = {};
for (const d of docs) summary[d.kind] = (summary[d.kind] || 0) + 1;
process.stdout.write(`validate.js: ${docs.length} object(s) valid: ` +
                     `${Object.entries(summary).map(([k, n]) => `${n} ${k}`).join(', ')}\n`);
