"""Hostile input through real processes: client credentials and spoofed
identities at Envoy, malformed token requests at issuer-svc's internal
listener, probing of its public listener, the internal API key, and key
file permissions."""

from __future__ import annotations

import json
import os

import pytest
from fault_support import (
    HEADER_IDENTITY,
    FaultStack,
    assert_claude_error,
    identity_headers,
    messages_body,
    raw_request,
)
from filter_support import JwtSigner, require_cryptography, workload_claims
from harness import DEMO_IDENTITY, http, mode_of

SPOOFED = "spiffe://cluster.local/ns/other/sa/intruder"
MESSAGE_HEADERS = [("content-type", "application/json"), ("anthropic-version", "2023-06-01")]


@pytest.fixture
def hstack(tmp_path):
    s = FaultStack(tmp_path, claude_timeout="2s").start()
    yield s
    s.stop()


def post_messages(envoy, headers: list[tuple[str, str]]):
    return raw_request(envoy.port, "POST", "/v1/messages", MESSAGE_HEADERS + headers, messages_body())


def test_client_credentials_and_identity_headers_never_go_upstream_or_change_identity(hstack):
    envoy = hstack.envoy()  # static identity: DEMO_IDENTITY
    status, _, body = post_messages(envoy, [
        ("authorization", "Bearer sk-ant-oat01-forged-by-the-client-0000"),
        ("authorization", "Basic dXNlcjpwYXNz"),
        ("x-api-key", "sk-ant-api03-client-key-one"),
        ("x-api-key", "sk-ant-api03-client-key-two"),
        ("x-client-workload", SPOOFED),
        ("x-api-key", "k" * 40_000),  # oversized, still within Envoy's header limit
    ])
    assert status == 200, body[:300]
    seen = hstack.claude.last_request()
    assert seen["bearer_valid"] is True, "exactly our token went upstream"
    assert "x-api-key" not in seen["headers"]
    assert seen["headers"]["authorization"] == "<redacted>"
    counters = hstack.claude.counters()
    assert counters["requests_with_api_key"] == 0
    assert counters["requests_without_valid_token"] == 0
    # issuer-svc's audit log shows the identity used: the static one.
    log = hstack.issuer.log()
    assert f"identity={DEMO_IDENTITY}" in log.replace('"', "")
    assert SPOOFED not in log

    # Headers beyond Envoy's limit: refused by Envoy, nothing upstream.
    status, _, _ = post_messages(envoy, [("x-api-key", "k" * 100_000)])
    assert status == 431
    assert hstack.claude.counters()["requests_with_valid_token"] == 1


def test_header_source_refuses_repeated_oversized_and_control_character_identities(hstack):
    envoy = hstack.envoy(identity=HEADER_IDENTITY)
    cases = {
        "repeated": [("x-client-workload", DEMO_IDENTITY), ("x-client-workload", SPOOFED)],
        "oversized": [("x-client-workload", "spiffe://cluster.local/ns/demo/sa/" + "a" * 5000)],
        "control_tab": [("x-client-workload", DEMO_IDENTITY + "\tx")],
        "empty": [("x-client-workload", "")],
    }
    # Envoy's codec itself refuses other control characters in a value.
    status, _, _ = post_messages(envoy, [("x-client-workload", DEMO_IDENTITY + "\x7f")])
    assert status == 400
    for name, headers in cases.items():
        status, resp_headers, body = post_messages(envoy, headers)
        assert status == 403, (name, status, body[:300])
        error = json.loads(body)["error"]
        assert error["type"] == "permission_error", name
        assert error["message"].startswith("claude-wif: "), name
    counters = hstack.claude.counters()
    assert counters["requests_with_valid_token"] == 0
    assert counters["requests_without_valid_token"] == 0
    assert counters["exchanges"] == 0
    # The identity header itself never goes upstream.
    status, _, _ = post_messages(envoy, [("x-client-workload", DEMO_IDENTITY)])
    assert status == 200
    assert "x-client-workload" not in hstack.claude.last_request()["headers"]


def test_jwt_source_ignores_identity_headers_and_never_forwards_the_workload_jwt(hstack):
    require_cryptography()
    signer = JwtSigner.new("k8s-1")
    issuer, audience = "https://kubernetes.default.svc.cluster.local", "claude-wif"
    envoy = hstack.envoy(identity={"source": "jwt", "issuer": issuer, "audiences": [audience], "keys": [signer.jwk()]})
    jwt = signer.sign(workload_claims(issuer, audience, DEMO_IDENTITY))
    status, _, body = post_messages(envoy, [
        ("authorization", f"Bearer {jwt}"),
        ("x-client-workload", SPOOFED),
        ("x-api-key", "sk-ant-api03-client-key"),
    ])
    assert status == 200, body[:300]
    seen = hstack.claude.last_request()
    assert seen["bearer_valid"] is True, "the workload JWT was replaced by our token"
    assert "x-api-key" not in seen["headers"]
    assert SPOOFED not in hstack.issuer.log()
    # A JWT over the filter's 16 KiB cap, and two JWTs, are refused: 401.
    big = signer.sign({**workload_claims(issuer, audience, DEMO_IDENTITY), "pad": "x" * 20_000})
    for headers in ([("authorization", f"Bearer {big}")],
                    [("authorization", f"Bearer {jwt}"), ("authorization", f"Bearer {jwt}")]):
        status, _, body = post_messages(envoy, headers)
        assert status == 401, body[:300]
        assert json.loads(body)["error"]["type"] == "authentication_error"
    assert hstack.claude.counters()["requests_without_valid_token"] == 0


GOOD = {"client_workload": DEMO_IDENTITY, "server_workload": "api.anthropic.com"}
BAD_TOKEN_BODIES = {
    "malformed": (b'{"client_workload": "spiffe://', "body is not a token request"),
    "not_json": (b"client_workload=x", "body is not a token request"),
    "empty": (b"", "body is not a token request"),
    "array": (b"[]", "body is not a token request"),
    "wrong_type": (json.dumps({**GOOD, "client_workload": 7}).encode(), "body is not a token request"),
    "missing_field": (json.dumps({"client_workload": DEMO_IDENTITY}).encode(), "server_workload"),
    "unknown_field": (json.dumps({**GOOD, "scope": "org:admin"}).encode(), "unknown field"),
    "oversized": (json.dumps({**GOOD, "pad": "x" * 200_000}).encode(), "cannot read the body"),
    "huge_identity": (json.dumps({**GOOD, "client_workload": "spiffe://" + "a" * 3000}).encode(),
                      "client_workload must be at most"),
    "control_nul": (json.dumps({**GOOD, "client_workload": DEMO_IDENTITY + "\u0000"}).encode(),
                    "client_workload must not contain control characters"),
    "control_newline": (json.dumps({**GOOD, "client_workload": DEMO_IDENTITY + "\nforged log line"}).encode(),
                        "client_workload must not contain control characters"),
    "control_server": (json.dumps({**GOOD, "server_workload": "api.anthropic.com\r"}).encode(),
                       "server_workload must not contain control characters"),
    "empty_identity": (json.dumps({**GOOD, "client_workload": ""}).encode(), "client_workload must not be empty"),
    "bad_stale_hash": (json.dumps({**GOOD, "stale_token_sha256": "sk-ant-oat01-abc"}).encode(), "stale_token_sha256"),
}


@pytest.mark.parametrize("name", sorted(BAD_TOKEN_BODIES))
def test_bad_token_request_bodies_get_400_with_a_clear_description(hstack, name):
    body, expected = BAD_TOKEN_BODIES[name]
    resp = http("POST", f"{hstack.issuer.internal_url}/v1/token", body=body)
    assert resp.status == 400, (name, resp.status, resp.body[:300])
    answer = resp.json()
    assert answer["error"] == "invalid_request"
    assert expected in answer["error_description"], answer
    assert len(answer["error_description"]) < 1000
    assert hstack.claude.counters()["exchanges"] == 0
    assert "forged log line" not in hstack.issuer.log(), "no log injection"


def test_the_public_listener_serves_only_discovery_and_jwks(hstack):
    port = hstack.issuer.public_port
    base = "/providers/claude-demo"
    assert raw_request(port, "GET", f"{base}/jwks.json")[0] == 200
    assert raw_request(port, "GET", f"{base}/.well-known/openid-configuration")[0] == 200
    not_found = [
        "/", "/v1/token", "/healthz", "/readyz", "/metrics", "/admin", "/providers",
        "/providers/claude-demo", "/providers/nope/jwks.json", "/providers/nope/.well-known/openid-configuration",
        f"{base}/../../v1/token", f"{base}/%2e%2e/%2e%2e/v1/token", "/providers/..%2f..%2fv1%2ftoken/jwks.json",
        "/providers/claude-demo%2fjwks.json", f"{base}/jwks.json/../../../metrics", f"{base}//jwks.json",
        "/providers/../issuer-state/keys", "/.well-known/openid-configuration", f"{base}/keys",
    ]
    for path in not_found:
        status, _, body = raw_request(port, "GET", path)
        assert status == 404, (path, status)
        assert b"sk-ant-" not in body and b"PRIVATE" not in body
    token = json.dumps(GOOD).encode()
    assert raw_request(port, "POST", "/v1/token", [("content-type", "application/json")], token)[0] in (404, 405)
    for method in ("POST", "PUT", "DELETE", "PATCH"):
        status = raw_request(port, method, f"{base}/jwks.json", [("content-type", "application/json")], b"{}")[0]
        assert status == 405, (method, status)
    assert hstack.claude.counters()["exchanges"] == 0


def test_internal_api_key_is_enforced_at_issuer_svc_and_sent_by_the_filter(tmp_path):
    key = "internal-" + os.urandom(16).hex()
    key_file = tmp_path / "internal-api-key"
    key_file.write_text(key + "\n")
    key_file.chmod(0o600)
    s = FaultStack(tmp_path, claude_timeout="2s", internal_api_key_file=key_file).start()
    try:
        url = f"{s.issuer.internal_url}/v1/token"
        for headers in ({}, {"authorization": "Bearer wrong"}, {"authorization": f"Basic {key}"},
                        {"authorization": key}, {"authorization": f"Bearer {key}x"},
                        {"authorization": f"Bearer {key[:-1]}"}, {"x-api-key": key}):
            resp = http("POST", url, body=GOOD, headers=headers)
            assert resp.status == 401, (list(headers), resp.status)
            assert resp.json()["error"] == "unauthorized"
            assert key not in resp.body.decode()
        assert http("POST", url, body=GOOD, headers={"authorization": f"bearer {key}"}).status == 200
        # The filter without the key fails closed; with it, it works.
        without = s.envoy()
        assert_claude_error(without.messages(), 503)
        assert s.claude.counters()["requests_without_valid_token"] == 0
        with_key = s.envoy(internal_api_key=key)
        assert with_key.messages().status == 200
        assert key not in s.issuer.log()
        for envoy in s.envoys:
            assert key not in envoy.process.log_path.read_text(errors="replace")
    finally:
        s.stop()


def test_issuer_refuses_to_start_with_group_or_world_accessible_keys(hstack):
    keys_dir = hstack.issuer.state_dir / "keys"
    key_files = sorted(keys_dir.iterdir())
    assert key_files and all(mode_of(p) == 0o600 for p in key_files)
    assert mode_of(keys_dir) == 0o700 and mode_of(hstack.issuer.state_dir) == 0o700
    jwks = hstack.issuer.jwks()
    hstack.issuer.stop()

    keys_dir.chmod(0o755)
    with pytest.raises(RuntimeError, match="chmod 700"):
        hstack.issuer.start()
    keys_dir.chmod(0o700)

    for bad_mode in (0o644, 0o604, 0o660):
        key_files[0].chmod(bad_mode)
        with pytest.raises(RuntimeError, match="chmod 600"):
            hstack.issuer.start()
    key_files[0].chmod(0o600)

    hstack.issuer.start()
    assert hstack.issuer.jwks() == jwks


def test_the_secret_scan_finds_planted_secrets(tmp_path):
    """The end-of-test scan (conftest.py) is not vacuous: each kind of
    secret planted in a log is found, and harmless look-alikes are not."""
    require_cryptography()
    import base64

    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

    def b64(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    keys = tmp_path / "stack" / "issuer-state" / "keys"
    keys.mkdir(parents=True)
    key = ec.generate_private_key(ec.SECP256R1())
    (keys / "k1.p8").write_bytes(key.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    head = b64(json.dumps({"alg": "ES256", "typ": "JWT"}).encode())  # no kid: found by signature
    claims = b64(json.dumps({"iss": "https://elsewhere.example", "sub": "x", "exp": 1}).encode())
    r, s = decode_dss_signature(key.sign(f"{head}.{claims}".encode(), ec.ECDSA(hashes.SHA256())))
    assertion = f"{head}.{claims}.{b64(r.to_bytes(32, 'big') + s.to_bytes(32, 'big'))}"
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption()).decode()

    import secret_scan

    clean = tmp_path / "stack" / "clean.log"
    clean.write_text("token issued token=…abcd kid=k1 sk-ant-oat01-\n")
    assert secret_scan.scan(tmp_path) == []
    planted = "sk-ant-" + "oat01-" + "AbCdEfGhIjKlMnOp"  # built at run time, not a literal
    (tmp_path / "stack" / "a.log").write_text(f"x {planted} y\n")
    (tmp_path / "stack" / "b.log").write_text(f"assertion={assertion}\n")
    (tmp_path / "stack" / "c.log").write_text(pem)
    (tmp_path / "stack" / "d.log").write_text('{"kty":"EC","d":"' + "A" * 43 + '"}')
    found = {(f.where, f.kind) for f in secret_scan.scan(tmp_path, {"captured call stdout": "sk-ant-api03-" + "z" * 20})}
    assert found == {
        ("stack/a.log", "access token or API key"),
        ("stack/b.log", "assertion"),
        ("stack/c.log", "PEM private key"),
        ("stack/d.log", "JWK private key member"),
        ("captured call stdout", "access token or API key"),
    }, found
    for path in (tmp_path / "stack").glob("[abcd].log"):
        path.unlink()  # this test's own tmp_path is scanned afterwards too
