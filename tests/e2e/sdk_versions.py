"""Which official `anthropic` Python SDK versions the end-to-end tests run,
and where each one is installed.

Both are pinned in tests/requirements.txt, so that `make setup` reruns when
either changes:

- the newest, `anthropic==X`, is installed into .venv like everything else
  and imported by the tests themselves;
- the oldest 2.x release still supported, the line
  `# sdk-oldest: anthropic==Y`, is installed apart into
  `.tools/anthropic-Y` by `make setup` (`python tests/e2e/sdk_versions.py
  install`), without dependencies: it declares the same requirements as the
  newest (test_sdk_versions.py checks that), so it runs on the packages of
  .venv with `PYTHONPATH=.tools/anthropic-Y` in front, as a user pinning it
  today would run it. Tests run it in subprocesses.

Nothing here prints a token or a key.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
REQUIREMENTS = ROOT / "tests/requirements.txt"
VENV_PYTHON = ROOT / ".venv/bin/python"
TOOLS = ROOT / ".tools"

_NEWEST_RE = re.compile(r"^anthropic==(\S+)\s*$", re.M)
_OLDEST_RE = re.compile(r"^#\s*sdk-oldest:\s*anthropic==(\S+)\s*$", re.M)


def _one(pattern: re.Pattern, what: str) -> str:
    found = pattern.findall(REQUIREMENTS.read_text())
    if len(found) != 1:
        raise AssertionError(f"tests/requirements.txt must pin exactly one {what}, found {found}")
    return found[0]


def newest() -> str:
    """The SDK in .venv (`anthropic==X`)."""
    return _one(_NEWEST_RE, "`anthropic==X` line")


def oldest() -> str:
    """The oldest supported 2.x SDK (`# sdk-oldest: anthropic==Y`)."""
    return _one(_OLDEST_RE, "`# sdk-oldest: anthropic==Y` line")


def versions() -> list[str]:
    """Every SDK version the tests run, newest first."""
    return [newest(), oldest()]


def target_dir(version: str) -> Path | None:
    """Where `version` is installed apart; None for the one in .venv."""
    return None if version == newest() else TOOLS / f"anthropic-{version}"


def sdk_env(version: str, home: Path, **extra: str) -> dict[str, str]:
    """A clean environment that makes `.venv/bin/python` import `version`:
    nothing of the caller's environment (no ANTHROPIC_* variable, no
    PYTHONPATH of its own) leaks in."""
    env = {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "HOME": str(home),
        "LANG": "C.UTF-8",
        "PYTHONNOUSERSITE": "1",
        "PYTHONDONTWRITEBYTECODE": "1",
    }
    where = target_dir(version)
    if where is not None:
        env["PYTHONPATH"] = str(where)
    env.update(extra)
    return env


def install() -> None:
    """Installs every version apart from .venv that is not installed yet (idempotent)."""
    for version in versions():
        where = target_dir(version)
        if where is None or (where / "anthropic/_version.py").is_file():
            continue
        TOOLS.mkdir(exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".anthropic-{version}-", dir=TOOLS))
        try:
            subprocess.run(
                [
                    str(VENV_PYTHON), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                    "--no-deps", "--target", str(staging), f"anthropic=={version}",
                ],
                check=True,
            )
            if where.exists():
                shutil.rmtree(where)
            staging.rename(where)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        print(f"sdk_versions: anthropic {version} installed in {where.relative_to(ROOT)}")


if __name__ == "__main__":
    if sys.argv[1:] == ["install"]:
        install()
    elif sys.argv[1:] == ["list"]:
        print("\n".join(versions()))
    else:
        sys.exit(f"usage: {sys.argv[0]} install|list")
