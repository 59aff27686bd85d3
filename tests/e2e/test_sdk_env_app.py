"""No code change: the app as it is, configured only by its environment.

The app is the official SDK built as `anthropic.Anthropic()` with no argument
(tests/e2e/sdk_app.py), run as a separate process with .venv's python in a
clean environment holding only `ANTHROPIC_BASE_URL` (the Envoy listener with
the claude-wif filter) and `ANTHROPIC_API_KEY=unused`. It runs once per
tested SDK version (sdk_versions.py: the newest, and the oldest 2.x still
supported).

What SDK 2.x does with that placeholder (`_client.py`, `_api_key_auth`): it
sends it as `Authorization: Bearer unused`, not as `x-api-key` as 1.x did;
without any credential it builds the client but refuses every request
(`TypeError: Could not resolve authentication method`). The filter must
overwrite that header with a federation token. The test checks both sides:
the headers the SDK builds (reported by the app, compared, never printed) and
what fake-claude received (`/_test/counters`, `/_test/last_request`,
`/_test/auth_history`).
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from harness import DEMO_IDENTITY, ROOT, http
from sdk_versions import VENV_PYTHON, sdk_env, target_dir, versions

APP = Path(__file__).with_name("sdk_app.py")
PLACEHOLDER = "unused"
REPLY = "Hello from fake-claude."
API_VERSION = "2026-10-21"


def run_app(version: str, workdir: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    home = workdir / f"home-{version}"
    home.mkdir(exist_ok=True)
    return subprocess.run(
        [str(VENV_PYTHON), str(APP)],
        cwd=home,
        env=sdk_env(version, home, **env),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize("version", versions())
def test_the_sdk_without_a_credential_sends_nothing(tmp_path, version):
    """Why the placeholder is needed: SDK 2.x builds a client with no
    credential but refuses to send any request (no server is contacted)."""
    script = (
        "import anthropic\n"
        f"assert anthropic.__version__ == {version!r}\n"
        "client = anthropic.Anthropic()\n"
        "try:\n"
        "    client.messages.create(model='m', max_tokens=1, messages=[{'role': 'user', 'content': 'x'}])\n"
        "except TypeError as err:\n"
        "    print('refused:', 'Could not resolve authentication method' in str(err))\n"
    )
    home = tmp_path / "home"
    home.mkdir()
    done = subprocess.run(
        [str(VENV_PYTHON), "-c", script],
        cwd=home,
        env=sdk_env(version, home, ANTHROPIC_BASE_URL="http://127.0.0.1:9"),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "refused: True"


@pytest.mark.parametrize("version", versions())
def test_unchanged_sdk_app_configured_by_environment_goes_through_envoy(stack, tmp_path, version):
    envoy = stack.envoy()
    done = run_app(version, tmp_path, {"ANTHROPIC_BASE_URL": envoy.url, "ANTHROPIC_API_KEY": PLACEHOLDER})
    assert done.returncode == 0, f"the app failed:\n{done.stderr[-3000:]}"
    out = json.loads(done.stdout)

    # The SDK under test is the one intended, from where it was installed.
    assert out["version"] == version
    where = target_dir(version)
    expected_dir = (where if where is not None else ROOT / ".venv").resolve()
    assert Path(out["module"]).resolve().is_relative_to(expected_dir), out["module"]

    # What the SDK built from the environment alone: the Envoy base URL, the
    # placeholder as its API key, sent as `Authorization: Bearer <key>`, and
    # no `x-api-key`; no credential provider of its own.
    assert out["base_url"].rstrip("/") == envoy.url
    assert out["api_key_is_placeholder"] is True
    assert out["credentials"] is None
    assert out["auth_header_names"] == ["authorization"]
    assert out["authorization_is_bearer_placeholder"] is True
    assert out["sends_x_api_key"] is False
    assert out["anthropic_version"] == API_VERSION
    assert out["user_agent"] == f"Anthropic/Python {version}"

    # The app got its answers: one plain, one streamed.
    assert out["message"] == {
        "type": "message", "role": "assistant", "model": "claude-sonnet-4-6",
        "text": REPLY, "stop_reason": "end_turn",
    }
    assert out["stream"] == {"text": REPLY, "final_text": REPLY, "stop_reason": "end_turn"}

    # fake-claude's side: both API requests carried a federation token it
    # minted (so the placeholder, which is no such token, was overwritten and
    # never authenticated anything), none carried an API key.
    counters = stack.claude.counters()
    assert counters["exchanges"] == 1
    assert counters["requests_with_valid_token"] == 2
    assert counters["requests_without_valid_token"] == 0
    assert counters["requests_forbidden"] == 0
    assert counters["requests_with_api_key"] == 0

    seen = stack.claude.last_request()
    assert seen["bearer_valid"] is True
    assert seen["token"]["federation_rule_id"] == "fdrl_demo"
    assert seen["token"]["service_account_id"] == "svac_demo"
    assert seen["token"]["workspace_id"] == "wrkspc_demo"
    headers = seen["headers"]
    assert headers["authorization"] == "<redacted>"
    assert seen["authorization_headers"] == 1, "the filter replaced the app's Bearer placeholder, it did not add a second one"
    assert "x-api-key" not in headers
    assert "oauth-2025-04-20" in [flag.strip() for flag in headers["anthropic-beta"].split(",")]
    assert headers["anthropic-version"] == API_VERSION
    assert headers["user-agent"] == f"Anthropic/Python {version}", "the request fake-claude saw is the app's"

    # The token came from issuer-svc's exchange for the demo workload.
    history = http("GET", f"{stack.claude.url}/_test/auth_history").json()
    assert [(e["outcome"], e["sub"]) for e in history] == [("success", DEMO_IDENTITY)]

    # Nothing of the app's leaked into the logs (the secret scan runs after
    # every test); the placeholder in particular appears in none of them.
    for log in tmp_path.glob("*.log"):
        assert f"Bearer {PLACEHOLDER}" not in log.read_text(errors="replace"), log.name
