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
      const found = before instanceof RegExp ? before.test(text) : text.includes(before);
      assert.ok(found, `${name} does not contain ${before instanceof RegExp ? before : JSON.stringify(before)}`);
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

test("the shipped Envoy Gateway manifests pass, the wasm-http overlay included", () => {
  const { documents, errors } = check([SHIPPED_EG]);
  assert.deepEqual(errors, []);
  assert.ok(documents >= 20, `only ${documents} documents checked`);
});

// The demonstration the issue asks for: one unknown field planted in an Istio
// document, one in a core Kubernetes document and one in an Envoy Gateway
// document; each gives exactly one error, naming the field (not one per
// schema version or per validator).
test("a planted unknown field fails once, in Istio, core and Envoy Gateway documents", () => {
  const istio = check([mutated({ "wasmplugin.yaml": [["  pluginName: claude_wif", "  pluginName: claude_wif\n  pluginNme: claude_wif"]] })]).errors;
  const core = check([mutated({ "issuer-svc.yaml": [["        imagePullPolicy: IfNotPresent", "        imagePullPolicy: IfNotPresent\n        imagePullPolcy: Always"]] })]).errors;
  const eg = check([mutated({ "extension.yaml": [["    failOpen: false", "    failOpen: false\n    failOpn: true"]] }, SHIPPED_EG)]).errors;
  for (const errors of [istio, core, eg]) console.log(errors.join("\n"));
  assert.equal(istio.length, 1, istio.join("\n"));
  assert.match(istio[0], /wasmplugin\.yaml#0 WasmPlugin claude-wif\/claude-wif: \/spec: unknown field "pluginNme"$/);
  assert.equal(core.length, 1, core.join("\n"));
  assert.match(core[0], /issuer-svc\.yaml#1 Deployment claude-wif\/issuer-svc: \/spec\/template\/spec\/containers\/0: unknown field "imagePullPolcy"$/);
  assert.equal(eg.length, 1, eg.join("\n"));
  assert.match(eg[0], /extension\.yaml#0 EnvoyExtensionPolicy claude-wif\/claude-wif: \/spec\/wasm\/0: unknown field "failOpn"$/);
});

test("an error only one schema version has names that version", () => {
  const errors = errorsOf({ "wasmplugin.yaml": [["  failStrategy: FAIL_CLOSE", "  failStrategy: FAIL_RELOAD"]] });
  assert.deepEqual(errors.map((e) => e.replace(/^.*?: /, "")), ['/spec/failStrategy: must be one of ["FAIL_CLOSE","FAIL_OPEN"] (Istio 1.23.6 only)']);
});

test("Envoy Gateway: unknown fields in a kustomize patch, wrong types, broken references fail", () => {
  const dir = mutated(
    {
      "wasm-http/wasm-http.yaml": [['        sha256: "0000', '        sha265: "0000']],
      "anthropic.yaml": [["      streamIdleTimeout: 600s", "      streamIdleTimeout: 10 minutes"], ["      port: 443\n    # Messages", "      port: 444\n    # Messages"]],
      "extension.yaml": [["issuer_cluster: httproute/claude-wif/issuer-token/rule/0", "issuer_cluster: httproute/claude-wif/issuer-token/rule/1"]],
      "issuer-routes.yaml": [["      name: issuer-svc\n      port: 8443", "      name: issuer-svc\n      port: 443"], ["  - name: issuer-public\n    sectionName: issuer", "  - name: issuer-public\n    sectionName: issuers"]],
      "security.yaml": [["    name: claude\n", "    name: claude-typo\n"]],
    },
    SHIPPED_EG,
  );
  const { errors } = check([dir]);
  assertOneErrorMatching(errors, /wasm-http\.yaml#0 EnvoyExtensionPolicy claude-wif\/claude-wif: \/spec\/wasm\/0\/code\/http: unknown field "sha265"/);
  assertOneErrorMatching(errors, /BackendTrafficPolicy claude-wif\/claude: \/spec\/timeout\/http\/streamIdleTimeout: must match pattern/);
  assertOneErrorMatching(errors, /config\.issuer_cluster: HTTPRoute issuer-token has no rule 1/);
  assertOneErrorMatching(errors, /HTTPRoute claude-wif\/issuer-public: rules\[0\]\.backendRefs\[0\]: Service issuer-svc has no port 443/);
  assertOneErrorMatching(errors, /parentRef issuer-public: Gateway has no listener issuers/);
  assertOneErrorMatching(errors, /SecurityPolicy claude-wif\/claude-workload-jwt: targetRef: HTTPRoute claude-typo is not in the set/);
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
  assert.equal(errors.length, 3, errors.join("\n"));
  assertOneErrorMatching(errors, /\/spec\/failStrategy: must be one of \["FAIL_CLOSE","FAIL_OPEN"\] \(Istio 1\.23\.6\), \["FAIL_CLOSE","FAIL_OPEN","FAIL_RELOAD"\] \(Istio 1\.30\.3\)$/);
  assertOneErrorMatching(errors, /\/spec\/phase: must be one of/);
});

test("an unknown kind or apiVersion fails", () => {
  const errors = errorsOf({
    "namespace.yaml": [["kind: PeerAuthentication", "kind: PeerAuthentications"]],
    "anthropic.yaml": [[/apiVersion: networking\.istio\.io\/v1(?:beta1)?\nkind: ServiceEntry/, "apiVersion: networking.istio.io/v9\nkind: ServiceEntry"]],
  });
  assertOneErrorMatching(errors, /unknown kind PeerAuthentications in security\.istio\.io\/v1(beta1)?$/);
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
