"""Support for test_security_filter.py: an Envoy whose Wasm plugin options
can be set (`allow_on_headers_stop_iteration`, HTTP/1 request trailers), and
raw HTTP/1.1 requests whose body (and trailers) can be sent later than the
headers. Nothing here prints a token.

`CLAUDE_WIF_TEST_WASM` points these Envoys at another build of the filter
(e.g. one from before a fix, to watch the tests fail on it)."""

from __future__ import annotations

import http.client as httpclient
import os
import socket
from dataclasses import dataclass
from pathlib import Path

from fault_support import FaultStack
from filter_support import envoy_stats
from harness import WASM, Envoy, wait_until

TEST_WASM = Path(os.environ.get("CLAUDE_WIF_TEST_WASM") or WASM)
CLIENT_API_KEY = "sk-ant-api03-client-key-must-not-leave"


@dataclass
class OptionsEnvoy(Envoy):
    """The harness Envoy with `allow_on_headers_stop_iteration` set on the
    plugin (Envoy >= 1.35) and, with `trailers`, HTTP/1 request trailers
    passed to the filters (`enable_trailers`)."""

    allow_on_headers_stop_iteration: bool = False
    trailers: bool = False

    def config(self) -> dict:
        cfg = super().config()
        hcm = cfg["static_resources"]["listeners"][0]["filter_chains"][0]["filters"][0]["typed_config"]
        wasm = next(f for f in hcm["http_filters"] if f["name"] == "claude_wif")["typed_config"]["config"]
        wasm["vm_config"]["code"]["local"]["filename"] = str(TEST_WASM)
        wasm["allow_on_headers_stop_iteration"] = self.allow_on_headers_stop_iteration
        if self.trailers:
            hcm["http_protocol_options"] = {"enable_trailers": True}
        return cfg


def start_envoy(stack: FaultStack, *, allow_stop: bool, trailers: bool = False, **plugin) -> OptionsEnvoy:
    envoy = OptionsEnvoy(
        stack.workdir,
        claude_port=stack.claude.port,
        issuer_port=stack.issuer.internal_port,
        plugin_overrides=plugin,
        allow_on_headers_stop_iteration=allow_stop,
        trailers=trailers,
    )
    stack.envoys.append(envoy)
    return envoy.start()


def request_head(port: int, *, length: int | None, extra: list[tuple[str, str]] = ()) -> bytes:
    """Headers of a POST /v1/messages carrying the client's own API key;
    chunked when `length` is None."""
    lines = [
        "POST /v1/messages HTTP/1.1",
        f"host: 127.0.0.1:{port}",
        "content-type: application/json",
        "anthropic-version: 2023-06-01",
        f"x-api-key: {CLIENT_API_KEY}",
        "content-length: %d" % length if length is not None else "transfer-encoding: chunked",
        *(f"{name}: {value}" for name, value in extra),
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def chunked(body: bytes, trailers: list[tuple[str, str]] = ()) -> bytes:
    tail = "".join(f"{name}: {value}\r\n" for name, value in trailers)
    return b"%x\r\n%s\r\n0\r\n%s\r\n" % (len(body), body, tail.encode())


class RawRequest:
    """One HTTP/1.1 request on its own connection, sent in parts."""

    def __init__(self, port: int, timeout: float = 20.0):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def response(self) -> tuple[int, bytes]:
        resp = httpclient.HTTPResponse(self.sock)
        try:
            resp.begin()
            return resp.status, resp.read()
        finally:
            resp.close()
            self.sock.close()


def wait_paused(envoy: Envoy, count: int) -> None:
    """Until the filter has paused `count` requests for their token."""
    wait_until(
        lambda: envoy_stats(envoy).get("requests_paused", 0) >= count,
        timeout=10,
        what=f"{count} request(s) paused by the filter",
    )
