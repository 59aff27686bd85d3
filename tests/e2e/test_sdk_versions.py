"""The SDK-compatibility suite on every tested SDK version, not only the newest.

test_sdk_compat.py runs in this pytest process against the SDK in .venv (the
newest, `anthropic==X` in tests/requirements.txt). Here it runs once more per
older version (the oldest 2.x still supported, `# sdk-oldest:` there),
installed apart by `make setup` into `.tools/anthropic-<version>`: a child
pytest with `PYTHONPATH` on that install, a clean environment, and
`CLAUDE_WIF_SDK_UNDER_TEST` naming the version, whose first test checks that
the SDK it imported is that one. The child's stacks write their logs under
this test's tmp_path, so the secret scan covers them too.
"""

from __future__ import annotations

import re
import subprocess
from importlib import metadata
from pathlib import Path

import pytest

from harness import ROOT
from sdk_versions import VENV_PYTHON, newest, oldest, sdk_env, target_dir, versions

COMPAT = Path(__file__).with_name("test_sdk_compat.py")
OLDER = [v for v in versions() if v != newest()]


def installed(version: str) -> Path:
    where = target_dir(version)
    assert where is not None
    if not (where / "anthropic/_version.py").is_file():
        pytest.fail(f"anthropic {version} is not installed in {where.relative_to(ROOT)}: run `make setup`",
                    pytrace=False)
    return where


def base_requirements(requires: list[str] | None) -> set[str]:
    """`Requires-Dist` entries without extras, spaces removed."""
    return {r.replace(" ", "") for r in requires or [] if "extra==" not in r.replace(" ", "")}


def test_the_versions_tested_are_the_newest_and_the_oldest_2x():
    assert metadata.version("anthropic") == newest()
    assert oldest().startswith("2.") and OLDER == [oldest()]


@pytest.mark.parametrize("version", OLDER)
def test_older_sdk_runs_on_the_packages_of_the_venv(version):
    """It is installed without dependencies: it must ask for what the newest
    asks for, which .venv holds."""
    dist = next(metadata.distributions(path=[str(installed(version))]))
    assert dist.metadata["Name"] == "anthropic" and dist.version == version
    assert base_requirements(dist.requires) == base_requirements(metadata.requires("anthropic"))


@pytest.mark.parametrize("version", OLDER)
def test_sdk_compat_suite_passes_on_older_sdk(tmp_path, version):
    installed(version)
    home = tmp_path / "home"
    home.mkdir()
    done = subprocess.run(
        [
            str(VENV_PYTHON), "-m", "pytest", str(COMPAT), "-q", "-rA", "-p", "no:cacheprovider",
            f"--basetemp={tmp_path / 'child'}",
        ],
        cwd=ROOT,
        env=sdk_env(version, home, CLAUDE_WIF_SDK_UNDER_TEST=version),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=300,
    )
    summary = done.stdout.strip().splitlines()[-1] if done.stdout.strip() else ""
    assert done.returncode == 0, f"test_sdk_compat.py on anthropic {version}:\n{done.stdout[-4000:]}{done.stderr[-2000:]}"
    assert re.fullmatch(r"\d+ passed in [\d.]+s(?: \(.*\))?", summary), summary
    assert re.search(r"^PASSED \S*test_sdk_compat\.py::test_sdk_is_the_version_under_test$", done.stdout, re.M)
