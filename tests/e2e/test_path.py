"""The whole path through real processes: app → Envoy + claude-wif filter →
issuer-svc → fake-claude token endpoint (which fetches discovery and JWKS from
issuer-svc and verifies the ES256 assertion) → fake-claude Messages API."""

from __future__ import annotations

from harness import DEMO_IDENTITY, http, mode_of

CLAUDE_STYLE_KEYS = {"type", "error"}


def assert_claude_error(resp, status: int, error_type: str) -> str:
    assert resp.status == status, resp.body
    assert resp.headers.get("content-type") == "application/json"
    body = resp.json()
    assert set(body) == CLAUDE_STYLE_KEYS
    assert body["type"] == "error"
    assert set(body["error"]) == {"type", "message"}
    assert body["error"]["type"] == error_type
    message = body["error"]["message"]
    assert message.startswith("claude-wif: "), message
    return message


def test_request_with_bogus_api_key_goes_out_with_a_bearer_token(stack):
    envoy = stack.envoy()

    first = envoy.messages(headers={"x-api-key": "sk-ant-api03-bogus-key", "anthropic-beta": "tools-2024-04-04"})
    assert first.status == 200, first.body
    body = first.json()
    assert body["type"] == "message"
    assert body["role"] == "assistant"
    assert body["model"] == "claude-sonnet-4-5"

    seen = stack.claude.last_request()
    assert seen["bearer_valid"] is True
    assert "x-api-key" not in seen["headers"]
    assert seen["headers"]["authorization"] == "<redacted>"
    assert seen["headers"]["anthropic-beta"] == "tools-2024-04-04,oauth-2025-04-20"

    counters = stack.claude.counters()
    assert counters["exchanges"] == 1
    assert counters["requests_with_valid_token"] == 1
    assert counters["requests_without_valid_token"] == 0
    assert counters["requests_with_api_key"] == 0

    second = envoy.messages()
    assert second.status == 200, second.body
    counters = stack.claude.counters()
    assert counters["exchanges"] == 1, "the second request must be served from the cache"
    assert counters["requests_with_valid_token"] == 2
    assert counters["requests_without_valid_token"] == 0


def test_the_assertion_was_verified_against_the_published_jwks(stack):
    envoy = stack.envoy()
    assert envoy.messages().status == 200
    jwks = stack.issuer.jwks()
    assert [key["alg"] for key in jwks["keys"]] == ["ES256"]
    for key in jwks["keys"]:
        assert "d" not in key, "the JWKS must never carry private key members"
    discovery = http("GET", f"{stack.issuer.issuer_url}/.well-known/openid-configuration").json()
    assert discovery["issuer"] == stack.issuer.issuer_url
    assert discovery["jwks_uri"] == f"{stack.issuer.issuer_url}/jwks.json"
    assert stack.claude.counters()["exchange_failures"] == {}


def test_client_workload_without_access_policy_gets_403(stack):
    envoy = stack.envoy(identity={"source": "header", "name": "x-client-workload"})

    denied = envoy.messages(headers={"x-client-workload": "spiffe://cluster.local/ns/other/sa/intruder"})
    message = assert_claude_error(denied, 403, "permission_error")
    assert "spiffe://cluster.local/ns/other/sa/intruder" in message

    missing = envoy.messages()
    assert_claude_error(missing, 403, "permission_error")

    counters = stack.claude.counters()
    assert counters["exchanges"] == 0
    assert counters["requests_with_valid_token"] == 0
    assert counters["requests_without_valid_token"] == 0

    # The same listener lets a granted workload through, and the identity
    # header never reaches the upstream.
    granted = envoy.messages(headers={"x-client-workload": DEMO_IDENTITY})
    assert granted.status == 200, granted.body
    assert "x-client-workload" not in stack.claude.last_request()["headers"]
    assert stack.claude.counters()["requests_with_valid_token"] == 1


def test_issuer_down_with_cold_cache_gives_503_and_nothing_goes_upstream(stack):
    stack.issuer.stop()
    envoy = stack.envoy()

    resp = envoy.messages(headers={"x-api-key": "sk-ant-api03-bogus-key"})
    assert_claude_error(resp, 503, "api_error")
    assert resp.headers.get("retry-after", "").isdigit()

    counters = stack.claude.counters()
    assert counters["requests_without_valid_token"] == 0
    assert counters["requests_with_valid_token"] == 0
    assert counters["requests_with_api_key"] == 0


def test_issuer_restart_keeps_its_signing_key(stack):
    before = stack.issuer.jwks()
    kids = sorted(key["kid"] for key in before["keys"])
    assert len(kids) == 1

    key_files = [p for p in (stack.issuer.state_dir / "keys").iterdir() if p.is_file()]
    assert key_files, "the signing key must be persisted under state_dir/keys"
    assert all(mode_of(p) == 0o600 for p in key_files)
    assert mode_of(stack.issuer.state_dir) == 0o700

    stack.issuer.stop()
    stack.issuer.start()
    after = sorted(key["kid"] for key in stack.issuer.jwks()["keys"])
    assert after == kids

    # And the restarted issuer still gets tokens accepted by Claude.
    envoy = stack.envoy()
    assert envoy.messages().status == 200
    assert stack.claude.counters()["exchange_failures"] == {}
