"""checkov over rendered templates: a subprocess, never an import.

checkov lives in its own virtual environment because its pins clash with cfn-lint's and moto's, so we
run its binary and read its JSON report. Every run is offline: `--skip-download` and `BC_SKIP_MAPPING`
stop the platform calls (run config, guidelines, id mapping), `CKV_SKIP_PACKAGE_UPDATE_CHECK` stops the
PyPI version check, and `--skip-results-upload` plus dropping `BC_API_KEY` make sure nothing is sent.

Skips live in each resource's `Metadata.checkov.skip` (see skips.py). checkov reports a skip as
SKIPPED without evaluating the check, and only for checks that exist for the resource's type; so a
skip that hides nothing is found by `strip_skips` and a second run (see tests/test_checkov.py).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from generator.errors import MlopsGenError

#: Where the test script (scripts/test.sh) and CI put the checkov binary of its own virtual environment.
ENV_BINARY = "MLOPS_GEN_CHECKOV"
ARGS = (
    "--framework",
    "cloudformation",
    "--output",
    "json",
    "--skip-download",
    "--skip-results-upload",
    # Exit 0 whatever the findings: a non-zero exit then means checkov itself failed.
    "--soft-fail",
)
OFFLINE_ENV = {"BC_SKIP_MAPPING": "TRUE", "CKV_SKIP_PACKAGE_UPDATE_CHECK": "true"}
#: What checkov records when a skip has no comment (checkov/cloudformation/context_parser.py).
NO_COMMENT = "No comment provided"
TIMEOUT_SECONDS = 300


class CheckovError(MlopsGenError):
    """checkov could not scan: it crashed, printed no report, or could not parse a template."""


class CheckovNotFound(CheckovError):
    """No checkov binary: none given, none in $MLOPS_GEN_CHECKOV, none on PATH."""


@dataclass(frozen=True, order=True)
class CheckovResult:
    """One failed or skipped check on one resource of one template."""

    file: Path
    resource: str  # checkov's "Type.LogicalId", e.g. "AWS::S3::Bucket.ArtifactBucket"
    check_id: str
    check_name: str
    skipped: bool
    comment: str  # the skip's reason; "" for a failure

    @property
    def logical_id(self) -> str:
        return self.resource.rsplit(".", 1)[-1]

    def describe(self) -> str:
        outcome = f"skipped ({self.comment})" if self.skipped else "FAILED"
        return f"{self.file}: {self.resource} {self.check_id} {self.check_name}: {outcome}"


def find_checkov(explicit: str | Path | None = None, environ: Mapping[str, str] | None = None) -> Path:
    """The binary to run: `explicit`, else $MLOPS_GEN_CHECKOV, else `checkov` on PATH."""
    env = os.environ if environ is None else environ
    for source, candidate in (("given path", explicit), (f"${ENV_BINARY}", env.get(ENV_BINARY))):
        if candidate:
            path = Path(candidate)
            if path.is_file() and os.access(path, os.X_OK):
                return path
            raise CheckovNotFound(f"checkov binary {path} ({source}) does not exist or is not executable")
    on_path = shutil.which("checkov", path=env.get("PATH"))
    if on_path:
        return Path(on_path)
    raise CheckovNotFound(
        f"checkov not found: set ${ENV_BINARY} to its binary or put it on PATH "
        "(scripts/test.sh installs it into .venv-checkov)"
    )


def script_interpreter(binary: Path) -> Path | None:
    """The Python interpreter of a console script (its `#!` line), or None for anything else: a launcher
    must run in checkov's own environment, which only its script's first line names."""
    try:
        with binary.open("rb") as script:
            first = script.readline(4096)
    except OSError:
        return None
    if not first.startswith(b"#!"):
        return None
    words = first[2:].decode(errors="replace").split()
    interpreter = Path(words[0]) if len(words) == 1 else None  # `#!/usr/bin/env python` etc.: not ours to guess
    if interpreter is None or "python" not in interpreter.name or not os.access(interpreter, os.X_OK):
        return None
    return interpreter


def checkov_prefix(checkov_bin: Path, launcher: Path | None = None) -> list[str]:
    """The binary, or `INTERPRETER LAUNCHER` when a launcher script is given and the binary is a Python
    console script (the tests' launcher keeps PLY's parse tables: tests/checkov_launcher.py)."""
    interpreter = script_interpreter(checkov_bin) if launcher is not None else None
    if launcher is None or interpreter is None:
        return [str(checkov_bin)]
    return [str(interpreter), str(launcher)]


def checkov_command(targets: Sequence[Path], checkov_bin: Path, launcher: Path | None = None) -> list[str]:
    """`-d FOLDER` for one folder, else `-f FILE...` (absolute, so reports name absolute paths)."""
    prefix = checkov_prefix(checkov_bin, launcher)
    if len(targets) == 1 and targets[0].is_dir():
        return [*prefix, *ARGS, "--directory", str(targets[0].absolute())]
    return [*prefix, *ARGS, "--file", *(str(t.absolute()) for t in targets)]


def run_checkov(
    folder_or_files: Path | Sequence[Path], checkov_bin: str | Path | None = None, launcher: Path | None = None
) -> list[CheckovResult]:
    """Failed and skipped checks (sorted) of a folder or of template files; passed checks are dropped.
    `launcher`: a script run by checkov's interpreter in place of its console script (see `checkov_prefix`)."""
    targets = [folder_or_files] if isinstance(folder_or_files, Path) else list(folder_or_files)
    if not targets:
        raise ValueError("run_checkov needs a folder or at least one file")
    binary = find_checkov(checkov_bin)
    env = {k: v for k, v in os.environ.items() if k != "BC_API_KEY"} | OFFLINE_ENV
    try:
        proc = subprocess.run(
            checkov_command(targets, binary, launcher),
            capture_output=True,
            text=True,
            env=env,
            timeout=TIMEOUT_SECONDS,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise CheckovError(f"could not run {binary}: {exc}") from None
    if proc.returncode != 0:
        raise CheckovError(f"{binary} exited with {proc.returncode}:\n{_tail(proc.stderr or proc.stdout)}")
    try:
        report = json.loads(proc.stdout)
    except ValueError:
        raise CheckovError(f"{binary} printed no JSON report:\n{_tail(proc.stdout + proc.stderr)}") from None
    return parse_report(report)


def parse_report(report: Any) -> list[CheckovResult]:
    """Results of checkov's JSON report: one object per framework, a list of them, or a bare summary
    (`{"passed": 0, ...}`) when nothing was scanned. Parsing errors raise: an unscanned template is no pass."""
    reports = report if isinstance(report, list) else [report]
    results: list[CheckovResult] = []
    for framework in reports:
        section = framework.get("results", {})
        if section.get("parsing_errors"):
            raise CheckovError(f"checkov could not parse: {', '.join(section['parsing_errors'])}")
        for key, skipped in (("failed_checks", False), ("skipped_checks", True)):
            for check in section.get(key, []):
                results.append(
                    CheckovResult(
                        file=Path(check["file_abs_path"]),
                        resource=check["resource"],
                        check_id=check["check_id"],
                        check_name=check.get("check_name") or "",
                        skipped=skipped,
                        comment=(check["check_result"].get("suppress_comment") or "") if skipped else "",
                    )
                )
    return sorted(results)


def load_template(text: str) -> dict[str, Any]:
    """A template's JSON or YAML text as plain data (short-form tags such as `!Ref` become long form)."""
    from cfnlint.decode import decode_str

    template, matches = decode_str(text)
    if template is None:
        raise CheckovError(f"not a template: {'; '.join(str(m) for m in matches)}")
    data: dict[str, Any] = json.loads(json.dumps(template))
    return data


def declared_skips(template: Mapping[str, Any]) -> dict[tuple[str, str], str]:
    """(logical id, check id) -> reason, for every skip in the resources' `Metadata.checkov.skip`."""
    skips: dict[tuple[str, str], str] = {}
    for logical_id, resource in template.get("Resources", {}).items():
        for entry in (resource.get("Metadata") or {}).get("checkov", {}).get("skip", []):
            skips[(logical_id, str(entry.get("id")))] = str(entry.get("comment") or "")
    return skips


def strip_skips(template: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of `template` without checkov skips: what checkov would fail if nothing were skipped."""
    stripped: dict[str, Any] = json.loads(json.dumps(template))
    for resource in stripped.get("Resources", {}).values():
        metadata = resource.get("Metadata")
        if isinstance(metadata, dict) and "checkov" in metadata:
            del metadata["checkov"]
            if not metadata:
                del resource["Metadata"]
    return stripped


def _tail(text: str, lines: int = 20) -> str:
    return "\n".join(text.strip().splitlines()[-lines:])
