#!/usr/bin/env node
// Offline, strict check of Kubernetes, Istio and Envoy Gateway manifests
// (envoy/istio/ and envoy/envoy-gateway/ by default, folders recursively).
//
// Every YAML document is validated against the schema of its kind, and only
// once per schema version, so each mistake is reported once:
//  - Istio kinds: Istio's own CRD schemas, vendored from github:istio/istio at
//    the oldest release we support (1.23) and the newest (schemas/README.md);
//  - Gateway API and Envoy Gateway kinds: the CRDs Envoy Gateway installs,
//    vendored from github:envoyproxy/gateway at the release we document;
//  - core Kubernetes kinds, and the `metadata` of every custom resource:
//    kubernetes-validate --strict (PyPI, check_core.py) for two Kubernetes
//    versions (CORE_VERSIONS).
// Strict means: every object schema that lists its properties refuses others
// (kubectl apply --validate=strict; the API server would silently drop such a
// field), while free-form objects (no listed properties, or
// x-kubernetes-preserve-unknown-fields, e.g. WasmPlugin pluginConfig) stay
// free-form. An error every version reports is printed once; one only some
// versions report names them ("(Istio 1.23.6 only)").
// CEL rules (x-kubernetes-validations) are not evaluated.
//
// Then cross-references within each folder tree: selectors of Services, PDBs,
// Istio objects and NetworkPolicies match some workload's pod labels,
// ConfigMaps mounted by a workload exist, VirtualService destinations inside
// the cluster name an existing Service port, the WasmPlugin's `issuer_cluster`
// is the `outbound|port||host` name of one, and for Envoy Gateway: routes and
// policies name objects of the set, and the Wasm filter's `issuer_cluster` is
// the cluster Envoy Gateway generates for an HTTPRoute rule that sends to the
// issuer-svc Service.
// A kustomization.yaml must list exactly the other YAML files of its folder
// (subfolders: their own kustomization); files it names as `patches` are
// partial objects: checked for unknown fields and types, not for required
// fields or references.
//
// Usage: node check.js [FILE_OR_DIR ...]   exit 0 = all good, 1 = errors.
// MANIFEST_CHECK_PYTHON: the Python with kubernetes-validate (default: the
// project's .venv).
"use strict";

const fs = require("node:fs");
const path = require("node:path");
const { spawnSync } = require("node:child_process");
const yaml = require("js-yaml");
const Ajv = require("ajv");
const addFormats = require("ajv-formats");

const ROOT = path.resolve(__dirname, "../..");
const DEFAULT_DIRS = [path.join(ROOT, "envoy/istio"), path.join(ROOT, "envoy/envoy-gateway")];
const PYTHON = process.env.MANIFEST_CHECK_PYTHON || path.join(ROOT, ".venv/bin/python");

// Kubernetes versions for core kinds: the oldest that Istio 1.23 (our oldest
// Istio) supports, and the newest kubernetes-validate 1.37.0 ships.
const CORE_VERSIONS = ["1.27", "1.37"];

// Vendored CRD schemas (schemas/*.json, made by vendor-crds.js), by family:
// a document of a family's API groups is checked against each of its files.
const SCHEMA_FAMILIES = [
  { name: "Istio", files: ["istio-1.23.6.json", "istio-1.30.3.json"] },
  { name: "Gateway API", files: ["gateway-api-v1.6.1.json"] },
  { name: "Envoy Gateway", files: ["envoy-gateway-v1.9.0.json"] },
];

// Objects the manifests use but deliberately do not contain (docs/deploy.md
// says how to create them), so reference checks do not flag them.
const EXTERNAL_OBJECTS = new Set([
  "Secret/claude-wif/issuer-svc-keys",
  "Secret/claude-wif/claude-egress-tls",
  "Secret/claude-wif/issuer-public-tls",
  "ConfigMap/claude-wif/workload-jwks",
]);

// Kinds without a namespace.
const CLUSTER_SCOPED = new Set(["Namespace", "GatewayClass", "ClusterRole", "ClusterRoleBinding"]);

// Envoy Gateway's name for the cluster of an HTTPRoute rule (its
// irRouteDestinationName: httproute/<namespace>/<name>/rule/<index>).
const EG_ROUTE_CLUSTER = /^httproute\/([^/]+)\/([^/]+)\/rule\/(\d+)$/;

const KUSTOMIZATION_KEYS = new Set([
  "apiVersion", "kind", "metadata", "resources", "components", "namespace", "images", "labels",
  "patches", "replacements", "configMapGenerator", "secretGenerator", "generatorOptions", "namePrefix", "nameSuffix",
]);

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

function newAjv() {
  const ajv = new Ajv({ strict: false, allErrors: true, verbose: true });
  addFormats(ajv);
  ajv.addFormat("byte", { type: "string", validate: (v) => BASE64.test(v) });
  for (const f of ["int32", "int64"]) ajv.addFormat(f, { type: "number", validate: (v) => Number.isInteger(v) });
  for (const f of ["double", "float"]) ajv.addFormat(f, { type: "number", validate: () => true });
  ajv.addFormat("binary", { type: "string", validate: () => true });
  return ajv;
}

// A copy of a CRD's openAPIV3Schema as Ajv takes it, where every object
// schema that lists properties refuses others. `metadata` is left to
// check_core.py (the API server's ObjectMeta), `status` is not ours to set.
function strictCopy(schema, top = true) {
  if (Array.isArray(schema)) return schema.map((s) => strictCopy(s, false));
  if (schema === null || typeof schema !== "object") return schema;
  const out = {};
  for (const [key, value] of Object.entries(schema)) {
    if (key === "x-kubernetes-validations") continue;
    if (key === "properties" || key === "patternProperties") {
      out[key] = Object.fromEntries(Object.entries(value).map(([k, v]) => [k, strictCopy(v, false)]));
    } else {
      out[key] = strictCopy(value, false);
    }
  }
  if (out["x-kubernetes-int-or-string"]) {
    delete out.type;
    if (!out.anyOf) out.anyOf = [{ type: "integer" }, { type: "string" }];
  }
  if (top && out.properties) {
    out.properties = { apiVersion: { type: "string" }, kind: { type: "string" }, ...out.properties, metadata: { type: "object" } };
    delete out.properties.status;
  }
  const listed = out.properties && Object.keys(out.properties).length > 0;
  if (listed && out.additionalProperties === undefined && !out["x-kubernetes-preserve-unknown-fields"]) {
    out.additionalProperties = false;
  }
  return out;
}

// family name → [{label, kinds: {"group/version Kind": compiled | schema}}]
const families = SCHEMA_FAMILIES.map((family) => ({
  name: family.name,
  sets: family.files.map((file) => {
    const data = JSON.parse(fs.readFileSync(path.join(__dirname, "schemas", file), "utf8"));
    return { label: data.source.label.split(" (")[0], kinds: data.kinds, compiled: new Map() };
  }),
}));
const familyOfGroup = new Map();
for (const family of families) {
  for (const set of family.sets) {
    for (const key of Object.keys(set.kinds)) familyOfGroup.set(key.split("/")[0], family);
  }
}

const ajv = newAjv();
function validatorOf(set, key) {
  if (!set.compiled.has(key)) set.compiled.set(key, set.kinds[key] ? ajv.compile(strictCopy(set.kinds[key])) : null);
  return set.compiled.get(key);
}

// Ajv's errors as one line per problem. With allErrors, a failed anyOf/oneOf
// also lists every alternative's own failure: only the anyOf/oneOf line is
// kept, so an int-or-string mistake is one line, not three.
function ajvMessages(errors, { patch = false } = {}) {
  const alternatives = errors
    .filter((e) => e.keyword === "anyOf" || e.keyword === "oneOf")
    .map((e) => e.schemaPath.replace(/\/(anyOf|oneOf)$/, "/$1/"));
  const lines = [];
  for (const e of errors) {
    if (alternatives.some((prefix) => e.schemaPath.startsWith(prefix))) continue;
    if (patch && (e.keyword === "required" || e.keyword === "anyOf" || e.keyword === "oneOf")) continue;
    const where = e.instancePath || "/";
    if (e.keyword === "additionalProperties") lines.push(`${where}: unknown field "${e.params.additionalProperty}"`);
    else if (e.keyword === "enum") lines.push(`${where}: must be one of ${JSON.stringify(e.params.allowedValues)}`);
    else if (e.keyword === "type") lines.push(`${where}: must be ${[].concat(e.params.type).join(" or ")}`);
    else if (e.keyword === "anyOf" || e.keyword === "oneOf") lines.push(`${where}: must match one of the allowed forms (${e.keyword})`);
    else lines.push(`${where}: ${e.message}`);
  }
  return [...new Set(lines)];
}

// Merges per-version results: a line every version reports once, others
// with the versions that report them. An enum whose allowed values differ
// between versions is one line listing each version's values.
function mergeVersions(perVersion) {
  const found = new Map();
  for (const [label, lines] of perVersion) {
    for (const line of lines) found.set(line, [...(found.get(line) || []), label]);
  }
  const byKey = new Map();
  for (const [line, labels] of found) {
    const enumAt = line.indexOf(": must be one of [");
    const key = enumAt < 0 ? line : line.slice(0, enumAt + ": must be one of".length);
    byKey.set(key, [...(byKey.get(key) || []), { line, labels }]);
  }
  return [...byKey].map(([key, group]) => {
    if (group.length === 1) {
      const { line, labels } = group[0];
      return labels.length === perVersion.length ? line : `${line} (${labels.join(", ")} only)`;
    }
    return `${key} ${group.map(({ line, labels }) => `${line.slice(key.length + 1)} (${labels.join(", ")})`).join(", ")}`;
  });
}

// Validates a custom resource against every schema version of its family;
// null when the document is no custom resource we have schemas for.
function checkCustomResource(doc, { patch }) {
  if (typeof doc.apiVersion !== "string" || typeof doc.kind !== "string") return ["apiVersion and kind must be strings"];
  const family = familyOfGroup.get(doc.apiVersion.split("/")[0]);
  if (!family || !doc.apiVersion.includes("/")) return null;
  const key = `${doc.apiVersion} ${doc.kind}`;
  const known = family.sets.some((set) => Object.keys(set.kinds).some((k) => k.startsWith(`${doc.apiVersion} `)));
  if (!known) return [`unknown apiVersion ${doc.apiVersion}`];
  const plain = JSON.parse(JSON.stringify(doc));
  return mergeVersions(
    family.sets.map((set) => {
      const validate = validatorOf(set, key);
      if (!validate) return [set.label, [`unknown kind ${doc.kind} in ${doc.apiVersion}`]];
      return [set.label, validate(plain) ? [] : ajvMessages(validate.errors, { patch })];
    }),
  );
}

// check_core.py over a batch: [{doc, metadataOnly, patch}] → [[line]].
function checkCore(entries) {
  if (entries.length === 0) return [];
  const run = spawnSync(PYTHON, [path.join(__dirname, "check_core.py")], {
    input: JSON.stringify({ versions: CORE_VERSIONS, documents: entries.map(({ doc, metadataOnly }) => ({ doc, metadataOnly })) }),
    encoding: "utf8",
    maxBuffer: 1 << 26,
  });
  if (run.error || run.status !== 0) {
    throw new Error(`check_core.py (${PYTHON}) failed: ${run.error?.message || run.stderr.trim()}; run \`make setup\``);
  }
  const results = JSON.parse(run.stdout);
  return results.map((lines, i) =>
    entries[i].patch ? lines.filter((l) => !/required property|must match one of/.test(l)) : lines,
  );
}

// The YAML files under `target`, subfolders included, sorted.
function yamlFiles(target) {
  const stat = fs.statSync(target);
  if (!stat.isDirectory()) return [target];
  return fs
    .readdirSync(target, { withFileTypes: true })
    .sort((a, b) => a.name.localeCompare(b.name))
    .flatMap((entry) => {
      const full = path.join(target, entry.name);
      if (entry.isDirectory()) return yamlFiles(full);
      return /\.ya?ml$/.test(entry.name) ? [full] : [];
    });
}

const isKustomization = (doc) =>
  (doc?.kind === "Kustomization" && doc.apiVersion === "kustomize.config.k8s.io/v1beta1") ||
  (doc?.kind === "Component" && doc.apiVersion === "kustomize.config.k8s.io/v1alpha1");

// The files a kustomization names as patches (partial objects).
function patchFiles(file, doc) {
  const dir = path.dirname(file);
  return (doc.patches || []).filter((p) => typeof p?.path === "string").map((p) => path.resolve(dir, p.path));
}

function checkKustomization(file, doc, report) {
  for (const key of Object.keys(doc)) {
    if (!KUSTOMIZATION_KEYS.has(key)) report(`unknown or unsupported field "${key}"`);
  }
  const dir = path.dirname(path.resolve(file));
  const listed = new Set();
  for (const field of ["resources", "components"]) {
    for (const entry of doc[field] || []) {
      if (/^[a-z]+:\/\//.test(entry)) continue; // remote; not checked offline
      const full = path.resolve(dir, entry);
      listed.add(full);
      if (!fs.existsSync(full)) report(`${field}: ${entry} does not exist`);
    }
  }
  for (const patch of patchFiles(file, doc)) {
    listed.add(patch);
    if (!fs.existsSync(patch)) report(`patches: ${path.relative(dir, patch)} does not exist`);
  }
  for (const name of fs.readdirSync(dir).sort()) {
    const full = path.join(dir, name);
    if (full !== path.resolve(file) && /\.ya?ml$/.test(name) && !listed.has(full)) {
      report(`resources: ${name} is in the folder but not listed`);
    }
  }
}

// Checks one document; returns the object for the cross-reference pass.
// Core kinds (and custom resources' metadata) are queued for check_core.py.
function checkDocument(file, doc, report, core, { patch }) {
  if (isKustomization(doc)) {
    checkKustomization(file, doc, report);
    return null;
  }
  const lines = checkCustomResource(doc, { patch });
  if (lines) {
    for (const line of lines) report(line);
    if (lines.length && lines[0].startsWith("apiVersion and kind")) return null;
    core.push({ doc, metadataOnly: true, patch, report });
  } else {
    core.push({ doc, metadataOnly: false, patch, report });
  }
  return patch ? null : doc;
}

const WORKLOAD_KINDS = new Set(["Deployment", "StatefulSet", "DaemonSet"]);

function labelsMatch(selector, labels) {
  return Object.entries(selector || {}).every(([k, v]) => labels[k] === v);
}

// Gateway API and Envoy Gateway references: parentRefs, backendRefs,
// policy targetRefs, certificate and JWKS references, and the Wasm filter's
// issuer_cluster.
function checkGatewayApiReferences(o, at, { ns, exists, servicePorts }) {
  const { doc } = o;
  const has = (kind, name, namespace = ns(o)) =>
    exists.has(`${kind}/${CLUSTER_SCOPED.has(kind) ? "" : namespace}/${name}`) ||
    EXTERNAL_OBJECTS.has(`${kind}/${namespace}/${name}`);
  const backendOk = (ref, where) => {
    const kind = ref.kind || "Service";
    const namespace = ref.namespace || ns(o);
    if (!has(kind, ref.name, namespace)) at(`${where}: ${kind} ${ref.name} is not in the set`);
    else if (kind === "Service" && !servicePorts.get(`${ref.name}.${namespace}.svc.cluster.local`)?.has(ref.port)) {
      at(`${where}: Service ${ref.name} has no port ${ref.port}`);
    }
  };
  if (doc.kind === "Gateway" && doc.apiVersion.startsWith("gateway.networking.k8s.io/")) {
    if (!has("GatewayClass", doc.spec?.gatewayClassName)) at(`spec.gatewayClassName: GatewayClass ${doc.spec?.gatewayClassName} is not in the set`);
    const params = doc.spec?.infrastructure?.parametersRef;
    if (params && !has(params.kind, params.name)) at(`spec.infrastructure.parametersRef: ${params.kind} ${params.name} is not in the set`);
    for (const listener of doc.spec?.listeners || []) {
      for (const cert of listener.tls?.certificateRefs || []) {
        if (!has(cert.kind || "Secret", cert.name, cert.namespace || ns(o))) at(`listener ${listener.name}: Secret ${cert.name} is not in the set`);
      }
    }
  }
  if (doc.kind === "HTTPRoute" || doc.kind === "GRPCRoute") {
    for (const parent of doc.spec?.parentRefs || []) {
      const gateway = o.all.find((x) => x.doc.kind === (parent.kind || "Gateway") && x.doc.metadata?.name === parent.name && ns(x) === (parent.namespace || ns(o)));
      if (!gateway) at(`parentRef ${parent.name}: no such Gateway in the set`);
      else if (parent.sectionName && !(gateway.doc.spec?.listeners || []).some((l) => l.name === parent.sectionName)) {
        at(`parentRef ${parent.name}: Gateway has no listener ${parent.sectionName}`);
      }
    }
    (doc.spec?.rules || []).forEach((rule, i) => (rule.backendRefs || []).forEach((ref, j) => backendOk(ref, `rules[${i}].backendRefs[${j}]`)));
  }
  for (const ref of doc.spec?.targetRefs || []) {
    if (!has(ref.kind, ref.name)) at(`targetRef: ${ref.kind} ${ref.name} is not in the set`);
  }
  for (const provider of doc.kind === "SecurityPolicy" ? doc.spec?.jwt?.providers || [] : []) {
    const ref = provider.localJWKS?.valueRef;
    if (ref && !has(ref.kind, ref.name)) at(`jwt provider ${provider.name}: ${ref.kind} ${ref.name} is not in the set`);
  }
  if (doc.kind === "EnvoyExtensionPolicy") {
    for (const wasm of doc.spec?.wasm || []) {
      const cluster = wasm.config?.issuer_cluster;
      if (cluster === undefined) continue;
      const m = EG_ROUTE_CLUSTER.exec(cluster);
      if (!m) {
        at(`wasm ${wasm.name}: config.issuer_cluster "${cluster}" is not an Envoy Gateway route cluster name (httproute/<namespace>/<name>/rule/<index>)`);
        continue;
      }
      const route = o.all.find((x) => x.doc.kind === "HTTPRoute" && ns(x) === m[1] && x.doc.metadata?.name === m[2]);
      const rule = route?.doc.spec?.rules?.[Number(m[3])];
      const ref = rule?.backendRefs?.length === 1 ? rule.backendRefs[0] : null;
      if (!route) at(`wasm ${wasm.name}: config.issuer_cluster: no HTTPRoute ${m[1]}/${m[2]} in the set`);
      else if (!rule) at(`wasm ${wasm.name}: config.issuer_cluster: HTTPRoute ${m[2]} has no rule ${m[3]}`);
      else if (!ref || (ref.kind || "Service") !== "Service") at(`wasm ${wasm.name}: config.issuer_cluster: rule ${m[3]} of HTTPRoute ${m[2]} must send to exactly one Service`);
    }
  }
}

// Cross-reference checks over every object of the set.
function checkReferences(objects, report) {
  const ns = (o) => o.doc.metadata?.namespace || "";
  const exists = new Set(objects.map((o) => `${o.doc.kind}/${ns(o)}/${o.doc.metadata?.name}`));
  const workloads = objects.filter((o) => WORKLOAD_KINDS.has(o.doc.kind));
  const podLabels = (o) => o.doc.spec?.template?.metadata?.labels || {};
  const selects = (o, selector) =>
    workloads.some((w) => ns(w) === ns(o) && Object.keys(selector || {}).length > 0 && labelsMatch(selector, podLabels(w)));
  const servicePorts = new Map();
  for (const o of objects.filter((x) => x.doc.kind === "Service")) {
    const ports = new Set((o.doc.spec?.ports || []).map((p) => p.port));
    servicePorts.set(`${o.doc.metadata.name}.${ns(o)}.svc.cluster.local`, ports);
  }

  for (const o of objects) {
    const { doc } = o;
    const at = (msg) => report(o, msg);
    if (!CLUSTER_SCOPED.has(doc.kind) && !ns(o)) at("metadata.namespace: required (every object here names its namespace)");
    switch (doc.kind) {
      case "Service":
        if (!selects(o, doc.spec?.selector)) at("spec.selector matches no workload's pod labels");
        break;
      case "PodDisruptionBudget":
        if (!selects(o, doc.spec?.selector?.matchLabels)) at("spec.selector matches no workload's pod labels");
        break;
      case "NetworkPolicy":
        if (!selects(o, doc.spec?.podSelector?.matchLabels)) at("spec.podSelector matches no workload's pod labels");
        break;
      case "AuthorizationPolicy":
      case "WasmPlugin":
        if (!selects(o, doc.spec?.selector?.matchLabels)) at("spec.selector matches no workload's pod labels");
        break;
      case "Gateway":
        // The ingress gateway (istio: ingressgateway) is Istio's own.
        if (doc.apiVersion.startsWith("networking.istio.io/") && !labelsMatch(doc.spec?.selector, { istio: "ingressgateway" }) && !selects(o, doc.spec?.selector)) {
          at("spec.selector matches no workload's pod labels");
        }
        break;
      case "DestinationRule":
        if (doc.spec?.workloadSelector && !selects(o, doc.spec.workloadSelector.matchLabels)) {
          at("spec.workloadSelector matches no workload's pod labels");
        }
        break;
      default:
    }
    if (WORKLOAD_KINDS.has(doc.kind)) {
      for (const volume of doc.spec?.template?.spec?.volumes || []) {
        if (volume.configMap && !exists.has(`ConfigMap/${ns(o)}/${volume.configMap.name}`)) {
          at(`volume ${volume.name}: ConfigMap ${volume.configMap.name} is not in the set`);
        }
        const secret = volume.secret && `Secret/${ns(o)}/${volume.secret.secretName}`;
        if (secret && !exists.has(secret) && !EXTERNAL_OBJECTS.has(secret)) {
          at(`volume ${volume.name}: Secret ${volume.secret.secretName} is not in the set`);
        }
      }
    }
    if (doc.kind === "VirtualService") {
      for (const route of doc.spec?.http || []) {
        for (const { destination } of route.route || []) {
          const host = destination?.host || "";
          if (!host.endsWith(".svc.cluster.local")) continue;
          const ports = servicePorts.get(host);
          if (!ports) at(`http ${route.name}: destination ${host} is no Service in the set`);
          else if (destination.port && !ports.has(destination.port.number)) {
            at(`http ${route.name}: Service ${host} has no port ${destination.port.number}`);
          }
        }
      }
    }
    checkGatewayApiReferences(o, at, { ns, exists, servicePorts });
    if (doc.kind === "WasmPlugin") {
      const cluster = doc.spec?.pluginConfig?.issuer_cluster || "";
      const m = /^outbound\|(\d+)\|\|(.+)$/.exec(cluster);
      if (!m) at(`pluginConfig.issuer_cluster "${cluster}" is not an Istio outbound|port||host cluster name`);
      else if (!servicePorts.get(m[2])?.has(Number(m[1]))) {
        at(`pluginConfig.issuer_cluster: no Service ${m[2]} with port ${m[1]} in the set`);
      }
    }
  }
}

function check(targets) {
  const errors = [];
  let documents = 0;
  for (const target of targets) {
    const files = yamlFiles(target);
    const parsed = files.map((file) => {
      try {
        return { file, docs: yaml.loadAll(fs.readFileSync(file, "utf8")) };
      } catch (err) {
        errors.push(`${file}: YAML: ${err.message}`);
        return { file, docs: [] };
      }
    });
    const patches = new Set(parsed.flatMap(({ file, docs }) => docs.filter(isKustomization).flatMap((d) => patchFiles(file, d))));
    const objects = [];
    const core = [];
    for (const { file, docs } of parsed) {
      docs.forEach((doc, index) => {
        if (doc === null || doc === undefined) return;
        documents += 1;
        const where = doc.metadata?.namespace ? `${doc.metadata.namespace}/` : "";
        const label = `${file}#${index} ${doc.kind || "?"} ${where}${doc.metadata?.name || ""}`;
        const report = (msg) => errors.push(`${label}: ${msg}`);
        const checked = checkDocument(file, doc, report, core, { patch: patches.has(path.resolve(file)) });
        if (checked) objects.push({ label, doc: checked });
      });
    }
    const results = checkCore(core);
    core.forEach((entry, i) => results[i].forEach((line) => entry.report(line)));
    for (const o of objects) o.all = objects;
    checkReferences(objects, (o, msg) => errors.push(`${o.label}: ${msg}`));
  }
  return { documents, errors };
}

module.exports = { check };

if (require.main === module) {
  const targets = process.argv.slice(2);
  const { documents, errors } = check(targets.length ? targets : DEFAULT_DIRS.filter((d) => fs.existsSync(d)));
  for (const error of errors) console.error(`manifest-check: ${error}`);
  if (errors.length) {
    console.error(`manifest-check: ${errors.length} error(s) in ${documents} document(s)`);
    process.exit(1);
  }
  console.log(`manifest-check: ok   ${documents} documents`);
}
