"""A CodeBuild project run locally: the buildspec's commands, literally, in a bash subprocess.

The work folder holds the input artifacts; the environment is the project's (resolved) variables,
CodeBuild's own `CODEBUILD_*` variables, and what reaches the local AWS (`AWS_ENDPOINT_URL`, fake
credentials). `pip install -r FILE` lines of the install phase are not run (no network here): the
rehearsal checks instead that this interpreter, first on PATH as `python`, already satisfies FILE.
The output artifact is collected from `artifacts` as CodeBuild does, and the variables the buildspec
lists under `env: exported-variables` are read from the shell after each phase, as CodeBuild exports
them to the pipeline (an unset one is not exported).
"""

from __future__ import annotations

import glob
import os
import re
import shlex
import shutil
import subprocess
import sys
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from generator.live.rehearse.report import StepFailed
from generator.live.rehearse.server import MANAGEMENT_ACCOUNT

PHASES = ("install", "pre_build", "build", "post_build")
#: The longest a rehearsed build may run, whatever the project's TimeoutInMinutes says.
MAX_SECONDS = 300
_PIP_REQUIREMENTS = re.compile(r"^\s*(python3?\s+-m\s+)?pip3?\s+install\b.*\s-r\s*(\S+)")


@dataclass
class Build:
    """What one build did: its log, the files of its output artifact, its report files."""

    log: list[str] = field(default_factory=list)
    files: list[str] = field(default_factory=list)
    reports: dict[str, list[str]] = field(default_factory=dict)
    #: `env: exported-variables` with the values the phases left in the shell.
    variables: dict[str, str] = field(default_factory=dict)


def project_environment(project: dict[str, Any], name: str) -> dict[str, str]:
    """The project's PLAINTEXT environment variables (others need services the rehearsal lacks)."""
    env: dict[str, str] = {}
    for var in project.get("Environment", {}).get("EnvironmentVariables", []):
        if var.get("Type", "PLAINTEXT") != "PLAINTEXT":
            raise StepFailed(f"CodeBuild project {name}: variable {var['Name']} of type {var['Type']} is not rehearsed")
        env[var["Name"]] = str(var["Value"])
    return env


def load_buildspec(project: dict[str, Any], name: str, source: Path, artifact: str) -> tuple[str, dict[str, Any]]:
    """(where it came from, parsed) for the project's buildspec: inline, or a file of the source artifact."""
    import yaml

    spec = project.get("Source", {}).get("BuildSpec") or "buildspec.yml"
    if "\n" in spec:
        where, text = "inline buildspec", spec
    else:
        path = source / spec
        if not path.is_file():
            raise StepFailed(f"CodeBuild project {name}: buildspec {spec} is not in {artifact}")
        where, text = f"{artifact}::{spec}", path.read_text(encoding="utf-8")
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise StepFailed(f"{where} is not valid YAML: {exc}") from None
    if not isinstance(data, dict) or str(data.get("version")) != "0.2":
        raise StepFailed(f"{where}: expected a version 0.2 buildspec")
    return where, data


def _requirements_problems(path: Path) -> list[str]:
    """Requirements of `path` that this interpreter does not satisfy."""
    from importlib.metadata import PackageNotFoundError, version

    from packaging.requirements import Requirement

    problems = []
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        requirement = Requirement(line)
        try:
            installed = version(requirement.name)
        except PackageNotFoundError:
            problems.append(f"{requirement.name} is not installed")
            continue
        if requirement.specifier and not requirement.specifier.contains(installed, prereleases=True):
            problems.append(f"{requirement.name} {installed} does not satisfy {requirement}")
    return problems


def _phase_script(phase: str, commands: list[str], cwd: Path, log: list[str]) -> str:
    """The phase's commands as one bash script; pip installs of requirements files become checks."""
    lines = []
    for command in commands:
        match = _PIP_REQUIREMENTS.match(command) if phase == "install" else None
        if match:
            requirements = cwd / match.group(2).strip("'\"")
            if not requirements.is_file():
                raise StepFailed(f"install: {command!r}: {match.group(2)} is not in the source")
            problems = _requirements_problems(requirements)
            if problems:
                raise StepFailed(f"install: {command!r}: {'; '.join(problems)} (the rehearsal does not pip install)")
            log.append(f"[rehearsal] {command}: not run, {match.group(2)} is satisfied by {sys.executable}")
            continue
        lines.append(command)
    return "set -e -o pipefail\n" + "\n".join(lines) + "\n"


def _dump_exported(names: list[str], dump: Path) -> str:
    """Shell lines that append `NAME=value\\0` for each exported variable set in the shell."""
    target = shlex.quote(str(dump))
    return "".join(
        f'if [ -n "${{{n}+x}}" ]; then printf "%s=%s\\0" {shlex.quote(n)} "${{{n}}}" >> {target}; fi\n' for n in names
    )


def _collect(spec: dict[str, Any], src: Path, out: Path, log: list[str]) -> list[str]:
    """Copy the files `artifacts` names into `out`; CodeBuild fails when nothing matches."""
    artifacts = spec.get("artifacts")
    if not artifacts:
        raise StepFailed("the action has an output artifact but the buildspec declares no artifacts")
    base = src / artifacts.get("base-directory", ".")
    discard = str(artifacts.get("discard-paths", "no")).lower() in ("yes", "true")
    copied: list[str] = []
    for pattern in artifacts.get("files", []):
        matches = [Path(p) for p in glob.glob(str(base / pattern), recursive=True) if Path(p).is_file()]
        if not matches:
            log.append(f"[rehearsal] artifacts: no file matches {pattern} under {base.relative_to(src)}")
        for path in matches:
            relative = Path(path.name) if discard else path.relative_to(base)
            (out / relative).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, out / relative)
            copied.append(relative.as_posix())
    if not copied:
        raise StepFailed("CLIENT_ERROR: no matching artifact paths found (buildspec artifacts.files)")
    return sorted(copied)


def run_build(
    name: str,
    project: dict[str, Any],
    sources: list[tuple[str, Path]],
    output: Path | None,
    work: Path,
    aws_env: dict[str, str],
    extra_env: dict[str, str],
) -> Build:
    """Run project `name` on `sources` (primary first) in `work`; fill `output` from its artifacts."""
    build = Build()
    try:
        _run(build, name, project, sources, output, work, aws_env, extra_env)
    except StepFailed as exc:
        raise StepFailed(str(exc), build.log) from None
    return build


def _run(
    build: Build,
    name: str,
    project: dict[str, Any],
    sources: list[tuple[str, Path]],
    output: Path | None,
    work: Path,
    aws_env: dict[str, str],
    extra_env: dict[str, str],
) -> None:
    primary_name, primary = sources[0]
    build_id = uuid.uuid4()
    src = work / "src"
    shutil.copytree(primary, src)
    where, spec = load_buildspec(project, name, src, primary_name)
    build.log.append(f"[rehearsal] buildspec: {where}")
    env = {
        "PATH": os.pathsep.join([str(Path(sys.executable).parent), "/usr/local/bin", "/usr/bin", "/bin"]),
        "HOME": str(work / "home"),
        "LANG": "C.UTF-8",
        "PYTHONDONTWRITEBYTECODE": "1",
        **aws_env,
        **project_environment(project, name),
        **{str(k): str(v) for k, v in (spec.get("env", {}) or {}).get("variables", {}).items()},
        **extra_env,
        "CODEBUILD_SRC_DIR": str(src),
        "CODEBUILD_BUILD_ID": f"{name}:{build_id}",
        "CODEBUILD_BUILD_ARN": f"arn:aws:codebuild:{aws_env.get('AWS_DEFAULT_REGION', 'us-east-1')}:"
        f"{MANAGEMENT_ACCOUNT}:build/{name}:{build_id}",
        "CODEBUILD_BUILD_SUCCEEDING": "1",
    }
    (work / "home").mkdir()
    for artifact, folder in sources[1:]:
        target = work / f"src_{artifact}"
        shutil.copytree(folder, target)
        env[f"CODEBUILD_SRC_DIR_{artifact}"] = str(target)
    timeout = min(int(project.get("TimeoutInMinutes", 60)) * 60, MAX_SECONDS)
    phases = spec.get("phases", {}) or {}
    for phase in PHASES:
        commands = [str(c) for c in (phases.get(phase, {}) or {}).get("commands", [])]
        if not commands:
            continue
        build.log.append(f"[rehearsal] phase {phase}: " + " && ".join(shlex.quote(c) for c in commands))
        script = _phase_script(phase, commands, src, build.log)
        exported = [str(v) for v in (spec.get("env", {}) or {}).get("exported-variables", []) or []]
        dump = work / f"exported-{phase}"
        script += _dump_exported(exported, dump)
        try:
            done = subprocess.run(
                ["bash", "-c", script], cwd=src, env=env, capture_output=True, text=True, timeout=timeout
            )
        except subprocess.TimeoutExpired:
            raise StepFailed(f"phase {phase} timed out after {timeout} s") from None
        build.log += (done.stdout + done.stderr).splitlines()
        if done.returncode != 0:
            errors = [line.strip() for line in done.stderr.splitlines() if line.strip()]
            said = "; ".join(dict.fromkeys(errors[:1] + errors[-1:]))  # the first problem and the summary
            raise StepFailed(f"phase {phase} failed (exit {done.returncode}): {said}")
        if dump.is_file():
            pairs = [item.partition("=") for item in dump.read_text(encoding="utf-8").split("\0") if item]
            build.variables.update({key: value for key, _, value in pairs})
    for group, report in (spec.get("reports", {}) or {}).items():
        base = src / report.get("base-directory", ".")
        build.reports[group] = sorted(
            str(Path(p).relative_to(base)) for f in report.get("files", []) for p in glob.glob(str(base / f))
        )
    if output is not None:
        output.mkdir(parents=True)
        build.files = _collect(spec, src, output, build.log)
