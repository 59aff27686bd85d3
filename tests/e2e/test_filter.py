"""The claude-wif filter as a product, through real Envoy with two worker
threads: cold-burst coalescing, background refresh, 401 invalidation and
every identity source. Counters come from fake-claude (`/_test/counters`),
issuer-svc (`/metrics`) and Envoy's admin `/stats` (the filter's metrics)."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from conftest import Stack
from filter_support import (
    JwtSigner,
    MtlsEnvoy,
    Pki,
    envoy_stats,
    issuer_token_requests,
    require_cryptography,
    stat_names,
    workload_claims,
)
from harness import DEMO_IDENTITY, http

JWT_ISSUER = "https://kubernetes.default.svc.cluster.local"
JWT_AUDIENCE = "claude-wif"


@pytest.fixture
def short_lived_stack(tmp_path):
    """A stack whose fake-claude mints 60 s tokens."""
    s = Stack(tmp_path)
    s.claude.token_lifetime_seconds = 60
    s.claude.start()
    s.issuer.start()
    yield s
    s.stop()


def test_cold_burst_of_200_requests_makes_one_exchange(stack):
    envoy = stack.envoy()
    with ThreadPoolExecutor(max_workers=64) as pool:
        statuses = list(pool.map(lambda _: envoy.messages().status, range(200)))
    assert statuses.count(200) == 200, sorted(set(statuses))
    counters = stack.claude.counters()
    assert counters["exchanges"] == 1
    assert counters["requests_with_valid_token"] == 200
    assert counters["requests_without_valid_token"] == 0
    assert issuer_token_requests(stack.issuer.internal_url) <= 2, "at most one issuer call per worker"
    stats = envoy_stats(envoy, settle=True)
    assert stats["issuer_calls_ok"] <= 2
    assert stats["cache_hits"] + stats["cache_misses"] == 200
    assert stats["requests_paused"] == stats["cache_misses"]
    assert stats["denials"] == 0 and stats["unavailable"] == 0
    # How the metrics appear in Envoy's /stats (documented in the README).
    assert "wasmcustom.claude_wif.cache_hits" in stat_names(envoy)


def test_steady_traffic_is_refreshed_in_the_background(short_lived_stack):
    stack = short_lived_stack
    envoy = stack.envoy(advisory_refresh_s=30, mandatory_refresh_s=10)
    first = envoy.messages()
    assert first.status == 200, first.body
    paused_after_first = envoy_stats(envoy)["requests_paused"]
    assert paused_after_first == 1
    deadline = time.monotonic() + 90
    sent = 0
    while time.monotonic() < deadline:
        resp = envoy.messages()
        assert resp.status == 200, resp.body
        sent += 1
        time.sleep(0.25)
    stats = envoy_stats(envoy, settle=True)
    counters = stack.claude.counters()
    assert counters["exchanges"] >= 2, counters
    assert counters["requests_without_valid_token"] == 0
    assert stats["requests_paused"] == paused_after_first, stats
    assert stats["background_refresh_ok"] >= 2, stats
    assert stats["cache_hits"] == sent


def test_revoked_token_gives_one_401_then_a_new_token(stack):
    # A tick far away: only the 401 notice between workers can make the
    # other worker drop its copy of the token before the requests below.
    envoy = stack.envoy(refresh_tick_ms=60_000)
    # A fresh connection per request: both workers serve, and hold a copy.
    warm = [envoy.messages().status for _ in range(20)]
    assert warm == [200] * 20
    assert http("POST", f"{stack.claude.url}/_test/revoke_tokens").status == 204
    rejected = envoy.messages()
    assert rejected.status == 401, rejected.body
    after = [envoy.messages() for _ in range(20)]
    assert [r.status for r in after] == [200] * 20, [r.body for r in after if r.status != 200][:1]
    assert stack.claude.last_request()["bearer_valid"] is True
    assert stack.claude.counters()["exchanges"] == 2
    stats = envoy_stats(envoy)
    assert stats["invalidations_401"] == 1


def test_static_source_ignores_a_spoofed_identity_header(stack):
    envoy = stack.envoy()
    spoofed = "spiffe://cluster.local/ns/other/sa/intruder"
    resp = envoy.messages(headers={"x-client-workload": spoofed})
    # issuer-svc only grants DEMO_IDENTITY: a 200 means the static identity was used.
    assert resp.status == 200, resp.body
    log = envoy.process.log_path.read_text(errors="replace")
    assert f"for {DEMO_IDENTITY}" in log
    assert spoofed not in log
    assert "sk-ant-oat01-" not in log, "log lines never carry a token"


def test_jwt_source_accepts_a_verified_workload_jwt_and_refuses_a_forged_one(stack):
    require_cryptography()
    signer, forger = JwtSigner.new("k8s-1"), JwtSigner.new("k8s-1")
    envoy = stack.envoy(
        identity={
            "source": "jwt",
            "issuer": JWT_ISSUER,
            "audiences": [JWT_AUDIENCE],
            "keys": [signer.jwk()],
        }
    )
    good = signer.sign(workload_claims(JWT_ISSUER, JWT_AUDIENCE, DEMO_IDENTITY))
    resp = envoy.messages(headers={"authorization": f"Bearer {good}"})
    assert resp.status == 200, resp.body
    seen = stack.claude.last_request()
    assert seen["bearer_valid"] is True, "the workload JWT was replaced by a Claude token"

    forged = forger.sign(workload_claims(JWT_ISSUER, JWT_AUDIENCE, DEMO_IDENTITY))
    for headers in ({"authorization": f"Bearer {forged}"}, {}):
        resp = envoy.messages(headers=headers)
        assert resp.status == 401, resp.body
        body = resp.json()
        assert body["type"] == "error"
        assert body["error"]["type"] == "authentication_error"
    assert stack.claude.counters()["requests_with_valid_token"] == 1
    assert stack.claude.counters()["requests_without_valid_token"] == 0
    assert envoy_stats(envoy)["denials"] == 2


def test_peer_uri_san_source_uses_the_client_certificate(stack, tmp_path):
    require_cryptography()
    pki = Pki(tmp_path)
    envoy = MtlsEnvoy(
        stack.workdir,
        claude_port=stack.claude.port,
        issuer_port=stack.issuer.internal_port,
        plugin_overrides={"identity": {"source": "peer_uri_san"}},
    )
    envoy.pki = pki
    envoy.start()
    stack.envoys.append(envoy)

    granted = pki.client_context(*pki.client("app", DEMO_IDENTITY))
    status, body = envoy.messages_tls(granted)
    assert status == 200, body
    other = pki.client_context(*pki.client("other", "spiffe://cluster.local/ns/other/sa/x"))
    status, body = envoy.messages_tls(other)
    assert status == 403, body
    no_uri = pki.client_context(*pki.client("plain", None))
    status, body = envoy.messages_tls(no_uri)
    assert status == 403, body
    assert b"no client certificate with a URI SAN" in body
    assert stack.claude.counters()["requests_with_valid_token"] == 1
