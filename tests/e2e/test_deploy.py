"""The deployment configurations, run for real on one machine.

- envoy/gateway.yaml in real Envoy with downstream mTLS: client certificates
  with SPIFFE URI SANs from a test mesh CA; each client workload gets its own
  token, one without an access policy gets 403, connections without a valid
  mesh certificate never get past the handshake.
- envoy/sidecar.yaml forwards with its static identity.
- envoy/istio/: the WasmPlugin's pluginConfig runs in Envoy behind a cluster
  named like Istio's, and the ConfigMap's issuer-svc.toml passes
  `issuer-svc check`.
- Scale on one machine: two issuer-svc replicas sharing one key directory
  behind two gateway Envoys.
- scripts/oci.py: the OCI layout of the .wasm is well formed and reproducible,
  and its check catches corruption.

Only the `anthropic` cluster (fake-claude over plain HTTP instead of
api.anthropic.com over TLS), the ports and the issuer endpoints differ from the
shipped files (deploy_support.DeployEnvoy).
"""

from __future__ import annotations

import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
import yaml

from deploy_support import (
    DeployEnvoy,
    Pki,
    PolicyIssuer,
    auth_history,
    clusters_by_name,
    load_config,
    metric_sum,
    mtls_post,
    plugin_config,
    rotate_tls,
    server_serial,
    stage_etc,
    tls_refused,
)
from harness import ISSUER_BIN, ROOT, WASM, FakeClaude, http, wait_until

BILLING = "spiffe://cluster.local/ns/billing/sa/api"
SUPPORT = "spiffe://cluster.local/ns/support/sa/bot"
INTRUDER = "spiffe://cluster.local/ns/other/sa/intruder"
ISTIO_ISSUER_CLUSTER = "outbound|9090||issuer-svc.claude-wif.svc.cluster.local"


class Deployment:
    """fake-claude, issuer-svc replicas and Envoys of one test; stopped afterwards."""

    def __init__(self, workdir: Path, workloads: dict[str, str]):
        self.workdir = workdir
        self.workloads = workloads
        self.pki = Pki(workdir / "pki")
        self.etc = stage_etc(workdir, self.pki, self.pki.server())
        self.claude: FakeClaude | None = None
        self.issuers: list[PolicyIssuer] = []
        self.envoys: list[DeployEnvoy] = []

    def start_claude(self, issuer_url: str) -> FakeClaude:
        self.claude = FakeClaude(
            self.workdir, issuer_url=issuer_url, subject_prefix="spiffe://cluster.local/ns/*"
        ).start()
        return self.claude

    def start_issuers(self, replicas: int) -> list[PolicyIssuer]:
        """`replicas` issuer-svc instances; all but the first share the first's
        key directory and issuer URL, and start after it."""
        first = PolicyIssuer(self.replica_dir(1), claude_url="", workloads=self.workloads)
        self.start_claude(first.issuer_url)
        first.claude_url = self.claude.url
        self.issuers.append(first.start())
        for n in range(2, replicas + 1):
            replica = PolicyIssuer(
                self.replica_dir(n),
                claude_url=self.claude.url,
                workloads=self.workloads,
                shared_state_dir=first.state_dir,
                shared_public_url=first.public_url,
            )
            self.issuers.append(replica.start())
        return self.issuers

    def replica_dir(self, n: int) -> Path:
        path = self.workdir / f"issuer-{n}"
        path.mkdir(exist_ok=True)
        return path

    def envoy(self, name: str = "gateway", **kwargs) -> DeployEnvoy:
        envoy = DeployEnvoy(
            self.workdir,
            name,
            self.etc,
            claude_port=self.claude.port,
            issuer_ports=[issuer.internal_port for issuer in self.issuers],
            **kwargs,
        ).start()
        self.envoys.append(envoy)
        return envoy

    def stop(self) -> None:
        for envoy in self.envoys:
            envoy.stop()
        for issuer in self.issuers:
            issuer.stop()
        if self.claude:
            self.claude.stop()


@pytest.fixture
def deployment(tmp_path):
    started: list[Deployment] = []

    def make(workloads: dict[str, str]) -> Deployment:
        d = Deployment(tmp_path, workloads)
        started.append(d)
        return d

    yield make
    for d in started:
        d.stop()


def successes(history: list[dict]) -> list[dict]:
    return [event for event in history if event["outcome"] == "success"]


def assert_permission_error(resp, identity: str) -> None:
    assert resp.status == 403, resp.body
    body = resp.json()
    assert body["type"] == "error"
    assert body["error"]["type"] == "permission_error"
    assert body["error"]["message"].startswith("claude-wif: ")
    assert identity in body["error"]["message"]


# --- envoy/gateway.yaml -----------------------------------------------------


def test_gateway_gives_each_mtls_identity_its_own_token(deployment):
    d = deployment({"billing-api": BILLING, "support-bot": SUPPORT})
    d.start_issuers(1)
    gateway = d.envoy("gateway")
    ca = d.pki.ca.cert
    billing = d.pki.client("billing", BILLING)
    support = d.pki.client("support", SUPPORT)
    intruder = d.pki.client("intruder", INTRUDER)

    for client in (billing, support, billing, support):
        resp = mtls_post(gateway.port, ca, client)
        assert resp.status == 200, resp.body
        assert resp.json()["type"] == "message"

    # One exchange per identity, each for its own subject; the repeats were
    # served from the filter's cache.
    exchanged = successes(auth_history(d.claude.url))
    assert sorted(event["sub"] for event in exchanged) == sorted([BILLING, SUPPORT])
    counters = d.claude.counters()
    assert counters["exchanges"] == 2
    assert counters["requests_with_valid_token"] == 4
    assert counters["requests_without_valid_token"] == 0

    # A valid mesh identity without an access policy: Claude-style 403 from
    # the filter, nothing reaches Claude.
    assert_permission_error(mtls_post(gateway.port, ca, intruder), INTRUDER)
    counters = d.claude.counters()
    assert counters["exchanges"] == 2
    assert counters["requests_with_valid_token"] + counters["requests_without_valid_token"] == 4
    assert len(auth_history(d.claude.url)) == 2


def test_gateway_refuses_connections_without_a_mesh_identity(deployment):
    d = deployment({"billing-api": BILLING})
    d.start_issuers(1)
    gateway = d.envoy("gateway")
    ca = d.pki.ca.cert
    foreign = Pki(d.workdir / "foreign-pki", name="foreign-ca")
    outside_trust_domain = d.pki.client("evil", "spiffe://evil.example/ns/billing/sa/api")

    assert tls_refused(gateway.port, ca, None), "a client without a certificate got through"
    assert tls_refused(gateway.port, ca, foreign.client("billing-forged", BILLING)), (
        "a certificate from another CA got through"
    )
    assert tls_refused(gateway.port, ca, outside_trust_domain), (
        "a certificate outside spiffe://cluster.local/ got through"
    )
    ssl_stats = gateway.stats("listener.")
    assert sum(v for k, v in ssl_stats.items() if k.endswith("ssl.connection_error") or "fail_verify" in k) >= 3

    counters = d.claude.counters()
    assert counters["requests_with_valid_token"] + counters["requests_without_valid_token"] == 0
    assert counters["exchanges"] == 0

    # The same gateway serves a proper mesh client.
    assert mtls_post(gateway.port, ca, d.pki.client("billing", BILLING)).status == 200


def test_gateway_picks_up_a_rotated_certificate_without_restart(deployment):
    d = deployment({"billing-api": BILLING})
    d.start_issuers(1)
    gateway = d.envoy("gateway")
    ca = d.pki.ca.cert
    billing = d.pki.client("billing", BILLING)
    before = server_serial(gateway.port, ca, billing)

    renewed = d.pki.server("gateway-renewed")
    rotate_tls(d.etc, d.pki, renewed)
    wait_until(
        lambda: server_serial(gateway.port, ca, billing) != before, timeout=10,
        what="the gateway to serve the renewed certificate",
    )
    assert mtls_post(gateway.port, ca, billing).status == 200
    assert gateway.process.running()


def test_gateway_and_sidecar_send_to_the_same_upstream():
    gateway = clusters_by_name(load_config("gateway"))
    sidecar = clusters_by_name(load_config("sidecar"))
    assert gateway == sidecar
    anthropic = gateway["anthropic"]
    tls = anthropic["transport_socket"]["typed_config"]
    assert tls["sni"] == "api.anthropic.com"
    assert tls["common_tls_context"]["validation_context"]["trusted_ca"]["filename"] == (
        "/etc/ssl/certs/ca-certificates.crt"
    )
    endpoint = anthropic["load_assignment"]["endpoints"][0]["lb_endpoints"][0]["endpoint"]
    assert endpoint["address"]["socket_address"] == {"address": "api.anthropic.com", "port_value": 443}
    assert gateway["issuer_svc"]["health_checks"][0]["http_health_check"]["path"] == "/readyz"
    assert plugin_config(load_config("gateway"))["identity"] == {
        "source": "peer_uri_san",
        "prefix": "spiffe://cluster.local/",
    }
    for name in ("gateway", "sidecar"):
        hcm = load_config(name)["static_resources"]["listeners"][0]["filter_chains"][0]["filters"][0]
        route = hcm["typed_config"]["route_config"]["virtual_hosts"][0]["routes"][0]["route"]
        retry_on = set(route["retry_policy"]["retry_on"].split(","))
        # Only conditions where the request never reached Claude.
        assert retry_on == {"connect-failure", "refused-stream", "reset-before-request"}, name


# --- envoy/sidecar.yaml -----------------------------------------------------


def test_sidecar_sends_its_static_identity(deployment):
    static_identity = plugin_config(load_config("sidecar"))["identity"]["value"]
    d = deployment({"sidecar-app": static_identity})
    d.start_issuers(1)
    sidecar = d.envoy("sidecar")

    resp = http(
        "POST", f"http://127.0.0.1:{sidecar.port}/v1/messages",
        body={"model": "claude-sonnet-4-5", "max_tokens": 8, "messages": [{"role": "user", "content": "hi"}]},
        headers={"anthropic-version": "2023-06-01", "x-api-key": "sk-ant-api03-bogus"},
    )
    assert resp.status == 200, resp.body
    seen = d.claude.last_request()
    assert seen["bearer_valid"] is True
    assert "x-api-key" not in seen["headers"]
    # suppress_envoy_headers: nothing x-envoy-* reaches Claude.
    assert not [h for h in seen["headers"] if h.startswith("x-envoy-")]
    assert [event["sub"] for event in successes(auth_history(d.claude.url))] == [static_identity]


# --- envoy/istio/ -----------------------------------------------------------


def istio_docs(name: str) -> list[dict]:
    return [doc for doc in yaml.safe_load_all((ROOT / "envoy/istio" / name).read_text()) if doc]


def test_istio_plugin_config_runs_behind_an_istio_named_cluster(deployment):
    (plugin,) = [doc for doc in istio_docs("wasmplugin.yaml") if doc["kind"] == "WasmPlugin"]
    config = plugin["spec"]["pluginConfig"]
    assert config["issuer_cluster"] == ISTIO_ISSUER_CLUSTER
    assert plugin["spec"]["failStrategy"] == "FAIL_CLOSE"

    d = deployment({"billing-api": BILLING})
    d.start_issuers(1)
    gateway = d.envoy("gateway", plugin_config=config, issuer_cluster_name=ISTIO_ISSUER_CLUSTER)
    resp = mtls_post(gateway.port, d.pki.ca.cert, d.pki.client("billing", BILLING))
    assert resp.status == 200, resp.body
    assert [event["sub"] for event in successes(auth_history(d.claude.url))] == [BILLING]


def test_istio_issuer_config_passes_issuer_svc_check(tmp_path):
    (configmap,) = [doc for doc in istio_docs("issuer-svc-config.yaml") if doc["kind"] == "ConfigMap"]
    path = tmp_path / "issuer-svc.toml"
    path.write_text(configmap["data"]["issuer-svc.toml"])
    result = subprocess.run(
        [str(ISSUER_BIN), "check", "--config", str(path)], capture_output=True, text=True, timeout=30, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "https://issuer.example.com/providers/claude-prod" in result.stdout + result.stderr


# --- Scale on one machine ---------------------------------------------------


def test_two_replicas_share_one_key_directory_behind_two_envoys(deployment):
    workloads = {f"team-{n}": f"spiffe://cluster.local/ns/team-{n}/sa/app" for n in range(4)}
    d = deployment(workloads)
    first, second = d.start_issuers(2)

    # Identical JWKS from both replicas' own public listeners.
    jwks = first.own_jwks()
    assert jwks["keys"], "no signing key published"
    assert second.own_jwks() == jwks
    kids = {key["kid"] for key in jwks["keys"]}

    gateways = [d.envoy("gateway"), d.envoy("gateway")]
    ca = d.pki.ca.cert
    clients = {identity: d.pki.client(wid, identity) for wid, identity in workloads.items()}

    def round_of_requests() -> None:
        for gateway in gateways:
            for client in clients.values():
                resp = mtls_post(gateway.port, ca, client)
                assert resp.status == 200, resp.body

    round_of_requests()
    round_of_requests()

    # Requests spread over both replicas.
    served = [metric_sum(r.metrics(), "issuer_svc_token_requests_total", result="ok") for r in d.issuers]
    assert all(n > 0 for n in served), f"token requests per replica: {served}"

    # Every exchange signed with the shared key and verified by fake-claude;
    # at most one per replica per client workload (all within one token
    # lifetime), and at least one per workload.
    exchanged = successes(auth_history(d.claude.url))
    assert {event["kid"] for event in exchanged} <= kids
    per_subject = Counter(event["sub"] for event in exchanged)
    assert set(per_subject) == set(workloads.values())
    assert max(per_subject.values()) <= len(d.issuers), per_subject
    per_replica = [metric_sum(r.metrics(), "issuer_svc_exchanges_total", result="ok") for r in d.issuers]
    assert all(n <= len(workloads) for n in per_replica), per_replica
    assert sum(per_replica) == len(exchanged) == d.claude.counters()["exchanges"]
    assert d.claude.counters()["exchange_failures"] == {}

    # Issuer calls per Envoy: at most one per worker (2) per client workload.
    for gateway in gateways:
        calls = gateway.stats("cluster.issuer_svc.upstream_rq_total").get("cluster.issuer_svc.upstream_rq_total", 0)
        assert 0 < calls <= 2 * len(workloads), calls

    # A further round changes nothing upstream: every token is cached.
    before = d.claude.counters()["exchanges"]
    round_of_requests()
    assert d.claude.counters()["exchanges"] == before
    wait_until(lambda: all(r.process.running() for r in d.issuers), what="replicas still running")


# --- make oci ---------------------------------------------------------------


def oci(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(ROOT / "scripts/oci.py"), *args], capture_output=True, text=True, timeout=60, check=False
    )


def test_oci_layout_is_well_formed_reproducible_and_checked(tmp_path):
    out_a, out_b = tmp_path / "a", tmp_path / "b"
    for out in (out_a, out_b):
        built = oci("build", "--wasm", str(WASM), "--out", str(out), "--tag", "test")
        assert built.returncode == 0, built.stderr
    checked = oci("check", "--wasm", str(WASM), "--out", str(out_a))
    assert checked.returncode == 0, checked.stderr
    # Reproducible: the same .wasm gives the same digests.
    assert (out_a / "index.json").read_bytes() == (out_b / "index.json").read_bytes()

    # Corruption of any blob is caught.
    blobs = sorted((out_a / "blobs/sha256").iterdir(), key=lambda p: p.stat().st_size)
    layer = blobs[-1]
    original = layer.read_bytes()
    layer.write_bytes(original[:-1] + bytes([original[-1] ^ 1]))
    corrupt = oci("check", "--wasm", str(WASM), "--out", str(out_a))
    assert corrupt.returncode == 1
    assert "does not match its digest" in corrupt.stderr
    layer.write_bytes(original)

    # A layout of another module is caught too.
    other = tmp_path / "other.wasm"
    other.write_bytes(b"\0asm\x01\0\0\0")
    stale = oci("check", "--wasm", str(other), "--out", str(out_a))
    assert stale.returncode == 1
    assert "differs from" in stale.stderr
