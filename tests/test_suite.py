"""The test suite's own contract: CI runs every test, `slow` ones included.

`pytest -m "not slow"` is the developer's fast set (README, tests/README.md); CI runs `.ci/run`, which runs
`scripts/test.sh`, the README's test command. Nothing on that path may select or deselect tests, or the
expensive end-to-end cases (rehearsals, the iris pipeline on moto, checkov, mypy) would silently stop running.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
#: Options that choose which tests run: none of them may appear on CI's path.
SELECTING = ("-m", "-k", "--deselect", "--ignore", "--ignore-glob", "--lf", "--last-failed", "--sw", "--stepwise")


def pytest_command() -> list[str]:
    """The pytest arguments scripts/test.sh runs (its `exec ... -m pytest ...` line, before `"$@"`)."""
    (line,) = [ln for ln in (ROOT / "scripts/test.sh").read_text().splitlines() if ln.startswith("exec ")]
    words = shlex.split(line)
    return words[words.index("pytest") + 1 : words.index("$@")]


def selects(words: list[str]) -> list[str]:
    return [w for w in words if w.split("=", 1)[0] in SELECTING]


def test_ci_runs_the_readme_command() -> None:
    assert "bash scripts/test.sh" in (ROOT / ".ci/run").read_text()
    assert "bash scripts/test.sh\n" in (ROOT / "README.md").read_text()


def test_the_default_command_selects_nothing(pytestconfig: pytest.Config) -> None:
    """Neither scripts/test.sh nor pyproject's `addopts` chooses tests (a `-m "not slow"` there skips them in CI)."""
    assert selects(pytest_command()) == [], pytest_command()
    assert selects(shlex.split(" ".join(pytestconfig.getini("addopts")))) == []


def run_collection(*args: str, ci: bool = False) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_") and k != "CI"}  # not this run's
    if ci:
        env["CI"] = "true"
    return subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:xdist", "-p", "no:cacheprovider", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )


def collect(*args: str) -> set[str]:
    result = run_collection(*args)
    assert result.returncode == 0, result.stdout + result.stderr
    return {line for line in result.stdout.splitlines() if "::" in line}


def without_xdist(words: list[str]) -> list[str]:
    """scripts/test.sh's options without xdist's (they distribute tests over workers, never select them)."""
    kept: list[str] = []
    skip = False
    for word in words:
        if skip:
            skip = False
        elif word in ("-n", "--dist", "--numprocesses"):
            skip = True
        elif not (word.startswith(("-n", "--dist=", "--numprocesses=")) or word == "--no-loadscope-reorder"):
            kept.append(word)
    return kept


@pytest.mark.slow  # runs pytest's collection in a subprocess
def test_the_default_command_collects_the_slow_tests() -> None:
    """Collected with scripts/test.sh's own options, the slow tests are there: a whole slow module (checkov) and
    a slow case of a fast test (mypy), next to that test's fast cases."""
    collected = collect(*without_xdist(pytest_command()), "tests/test_code_quality.py", "tests/test_checkov.py")
    assert "tests/test_code_quality.py::test_tool_is_clean[mypy]" in collected
    assert "tests/test_code_quality.py::test_tool_is_clean[ruff-check]" in collected
    assert any(test.startswith("tests/test_checkov.py::") for test in collected), collected


@pytest.mark.slow  # runs pytest's collection in a subprocess
def test_under_ci_a_mark_expression_is_refused() -> None:
    """The failing case: CI set and `-m "not slow"` (tests/conftest.py refuses it: exit 4, a usage error); the
    passing case is the collection above, without `-m`."""
    result = run_collection("-m", "not slow", "tests/test_code_quality.py", ci=True)
    assert result.returncode == pytest.ExitCode.USAGE_ERROR, result.stdout + result.stderr
    assert "CI runs every test, slow ones included: -m 'not slow' is refused" in result.stderr
