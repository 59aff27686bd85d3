"""Fixtures for the end-to-end tests: each test gets its own stack on fresh
loopback ports, started in dependency order and stopped afterwards."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

import secret_scan  # noqa: E402
from harness import Envoy, FakeClaude, IssuerSvc, missing_artifacts  # noqa: E402


@pytest.fixture(scope="session", autouse=True)
def artifacts_built():
    missing = missing_artifacts()
    if missing:
        pytest.fail("end-to-end tests need built artifacts:\n  " + "\n  ".join(missing), pytrace=False)


@pytest.fixture(autouse=True)
def no_secrets_in_logs(request, tmp_path):
    """After each test (and after its stack has stopped: this fixture is set
    up first, so torn down last), scans every `*.log` under the test's
    tmp_path and the test's captured output for tokens, assertions and
    private keys (secret_scan.py). Findings name the file, never the secret."""
    yield
    captured = {
        f"captured {when} {key}": text
        for when, key, text in getattr(request.node, "_report_sections", [])
    }
    findings = secret_scan.scan(tmp_path, captured)
    if findings:
        pytest.fail("secrets in logs:\n  " + "\n  ".join(map(str, findings)), pytrace=False)


class Stack:
    """fake-claude + issuer-svc + Envoy; components can be stopped and restarted."""

    def __init__(self, workdir: Path):
        self.workdir = workdir
        self.issuer = IssuerSvc(workdir, claude_url="")
        self.claude = FakeClaude(workdir, issuer_url=self.issuer.issuer_url)
        self.issuer.claude_url = self.claude.url
        self.envoys: list[Envoy] = []

    def envoy(self, **plugin_overrides) -> Envoy:
        envoy = Envoy(
            self.workdir,
            claude_port=self.claude.port,
            issuer_port=self.issuer.internal_port,
            plugin_overrides=plugin_overrides,
        ).start()
        self.envoys.append(envoy)
        return envoy

    def stop(self):
        for envoy in self.envoys:
            envoy.stop()
        self.issuer.stop()
        self.claude.stop()


@pytest.fixture
def stack(tmp_path):
    s = Stack(tmp_path)
    s.claude.start()
    s.issuer.start()
    yield s
    s.stop()
