"""Support for test_faults.py, test_hostile.py and the soak run: a stack
whose issuer-svc and fake-claude take extra settings, steady background
traffic, raw HTTP (repeated headers, unnormalized paths), a file-based LDS
Envoy, and process memory. Nothing here prints a token."""

from __future__ import annotations

import http.client as httpclient
import json
import os
import signal
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from harness import DEMO_IDENTITY, Envoy, FakeClaude, IssuerSvc, http

DEMO_PREFIX = "spiffe://cluster.local/ns/demo/*"


class TunedFakeClaude(FakeClaude):
    """fake-claude with `jwks_cache_seconds` (how long it trusts a fetched JWKS)."""

    jwks_cache_seconds: int | None = None

    def config(self) -> str:
        text = super().config()
        if self.jwks_cache_seconds is not None:
            text = text.replace(
                'organization_id = ', f"jwks_cache_seconds = {self.jwks_cache_seconds}\norganization_id = ", 1
            )
        return text

    def faults(self, **spec) -> None:
        resp = http("POST", f"{self.url}/_test/faults", body=spec)
        assert resp.status == 204, resp.body

    def clear_faults(self) -> None:
        assert http("DELETE", f"{self.url}/_test/faults").status == 204

    def auth_history(self) -> list[dict]:
        return http("GET", f"{self.url}/_test/auth_history").json()


@dataclass
class TunedIssuer(IssuerSvc):
    """issuer-svc whose demo policy grants every identity under
    `ns/demo/` (so tests can use fresh identities, each a cold cache
    entry), with optional Claude timeout, `[keys]`, internal API key and
    extra TOML appended."""

    claude_timeout: str = "5s"
    publish_ahead: str | None = None
    internal_api_key_file: Path | None = None
    extra: str = ""

    def config(self) -> str:
        text = super().config().replace(f'identity = "{DEMO_IDENTITY}"', f'identity = "{DEMO_PREFIX}"')
        text = text.replace('timeout = "5s"', f'timeout = "{self.claude_timeout}"')
        if self.internal_api_key_file is not None:
            text = text.replace("[claude]", f'internal_api_key_file = "{self.internal_api_key_file}"\n\n[claude]', 1)
        if self.publish_ahead is not None:
            text = text.replace("[claude]", f'[keys]\npublish_ahead = "{self.publish_ahead}"\n\n[claude]', 1)
        return text + self.extra

    @property
    def config_path(self) -> Path:
        return self.workdir / "issuer-svc.toml"

    def write_config(self, text: str | None = None) -> None:
        """Replaces the config file atomically (as an operator's deploy would)."""
        tmp = self.config_path.with_suffix(".tmp")
        tmp.write_text(self.config() if text is None else text)
        os.replace(tmp, self.config_path)

    def signal(self, sig: int = signal.SIGHUP) -> None:
        assert self.process and self.process.proc
        self.process.proc.send_signal(sig)

    def kill(self) -> None:
        """SIGKILL: no graceful shutdown."""
        assert self.process and self.process.proc
        self.process.proc.kill()
        self.process.proc.wait(timeout=10)
        self.process.proc = None

    def log(self) -> str:
        return self.process.log_path.read_text(errors="replace") if self.process else ""


class FaultStack:
    """fake-claude + issuer-svc (tuned) + Envoys; the same shape as conftest.Stack."""

    def __init__(self, workdir: Path, **issuer_settings):
        self.workdir = workdir
        self.issuer = TunedIssuer(workdir, claude_url="", **issuer_settings)
        self.claude = TunedFakeClaude(workdir, issuer_url=self.issuer.issuer_url)
        self.issuer.claude_url = self.claude.url
        self.envoys: list[Envoy] = []

    def start(self) -> "FaultStack":
        self.claude.start()
        self.issuer.start()
        return self

    def envoy(self, cls=Envoy, **plugin_overrides) -> Envoy:
        envoy = cls(
            self.workdir,
            claude_port=self.claude.port,
            issuer_port=self.issuer.internal_port,
            plugin_overrides=plugin_overrides,
        )
        self.envoys.append(envoy)
        return envoy.start()

    def stop(self) -> None:
        for envoy in self.envoys:
            envoy.stop()
        self.issuer.stop()
        self.claude.stop()


HEADER_IDENTITY = {"source": "header", "name": "x-client-workload"}


def identity_headers(identity: str) -> dict[str, str]:
    return {"x-client-workload": identity}


def assert_claude_error(resp, status: int, error_type: str = "api_error") -> str:
    """A local reply of the filter in the Claude API's error shape."""
    assert resp.status == status, (resp.status, resp.body[:300])
    assert resp.headers.get("content-type") == "application/json", resp.headers
    body = resp.json()
    assert body["type"] == "error", body
    assert body["error"]["type"] == error_type, body
    message = body["error"]["message"]
    assert message.startswith("claude-wif: "), message
    if status == 503:
        assert resp.headers.get("retry-after", "").isdigit(), resp.headers
    return message


@dataclass
class Load:
    """Steady background traffic: `rate` requests a second from `workers`
    threads, each request built by `make_headers(n)`; statuses counted."""

    envoy: Envoy
    rate: float = 20.0
    workers: int = 4
    make_headers: object = None
    statuses: Counter = field(default_factory=Counter)
    failures: list = field(default_factory=list)
    latencies: list = field(default_factory=list)

    def __post_init__(self):
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._n = 0
        self._threads = [threading.Thread(target=self._run, daemon=True) for _ in range(self.workers)]

    def _next(self) -> int:
        with self._lock:
            self._n += 1
            return self._n

    def _run(self) -> None:
        interval = self.workers / self.rate
        next_at = time.monotonic()
        while not self._stop.is_set():
            n = self._next()
            headers = self.make_headers(n) if self.make_headers else None
            started = time.monotonic()
            try:
                resp = self.envoy.messages(headers=headers)
                status, detail = resp.status, resp.body[:200]
            except OSError as err:
                status, detail = 0, str(err).encode()
            elapsed = time.monotonic() - started
            with self._lock:
                self.statuses[status] += 1
                self.latencies.append(elapsed)
                if status != 200:
                    self.failures.append((time.strftime("%H:%M:%S"), status, detail))
            next_at += interval
            self._stop.wait(max(0.0, next_at - time.monotonic()))

    def __enter__(self) -> "Load":
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=30)

    @property
    def total(self) -> int:
        return sum(self.statuses.values())

    def assert_no_failures(self, at_least: int) -> None:
        assert not self.failures, f"{len(self.failures)} failed of {self.total}: {self.failures[:5]}"
        assert self.total >= at_least, f"only {self.total} requests sent"


def raw_request(port: int, method: str, path: str, headers: list[tuple[str, str]] | None = None,
                body: bytes | None = None, timeout: float = 10.0) -> tuple[int, dict[str, str], bytes]:
    """One request with repeated headers allowed and the path sent as given."""
    conn = httpclient.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.putrequest(method, path, skip_accept_encoding=True)
        for name, value in headers or []:
            conn.putheader(name, value)
        if body is not None:
            conn.putheader("content-length", str(len(body)))
        conn.endheaders(body)
        resp = conn.getresponse()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()
    finally:
        conn.close()


def messages_body() -> bytes:
    return json.dumps(
        {"model": "claude-sonnet-4-5", "max_tokens": 8, "messages": [{"role": "user", "content": "hi"}]}
    ).encode()


def rss_kib(pid: int) -> int:
    """Resident set size of a process, in KiB (Linux /proc)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


class LdsEnvoy(Envoy):
    """The harness Envoy with its listener served from a file (filesystem
    LDS, `watched_directory`): `update_plugin` atomically replaces the file
    with a listener whose plugin configuration changed, the way a control
    plane pushes a new WasmPlugin configuration; Envoy swaps the listener
    in place without a restart."""

    def config(self) -> dict:
        cfg = super().config()
        self._listener = cfg["static_resources"].pop("listeners")[0]
        self.lds_dir.mkdir(exist_ok=True)
        self._write_lds(self._listener)
        cfg["dynamic_resources"] = {
            "lds_config": {
                "resource_api_version": "V3",
                "path_config_source": {
                    "path": str(self.lds_dir / "lds.yaml"),
                    "watched_directory": {"path": str(self.lds_dir)},
                },
            }
        }
        cfg.setdefault("node", {"id": "claude-wif-e2e", "cluster": "claude-wif-e2e"})
        return cfg

    @property
    def lds_dir(self) -> Path:
        return self.workdir / f"lds-{self.port}"

    def _write_lds(self, listener: dict) -> None:
        resource = dict(listener)
        resource["@type"] = "type.googleapis.com/envoy.config.listener.v3.Listener"
        doc = {"version_info": str(time.monotonic_ns()), "resources": [resource]}
        tmp = self.lds_dir / "lds.yaml.tmp"
        tmp.write_text(yaml.safe_dump(doc))
        os.replace(tmp, self.lds_dir / "lds.yaml")

    def wasm_config(self) -> dict:
        hcm = self._listener["filter_chains"][0]["filters"][0]["typed_config"]
        return next(f for f in hcm["http_filters"] if f["name"] == "claude_wif")["typed_config"]["config"]

    def update_plugin(self, **overrides) -> None:
        wasm = self.wasm_config()
        plugin = json.loads(wasm["configuration"]["value"])
        plugin.update(overrides)
        wasm["configuration"]["value"] = json.dumps(plugin)
        self._write_lds(self._listener)

    def listener_updates(self) -> int:
        resp = http("GET", f"http://127.0.0.1:{self.admin_port}/stats?filter=listener_manager.lds.update_success")
        for line in resp.body.decode().splitlines():
            name, _, value = line.partition(": ")
            if name.endswith("lds.update_success"):
                return int(value)
        return 0

