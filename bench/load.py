"""Load generation for `make bench`: wrk (throughput, latency percentiles)
and a small asyncio HTTP/1.1 client for what wrk cannot do (a burst of N
simultaneous requests, per-request timestamps)."""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

_UNITS = {"us": 1e-6, "ms": 1e-3, "s": 1.0}


def ensure_wrk() -> str:
    """The wrk binary; installs Debian's `wrk` package when it is missing."""
    path = shutil.which("wrk")
    if path:
        return path
    print("bench: wrk not found; installing Debian's wrk package", flush=True)
    sudo = [] if _is_root() else ["sudo"]
    subprocess.run([*sudo, "apt-get", "update", "-qq"], check=True, stdout=subprocess.DEVNULL)
    subprocess.run([*sudo, "apt-get", "install", "-y", "-qq", "wrk"], check=True, stdout=subprocess.DEVNULL)
    path = shutil.which("wrk")
    if not path:
        raise RuntimeError("wrk is still missing after apt-get install wrk")
    return path


def _is_root() -> bool:
    import os

    return os.geteuid() == 0


def _seconds(text: str) -> float:
    m = re.fullmatch(r"([\d.]+)(us|ms|s)", text.strip())
    if not m:
        raise ValueError(f"unparsable wrk duration {text!r}")
    return float(m.group(1)) * _UNITS[m.group(2)]


@dataclass
class WrkResult:
    rps: float
    requests: int
    errors: int
    p50_us: float | None = None
    p99_us: float | None = None


def wrk(
    url: str, *, connections: int, seconds: float, latency: bool = False, script: Path | None = None,
    cpu: int | None = None,
) -> WrkResult:
    """One wrk run (one thread); `cpu` pins it to that CPU (`taskset`)."""
    argv = [*pin(cpu), ensure_wrk(), "-t1", f"-c{connections}", f"-d{max(1, round(seconds))}s", "--timeout", "5s"]
    if latency:
        argv.append("--latency")
    if script is not None:
        argv += ["-s", str(script)]
    argv.append(url)
    out = subprocess.run(argv, check=True, capture_output=True, text=True, timeout=seconds + 30).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    requests = int(re.search(r"(\d+) requests in", out).group(1))
    errors = 0
    m = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    if m:
        errors += int(m.group(1))
    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    if m:
        errors += sum(int(g) for g in m.groups())
    result = WrkResult(rps=rps, requests=requests, errors=errors)
    if latency:
        result.p50_us = _seconds(re.search(r"\s50%\s+(\S+)", out).group(1)) * 1e6
        result.p99_us = _seconds(re.search(r"\s99%\s+(\S+)", out).group(1)) * 1e6
    return result


def pin(cpu: int | None) -> list[str]:
    """The `taskset` prefix that runs a command on CPU `cpu` (none when
    `cpu` is None, taskset is missing, or the machine has one CPU)."""
    if cpu is None or shutil.which("taskset") is None or (os.cpu_count() or 1) < 2:
        return []
    return ["taskset", "-c", str(cpu)]


# ---------------------------------------------------------------- asyncio client


def _request_bytes(method: str, path: str, host: str, body: bytes | None, headers: dict[str, str]) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", f"host: {host}"]
    for k, v in headers.items():
        lines.append(f"{k}: {v}")
    if body is not None:
        lines.append(f"content-length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + (body or b"")


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    m = re.search(rb"(?i)\r\ncontent-length:\s*(\d+)", head)
    body = await reader.readexactly(int(m.group(1))) if m else b""
    return status, body


@dataclass
class BurstResult:
    statuses: dict[int, int]
    latencies_s: list[float]
    wall_s: float
    bodies: list[bytes]


async def _burst(port: int, path: str, n: int, method: str, body_for, headers: dict[str, str]) -> BurstResult:
    conns = await asyncio.gather(*(asyncio.open_connection("127.0.0.1", port) for _ in range(n)))
    go = asyncio.Event()

    async def one(i: int, reader, writer):
        payload = _request_bytes(method, path, f"127.0.0.1:{port}", body_for(i), headers)
        await go.wait()
        start = time.perf_counter()
        writer.write(payload)
        await writer.drain()
        status, data = await _read_response(reader)
        elapsed = time.perf_counter() - start
        writer.close()
        return status, elapsed, data

    tasks = [asyncio.create_task(one(i, r, w)) for i, (r, w) in enumerate(conns)]
    await asyncio.sleep(0.2)  # every task is parked at the barrier
    t0 = time.perf_counter()
    go.set()
    results = await asyncio.gather(*tasks)
    wall = time.perf_counter() - t0
    statuses: dict[int, int] = {}
    for status, _, _ in results:
        statuses[status] = statuses.get(status, 0) + 1
    return BurstResult(statuses, [r[1] for r in results], wall, [r[2] for r in results])


def burst(port: int, path: str, n: int, *, method: str = "GET", body_for=lambda i: None, headers=None) -> BurstResult:
    """`n` requests on `n` connections opened beforehand, all released at once."""
    return asyncio.run(_burst(port, path, n, method, body_for, headers or {}))


@dataclass
class TimedSample:
    start_s: float  # time.monotonic() at send
    latency_s: float
    status: int


async def _steady(port: int, path: str, connections: int, seconds: float) -> list[TimedSample]:
    samples: list[TimedSample] = []
    deadline = time.monotonic() + seconds
    payload = _request_bytes("GET", path, f"127.0.0.1:{port}", None, {})

    async def loop():
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        while time.monotonic() < deadline:
            start = time.monotonic()
            t = time.perf_counter()
            writer.write(payload)
            status, _ = await _read_response(reader)
            samples.append(TimedSample(start, time.perf_counter() - t, status))
        writer.close()

    await asyncio.gather(*(loop() for _ in range(connections)))
    return samples


def steady(port: int, path: str, *, connections: int, seconds: float) -> list[TimedSample]:
    """Closed-loop keep-alive load with a timestamp per request."""
    return asyncio.run(_steady(port, path, connections, seconds))


def percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, int(round(q / 100.0 * len(ordered) + 0.5)) - 1))
    return ordered[index]
