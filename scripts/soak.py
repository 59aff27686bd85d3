"""Soak run (`make soak`): the whole stack (real Envoy with the .wasm,
issuer-svc, fake-claude) under steady load across several token lifetimes.

fake-claude mints short-lived tokens (SOAK_TOKEN_LIFETIME_S, default 60 s)
and the filter refreshes them ahead of expiry (advisory 30 s, mandatory
10 s), so a 5-minute run crosses 5 lifetimes and ~10 refreshes per client
workload. Passes when no request failed, nothing unauthenticated went
upstream, memory stayed flat and no secret appeared in any log.

Environment: SOAK_MINUTES (default 5), SOAK_RATE (requests/s, default 40),
SOAK_WORKLOADS (distinct client workloads, default 8), SOAK_DIR (where logs
are kept; default a fresh temporary directory).
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests/e2e"))

import secret_scan  # noqa: E402
from fault_support import HEADER_IDENTITY, FaultStack, Load, identity_headers, rss_kib  # noqa: E402
from harness import missing_artifacts  # noqa: E402

# Memory counts as flat when the end RSS is within this of the start RSS.
RSS_GROWTH_ALLOWED = 1.25
RSS_SLACK_KIB = 16 * 1024


def main() -> int:
    missing = missing_artifacts()
    if missing:
        print("soak needs built artifacts:\n  " + "\n  ".join(missing))
        return 2
    minutes = float(os.environ.get("SOAK_MINUTES", "5"))
    rate = float(os.environ.get("SOAK_RATE", "40"))
    workloads = int(os.environ.get("SOAK_WORKLOADS", "8"))
    lifetime = int(os.environ.get("SOAK_TOKEN_LIFETIME_S", "60"))
    workdir = Path(os.environ.get("SOAK_DIR") or tempfile.mkdtemp(prefix="claude-wif-soak-"))
    workdir.mkdir(parents=True, exist_ok=True)

    stack = FaultStack(workdir)
    stack.claude.token_lifetime_seconds = lifetime
    stack.start()
    try:
        envoy = stack.envoy(identity=HEADER_IDENTITY, advisory_refresh_s=30, mandatory_refresh_s=10)
        ids = [f"spiffe://cluster.local/ns/demo/sa/soak-{i}" for i in range(workloads)]
        pids = {"envoy": envoy.process.proc.pid, "issuer-svc": stack.issuer.process.proc.pid}
        print(f"soak: {minutes:g} min at {rate:g} req/s over {workloads} client workloads, "
              f"{lifetime} s tokens; logs in {workdir}", flush=True)
        with Load(envoy, rate=rate, workers=8, make_headers=lambda n: identity_headers(ids[n % workloads])) as load:
            time.sleep(min(20.0, minutes * 60 / 4))  # warm-up: caches, allocator
            start_rss = {name: rss_kib(pid) for name, pid in pids.items()}
            start_total, started = load.total, time.monotonic()
            deadline = started + minutes * 60
            while time.monotonic() < deadline:
                time.sleep(min(30.0, max(0.0, deadline - time.monotonic())))
                counters = stack.claude.counters()
                print(f"  {time.monotonic() - started:6.0f}s  requests {load.total:7d}  failures "
                      f"{len(load.failures)}  exchanges {counters['exchanges']}  rss "
                      + " ".join(f"{n}={rss_kib(p) // 1024}MiB" for n, p in pids.items()), flush=True)
            end_rss = {name: rss_kib(pid) for name, pid in pids.items()}
        counters = stack.claude.counters()
        latencies = sorted(load.latencies)
        p99 = latencies[int(len(latencies) * 0.99) - 1] if latencies else 0.0
    finally:
        stack.stop()

    problems = []
    if load.failures:
        problems.append(f"{len(load.failures)} failed requests, first: {load.failures[:3]}")
    if counters["requests_without_valid_token"]:
        problems.append(f"{counters['requests_without_valid_token']} requests without a valid token upstream")
    lifetimes = minutes * 60 / lifetime
    if counters["exchanges"] < workloads * max(1, int(lifetimes)):
        problems.append(f"only {counters['exchanges']} exchanges: tokens were not refreshed every lifetime")
    for name in pids:
        if end_rss[name] > start_rss[name] * RSS_GROWTH_ALLOWED + RSS_SLACK_KIB:
            problems.append(f"{name} RSS grew from {start_rss[name]} KiB to {end_rss[name]} KiB")
    findings = secret_scan.scan(workdir)
    problems += [f"secret in logs: {finding}" for finding in findings]

    print(f"soak: {load.total} requests ({load.total - start_total} after warm-up), "
          f"{len(load.failures)} failures, p99 {p99 * 1000:.0f} ms, {counters['exchanges']} exchanges "
          f"over {lifetimes:.1f} token lifetimes, requests_without_valid_token "
          f"{counters['requests_without_valid_token']}")
    for name in pids:
        print(f"soak: {name} RSS start {start_rss[name] / 1024:.1f} MiB, end {end_rss[name] / 1024:.1f} MiB")
    if problems:
        print("soak FAILED:\n  " + "\n  ".join(problems))
        return 1
    print("soak passed")
    if not os.environ.get("SOAK_DIR"):
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
