"""Support for test_metadata_identity.py: Envoy's own JWT filter
(`envoy.filters.http.jwt_authn`) in front of the claude-wif filter, which
takes the identity from the dynamic metadata jwt_authn writes; and a JWKS
endpoint on loopback whose keys a test can change while Envoy runs.

Nothing here prints a JWT, a token or a private key: the JWKS server logs
nothing and serves only public keys."""

from __future__ import annotations

import copy
import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import yaml

from harness import ROOT, Envoy, Response, http

EXAMPLE = ROOT / "envoy/jwt-authn.yaml"

JWT_AUTHN = "envoy.filters.http.jwt_authn"
# The JWT's issuer and audience, as the jwt_authn provider checks them.
JWT_ISSUER = "https://jwt.test.example"
JWT_AUDIENCE = "claude-wif"
# The workload sends its JWT here, bare. Not `authorization`: an app on the
# official SDK sends its placeholder key there (`Bearer unused`), which
# jwt_authn would try to verify.
JWT_HEADER = "x-workload-jwt"
PAYLOAD_KEY = "jwt_payload"


class JwksServer:
    """`GET /jwks.json` on 127.0.0.1, serving the keys last set. Counts the
    fetches; each answer is built before it is counted, so once a test sees
    the count rise, the keys it sets afterwards are not in that answer."""

    def __init__(self, keys: list[dict]):
        self._lock = threading.Lock()
        self._keys = list(keys)
        self._fetches = 0
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self):  # noqa: N802 (http.server's name)
                if self.path != "/jwks.json":
                    self.send_error(404)
                    return
                body = server._answer()
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):  # no request logs
                pass

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self.port = self._httpd.server_address[1]
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="jwks", daemon=True)
        self._thread.start()

    def _answer(self) -> bytes:
        with self._lock:
            body = json.dumps({"keys": self._keys}).encode()
            self._fetches += 1
        return body

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/jwks.json"

    @property
    def fetches(self) -> int:
        with self._lock:
            return self._fetches

    def set_keys(self, keys: list[dict]) -> None:
        with self._lock:
            self._keys = list(keys)

    def wait_for_fetch(self, after: int, timeout: float) -> float:
        """Waits until the fetch count exceeds `after`; returns the
        monotonic time it was seen."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.fetches > after:
                return time.monotonic()
            time.sleep(0.01)
        raise AssertionError(f"no JWKS fetch after #{after} within {timeout}s")

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()


def metadata_identity(path: list[str] | None = None, namespace: str = JWT_AUTHN) -> dict:
    """The claude-wif `identity` reading the verified `sub` (or `path`)."""
    return {"source": "metadata", "namespace": namespace, "path": path or [PAYLOAD_KEY, "sub"]}


@dataclass
class JwtAuthnEnvoy(Envoy):
    """The harness Envoy with `envoy.filters.http.jwt_authn` before the
    claude-wif filter: one provider whose JWKS comes from `jwks_port`
    (`remote_jwks`, fetched on the main thread and refetched every
    `cache_duration_s`), the JWT from `x-workload-jwt`, removed once
    verified (`forward: false`), its payload in the dynamic metadata under
    `payload_key`. `allow_missing`: a request without a JWT passes jwt_authn
    (a JWT that is present must still verify)."""

    jwks_port: int = 0
    cache_duration_s: float = 3.0
    allow_missing: bool = False
    payload_key: str = PAYLOAD_KEY

    def jwt_authn(self) -> dict:
        provider = {
            "issuer": JWT_ISSUER,
            "audiences": [JWT_AUDIENCE],
            "remote_jwks": {
                "http_uri": {
                    "uri": f"http://127.0.0.1:{self.jwks_port}/jwks.json",
                    "cluster": "jwks",
                    "timeout": "1s",
                },
                "cache_duration": f"{self.cache_duration_s}s",
                # Fetched on the main thread before the listener starts, and
                # again whenever the cached JWKS expires; shared by workers.
                "async_fetch": {"failed_refetch_duration": "1s"},
                "retry_policy": {
                    "num_retries": 3,
                    "retry_back_off": {"base_interval": "0.1s", "max_interval": "1s"},
                },
            },
            "from_headers": [{"name": JWT_HEADER}],
            "forward": False,
            "payload_in_metadata": self.payload_key,
        }
        requires = {"provider_name": "workload"}
        if self.allow_missing:
            requires = {"requires_any": {"requirements": [requires, {"allow_missing": {}}]}}
        return {
            "name": JWT_AUTHN,
            "typed_config": {
                "@type": "type.googleapis.com/envoy.extensions.filters.http.jwt_authn.v3.JwtAuthentication",
                "providers": {"workload": provider},
                "rules": [{"match": {"prefix": "/"}, "requires": requires}],
            },
        }

    def config(self) -> dict:
        cfg = super().config()
        hcm = cfg["static_resources"]["listeners"][0]["filter_chains"][0]["filters"][0]["typed_config"]
        filters = hcm["http_filters"]
        at = next(i for i, f in enumerate(filters) if f["name"] == "claude_wif")
        filters.insert(at, self.jwt_authn())
        cfg["static_resources"]["clusters"].append(
            {
                "name": "jwks",
                "type": "STATIC",
                "connect_timeout": "1s",
                "load_assignment": {
                    "cluster_name": "jwks",
                    "endpoints": [
                        {
                            "lb_endpoints": [
                                {
                                    "endpoint": {
                                        "address": {
                                            "socket_address": {"address": "127.0.0.1", "port_value": self.jwks_port}
                                        }
                                    }
                                }
                            ]
                        }
                    ],
                },
            }
        )
        return cfg

    def call(self, jwt: str | None, **headers) -> Response:
        """POST /v1/messages as an SDK app would send it (placeholder key in
        `authorization`), with the workload JWT in `x-workload-jwt`."""
        hdrs = {"authorization": "Bearer unused", **headers}
        if jwt is not None:
            hdrs[JWT_HEADER] = jwt
        return self.messages(headers=hdrs)


@dataclass
class Outcome:
    """What the Claude side saw: exchanges (with their `sub`) and API calls."""

    exchanges: int
    subs: list[str] = field(default_factory=list)
    with_token: int = 0
    without_token: int = 0


def claude_outcome(claude_url: str) -> Outcome:
    counters = http("GET", f"{claude_url}/_test/counters").json()
    history = http("GET", f"{claude_url}/_test/auth_history").json()
    return Outcome(
        exchanges=counters["exchanges"],
        subs=[e["sub"] for e in history if e["outcome"] == "success"],
        with_token=counters["requests_with_valid_token"],
        without_token=counters["requests_without_valid_token"],
    )


def example_filters() -> tuple[dict, dict]:
    """The jwt_authn filter and the claude-wif `identity` of
    envoy/jwt-authn.yaml, as written."""
    cfg = yaml.safe_load(EXAMPLE.read_text())
    hcm = cfg["static_resources"]["listeners"][0]["filter_chains"][0]["filters"][0]["typed_config"]
    filters = {f["name"]: f for f in hcm["http_filters"]}
    names = [f["name"] for f in hcm["http_filters"]]
    assert names.index(JWT_AUTHN) < names.index("claude_wif"), "jwt_authn must come first"
    plugin = json.loads(filters["claude_wif"]["typed_config"]["config"]["configuration"]["value"])
    return filters[JWT_AUTHN], plugin["identity"]


@dataclass
class ExampleJwtAuthnEnvoy(JwtAuthnEnvoy):
    """The jwt_authn filter of envoy/jwt-authn.yaml, with only its issuer
    and JWKS location pointed at the test's: every other setting
    (`async_fetch`, `forward`, `payload_in_metadata`, `max_lifetime`,
    the requirement) is the example's."""

    def jwt_authn(self) -> dict:
        jwt_filter = copy.deepcopy(example_filters()[0])
        provider = next(iter(jwt_filter["typed_config"]["providers"].values()))
        provider["issuer"] = JWT_ISSUER
        provider["remote_jwks"]["http_uri"].update(
            {"uri": f"http://127.0.0.1:{self.jwks_port}/jwks.json", "cluster": "jwks"}
        )
        return jwt_filter
