"""Faults through real processes: issuer-svc killed under traffic, every
fault of Claude's token endpoint, key rotation, SIGHUP config reload and an
Envoy listener update that changes the plugin configuration. The system
must fail closed (a Claude-style 503, nothing unauthenticated upstream) and
recover by itself."""

from __future__ import annotations

import re
import signal
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from fault_support import (
    HEADER_IDENTITY,
    FaultStack,
    LdsEnvoy,
    Load,
    assert_claude_error,
    identity_headers,
)
from harness import DEMO_IDENTITY, http, wait_until


def fault_stack(tmp_path, **settings) -> FaultStack:
    return FaultStack(tmp_path, **settings)


@pytest.fixture
def fstack(tmp_path):
    s = fault_stack(tmp_path, claude_timeout="2s").start()
    yield s
    s.stop()


def test_issuer_killed_under_traffic_with_a_warm_cache_fails_nothing(fstack):
    envoy = fstack.envoy()
    assert envoy.messages().status == 200
    jwks_before = fstack.issuer.jwks()
    with Load(envoy, rate=25) as load:
        time.sleep(1.5)
        fstack.issuer.kill()
        time.sleep(3)
        fstack.issuer.start()
        time.sleep(1.5)
    load.assert_no_failures(at_least=100)
    counters = fstack.claude.counters()
    assert counters["exchanges"] == 1, "the cached token served the whole run"
    assert counters["requests_without_valid_token"] == 0
    assert fstack.issuer.jwks() == jwks_before, "the restarted issuer serves the same JWKS"


# Each fault of Claude's token endpoint, one at a time: (name, fault spec,
# what the client's 503 message says).
TOKEN_ENDPOINT_FAULTS = [
    ("status_500", {"status": 500}, "HTTP 500"),
    ("status_429_retry_after", {"status": 429, "retry_after": 1}, "HTTP 429"),
    ("slow_beyond_timeout", {"delay_ms": 4000}, " ms"),  # "no answer within N ms"
    ("malformed_json", {"body": "malformed"}, "malformed token response"),
    ("oversized_body", {"body": "oversized"}, "larger than 1 MiB"),
    ("non_bearer_token_type", {"body": "non_bearer"}, "not Bearer"),
    ("connection_drop", {"drop_connection": True}, "Claude token endpoint unavailable"),
]


def test_each_token_endpoint_fault_fails_closed_and_recovers_without_a_burst(fstack):
    """One Envoy, one fault at a time, each on a fresh client workload (a
    cold cache in the filter and in issuer-svc)."""
    envoy = fstack.envoy(identity=HEADER_IDENTITY)
    claude = fstack.claude
    for name, spec, says in TOKEN_ENDPOINT_FAULTS:
        identity = f"spiffe://cluster.local/ns/demo/sa/fault-{name.replace('_', '-')}"
        headers = identity_headers(identity)
        before = claude.counters()
        claude.faults(**spec)
        started = time.monotonic()
        resp = envoy.messages(headers=headers)
        elapsed = time.monotonic() - started
        message = assert_claude_error(resp, 503)
        assert "sk-ant-oat01-" not in message, name
        assert "issuer-svc" in message and says in message, (name, message)
        if spec.get("delay_ms"):
            assert re.search(r"no answer within \d+ ms", message), message
        assert elapsed < 8, f"{name}: the client waited {elapsed:.1f}s"
        claude.clear_faults()
        delay_s = spec.get("delay_ms", 0) / 1000
        if delay_s:
            # The abandoned slow exchange finishes late (and mints a token
            # nobody uses): let it, so it is not counted as recovery.
            time.sleep(max(0.0, delay_s + 0.5 - (time.monotonic() - started)))
        during = claude.counters()
        attempts = during["faults_injected"] - before["faults_injected"]
        if not delay_s:
            # issuer-svc retries within its timeout, never unboundedly.
            assert 1 <= attempts <= 3, (name, attempts)
        assert during["requests_with_valid_token"] == before["requests_with_valid_token"], name
        assert during["requests_without_valid_token"] == 0, name

        # Recovery: no restart; a burst of clients shares one exchange.
        deadline = time.monotonic() + 10
        while True:
            resp = envoy.messages(headers=headers)
            if resp.status == 200 or time.monotonic() > deadline:
                break
            assert_claude_error(resp, 503)
            time.sleep(0.5)
        assert resp.status == 200, (name, resp.body)
        with ThreadPoolExecutor(max_workers=16) as pool:
            statuses = list(pool.map(lambda _: envoy.messages(headers=headers).status, range(40)))
        assert statuses == [200] * 40, (name, sorted(set(statuses)))
        after = claude.counters()
        assert after["exchanges"] - during["exchanges"] == 1, f"{name}: a burst of exchanges after recovery"
        assert after["requests_without_valid_token"] == 0, name
    # The workload that was never faulted is unaffected throughout.
    assert envoy.messages(headers=identity_headers(DEMO_IDENTITY)).status == 200


def test_key_rotation_under_traffic_keeps_every_exchange_succeeding(tmp_path):
    """Claude's JWKS cache (60 s) and publish_ahead (15 min by default)
    scaled down keeping their relation: fake-claude trusts a fetched JWKS
    for 3 s, the new key is published 8 s before it signs. Every request
    uses a fresh client workload, so every request is an exchange."""
    s = fault_stack(tmp_path, publish_ahead="8s")
    s.claude.jwks_cache_seconds = 3
    s.start()
    try:
        envoy = s.envoy(identity=HEADER_IDENTITY)
        old_kids = {key["kid"] for key in s.issuer.jwks()["keys"]}
        with Load(envoy, rate=6, workers=3,
                  make_headers=lambda n: identity_headers(f"spiffe://cluster.local/ns/demo/sa/rot-{n}")) as load:
            time.sleep(1.5)
            out = subprocess.run(
                [str(s.issuer.process.argv[0]), "keys", "rotate", "--config", str(s.issuer.config_path)],
                capture_output=True, text=True, timeout=30,
            )
            assert out.returncode == 0, out.stdout + out.stderr
            s.issuer.signal(signal.SIGHUP)
            # The reload is asynchronous: wait for it (the 5 s poll is the
            # fallback), well before the key may sign.
            new_kids: set = set()

            def published() -> bool:
                new_kids.update({key["kid"] for key in s.issuer.jwks()["keys"]} - old_kids)
                return bool(new_kids)

            wait_until(published, timeout=7, what="the new key in the JWKS")
            assert len(new_kids) == 1, "exactly one new key is published"
            new_kid = new_kids.pop()
            # Past activation (8 s) plus a few exchanges signed by the new key.
            wait_until(
                lambda: any(e.get("kid") == new_kid and e["outcome"] == "success" for e in s.claude.auth_history()),
                timeout=20, what="an exchange signed by the new key",
            )
            time.sleep(2)
        load.assert_no_failures(at_least=40)
        counters = s.claude.counters()
        assert counters["exchange_failures"] == {}, counters
        assert counters["exchanges"] >= load.total
        assert counters["requests_without_valid_token"] == 0
        kids_used = {e.get("kid") for e in s.claude.auth_history() if e["outcome"] == "success"}
        assert old_kids & kids_used and new_kid in kids_used, kids_used
    finally:
        s.stop()


NEW_WORKLOAD = "spiffe://cluster.local/ns/billing/sa/api"


def test_sighup_reload_applies_a_valid_policy_and_refuses_an_invalid_one(tmp_path):
    s = fault_stack(tmp_path, claude_timeout="2s")
    s.claude.subject_prefix = "spiffe://cluster.local/ns/*"
    s.start()
    try:
        envoy = s.envoy(identity=HEADER_IDENTITY)
        assert_claude_error(envoy.messages(headers=identity_headers(NEW_WORKLOAD)), 403, "permission_error")
        with Load(envoy, rate=15, make_headers=lambda n: identity_headers(DEMO_IDENTITY)) as load:
            time.sleep(1)
            s.issuer.extra = f"""
[[client_workload]]
id = "billing-api"
identity = "{NEW_WORKLOAD}"

[[access_policy]]
client_workload = "billing-api"
server_workload = "api.anthropic.com"
credential_provider = "claude-demo"
"""
            s.issuer.write_config()
            s.issuer.signal(signal.SIGHUP)
            wait_until(lambda: envoy.messages(headers=identity_headers(NEW_WORKLOAD)).status == 200,
                       timeout=10, what="the new policy to grant billing-api")
            time.sleep(1)
            log_mark = len(s.issuer.log())
            s.issuer.write_config(s.issuer.config() + '\n[bogus_section]\ncolour = "red"\n')
            s.issuer.signal(signal.SIGHUP)
            wait_until(lambda: "configuration reload rejected" in s.issuer.log()[log_mark:], timeout=10,
                       what="issuer-svc to report the refused configuration")
            time.sleep(1)
            assert s.issuer.process.running(), "an invalid reload must not stop issuer-svc"
            assert envoy.messages(headers=identity_headers(NEW_WORKLOAD)).status == 200
        load.assert_no_failures(at_least=30)
        refused = s.issuer.log()[log_mark:]
        assert "bogus_section" in refused, "the refusal names the offending field"
        # The last valid policy is still served.
        resp = http("POST", f"{s.issuer.internal_url}/v1/token",
                    body={"client_workload": NEW_WORKLOAD, "server_workload": "api.anthropic.com"})
        assert resp.status == 200, resp.body
        assert s.claude.counters()["requests_without_valid_token"] == 0
    finally:
        s.stop()


def test_envoy_listener_update_changing_the_plugin_config_keeps_requests_flowing(fstack):
    envoy = fstack.envoy(cls=LdsEnvoy)
    other = "spiffe://cluster.local/ns/demo/sa/other"
    # Static identity: the header is ignored, and DEMO_IDENTITY is used.
    assert envoy.messages(headers=identity_headers("spiffe://cluster.local/ns/evil/sa/x")).status == 200
    updates = envoy.listener_updates()
    with Load(envoy, rate=20, make_headers=lambda n: identity_headers(DEMO_IDENTITY if n % 2 else other)) as load:
        time.sleep(1.5)
        envoy.update_plugin(identity=HEADER_IDENTITY, advisory_refresh_s=90)
        wait_until(lambda: envoy.listener_updates() > updates, timeout=15, what="Envoy to apply the new listener")
        time.sleep(2)
    load.assert_no_failures(at_least=50)
    # The new plugin configuration took effect: the header now decides.
    assert_claude_error(
        envoy.messages(headers=identity_headers("spiffe://cluster.local/ns/evil/sa/x")), 403, "permission_error"
    )
    assert envoy.messages(headers=identity_headers(other)).status == 200
    assert fstack.claude.counters()["requests_without_valid_token"] == 0
