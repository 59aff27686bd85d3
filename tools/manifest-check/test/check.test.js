// Tests of check.js: the shipped manifests pass, and each kind of mistake in
// a copy of them fails with a message naming the field.
"use strict";

const test = require("node:test");
const assert = require("node:assert/strict");
const fs = require("node:fs");
const os = require("node:os");
const path = require("node:path");
const { check } = require("../check.js");

const made = [];
test.after(() => {
  for (const dir of made) fs.rmSync(dir, { recursive: true, force: true });
});

const SHIPPED = path.resolve(__dirname, "../../../envoy/istio");
const SHIPPED_EG = path.resolve(__dirname, "../../../envoy/envoy-gateway");

// A copy of a shipped folder (subfolders included) with `edits`
// ({relative file: [[from, to], ...]}) applied; each `from` must occur, so a
// test cannot pass by editing nothing.
function mutated(edits, from = SHIPPED) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "manifest-check-"));
  made.push(dir);
  fs.cpSync(from, dir, { recursive: true });
  for (const [name, replacements] of Object.entries(edits)) {
    const file = path.join(dir, name);
    let text = fs.readFileSync(file, "utf8");
    for (const [before, after] of replacements) {
      assert.ok(text.includes(before), `${name} does not contain ${JSON.stringify(before)}`);
      text = text.replace(before, after);
    }
    fs.writeFileSync(file, text);
  }
  return dir;
}

function errorsOf(edits) {
  return check([mutated(edits)]).errors;
}

function assertOneErrorMatching(errors, pattern) {
  assert.ok(errors.some((e) => pattern.test(e)), `no error matches ${pattern}:\n${errors.join("\n")}`);
}

test("the shipped manifests pass", () => {
  const { documents, errors } = check([SHIPPED]);
  assert.deepEqual(errors, []);
  assert.ok(documents >= 20, `only ${documents} documents checked`);
});

test("a misspelt Kubernetes field fails", () => {
  const errors = errorsOf({ "issuer-svc.yaml": [["readOnlyRootFilesystem: true", "readOnlyRootFilesytem: true"]] });
  assertOneErrorMatching(errors, /Deployment claude-wif\/issuer-svc: \/spec\/template\/spec\/containers\/0\/securityContext: unknown field "readOnlyRootFilesytem"/);
});

test("a misspelt field in object metadata fails", () => {
  const errors = errorsOf({ "issuer-svc.yaml": [["  labels:\n    app.kubernetes.io/name: issuer-svc", "  label:\n    app.kubernetes.io/name: issuer-svc"]] });
  assertOneErrorMatching(errors, /\/metadata: unknown field "label"/);
});

test("a misspelt Istio field fails, also deep inside a spec", () => {
  const errors = errorsOf({
    "wasmplugin.yaml": [["  phase: AUTHZ", "  phaes: AUTHZ"]],
    "egress-gateway.yaml": [["      retryOn: connect-failure", "      retry_on: connect-failure"]],
  });
  assertOneErrorMatching(errors, /WasmPlugin claude-wif\/claude-wif: \/spec: unknown field "phaes"/);
  assertOneErrorMatching(errors, /VirtualService claude-wif\/api-anthropic-com: \/spec\/http\/0\/retries: unknown field "retry_on"/);
});

test("free-form fields stay free-form: pluginConfig takes any key", () => {
  const errors = errorsOf({ "wasmplugin.yaml": [["    timeout_ms: 5000", "    timeout_ms: 5000\n    some_future_key: 1"]] });
  assert.deepEqual(errors, []);
});

test("wrong types and values fail", () => {
  const errors = errorsOf({
    "issuer-svc.yaml": [["  replicas: 2", "  replicas: two"]],
    "wasmplugin.yaml": [["  failStrategy: FAIL_CLOSE", "  failStrategy: FAIL_CLOSED"], ["  phase: AUTHZ", "  phase: AUTHORIZATION"]],
  });
  assertOneErrorMatching(errors, /Deployment claude-wif\/issuer-svc: \/spec\/replicas: must be integer/);
  assertOneErrorMatching(errors, /\/spec\/failStrategy: must be one of/);
  assertOneErrorMatching(errors, /\/spec\/phase: must be one of/);
});

test("an unknown kind or apiVersion fails", () => {
  const errors = errorsOf({
    "namespace.yaml": [["kind: PeerAuthentication", "kind: PeerAuthentications"]],
    "anthropic.yaml": [["apiVersion: networking.istio.io/v1beta1\nkind: ServiceEntry", "apiVersion: networking.istio.io/v9\nkind: ServiceEntry"]],
  });
  assertOneErrorMatching(errors, /unknown kind PeerAuthentications in security\.istio\.io\/v1beta1/);
  assertOneErrorMatching(errors, /unknown apiVersion networking\.istio\.io\/v9/);
});

test("broken references fail", () => {
  const errors = errorsOf({
    "issuer-svc.yaml": [["    app.kubernetes.io/name: issuer-svc\n  ports:", "    app.kubernetes.io/name: issuer-svk\n  ports:"]],
    "wasmplugin.yaml": [["issuer_cluster: \"outbound|9090||", "issuer_cluster: \"outbound|9091||"]],
    "egress-gateway.yaml": [["          number: 8443\n    timeout: 600s", "          number: 443\n    timeout: 600s"]],
    "issuer-svc-config.yaml": [["  name: issuer-svc-config", "  name: issuer-svc-cfg"]],
  });
  assertOneErrorMatching(errors, /Service claude-wif\/issuer-svc: spec\.selector matches no workload/);
  assertOneErrorMatching(errors, /pluginConfig\.issuer_cluster: no Service issuer-svc\.claude-wif\.svc\.cluster\.local with port 9091/);
  assertOneErrorMatching(errors, /Service claude-egress\.claude-wif\.svc\.cluster\.local has no port 443/);
  assertOneErrorMatching(errors, /ConfigMap issuer-svc-config is not in the set/);
});

test("kustomization.yaml must list exactly the folder's manifests", () => {
  const dir = mutated({ "kustomization.yaml": [["- wasmplugin.yaml\n", "- wasmplugins.yaml\n"]] });
  const { errors } = check([dir]);
  assertOneErrorMatching(errors, /resources: wasmplugins\.yaml does not exist/);
  assertOneErrorMatching(errors, /resources: wasmplugin\.yaml is in the folder but not listed/);
});

test("invalid YAML fails with the file name", () => {
  const errors = errorsOf({ "anthropic.yaml": [["  hosts: [\"api.anthropic.com\"]", "  hosts: [\"api.anthropic.com\""]] });
  assertOneErrorMatching(errors, /anthropic\.yaml: YAML: /);
});
