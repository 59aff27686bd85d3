"""Process harness for the end-to-end tests: real Envoy, the built .wasm,
issuer-svc and fake-claude, each on its own loopback ports.

Nothing here prints a token, an assertion or a private key: process logs are
only shown when a component fails to start, and none of them log secrets.
"""

from __future__ import annotations

import copy
import json
import os
import socket
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
WASM = ROOT / "target/wasm/claude_wif_filter.wasm"
ISSUER_BIN = ROOT / "target/release/issuer-svc"
FAKE_CLAUDE_BIN = ROOT / "target/release/fake-claude"
ENVOY_BIN = ROOT / ".venv/bin/envoy"
DEMO_ENVOY = ROOT / "envoy/demo.yaml"

ARTIFACTS = {
    WASM: "make build",
    ISSUER_BIN: "make build",
    FAKE_CLAUDE_BIN: "make build",
    ENVOY_BIN: "make setup",
}

DEMO_IDENTITY = "spiffe://cluster.local/ns/demo/sa/app"
ORGANIZATION_ID = "00000000-0000-4000-8000-000000000001"


def missing_artifacts() -> list[str]:
    return [
        f"{path.relative_to(ROOT)} is missing: run `{target}`"
        for path, target in ARTIFACTS.items()
        if not path.exists()
    ]


def _listen_range() -> range:
    """Ports the kernel never picks as the source port of an outgoing connection.

    A port from `bind(0)` lies in the ephemeral range: between choosing it and the
    server binding it, any outgoing connection on the machine (Envoy to an upstream,
    a test's client) may take it as its source port, and the server then fails with
    "Address already in use". Below (or above) that range only listeners compete;
    from 20000 up, clear of the demo's fixed ports (8081, 8088, 9090, 9901, 10000).
    """
    try:
        low, high = map(int, Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split())
    except (OSError, ValueError):
        low, high = 32768, 60999
    if low - 20000 >= 2000:
        return range(20000, low)
    return range(high + 1, 65536)


_PORTS = _listen_range()
_GIVEN: set[int] = set()
_NEXT = [_PORTS.start + (os.getpid() * 7919) % len(_PORTS)]


def free_port() -> int:
    """A loopback port no one listens on, never handed out twice in this process."""
    for _ in range(len(_PORTS)):
        port = _NEXT[0]
        _NEXT[0] = port + 1 if port + 1 < _PORTS.stop else _PORTS.start
        if port in _GIVEN:
            continue
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
        _GIVEN.add(port)
        return port
    raise RuntimeError(f"no free loopback port in {_PORTS.start}-{_PORTS.stop - 1}")


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self):
        return json.loads(self.body)


def http(method: str, url: str, body=None, headers=None, timeout=10.0) -> Response:
    """One HTTP request; never raises on an HTTP error status."""
    data = None
    hdrs = dict(headers or {})
    if body is not None:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        hdrs.setdefault("content-type", "application/json")
    req = urllib.request.Request(url, data=data, headers=hdrs, method=method)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return Response(resp.status, {k.lower(): v for k, v in resp.headers.items()}, resp.read())
    except urllib.error.HTTPError as err:
        return Response(err.code, {k.lower(): v for k, v in err.headers.items()}, err.read())


@dataclass
class Process:
    name: str
    argv: list[str]
    log_path: Path
    proc: subprocess.Popen | None = None

    def start(self) -> "Process":
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            self.argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, cwd=ROOT
        )
        log.close()
        return self

    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        self.proc = None

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def wait_ready(self, url: str, timeout: float = 20.0) -> None:
        """Polls `url` until it answers 200; fails with the process log otherwise."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.running():
                raise RuntimeError(f"{self.name} exited during start-up:\n{self.log_tail()}")
            try:
                if http("GET", url, timeout=1.0).status == 200:
                    return
            except OSError:
                pass
            time.sleep(0.05)
        raise RuntimeError(f"{self.name} not ready at {url} after {timeout}s:\n{self.log_tail()}")


def wait_until(predicate, timeout: float = 10.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


@dataclass
class FakeClaude:
    """tests/fake-claude playing Claude: token endpoint and Messages API."""

    workdir: Path
    issuer_url: str
    subject_prefix: str = "spiffe://cluster.local/ns/demo/*"
    audience: str = "https://api.anthropic.com"
    token_lifetime_seconds: int = 3600
    port: int = field(default_factory=free_port)
    process: Process | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def config(self) -> str:
        return f"""
listen = "127.0.0.1:{self.port}"
organization_id = "{ORGANIZATION_ID}"

[[service_account]]
id = "svac_demo"

[[workspace]]
id = "wrkspc_demo"

[[federation_issuer]]
id = "fdis_demo"
issuer_url = "{self.issuer_url}"
jwks_source = "discovery"

[[federation_rule]]
id = "fdrl_demo"
issuer = "fdis_demo"
subject_prefix = "{self.subject_prefix}"
audience = "{self.audience}"
service_account = "svac_demo"
workspace_ids = ["wrkspc_demo"]
token_lifetime_seconds = {self.token_lifetime_seconds}
"""

    def start(self) -> "FakeClaude":
        path = self.workdir / "fake-claude.toml"
        path.write_text(self.config())
        self.process = Process(
            "fake-claude", [str(FAKE_CLAUDE_BIN), "--config", str(path)], self.workdir / "fake-claude.log"
        ).start()
        self.process.wait_ready(f"{self.url}/_test/counters")
        return self

    def stop(self) -> None:
        if self.process:
            self.process.stop()

    def counters(self) -> dict:
        return http("GET", f"{self.url}/_test/counters").json()

    def last_request(self) -> dict:
        return http("GET", f"{self.url}/_test/last_request").json()


@dataclass
class IssuerSvc:
    """issuer-svc with one provider (`claude-demo`) and the demo workload's policy."""

    workdir: Path
    claude_url: str
    public_port: int = field(default_factory=free_port)
    internal_port: int = field(default_factory=free_port)
    process: Process | None = None
    # client workload id -> identity, each granted api.anthropic.com through claude-demo
    workloads: dict[str, str] = field(default_factory=lambda: {"demo-app": DEMO_IDENTITY})

    @property
    def public_url(self) -> str:
        return f"http://127.0.0.1:{self.public_port}"

    @property
    def public_base_url(self) -> str:
        """What issuer URLs are built from (a replica may publish another's)."""
        return self.public_url

    @property
    def internal_url(self) -> str:
        return f"http://127.0.0.1:{self.internal_port}"

    @property
    def issuer_url(self) -> str:
        return f"{self.public_base_url}/providers/claude-demo"

    @property
    def state_dir(self) -> Path:
        return self.workdir / "issuer-state"

    def config(self) -> str:
        policies = "".join(
            f'\n[[client_workload]]\nid = "{wid}"\nidentity = "{identity}"\n'
            f'\n[[access_policy]]\nclient_workload = "{wid}"\nserver_workload = "api.anthropic.com"\n'
            f'credential_provider = "claude-demo"\n'
            for wid, identity in self.workloads.items()
        )
        return f"""
[server]
public_listen = "127.0.0.1:{self.public_port}"
public_base_url = "{self.public_base_url}"
internal_listen = "127.0.0.1:{self.internal_port}"
state_dir = "{self.state_dir}"

[claude]
base_url = "{self.claude_url}"
timeout = "5s"

[[credential_provider]]
id = "claude-demo"
name = "Claude demo"
  [credential_provider.claude_wif]
  federation_rule_id = "fdrl_demo"
  organization_id = "{ORGANIZATION_ID}"
  service_account_id = "svac_demo"
  workspace_id = "wrkspc_demo"
{policies}"""

    def start(self) -> "IssuerSvc":
        path = self.workdir / "issuer-svc.toml"
        path.write_text(self.config())
        self.process = Process(
            "issuer-svc",
            [str(ISSUER_BIN), "serve", "--config", str(path)],
            self.workdir / "issuer-svc.log",
        ).start()
        self.process.wait_ready(f"{self.internal_url}/readyz")
        return self

    def stop(self) -> None:
        if self.process:
            self.process.stop()

    def jwks(self) -> dict:
        resp = http("GET", f"{self.issuer_url}/jwks.json")
        assert resp.status == 200, resp.body
        return resp.json()


@dataclass
class Envoy:
    """Real Envoy running envoy/demo.yaml with ports, clusters and plugin config patched."""

    workdir: Path
    claude_port: int
    issuer_port: int
    plugin_overrides: dict = field(default_factory=dict)
    port: int = field(default_factory=free_port)
    admin_port: int = field(default_factory=free_port)
    process: Process | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def config(self) -> dict:
        cfg = copy.deepcopy(yaml.safe_load(DEMO_ENVOY.read_text()))
        cfg["admin"]["address"]["socket_address"]["port_value"] = self.admin_port
        listener = cfg["static_resources"]["listeners"][0]
        listener["address"]["socket_address"]["port_value"] = self.port
        hcm = listener["filter_chains"][0]["filters"][0]["typed_config"]
        wasm = next(f for f in hcm["http_filters"] if f["name"] == "claude_wif")["typed_config"]["config"]
        wasm["vm_config"]["code"]["local"]["filename"] = str(WASM)
        plugin = json.loads(wasm["configuration"]["value"])
        plugin.update(self.plugin_overrides)
        wasm["configuration"]["value"] = json.dumps(plugin)
        ports = {"anthropic": self.claude_port, "issuer_svc": self.issuer_port}
        for cluster in cfg["static_resources"]["clusters"]:
            endpoint = cluster["load_assignment"]["endpoints"][0]["lb_endpoints"][0]["endpoint"]
            endpoint["address"]["socket_address"]["port_value"] = ports[cluster["name"]]
        return cfg

    def start(self) -> "Envoy":
        path = self.workdir / f"envoy-{self.port}.yaml"
        path.write_text(yaml.safe_dump(self.config()))
        self.process = Process(
            "envoy",
            [
                str(ENVOY_BIN), "-c", str(path), "--disable-hot-restart", "--concurrency", "2",
                "-l", "warning", "--component-log-level", "wasm:info",
            ],
            self.workdir / f"envoy-{self.port}.log",
        ).start()
        self.process.wait_ready(f"http://127.0.0.1:{self.admin_port}/ready", timeout=30)
        return self

    def stop(self) -> None:
        if self.process:
            self.process.stop()

    def messages(self, headers=None, content: str = "Hello") -> Response:
        body = {
            "model": "claude-sonnet-4-5",
            "max_tokens": 32,
            "messages": [{"role": "user", "content": content}],
        }
        hdrs = {"anthropic-version": "2023-06-01"}
        hdrs.update(headers or {})
        return http("POST", f"{self.url}/v1/messages", body=body, headers=hdrs)


def mode_of(path: Path) -> int:
    return os.stat(path).st_mode & 0o777
