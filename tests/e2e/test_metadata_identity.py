"""The `metadata` identity source through real Envoy: Envoy's own
`jwt_authn` filter verifies the workload JWT against a remote JWKS (a
loopback server whose keys change during the test), writes its payload to
the request's dynamic metadata, and the claude-wif filter after it takes
`filter_metadata["envoy.filters.http.jwt_authn"]["jwt_payload"]["sub"]` as
the client workload identity. Outcomes are read from fake-claude (exchanges
with their `sub`, API calls with and without a valid token), issuer-svc's
metrics and the filter's Envoy stats. No JWT or token is printed."""

from __future__ import annotations

import time

import pytest
from conftest import Stack
from filter_support import JwtSigner, envoy_stats, issuer_token_requests, require_cryptography, workload_claims
from harness import DEMO_IDENTITY, wait_until
from jwt_authn_support import (
    JWT_AUDIENCE,
    JWT_HEADER,
    JWT_ISSUER,
    ExampleJwtAuthnEnvoy,
    JwksServer,
    JwtAuthnEnvoy,
    claude_outcome,
    example_filters,
    metadata_identity,
)

OTHER_IDENTITY = "spiffe://cluster.local/ns/demo/sa/reports"
# Under fake-claude's rule prefix, but no issuer-svc access policy grants it.
UNGRANTED = "spiffe://cluster.local/ns/demo/sa/intruder"
CACHE_S = 3.0


@pytest.fixture
def jstack(tmp_path):
    """fake-claude + issuer-svc granting two identities, and a JWKS server
    publishing one key (`signer`)."""
    require_cryptography()
    s = Stack(tmp_path)
    s.issuer.workloads = {"demo-app": DEMO_IDENTITY, "reports": OTHER_IDENTITY}
    s.claude.start()
    s.issuer.start()
    s.signer = JwtSigner.new("wl-1")
    s.jwks = JwksServer([s.signer.jwk()])
    yield s
    s.stop()
    s.jwks.stop()


def start_envoy(stack: Stack, identity: dict | None = None, kind=JwtAuthnEnvoy, **options) -> JwtAuthnEnvoy:
    envoy = kind(
        stack.workdir,
        claude_port=stack.claude.port,
        issuer_port=stack.issuer.internal_port,
        plugin_overrides={"identity": identity or metadata_identity()},
        jwks_port=stack.jwks.port,
        **options,
    )
    stack.envoys.append(envoy)
    return envoy.start()


def jwt(signer: JwtSigner, sub: str, **claims) -> str:
    body = workload_claims(JWT_ISSUER, JWT_AUDIENCE, sub)
    body.update(claims)
    return signer.sign(body)


def assert_nothing_happened(stack: Stack, envoy: JwtAuthnEnvoy, *, filter_denials: int) -> None:
    """No exchange, no call to issuer-svc, nothing reached fake-claude's API;
    the claude-wif filter refused `filter_denials` requests itself."""
    seen = claude_outcome(stack.claude.url)
    assert (seen.exchanges, seen.with_token, seen.without_token) == (0, 0, 0), seen
    assert issuer_token_requests(stack.issuer.internal_url) == 0
    assert envoy_stats(envoy).get("denials", 0) == filter_denials


def test_a_verified_jwt_gets_a_token_for_its_sub(jstack):
    envoy = start_envoy(jstack)
    for sub in (DEMO_IDENTITY, OTHER_IDENTITY):
        resp = envoy.call(jwt(jstack.signer, sub))
        assert resp.status == 200, resp.body[:300]
        last = jstack.claude.last_request()
        assert last["bearer_valid"] is True, "a Claude token replaced the placeholder key"
        assert JWT_HEADER not in last["headers"], "jwt_authn removed the workload JWT (forward: false)"
    seen = claude_outcome(jstack.claude.url)
    # One exchange per identity, each for exactly the JWT's sub.
    assert seen.subs == [DEMO_IDENTITY, OTHER_IDENTITY], seen
    assert (seen.exchanges, seen.with_token, seen.without_token) == (2, 2, 0), seen
    # A second request of the same workload is a cache hit: no new exchange.
    assert envoy.call(jwt(jstack.signer, DEMO_IDENTITY)).status == 200
    assert claude_outcome(jstack.claude.url).exchanges == 2

    # A verified sub that no access policy grants: issuer-svc refuses it,
    # the filter answers 403 and nothing goes upstream.
    resp = envoy.call(jwt(jstack.signer, UNGRANTED))
    assert resp.status == 403, resp.body[:300]
    assert resp.json()["error"]["type"] == "permission_error"
    assert claude_outcome(jstack.claude.url).with_token == 3


def test_a_key_added_to_the_jwks_is_used_without_restarting_envoy(jstack):
    """Envoy 1.40's RemoteJwks has no refetch on an unknown `kid`: a JWT
    signed by a new key is refused (401) until the cached JWKS expires.
    With `async_fetch` the main thread refetches every `cache_duration`, so
    the new key works at most `cache_duration` (+ one fetch) after it is
    published, in the same Envoy process."""
    envoy = start_envoy(jstack, cache_duration_s=CACHE_S)
    pid = envoy.process.proc.pid
    assert envoy.call(jwt(jstack.signer, DEMO_IDENTITY)).status == 200

    rotated = JwtSigner.new("wl-2")
    # Publish right after a refetch, so the cached JWKS (without the new key)
    # has CACHE_S to live: the refusal below is certain, not a race.
    before = jstack.jwks.fetches
    fetched_at = jstack.jwks.wait_for_fetch(before, timeout=CACHE_S + 3)
    jstack.jwks.set_keys([jstack.signer.jwk(), rotated.jwk()])
    published_at = time.monotonic()
    early = envoy.call(jwt(rotated, OTHER_IDENTITY))
    assert time.monotonic() - fetched_at < CACHE_S - 0.5, "too slow to observe the cached JWKS"
    assert early.status == 401, early.body[:300]
    assert b"Jwks doesn't have key to match kid or alg from Jwt" in early.body
    assert claude_outcome(jstack.claude.url).exchanges == 1, "a refused JWT never reaches issuer-svc"

    # The next refetch brings the new key to every worker.
    jstack.jwks.wait_for_fetch(before + 1, timeout=CACHE_S + 3)
    wait_until(
        lambda: envoy.call(jwt(rotated, OTHER_IDENTITY)).status == 200,
        timeout=3,
        what="a JWT signed by the new key to be accepted",
    )
    picked_up_s = time.monotonic() - published_at
    print(f"rotation: the new key was accepted {picked_up_s:.2f}s after it was published (cache_duration {CACHE_S}s)")
    assert picked_up_s <= CACHE_S + 1.5, picked_up_s
    assert envoy.process.proc.pid == pid and envoy.process.running(), "same Envoy process"
    seen = claude_outcome(jstack.claude.url)
    assert seen.subs == [DEMO_IDENTITY, OTHER_IDENTITY], seen
    # The old key still works while it is published.
    assert envoy.call(jwt(jstack.signer, DEMO_IDENTITY)).status == 200


def forged_jwts(signer: JwtSigner) -> dict[str, tuple[str, int]]:
    """JWTs jwt_authn must refuse, with its status: 401, or 403 for a
    verified JWT of another audience."""
    # Same kid as the published key, another private key.
    impostor = JwtSigner.new(signer.kid)
    genuine = jwt(signer, "spiffe://cluster.local/ns/other/sa/x")
    wanted = jwt(signer, DEMO_IDENTITY)
    head, _, _ = wanted.split(".")
    tampered = ".".join([head, wanted.split(".")[1], genuine.split(".")[2]])
    return {
        "signed by a key not in the JWKS": (jwt(impostor, DEMO_IDENTITY), 401),
        "payload swapped under another signature": (tampered, 401),
        "expired": (jwt(signer, DEMO_IDENTITY, exp=int(time.time()) - 300), 401),
        "another issuer": (signer.sign(workload_claims("https://evil.example", JWT_AUDIENCE, DEMO_IDENTITY)), 401),
        "not a JWT": ("not-a-jwt", 401),
        "another audience": (signer.sign(workload_claims(JWT_ISSUER, "someone-else", DEMO_IDENTITY)), 403),
    }


def test_forged_and_missing_jwts_never_get_a_token(jstack):
    envoy = start_envoy(jstack)
    for what, (token, status) in {**forged_jwts(jstack.signer), "missing": (None, 401)}.items():
        resp = envoy.call(token)
        # jwt_authn answers itself (the requirement is mandatory): the
        # claude-wif filter never runs.
        assert resp.status == status, (what, resp.status, resp.body[:200])
        assert resp.headers.get("www-authenticate", "").startswith("Bearer"), what
        assert b"claude-wif" not in resp.body, what
    assert_nothing_happened(jstack, envoy, filter_denials=0)


def test_with_allow_missing_a_request_without_jwt_is_refused_by_the_filter(jstack):
    envoy = start_envoy(jstack, allow_missing=True)
    resp = envoy.call(None)
    assert resp.status == 403, resp.body[:300]
    assert resp.json() == {
        "type": "error",
        "error": {
            "type": "permission_error",
            "message": "claude-wif: request has no client workload identity in dynamic metadata "
            'envoy.filters.http.jwt_authn ["jwt_payload", "sub"]',
        },
    }
    # allow_missing still refuses a JWT that is present but does not verify.
    for what, (token, status) in forged_jwts(jstack.signer).items():
        assert envoy.call(token).status == status, what
    assert_nothing_happened(jstack, envoy, filter_denials=1)
    # And a valid one still works.
    assert envoy.call(jwt(jstack.signer, DEMO_IDENTITY)).status == 200
    assert claude_outcome(jstack.claude.url).subs == [DEMO_IDENTITY]


def test_a_key_with_dots_and_slashes_like_istios_older_issuer_key(jstack):
    """Istio before 1.24 wrote the payload under the issuer URL
    (`payload_in_metadata: <issuer>`); the key is one path element."""
    envoy = start_envoy(jstack, payload_key=JWT_ISSUER, identity=metadata_identity([JWT_ISSUER, "sub"]))
    resp = envoy.call(jwt(jstack.signer, DEMO_IDENTITY))
    assert resp.status == 200, resp.body[:300]
    assert claude_outcome(jstack.claude.url).subs == [DEMO_IDENTITY]


# Envoy's property ABI has no types: what the filter receives for a claim
# that is not a string, and why it refuses it (never with the value).
NOT_TEXT = (
    "is not acceptable: it is not UTF-8 text (the path must name a string claim)",
    "is not acceptable: it must not contain control characters",
)


@pytest.mark.parametrize(
    ("path", "claims"),
    [
        # A number: the 8 bytes of a double (NUL bytes, or not UTF-8).
        (["jwt_payload", "iat"], {}),
        (["jwt_payload", "level"], {"level": 42}),
        # A bool: one byte, 0x01.
        (["jwt_payload", "admin"], {"admin": True}),
        # A list (`aud`) or a map (the whole payload): the binary pairs encoding.
        (["jwt_payload", "aud"], {}),
        (["jwt_payload"], {}),
    ],
    ids=["time", "number", "bool", "list", "map"],
)
def test_a_claim_that_is_not_a_string_is_refused(jstack, path, claims):
    envoy = start_envoy(jstack, identity=metadata_identity(path))
    resp = envoy.call(jwt(jstack.signer, DEMO_IDENTITY, **claims))
    assert resp.status == 403, resp.body[:300]
    message = resp.json()["error"]["message"]
    assert message.startswith("claude-wif: client workload identity in dynamic metadata envoy.filters.http.jwt_authn ")
    assert message.endswith(NOT_TEXT), message
    assert DEMO_IDENTITY not in message
    assert_nothing_happened(jstack, envoy, filter_denials=1)


def test_the_example_config_verifies_and_identifies_as_documented(jstack):
    """envoy/jwt-authn.yaml's jwt_authn filter and claude-wif identity, with
    only the issuer and the JWKS location replaced by the test's."""
    jwt_filter, identity = example_filters()
    assert identity == metadata_identity()
    provider = next(iter(jwt_filter["typed_config"]["providers"].values()))
    assert provider["audiences"] == [JWT_AUDIENCE] and provider["from_headers"] == [{"name": JWT_HEADER}]
    envoy = start_envoy(jstack, identity=identity, kind=ExampleJwtAuthnEnvoy)
    resp = envoy.call(jwt(jstack.signer, DEMO_IDENTITY))
    assert resp.status == 200, resp.body[:300]
    assert JWT_HEADER not in jstack.claude.last_request()["headers"]
    # max_lifetime (a day): a JWT valid for two days is refused.
    assert envoy.call(jwt(jstack.signer, DEMO_IDENTITY, exp=int(time.time()) + 2 * 86400)).status == 401
    assert envoy.call(None).status == 401
    assert claude_outcome(jstack.claude.url).subs == [DEMO_IDENTITY]
