"""Issue 15, issuer-svc side, through real processes: a path that rejects
every token does not turn each request into an exchange (finding 4), and
without an internal API key the token API refuses a rebound Host and a
cross-site text/plain post over a real socket (finding 2), while the
filter's own calls through Envoy (`:authority` issuer-svc) still work."""

from __future__ import annotations

import http.client as httpclient
import json

from harness import DEMO_IDENTITY, http

TOKEN_BODY = json.dumps({"client_workload": DEMO_IDENTITY, "server_workload": "api.anthropic.com"}).encode()


def metric(issuer_internal_url: str, name: str) -> int:
    text = http("GET", f"{issuer_internal_url}/metrics").body.decode()
    (line,) = [line for line in text.splitlines() if line.startswith(name + " ")]
    return int(line.split()[-1])


def request(port: int, method: str, path: str, headers: list[tuple[str, str]], body: bytes | None = None):
    """One request with exactly the headers given (no automatic Host)."""
    conn = httpclient.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
        for name, value in headers:
            conn.putheader(name, value)
        if body is not None:
            conn.putheader("content-length", str(len(body)))
        conn.endheaders(body)
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


def test_a_path_rejecting_every_token_gets_one_forced_exchange_not_one_per_request(stack):
    envoy = stack.envoy()
    assert envoy.messages().status == 200
    statuses = []
    for _ in range(10):
        # Every token minted so far is refused: the upstream answers 401.
        assert http("POST", f"{stack.claude.url}/_test/revoke_tokens").status == 204
        statuses.append(envoy.messages().status)
    # The first 401 report forces one exchange (its token, minted after the
    # revocation, passes once); from then on every request is rejected.
    assert statuses[0] == 401 and statuses[3:] == [401] * 7, statuses
    counters = stack.claude.counters()
    # The first exchange and the forced one; the other reports get the cached
    # token within token_cache.stale_refresh_interval (30 s).
    assert counters["exchanges"] == 2, counters
    assert metric(stack.issuer.internal_url, "issuer_svc_forced_refreshes_suppressed_total") >= 6


def test_without_a_key_a_rebound_host_and_a_text_plain_post_are_refused(stack):
    envoy = stack.envoy()
    assert envoy.messages().status == 200, "the filter's :authority issuer-svc is answered"
    port = stack.issuer.internal_port
    json_type = [("content-type", "application/json")]
    rebound = f"rebind.attacker.example:{port}"
    for hosts in ([rebound], [f"127.0.0.1:{port}", rebound]):
        status, body = request(port, "POST", "/v1/token", [("host", h) for h in hosts] + json_type, TOKEN_BODY)
        assert status == 403, (hosts, status)  # never print a 200's body: it holds a token
        answer = json.loads(body)
        assert answer["error"] == "access_denied"
        shown = rebound if len(hosts) == 1 else "(several Host headers)"
        assert f"this request's Host is `{shown}`" in answer["error_description"], answer
    status, body = request(port, "GET", "/metrics", [("host", rebound)])
    assert status == 403 and b"issuer_svc_" not in body
    status, body = request(port, "POST", "/v1/token", [("host", f"127.0.0.1:{port}"), ("content-type", "text/plain")],
                           TOKEN_BODY)
    assert status == 400, status
    assert json.loads(body)["error_description"] == "content-type must be application/json, found `text/plain`"
    assert stack.claude.counters()["exchanges"] == 1
