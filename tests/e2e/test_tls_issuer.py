"""issuer-svc's public listener on HTTPS with a private CA: fake-claude
(playing Claude) fetches discovery and the JWKS over TLS, trusting the CA
given as the federation issuer's `ca_cert_pem`, and the exchange succeeds;
without the right CA the JWKS is unavailable and the exchange fails.

Tokens are only checked for their prefix and never printed."""

from __future__ import annotations

import ssl
import urllib.error

import pytest

from harness import DEMO_IDENTITY, http
from tls_support import TlsFakeClaude, TlsIssuerSvc, get_json_trusting, make_ca, write_server_cert

TOKEN_REQUEST = {"client_workload": DEMO_IDENTITY, "server_workload": "api.anthropic.com"}


class TlsStack:
    def __init__(self, workdir, server_ca, trusted_ca_pem):
        cert, key = write_server_cert(server_ca, workdir / "tls")
        self.issuer = TlsIssuerSvc(workdir, claude_url="", tls_cert_file=cert, tls_key_file=key)
        self.claude = TlsFakeClaude(workdir, issuer_url=self.issuer.issuer_url, ca_cert_pem=trusted_ca_pem)
        self.issuer.claude_url = self.claude.url

    def start(self):
        self.claude.start()
        self.issuer.start()
        return self

    def stop(self):
        self.issuer.stop()
        self.claude.stop()

    def token(self):
        return http("POST", f"{self.issuer.internal_url}/v1/token", body=TOKEN_REQUEST)

    def history(self):
        resp = http("GET", f"{self.claude.url}/_test/auth_history")
        assert resp.status == 200, resp.status
        return resp.json()


@pytest.fixture
def ca():
    return make_ca()


@pytest.fixture
def tls_stack(tmp_path):
    stacks = []

    def build(server_ca, trusted_ca_pem):
        stack = TlsStack(tmp_path, server_ca, trusted_ca_pem).start()
        stacks.append(stack)
        return stack

    yield build
    for stack in stacks:
        stack.stop()


def test_issuer_url_is_https_and_discovery_is_served_over_tls(tls_stack, ca):
    stack = tls_stack(ca, ca.cert_pem)
    issuer_url = stack.issuer.issuer_url
    assert issuer_url.startswith("https://127.0.0.1:")

    discovery = get_json_trusting(f"{issuer_url}/.well-known/openid-configuration", ca.cert_pem)
    assert discovery["issuer"] == issuer_url
    assert discovery["jwks_uri"] == f"{issuer_url}/jwks.json"
    jwks = get_json_trusting(discovery["jwks_uri"], ca.cert_pem)
    assert [key["alg"] for key in jwks["keys"]] == ["ES256"]
    assert all("d" not in key for key in jwks["keys"])

    # The same listener is not trusted by a client that lacks the test CA.
    with pytest.raises(urllib.error.URLError) as err:
        get_json_trusting(f"{issuer_url}/.well-known/openid-configuration", make_ca().cert_pem)
    assert isinstance(err.value.reason, ssl.SSLCertVerificationError)


def test_exchange_succeeds_when_claude_trusts_the_private_ca(tls_stack, ca):
    stack = tls_stack(ca, ca.cert_pem)

    resp = stack.token()
    assert resp.status == 200, resp.status
    token = resp.json()["access_token"]
    assert token.startswith("sk-ant-oat01-"), "access_token has the wrong prefix"

    events = stack.history()
    assert [(e["outcome"], e["reason"], e["status"]) for e in events] == [("success", None, 200)]
    assert events[0]["issuer"] == "fdis_demo"
    assert stack.claude.counters()["exchange_failures"] == {}


@pytest.mark.parametrize("trust", ["other_ca", "no_ca"])
def test_exchange_fails_with_jwks_unavailable_without_the_right_ca(tls_stack, ca, trust):
    trusted = make_ca("some other CA").cert_pem if trust == "other_ca" else None
    stack = tls_stack(ca, trusted)

    resp = stack.token()
    assert resp.status == 502, resp.status
    assert resp.json()["error"] == "exchange_failed"

    events = stack.history()
    assert events, "fake-claude recorded no exchange"
    assert [(e["outcome"], e["reason"]) for e in events] == [("denied", "jwks_unavailable")] * len(events)
    assert all(e["status"] != 200 for e in events)

    # The listener itself was up and valid for a client with the right CA:
    # only fake-claude's trust made the difference.
    issuer_url = stack.issuer.issuer_url
    discovery = get_json_trusting(f"{issuer_url}/.well-known/openid-configuration", ca.cert_pem)
    assert discovery["issuer"] == issuer_url
