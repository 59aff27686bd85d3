"""fake-claude is wire-compatible with the official `anthropic` Python SDK.

(1) The SDK's own jwt-bearer exchange (`exchange_federation_assertion`,
    `WorkloadIdentityCredentials`), given an assertion signed with
    issuer-svc's key, gets a token from fake-claude, which verifies it against
    issuer-svc's real discovery document and JWKS.
(2) An SDK client using that token (`auth_token=`, or `credentials=` so the
    SDK exchanges by itself) completes `messages.create`, a streaming request,
    `count_tokens` and `models.list` against fake-claude directly.
(3) An SDK client pointed at Envoy, with only a dummy API key, completes
    `messages.create` (plain and streaming) through the claude-wif filter.

The tests import the SDK in .venv (the newest tested, sdk_versions.py);
test_sdk_versions.py runs this whole file again in a subprocess for each
older version, with `PYTHONPATH` on its install and
`CLAUDE_WIF_SDK_UNDER_TEST` naming it, and the first test checks that the
SDK imported is the one intended.

No token or assertion is ever printed: assertions compare prefixes and
lengths through booleans.
"""

from __future__ import annotations

import os
from pathlib import Path

import anthropic
import pytest
from anthropic.lib.credentials import (
    StaticToken,
    WorkloadIdentityCredentials,
    WorkloadIdentityError,
    exchange_federation_assertion,
)

from harness import DEMO_IDENTITY, ORGANIZATION_ID, ROOT, http
from sdk_support import IssuerSigner
from sdk_versions import newest, target_dir

UNDER_TEST = os.environ.get("CLAUDE_WIF_SDK_UNDER_TEST") or newest()

MODEL = "claude-sonnet-4-6"
REPLY = "Hello from fake-claude."
MESSAGES = [{"role": "user", "content": "Hello"}]
STREAM_EVENTS = [
    "message_start", "content_block_start", "content_block_delta",
    "content_block_stop", "message_delta", "message_stop",
]


@pytest.fixture(autouse=True)
def no_ambient_credentials(monkeypatch, tmp_path):
    """The SDK must use only what each test gives it."""
    for name in [
        "ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN", "ANTHROPIC_BASE_URL", "ANTHROPIC_PROFILE",
        "ANTHROPIC_FEDERATION_RULE_ID", "ANTHROPIC_ORGANIZATION_ID", "ANTHROPIC_WORKSPACE_ID",
        "ANTHROPIC_IDENTITY_TOKEN_FILE", "ANTHROPIC_SERVICE_ACCOUNT_ID",
    ]:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))


@pytest.fixture
def signer(stack) -> IssuerSigner:
    return IssuerSigner(stack.issuer.state_dir, stack.issuer.jwks(), stack.issuer.issuer_url)


def exchange_kwargs(stack) -> dict:
    return {
        "federation_rule_id": "fdrl_demo",
        "organization_id": ORGANIZATION_ID,
        "service_account_id": "svac_demo",
        "workspace_id": "wrkspc_demo",
    }


def looks_like_access_token(token: str) -> bool:
    return token.startswith("sk-ant-oat01-") and len(token) >= 13 + 48


def auth_history(stack) -> list:
    resp = http("GET", f"{stack.claude.url}/_test/auth_history")
    assert resp.status == 200
    return resp.json()


def test_sdk_is_the_version_under_test():
    assert anthropic.__version__ == UNDER_TEST
    where = target_dir(UNDER_TEST)
    installed = (where if where is not None else ROOT / ".venv").resolve()
    assert Path(anthropic.__file__).resolve().is_relative_to(installed), anthropic.__file__


def test_sdk_exchange_helpers_get_a_token_for_an_issuer_svc_assertion(stack, signer):
    token = exchange_federation_assertion(
        assertion=signer.sign(signer.claims(DEMO_IDENTITY)),
        base_url=stack.claude.url,
        **exchange_kwargs(stack),
    )
    ok = looks_like_access_token(token.token)
    assert ok, "the SDK did not get an sk-ant-oat01- token"
    assert token.expires_at is not None

    credentials = WorkloadIdentityCredentials(
        identity_token_provider=lambda: signer.sign(signer.claims(DEMO_IDENTITY)),
        **exchange_kwargs(stack),
    )
    credentials.bind_base_url(stack.claude.url)
    with credentials:
        second = credentials()
    ok = looks_like_access_token(second.token) and second.token != token.token
    assert ok, "a second exchange must mint a second token"

    events = auth_history(stack)
    assert [e["outcome"] for e in events] == ["success", "success"]
    for event in events:
        assert event["reason"] is None
        assert event["status"] == 200
        assert event["issuer"] == "fdis_demo"
        assert event["federation_rule_id"] == "fdrl_demo"
        assert event["sub"] == DEMO_IDENTITY
        assert event["kid"] == signer.kid
        assert len(event["jti"]) == 32
        assert "assertion" not in event and "access_token" not in event
    assert stack.claude.counters()["jwks_fetches"] == 1, "the JWKS is cached"


def test_sdk_reports_a_denied_exchange_as_401_with_its_hints(stack, signer):
    claims = signer.claims("spiffe://cluster.local/ns/prod/sa/intruder")
    with pytest.raises(WorkloadIdentityError) as raised:
        exchange_federation_assertion(
            assertion=signer.sign(claims), base_url=stack.claude.url, **exchange_kwargs(stack)
        )
    assert raised.value.status_code == 401
    assert (raised.value.request_id or "").startswith("req_")
    assert "federation rule" in str(raised.value)
    assert auth_history(stack)[-1]["reason"] == "match_subject_prefix"

    replayed = signer.sign(signer.claims(DEMO_IDENTITY))
    exchange_federation_assertion(assertion=replayed, base_url=stack.claude.url, **exchange_kwargs(stack))
    with pytest.raises(WorkloadIdentityError) as raised:
        exchange_federation_assertion(assertion=replayed, base_url=stack.claude.url, **exchange_kwargs(stack))
    assert raised.value.status_code == 401
    assert auth_history(stack)[-1]["reason"] == "jti_reused"


@pytest.mark.parametrize(
    "fault, status",
    [
        ({"body": "non_bearer"}, 200),
        ({"body": "oversized"}, 200),
        ({"body": "malformed"}, 200),
        ({"status": 503, "retry_after": 7}, 503),
        ({"drop_connection": True}, None),
    ],
)
def test_sdk_refuses_what_fake_claude_faults_send(stack, signer, fault, status):
    assert http("POST", f"{stack.claude.url}/_test/faults", body={**fault, "count": 1}).status == 204
    with pytest.raises(WorkloadIdentityError) as raised:
        exchange_federation_assertion(
            assertion=signer.sign(signer.claims(DEMO_IDENTITY)),
            base_url=stack.claude.url,
            **exchange_kwargs(stack),
        )
    assert raised.value.status_code == status
    assert stack.claude.counters()["faults_injected"] == 1
    assert auth_history(stack) == [], "a faulted request is not an exchange"


def test_sdk_client_with_the_token_calls_messages_and_streams(stack, signer):
    token = exchange_federation_assertion(
        assertion=signer.sign(signer.claims(DEMO_IDENTITY)),
        base_url=stack.claude.url,
        **exchange_kwargs(stack),
    )
    # `credentials=StaticToken(...)`: the SDK then adds `oauth-2025-04-20` to
    # `anthropic-beta` itself, which every Bearer request needs. (A bare
    # `auth_token=` sends the Bearer header without that flag.)
    client = anthropic.Anthropic(credentials=StaticToken(token.token), base_url=stack.claude.url, max_retries=0)

    message = client.messages.create(model=MODEL, max_tokens=32, messages=MESSAGES)
    assert message.type == "message" and message.role == "assistant"
    assert message.model == MODEL
    assert message.content[0].text == REPLY
    assert message.stop_reason == "end_turn"
    assert message.usage.input_tokens >= 1

    with client.messages.stream(model=MODEL, max_tokens=32, messages=MESSAGES) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
    assert text == REPLY
    assert final.content[0].text == REPLY
    assert final.stop_reason == "end_turn"

    events = client.messages.create(model=MODEL, max_tokens=32, messages=MESSAGES, stream=True)
    kinds = [event.type for event in events]
    assert [k for i, k in enumerate(kinds) if i == 0 or k != kinds[i - 1]] == STREAM_EVENTS

    assert client.messages.count_tokens(model=MODEL, messages=MESSAGES).input_tokens >= 1
    assert MODEL in [model.id for model in client.models.list()]

    seen = stack.claude.last_request()
    assert seen["bearer_valid"] is True
    assert "oauth-2025-04-20" in seen["headers"]["anthropic-beta"].split(",")
    assert seen["token"]["workspace_id"] == "wrkspc_demo"
    assert seen["token"]["scope"] == "workspace:developer"

    # A bare `auth_token=` sends the Bearer header without the beta flag, and
    # Claude (so fake-claude) refuses that whatever the token.
    bare = anthropic.Anthropic(auth_token=token.token, base_url=stack.claude.url, max_retries=0)
    with pytest.raises(anthropic.AuthenticationError) as raised:
        bare.messages.create(model=MODEL, max_tokens=32, messages=MESSAGES)
    assert "anthropic-beta: oauth-2025-04-20" in raised.value.body["error"]["message"]
    assert "anthropic-beta" not in stack.claude.last_request()["headers"]

    assert http("POST", f"{stack.claude.url}/_test/revoke_tokens").status == 204
    with pytest.raises(anthropic.AuthenticationError) as raised:
        client.messages.create(model=MODEL, max_tokens=32, messages=MESSAGES)
    assert raised.value.status_code == 401
    assert raised.value.body["error"]["type"] == "authentication_error"


def test_sdk_client_with_workload_identity_credentials_exchanges_by_itself(stack, signer):
    credentials = WorkloadIdentityCredentials(
        identity_token_provider=lambda: signer.sign(signer.claims(DEMO_IDENTITY)),
        **exchange_kwargs(stack),
    )
    client = anthropic.Anthropic(credentials=credentials, base_url=stack.claude.url, max_retries=0)
    for _ in range(2):
        message = client.messages.create(model=MODEL, max_tokens=32, messages=MESSAGES)
        assert message.content[0].text == REPLY
    counters = stack.claude.counters()
    assert counters["exchanges"] == 1, "the SDK caches its token"
    assert counters["requests_with_valid_token"] == 2
    assert counters["requests_with_api_key"] == 0


def test_sdk_client_through_envoy_needs_no_credentials_of_its_own(stack):
    envoy = stack.envoy()
    dummy = "sk-ant-api03-dummy-not-a-key"
    client = anthropic.Anthropic(api_key=dummy, base_url=envoy.url, max_retries=0)
    # SDK 2.x sends an API key as `Authorization: Bearer <key>`, not as
    # `x-api-key` (`_api_key_auth` in `_client.py`): the filter overwrites it.
    sent_as_bearer = client.auth_headers == {"Authorization": f"Bearer {dummy}"}
    assert sent_as_bearer, "the SDK no longer sends its API key as a Bearer authorization"

    message = client.messages.create(model=MODEL, max_tokens=32, messages=MESSAGES)
    assert message.content[0].text == REPLY
    with client.messages.stream(model=MODEL, max_tokens=32, messages=MESSAGES) as stream:
        assert "".join(stream.text_stream) == REPLY

    seen = stack.claude.last_request()
    assert seen["bearer_valid"] is True
    assert "x-api-key" not in seen["headers"]
    assert "oauth-2025-04-20" in seen["headers"]["anthropic-beta"]
    counters = stack.claude.counters()
    assert counters["exchanges"] == 1
    assert counters["requests_with_valid_token"] == 2
    assert counters["requests_without_valid_token"] == 0
    assert counters["requests_with_api_key"] == 0
