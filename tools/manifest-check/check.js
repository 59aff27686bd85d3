#!/usr/bin/env node
// Offline check of Kubernetes and Istio manifests (envoy/istio/ by default).
//
// For every YAML document:
//  1. the model class is picked from apiVersion + kind in `kubernetes-models`
//     (Kubernetes 1.27 schemas) or `@kubernetes-models/istio` (Istio 1.18
//     CRD schemas); an unknown apiVersion/kind is an error;
//  2. the model's own `.validate()` runs (types, enums, required fields);
//  3. a strict pass validates the same object against the same JSON schemas
//     with `additionalProperties: false` added to every object schema that
//     lists its properties, so a misspelt field name fails (the models, like
//     the CRDs they come from, accept unknown fields); free-form objects
//     (no listed properties, e.g. WasmPlugin pluginConfig) stay free-form.
//     This is what `kubectl apply --validate=strict` would say;
//  4. cross-references within the set: selectors of Services, PDBs, Istio
//     objects and NetworkPolicies match some workload's pod labels, ConfigMaps
//     mounted by a workload exist, VirtualService destinations inside the
//     cluster name an existing Service port, and the WasmPlugin's
//     `issuer_cluster` is the `outbound|port||host` name of one.
// A kustomization.yaml must list exactly the other YAML files of its folder.
//
// Usage: node check.js [FILE_OR_DIR ...]   exit 0 = all good, 1 = errors.
"use strict";

const fs = require("node:fs");
const path = require("node:path");
const yaml = require("js-yaml");
const Ajv = require("ajv");
const addFormats = require("ajv-formats");
const addFormatsDraft2019 = require("ajv-formats-draft2019");

// Capture every JSON schema the models register, to build the strict pass.
const validateLib = require("@kubernetes-models/validate");
const schemas = new Map();
const originalRegister = validateLib.register;
validateLib.register = (id, schema) => {
  if (!schemas.has(id)) schemas.set(id, schema);
  return originalRegister(id, schema);
};

const DEFAULT_DIR = path.resolve(__dirname, "../../envoy/istio");

// Fields of Istio APIs newer than the Istio 1.18 schemas these models carry,
// added to the strict schema with their documented values. Keep short; each
// entry names the Istio release that added it.
const SCHEMA_ADDITIONS = {
  "extensions.istio.io.v1alpha1.WasmPlugin": {
    // Istio 1.19 (FAIL_RELOAD: 1.27): what happens when the module cannot be
    // fetched or its VM fails.
    "spec.failStrategy": { type: "string", enum: ["FAIL_CLOSE", "FAIL_OPEN", "FAIL_RELOAD"] },
  },
};

// Objects the manifests use but deliberately do not contain (docs/deploy.md
// says how to create them), so reference checks do not flag them.
const EXTERNAL_OBJECTS = new Set(["Secret/claude-wif/issuer-svc-keys"]);

const KUSTOMIZATION_KEYS = new Set(["apiVersion", "kind", "metadata", "resources", "namespace", "images", "labels", "patches"]);

// The formats @kubernetes-models/validate adds to Ajv's, with its options.
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
const NUMBER = String.raw`[+-]?(?:\d+|\d+\.\d+|\d+\.|\.\d+)`;
const QUANTITY = new RegExp(String.raw`^${NUMBER}(?:[KMGTPE]i|[YZEPTGMkhdcmunpfazy]|da|[eE]${NUMBER})?$`);

function newAjv() {
  const ajv = new Ajv({ strictTypes: false, allErrors: true, verbose: true });
  addFormats(ajv);
  addFormatsDraft2019(ajv);
  ajv.addFormat("byte", { type: "string", validate: (v) => BASE64.test(v) });
  ajv.addFormat("quantity", { type: "string", validate: QUANTITY });
  ajv.addFormat("string", { type: "string", validate: (v) => typeof v === "string" });
  return ajv;
}

// A deep copy of `schema` where every object schema that lists properties
// refuses others.
function strictCopy(schema) {
  if (Array.isArray(schema)) return schema.map(strictCopy);
  if (schema === null || typeof schema !== "object") return schema;
  const out = {};
  for (const [key, value] of Object.entries(schema)) {
    if (key === "properties" || key === "patternProperties" || key === "definitions") {
      out[key] = Object.fromEntries(Object.entries(value).map(([k, v]) => [k, strictCopy(v)]));
    } else {
      out[key] = strictCopy(value);
    }
  }
  const listed = out.properties && Object.keys(out.properties).length > 0;
  if (listed && out.additionalProperties === undefined && !out["x-kubernetes-preserve-unknown-fields"]) {
    out.additionalProperties = false;
  }
  return out;
}

function withAdditions(id, schema) {
  const additions = SCHEMA_ADDITIONS[id];
  if (!additions) return schema;
  for (const [dotted, fieldSchema] of Object.entries(additions)) {
    const parts = dotted.split(".");
    let node = schema;
    for (const part of parts.slice(0, -1)) node = node.properties[part];
    node.properties[parts[parts.length - 1]] = fieldSchema;
  }
  return schema;
}

const strictAjv = newAjv();
function strictValidator(id) {
  for (const [sid, schema] of schemas) {
    if (!strictAjv.getSchema(sid)) strictAjv.addSchema(withAdditions(sid, strictCopy(schema)), sid);
  }
  return strictAjv.getSchema(id);
}

// apiVersion + kind → model class, or an explanation of why there is none.
function modelFor(apiVersion, kind) {
  if (typeof apiVersion !== "string" || typeof kind !== "string") {
    return { error: "apiVersion and kind must be strings" };
  }
  const slash = apiVersion.indexOf("/");
  const group = slash < 0 ? "" : apiVersion.slice(0, slash);
  const version = slash < 0 ? apiVersion : apiVersion.slice(slash + 1);
  const modulePath = group.endsWith(".istio.io")
    ? `@kubernetes-models/istio/${group}/${version}`
    : group === ""
      ? `kubernetes-models/${version}`
      : `kubernetes-models/${group}/${version}`;
  let mod;
  try {
    mod = require(modulePath);
  } catch {
    return { error: `unknown apiVersion ${apiVersion}` };
  }
  const Model = mod[kind];
  if (typeof Model !== "function" || Model.kind !== kind || Model.apiVersion !== apiVersion) {
    return { error: `unknown kind ${kind} in ${apiVersion}` };
  }
  return { Model };
}

function schemaIdOf(Model) {
  const symbol = Object.getOwnPropertySymbols(Model.prototype).find((s) => s.description === "SCHEMA_ID");
  return symbol && Model.prototype[symbol];
}

function ajvMessages(errors) {
  return (errors || []).map((e) => {
    const where = e.instancePath || "/";
    if (e.keyword === "additionalProperties") return `${where}: unknown field "${e.params.additionalProperty}"`;
    if (e.keyword === "enum") return `${where}: must be one of ${JSON.stringify(e.params.allowedValues)}`;
    return `${where}: ${e.message}`;
  });
}

function yamlFiles(target) {
  const stat = fs.statSync(target);
  if (!stat.isDirectory()) return [target];
  return fs
    .readdirSync(target)
    .filter((name) => name.endsWith(".yaml") || name.endsWith(".yml"))
    .sort()
    .map((name) => path.join(target, name));
}

function checkKustomization(file, doc, report) {
  for (const key of Object.keys(doc)) {
    if (!KUSTOMIZATION_KEYS.has(key)) report(`unknown or unsupported field "${key}"`);
  }
  const dir = path.dirname(file);
  const listed = new Set(doc.resources || []);
  for (const resource of listed) {
    if (!fs.existsSync(path.join(dir, resource))) report(`resources: ${resource} does not exist`);
  }
  for (const other of yamlFiles(dir)) {
    const name = path.basename(other);
    if (other !== file && !listed.has(name)) report(`resources: ${name} is in the folder but not listed`);
  }
}

// Checks one document; returns the object for the cross-reference pass.
function checkDocument(file, doc, report) {
  if (doc.kind === "Kustomization" && doc.apiVersion === "kustomize.config.k8s.io/v1beta1") {
    checkKustomization(file, doc, report);
    return null;
  }
  const { Model, error } = modelFor(doc.apiVersion, doc.kind);
  if (error) {
    report(error);
    return null;
  }
  try {
    new Model(doc).validate();
  } catch (err) {
    const lines = ajvMessages(err.errors);
    for (const line of lines.length ? lines : [err.message]) report(line);
  }
  const id = schemaIdOf(Model);
  const validate = strictValidator(id);
  if (!validate) {
    report(`no schema for ${doc.apiVersion} ${doc.kind}`);
  } else if (!validate(JSON.parse(JSON.stringify(doc)))) {
    // The model reported type and enum errors already; add what only the
    // strict schema knows: unknown fields, and the fields it adds.
    const strictOnly = (line) => line.includes("unknown field") || SCHEMA_ADDITIONS[id];
    for (const line of ajvMessages(validate.errors).filter(strictOnly)) report(line);
  }
  return doc;
}

const WORKLOAD_KINDS = new Set(["Deployment", "StatefulSet", "DaemonSet"]);

function labelsMatch(selector, labels) {
  return Object.entries(selector || {}).every(([k, v]) => labels[k] === v);
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
    if (doc.kind !== "Namespace" && !ns(o)) at("metadata.namespace: required (every object here names its namespace)");
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
        if (!labelsMatch(doc.spec?.selector, { istio: "ingressgateway" }) && !selects(o, doc.spec?.selector)) {
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
  const objects = [];
  let documents = 0;
  for (const file of targets.flatMap(yamlFiles)) {
    let docs;
    try {
      docs = yaml.loadAll(fs.readFileSync(file, "utf8"));
    } catch (err) {
      errors.push(`${file}: YAML: ${err.message}`);
      continue;
    }
    docs.forEach((doc, index) => {
      if (doc === null || doc === undefined) return;
      documents += 1;
      const where = doc.metadata?.namespace ? `${doc.metadata.namespace}/` : "";
      const label = `${file}#${index} ${doc.kind || "?"} ${where}${doc.metadata?.name || ""}`;
      const checked = checkDocument(file, doc, (msg) => errors.push(`${label}: ${msg}`));
      if (checked) objects.push({ label, doc: checked });
    });
  }
  checkReferences(objects, (o, msg) => errors.push(`${o.label}: ${msg}`));
  return { documents, errors };
}

module.exports = { check };

if (require.main === module) {
  const targets = process.argv.slice(2);
  const { documents, errors } = check(targets.length ? targets : [DEFAULT_DIR]);
  for (const error of errors) console.error(`manifest-check: ${error}`);
  if (errors.length) {
    console.error(`manifest-check: ${errors.length} error(s) in ${documents} document(s)`);
    process.exit(1);
  }
  console.log(`manifest-check: ok   ${documents} documents`);
}
