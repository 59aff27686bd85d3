// Browser test of the issuer-svc admin page, in headless Debian Chromium
// driven by playwright-core. Starts the release `fake-claude` (playing Claude)
// and `issuer-svc serve` on free loopback ports, with two credential
// providers: `claude-demo` (matches fake-claude's federation rule) and
// `claude-wrong-audience` (its audience differs from the rule's). Then:
// sign-in is required, Copy puts the issuer URL on the clipboard, Verify is
// green for the good provider and red (with the hint) for the misconfigured
// one, and the token table refreshes itself. Screenshots go to
// target/ui-screenshots/. Run by `scripts/browser-test.sh` (`make test`).

import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const ISSUER = join(ROOT, "target/release/issuer-svc");
const FAKE_CLAUDE = join(ROOT, "target/release/fake-claude");
const CHROMIUM = process.env.CHROMIUM || "/usr/bin/chromium";
const SHOTS = join(ROOT, "target/ui-screenshots");
const ORG = "00000000-0000-4000-8000-000000000001";
const GOOD_IDENTITY = "spiffe://cluster.local/ns/demo/sa/app";
const BAD_IDENTITY = "spiffe://cluster.local/ns/demo/sa/batch";
const API_KEY = randomBytes(24).toString("hex");

function fail(message) {
  console.error(`browser-test: ${message}`);
  process.exit(1);
}

const missing = [
  [ISSUER, "make build"],
  [FAKE_CLAUDE, "make build"],
  [CHROMIUM, "make setup (installs Debian's chromium)"],
  [join(ROOT, "tests/browser/node_modules/playwright-core"), "make setup (npm ci in tests/browser)"],
].filter(([path]) => !existsSync(path));
if (missing.length > 0) {
  fail(missing.map(([path, fix]) => `${path} is missing: run \`${fix}\``).join("\n"));
}
const { chromium } = await import("playwright-core");

function freePort() {
  return new Promise((ok, ko) => {
    const server = createServer();
    server.once("error", ko);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => ok(port));
    });
  });
}

const children = [];
process.on("exit", () => stopAll());
const work = mkdtempSync(join(tmpdir(), "claude-wif-browser-"));

function start(name, argv) {
  const child = spawn(argv[0], argv.slice(1), { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] });
  const chunks = [];
  child.stdout.on("data", (d) => chunks.push(d));
  child.stderr.on("data", (d) => chunks.push(d));
  child.logText = () => Buffer.concat(chunks).toString();
  child.name = name;
  children.push(child);
  return child;
}

function stopAll() {
  for (const child of children) {
    if (child.exitCode === null) child.kill("SIGTERM");
  }
}

async function waitReady(child, url, headers = {}) {
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) fail(`${child.name} exited during start-up:\n${child.logText()}`);
    try {
      const response = await fetch(url, { headers });
      if (response.status === 200) return;
    } catch {
      // not listening yet
    }
    await new Promise((ok) => setTimeout(ok, 50));
  }
  fail(`${child.name} not ready at ${url}:\n${child.logText()}`);
}

function fakeClaudeConfig(port, issuerBase) {
  const issuer = (id, provider) => `
[[federation_issuer]]
id = "${id}"
issuer_url = "${issuerBase}/providers/${provider}"
jwks_source = "discovery"
`;
  const rule = (id, issuerId) => `
[[federation_rule]]
id = "${id}"
issuer = "${issuerId}"
subject_prefix = "spiffe://cluster.local/ns/demo/*"
audience = "https://api.anthropic.com"
service_account = "svac_demo"
workspace_ids = ["wrkspc_demo"]
oauth_scope = "workspace:developer"
token_lifetime_seconds = 3600
`;
  return `listen = "127.0.0.1:${port}"
organization_id = "${ORG}"

[[service_account]]
id = "svac_demo"

[[workspace]]
id = "wrkspc_demo"
${issuer("fdis_demo", "claude-demo")}${issuer("fdis_batch", "claude-wrong-audience")}
${rule("fdrl_demo", "fdis_demo")}${rule("fdrl_batch", "fdis_batch")}`;
}

function issuerConfig(ports, keyFile) {
  const provider = (id, name, rule, extra) => `
[[credential_provider]]
id = "${id}"
name = "${name}"
is_active = true
  [credential_provider.claude_wif]
  federation_rule_id = "${rule}"
  organization_id = "${ORG}"
  service_account_id = "svac_demo"
  workspace_id = "wrkspc_demo"
  scope = "workspace:developer"
  lifetime = 3600${extra}
`;
  return `[server]
public_listen = "127.0.0.1:${ports.public}"
public_base_url = "http://127.0.0.1:${ports.public}"
internal_listen = "127.0.0.1:${ports.internal}"
state_dir = "${join(work, "issuer-state")}"
internal_api_key_file = "${keyFile}"

[claude]
base_url = "http://127.0.0.1:${ports.claude}"
timeout = "5s"
${provider("claude-demo", "Claude production", "fdrl_demo", "")}
${provider("claude-wrong-audience", "Batch jobs (misconfigured)", "fdrl_batch",
    '\n  audience = "https://wrong-audience.example.com"')}
[[client_workload]]
id = "demo-app"
identity = "${GOOD_IDENTITY}"

[[client_workload]]
id = "batch-jobs"
identity = "${BAD_IDENTITY}"

[[access_policy]]
client_workload = "demo-app"
server_workload = "api.anthropic.com"
credential_provider = "claude-demo"

[[access_policy]]
client_workload = "batch-jobs"
server_workload = "api.anthropic.com"
credential_provider = "claude-wrong-audience"
`;
}

async function tokenRequest(base, identity) {
  const response = await fetch(`${base}/v1/token`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${API_KEY}` },
    body: JSON.stringify({ client_workload: identity, server_workload: "api.anthropic.com" }),
  });
  await response.arrayBuffer();
  return response.status;
}

const shots = [];
async function shoot(target, name) {
  const path = join(SHOTS, name);
  await target.screenshot({ path, fullPage: target.url ? true : undefined });
  shots.push(path);
}

async function main() {
  mkdirSync(SHOTS, { recursive: true });
  const ports = { claude: await freePort(), public: await freePort(), internal: await freePort() };
  const issuerBase = `http://127.0.0.1:${ports.public}`;
  const admin = `http://127.0.0.1:${ports.internal}`;
  const keyFile = join(work, "api-key");
  writeFileSync(keyFile, `${API_KEY}\n`, { mode: 0o600 });
  writeFileSync(join(work, "fake-claude.toml"), fakeClaudeConfig(ports.claude, issuerBase));
  writeFileSync(join(work, "issuer-svc.toml"), issuerConfig(ports, keyFile));

  const fake = start("fake-claude", [FAKE_CLAUDE, "--config", join(work, "fake-claude.toml")]);
  await waitReady(fake, `http://127.0.0.1:${ports.claude}/_test/counters`);
  const issuer = start("issuer-svc", [ISSUER, "serve", "--config", join(work, "issuer-svc.toml")]);
  await waitReady(issuer, `${admin}/readyz`);
  console.log(`browser-test: issuer-svc admin page at ${admin}/admin (fake-claude on ${ports.claude})`);

  const publicAdmin = await fetch(`${issuerBase}/admin`);
  assert.equal(publicAdmin.status, 404, "the public listener must not serve /admin");
  console.log("ok - the public listener answers 404 for /admin");

  // playwright-core gives every launch a fresh, empty --user-data-dir of its own.
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync",
    ],
  });
  try {
    await run(browser, admin, issuerBase, `http://127.0.0.1:${ports.claude}`);
  } finally {
    await browser.close();
  }
}

async function run(browser, admin, issuerBase, fakeClaude) {
  const refused = await fetch(`${admin}/admin`);
  assert.equal(refused.status, 401, "the page needs the internal API key");
  assert.match(refused.headers.get("www-authenticate") ?? "", /^Basic realm="issuer-svc admin"/);
  // A browser without the key gets the sign-in prompt, which headless
  // Chromium cancels.
  const anonymous = await browser.newContext();
  await assert.rejects((await anonymous.newPage()).goto(`${admin}/admin`), /ERR_INVALID_AUTH_CREDENTIALS/);
  await anonymous.close();
  console.log("ok - without the API key the page answers 401 with a Basic challenge");

  const context = await browser.newContext({
    httpCredentials: { username: "admin", password: API_KEY },
    viewport: { width: 1280, height: 900 },
    deviceScaleFactor: 1,
  });
  await context.grantPermissions(["clipboard-read", "clipboard-write"], { origin: admin });
  const page = await context.newPage();
  const problems = [];
  page.on("console", (msg) => { if (msg.type() === "error") problems.push(msg.text()); });
  page.on("pageerror", (err) => problems.push(String(err)));

  const response = await page.goto(`${admin}/admin`);
  assert.equal(response.status(), 200);
  await page.getByRole("heading", { name: "Credential providers" }).waitFor();
  for (const heading of ["Access policies", "Token status", "Signing keys"]) {
    await page.getByRole("heading", { name: heading }).waitFor();
  }
  await shoot(page, "admin-page-initial.png");
  console.log("ok - the page renders its four sections");

  // Accessibility basics: labelled inputs, named buttons, scoped headers.
  const a11y = await page.evaluate(() => ({
    unlabelled: [...document.querySelectorAll("input")].filter((i) => i.labels.length === 0).length,
    unnamedButtons: [...document.querySelectorAll("button")].filter((b) => !b.textContent.trim()).length,
    unscoped: [...document.querySelectorAll("thead th")].filter((th) => th.getAttribute("scope") !== "col").length,
    liveRegions: document.querySelectorAll('.verify-result[aria-live="polite"]').length,
  }));
  assert.deepEqual(a11y, { unlabelled: 0, unnamedButtons: 0, unscoped: 0, liveRegions: 2 });
  console.log("ok - inputs labelled, buttons named, table headers scoped, banners in live regions");

  const good = page.locator('article[data-provider="claude-demo"]');
  const bad = page.locator('article[data-provider="claude-wrong-audience"]');
  await good.getByRole("button", { name: /^Copy/ }).click();
  await good.getByRole("button", { name: /^Copied/ }).waitFor();
  const copied = await page.evaluate(() => navigator.clipboard.readText());
  assert.equal(copied, `${issuerBase}/providers/claude-demo`);
  console.log("ok - Copy puts the OIDC issuer URL on the clipboard");

  await good.getByRole("button", { name: /^Verify/ }).click();
  const green = good.locator(".banner-ok");
  await green.waitFor({ timeout: 20_000 });
  const greenText = await green.innerText();
  assert.match(greenText, /Verified successfully/);
  assert.match(greenText, /workspace:developer/);
  assert.match(greenText, /1 h 0 min/);
  await shoot(good, "verify-success.png");
  console.log("ok - Verify on claude-demo shows the green banner with scope and lifetime");

  await bad.getByRole("button", { name: /^Verify/ }).click();
  const red = bad.locator(".banner-error");
  await red.waitFor({ timeout: 20_000 });
  const redText = await red.innerText();
  assert.match(redText, /Verification failed at step 6 of 6: Token exchange at Claude/);
  assert.match(redText, /HTTP 401/);
  assert.match(redText, /What to check:/);
  assert.match(redText, /credential_provider\[1\]\.claude_wif\.audience/);
  assert.match(redText, /https:\/\/wrong-audience\.example\.com/);
  const history = await (await fetch(`${fakeClaude}/_test/auth_history`)).text();
  assert.match(history, /audience_mismatch/, "fake-claude refused for the audience");
  assert.equal(await red.getAttribute("role"), "alert");
  await shoot(bad, "verify-failure.png");
  console.log("ok - Verify on claude-wrong-audience shows the red banner naming the step and the hint");

  // Tokens issued after the page loaded appear without a reload.
  assert.equal(await tokenRequest(admin, GOOD_IDENTITY), 200);
  assert.equal(await tokenRequest(admin, BAD_IDENTITY), 502);
  const table = page.locator("#token-status");
  await table.locator('tr[data-state="fresh"]').waitFor({ timeout: 12_000 });
  await table.locator('tr[data-state="failing"]').waitFor({ timeout: 12_000 });
  console.log("ok - the token status table refreshes itself (fresh and failing rows)");

  const html = await page.content();
  for (const secret of [API_KEY, "sk-ant-oat01", "PRIVATE KEY"]) {
    assert.ok(!html.includes(secret), `the page shows a secret (${secret.slice(0, 12)}…)`);
  }
  assert.deepEqual(problems, [], "console errors (CSP violations, script errors)");
  console.log("ok - no secret on the page, no console errors");
  await shoot(page, "admin-page.png");
}

let exitCode = 0;
try {
  await main();
  for (const shot of shots) {
    assert.ok(existsSync(shot) && readFileSync(shot).length > 0, `screenshot ${shot} missing`);
  }
  console.log(`browser-test: passed; screenshots in ${SHOTS}: ${shots.map((s) => s.split("/").pop()).join(", ")}`);
} catch (err) {
  exitCode = 1;
  console.error(`browser-test: FAILED: ${err.stack || err}`);
  for (const child of children) {
    console.error(`--- ${child.name} log (last lines) ---\n${child.logText().split("\n").slice(-25).join("\n")}`);
  }
} finally {
  stopAll();
  await new Promise((ok) => setTimeout(ok, 200));
  rmSync(work, { recursive: true, force: true });
}
process.exit(exitCode);
