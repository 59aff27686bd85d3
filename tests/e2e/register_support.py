"""Processes for the `issuer-svc register` end-to-end tests: fake-claude with
an empty organization and an Admin API token, and issuer-svc whose provider
does not name its Claude-side ids yet (register writes them).

The admin token is a test value; nothing here prints it.
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

from harness import DEMO_IDENTITY, ISSUER_BIN, ORGANIZATION_ID, FakeClaude, IssuerSvc, Process

ADMIN_TOKEN = "sk-ant-oat01-e2e-register-admin"


@dataclass
class EmptyOrgClaude(FakeClaude):
    """fake-claude with no issuer, rule or service account, one workspace."""

    def config(self) -> str:
        return f"""
listen = "127.0.0.1:{self.port}"
organization_id = "{ORGANIZATION_ID}"
admin_tokens = ["{ADMIN_TOKEN}"]

[[workspace]]
id = "wrkspc_demo"
"""


WORKSPACE_DEMO = '  workspace_id    = "wrkspc_demo"   # the rule covers this workspace\n'


@dataclass
class UnregisteredIssuer(IssuerSvc):
    """issuer-svc whose provider omits federation_rule_id and service_account_id.

    `workspace_line` is the provider's `workspace_id` line ("" for none: the
    rule then covers the default workspace).
    """

    workspace_line: str = WORKSPACE_DEMO

    @property
    def config_path(self) -> Path:
        return self.workdir / "issuer-svc.toml"

    def config(self) -> str:
        return f"""# issuer-svc: one provider, registered with `issuer-svc register`
[server]
public_listen = "127.0.0.1:{self.public_port}"
public_base_url = "{self.public_url}"
internal_listen = "127.0.0.1:{self.internal_port}"
state_dir = "{self.state_dir}"

[claude]
base_url = "{self.claude_url}"
timeout = "5s"

[[credential_provider]]
id = "claude-demo"
name = "Claude demo"
  [credential_provider.claude_wif]
  organization_id = "{ORGANIZATION_ID}"
{self.workspace_line}
[[client_workload]]
id = "demo-app"
identity = "{DEMO_IDENTITY}"

[[access_policy]]
client_workload = "demo-app"
server_workload = "api.anthropic.com"
credential_provider = "claude-demo"
"""

    def write_config(self) -> Path:
        self.config_path.write_text(self.config())
        return self.config_path

    def start(self) -> "UnregisteredIssuer":
        """Serves the file as it is now (after `register --write`)."""
        self.process = Process(
            "issuer-svc",
            [str(ISSUER_BIN), "serve", "--config", str(self.config_path)],
            self.workdir / "issuer-svc.log",
        ).start()
        self.process.wait_ready(f"{self.internal_url}/readyz")
        return self

    def register(self, *flags: str, token: str = ADMIN_TOKEN) -> subprocess.CompletedProcess:
        """`issuer-svc register --config FILE [flags] claude-demo`, token in the environment."""
        env = dict(os.environ)
        env["ANTHROPIC_ADMIN_TOKEN"] = token
        result = subprocess.run(
            [str(ISSUER_BIN), "register", "--config", str(self.config_path), *flags, "claude-demo"],
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
        )
        assert token not in result.stdout and token not in result.stderr, "the admin token is never printed"
        return result
