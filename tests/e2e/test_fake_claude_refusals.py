"""fake-claude refuses, over real HTTP, what Claude refuses: an assertion whose
signature is broken, one whose payload was changed after signing, one whose
`jti` was already used, and a token request without the federation beta flag.

The assertions are signed with issuer-svc's own key (`sdk_support.IssuerSigner`)
and checked by fake-claude against issuer-svc's real discovery document and
JWKS, so a refusal here is the signature or replay check at work, not a setup
problem: the control exchange of each test succeeds. No assertion or token is
printed.
"""

from __future__ import annotations

import base64
import json

import pytest

from harness import DEMO_IDENTITY, ORGANIZATION_ID, http
from sdk_support import IssuerSigner

SDK_BETA = "oauth-2025-04-20,oidc-federation-2026-04-01"


@pytest.fixture
def signer(stack) -> IssuerSigner:
    return IssuerSigner(stack.issuer.state_dir, stack.issuer.jwks(), stack.issuer.issuer_url)


def exchange(stack, assertion: str, beta: str = SDK_BETA):
    body = {
        "grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer",
        "assertion": assertion,
        "federation_rule_id": "fdrl_demo",
        "organization_id": ORGANIZATION_ID,
        "service_account_id": "svac_demo",
        "workspace_id": "wrkspc_demo",
    }
    return http("POST", f"{stack.claude.url}/v1/oauth/token", body, {"anthropic-beta": beta})


def last_reason(stack) -> str | None:
    history = http("GET", f"{stack.claude.url}/_test/auth_history").json()
    return history[-1]["reason"]


def assert_refused(reply, stack, reason: str) -> None:
    assert reply.status == 401, reply.body[:200]
    assert reply.json()["error"] == {"type": "authentication_error", "message": "Authentication failed"}
    assert last_reason(stack) == reason


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def test_a_broken_signature_is_refused_over_http(stack, signer):
    good = signer.sign(signer.claims(DEMO_IDENTITY))
    head, payload, signature = good.split(".")
    raw = bytearray(base64.urlsafe_b64decode(signature + "=" * (-len(signature) % 4)))
    raw[10] ^= 0x01
    broken = f"{head}.{payload}.{b64url(bytes(raw))}"
    assert_refused(exchange(stack, broken), stack, "bad_signature")

    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["sub"] = DEMO_IDENTITY + "-evil"
    forged = f"{head}.{b64url(json.dumps(claims).encode())}.{signature}"
    assert_refused(exchange(stack, forged), stack, "bad_signature")

    control = exchange(stack, good)
    assert control.status == 200, control.body[:200]
    assert control.json()["token_type"] == "Bearer"
    assert stack.claude.counters()["exchange_failures"] == {"bad_signature": 2}


def test_a_reused_jti_is_refused_over_http(stack, signer):
    assertion = signer.sign(signer.claims(DEMO_IDENTITY))
    first = exchange(stack, assertion)
    assert first.status == 200, first.body[:200]
    assert_refused(exchange(stack, assertion), stack, "jti_reused")
    same_jti = signer.claims(DEMO_IDENTITY)
    same_jti["jti"] = json.loads(
        base64.urlsafe_b64decode(assertion.split(".")[1] + "==")
    )["jti"]
    assert_refused(exchange(stack, signer.sign(same_jti)), stack, "jti_reused")
    counters = stack.claude.counters()
    assert counters["exchanges"] == 1
    assert counters["exchange_failures"] == {"jti_reused": 2}


def test_the_token_endpoint_without_the_federation_beta_is_another_handler(stack, signer):
    reply = exchange(stack, signer.sign(signer.claims(DEMO_IDENTITY)), beta="oauth-2025-04-20")
    assert reply.status == 400, reply.body[:200]
    error = reply.json()["error"]
    assert error["type"] == "invalid_request_error"
    assert error["message"].startswith("unsupported_grant_type:")
    assert stack.claude.counters()["exchange_failures"] == {"unsupported_grant_type": 1}
