"""The `mlops-gen` command line: in-process with Typer's CliRunner, and as the installed console script.

User errors exit 2 with one line naming the flag and leave nothing on disk (no --out, no temporary
sibling); validation failures exit 1 and also leave nothing.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from typer.main import get_command
from typer.testing import CliRunner

from generator import __version__, render
from generator.cli import app
from generator.config import RenderConfig
from generator.rendered import RenderedFile
from tests.conftest import CONNECTION_ARN, PROD_OU, STAGING_OU

runner = CliRunner()
BASE = ["render", "--staging-ou", STAGING_OU, "--prod-ou", PROD_OU, "--region", "eu-west-1"]
#: The installed console script of this environment (what users run).
SCRIPT = shutil.which("mlops-gen", path=str(Path(sys.executable).parent)) or "mlops-gen"


def invoke(*args: str, env: dict[str, str] | None = None) -> Any:
    return runner.invoke(app, list(args), env={"AWS_REGION": "", "AWS_DEFAULT_REGION": "", **(env or {})})


def run_script(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    return subprocess.run([SCRIPT, *args], capture_output=True, text=True, cwd=cwd, env=env, timeout=120, check=False)


def manifest_of(folder: Path) -> dict[str, Any]:
    return dict(json.loads((folder / "manifest.json").read_text(encoding="utf-8")))


def leftovers(parent: Path) -> list[str]:
    """Names in `parent` other than what a test put there on purpose."""
    return sorted(p.name for p in parent.iterdir() if p.name not in {"keep", "mlops-gen.toml", "somefile"})


# --- version and help -----------------------------------------------------------------------------------------


def test_version() -> None:
    result = invoke("--version")
    assert result.exit_code == 0
    assert result.stdout == f"mlops-gen {__version__}\n"


def test_version_of_console_script() -> None:
    proc = run_script("--version")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == f"mlops-gen {__version__}"


COMMANDS = sorted(get_command(app).commands)  # type: ignore[attr-defined]


def test_every_command_is_listed_in_help() -> None:
    result = invoke("--help")
    assert result.exit_code == 0
    assert {"render", "validate"} <= set(COMMANDS)
    for name in COMMANDS:
        assert name in result.stdout


@pytest.mark.parametrize("command", COMMANDS)
def test_help_of_every_command(command: str) -> None:
    result = invoke(command, "--help")
    assert result.exit_code == 0, result.output
    assert f"Usage: mlops-gen {command} [OPTIONS]" in result.stdout
    assert "--help" in result.stdout


@pytest.mark.slow  # runs a process of its own (console script or pytest)
def test_help_of_console_script() -> None:
    proc = run_script("render", "--help")
    assert proc.returncode == 0, proc.stderr
    assert "Usage: mlops-gen render [OPTIONS]" in proc.stdout


def test_render_help_lists_the_options() -> None:
    result = invoke("render", "--help")
    for option in ("--staging-ou", "--prod-ou", "--out", "--config", "--region", "--force", "--no-validate", "--json"):
        assert option in result.stdout, option


# --- render ---------------------------------------------------------------------------------------------------


def test_render_writes_product_and_manifest(tmp_path: Path) -> None:
    out = tmp_path / "dist"
    result = invoke(*BASE, "--out", str(out), "--no-validate")
    assert result.exit_code == 0, result.output
    manifest = manifest_of(out)
    assert manifest["home_region"] == "eu-west-1" and manifest["deploy_regions"] == ["eu-west-1"]
    kinds = {a["kind"]: a["path"] for a in manifest["artifacts"]}
    assert kinds["product-template"] == "product-template.yaml"
    for artifact in manifest["artifacts"]:
        content = (out / artifact["path"]).read_bytes()
        assert hashlib.sha256(content).hexdigest() == artifact["sha256"], artifact["path"]
    listed = {a["path"] for a in manifest["artifacts"]} | {"manifest.json"}
    written = {str(p.relative_to(out)) for p in out.rglob("*") if p.is_file()}
    assert written == listed
    assert "AWS::CodePipeline::Pipeline" in (out / "product-template.yaml").read_text()
    assert leftovers(tmp_path) == ["dist"]
    assert str(out / "manifest.json") in result.stdout


@pytest.mark.slow  # renders through the CLI (about a second each)
def test_render_without_org_id_says_what_publish_needs(tmp_path: Path) -> None:
    without = invoke(*BASE, "--out", str(tmp_path / "a"), "--no-validate")
    assert without.exit_code == 0 and "no --org-id" in without.stdout and "mlops-gen doctor" in without.stdout
    with_id = invoke(*BASE, "--out", str(tmp_path / "b"), "--no-validate", "--org-id", "o-a1b2c3d4e5")
    assert with_id.exit_code == 0 and "no --org-id" not in with_id.stdout
    assert "Default: o-a1b2c3d4e5" in (tmp_path / "b" / "product-template.yaml").read_text()
    bad = invoke(*BASE, "--out", str(tmp_path / "c"), "--org-id", "o-1")
    assert bad.exit_code == 2 and "--org-id" in bad.output


@pytest.mark.slow  # renders through the CLI (about a second each)
def test_render_output_is_readable_by_others(tmp_path: Path) -> None:
    out = tmp_path / "dist"
    assert invoke(*BASE, "--out", str(out), "--no-validate").exit_code == 0
    assert out.stat().st_mode & 0o777 == 0o777 & ~_umask()


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


@pytest.mark.slow  # renders through the CLI (about a second each)
def test_render_json_format(tmp_path: Path) -> None:
    out = tmp_path / "dist"
    assert invoke(*BASE, "--out", str(out), "--no-validate", "--format", "json").exit_code == 0
    product = json.loads((out / "product-template.json").read_text())
    assert product["AWSTemplateFormatVersion"] == "2010-09-09"


@pytest.mark.slow  # renders through the CLI (about a second each)
def test_json_prints_only_the_manifest(tmp_path: Path) -> None:
    out = tmp_path / "dist"
    result = invoke(*BASE, "--out", str(out), "--no-validate", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == manifest_of(out)
    assert result.stdout == (out / "manifest.json").read_text()


@pytest.mark.slow  # runs a process of its own (console script or pytest)
def test_json_of_console_script_is_only_the_manifest(tmp_path: Path) -> None:
    out = tmp_path / "dist"
    proc = run_script(*BASE, "--out", str(out), "--no-validate", "--json")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == manifest_of(out)
    assert proc.stdout == (out / "manifest.json").read_text()


@pytest.mark.slow  # runs a process of its own (console script or pytest)
def test_validated_render_shows_its_steps_on_stderr_only(tmp_path: Path) -> None:
    """Not a terminal: one plain, unwrapped `... step` line each; stdout keeps only the --json manifest."""
    out = tmp_path / "dist"
    proc = run_script(*BASE, "--out", str(out), "--json")
    assert proc.returncode == 0, proc.stderr
    steps = [line for line in proc.stderr.splitlines() if line.startswith("... ")]
    templates = [a for a in manifest_of(out)["artifacts"] if a["path"].endswith(".yaml")]
    assert steps[0].startswith("... rendering")
    assert [s for s in steps if s.startswith("... cfn-lint")] == [
        f"... cfn-lint {n}/{len(templates)}: {a['path']}" for n, a in enumerate(templates, start=1)
    ]
    assert steps[-1].startswith("... IAM, resource-policy and data checks; release gates")
    assert proc.stdout == (out / "manifest.json").read_text()


@pytest.mark.slow  # renders through the CLI (about a second each)
def test_same_inputs_give_identical_files(tmp_path: Path) -> None:
    first, second = tmp_path / "a", tmp_path / "b"
    args = [*BASE, "--deploy-regions", "eu-west-1,us-east-1", "--no-validate"]
    assert invoke(*args, "--out", str(first)).exit_code == 0
    assert invoke(*args, "--out", str(second)).exit_code == 0
    files = sorted(p.name for p in first.iterdir())
    assert files == sorted(p.name for p in second.iterdir())
    for name in files:
        assert (first / name).read_bytes() == (second / name).read_bytes(), name


@pytest.mark.slow  # runs a process of its own (console script or pytest)
def test_console_script_renders_the_same_bytes_as_in_process(tmp_path: Path) -> None:
    assert invoke(*BASE, "--out", str(tmp_path / "a"), "--no-validate").exit_code == 0
    proc = run_script(*BASE, "--out", str(tmp_path / "b"), "--no-validate")
    assert proc.returncode == 0, proc.stderr
    for path in (tmp_path / "a").iterdir():
        assert path.read_bytes() == (tmp_path / "b" / path.name).read_bytes()


USER_ERRORS: list[tuple[str, list[str], str]] = [
    ("bad-ou", ["--staging-ou", "ou-x"], "--staging-ou"),
    ("same-ou", ["--prod-ou", STAGING_OU], "--prod-ou"),
    ("unknown-region", ["--region", "eu-west-9"], "--region"),
    ("unknown-deploy-region", ["--deploy-regions", "eu-west-1,xx-east-1"], "--deploy-regions"),
    ("max-concurrent-0", ["--max-concurrent-percentage", "0"], "--max-concurrent-percentage"),
    ("tolerance-101", ["--failure-tolerance-percentage", "101"], "--failure-tolerance-percentage"),
    ("tolerance-negative", ["--failure-tolerance-percentage", "-1"], "--failure-tolerance-percentage"),
    ("connection-without-source", ["--connection-arn", CONNECTION_ARN], "--connection-arn"),
    ("codeconnections-without-arn", ["--source", "codeconnections", "--repository", "a/b"], "--connection-arn"),
    ("bad-prefix", ["--name-prefix", "acme-"], "--name-prefix"),
    ("bad-role", ["--target-role-name", "a b"], "--target-role-name"),
    ("bad-branch", ["--branch", "a..b"], "--branch"),
    ("markup-in-value", ["--branch", "[/x]"], "--branch"),
    ("unknown-source", ["--source", "github"], "--source"),  # rejected by Typer's choice check
    ("not-a-number", ["--max-concurrent-percentage", "ten"], "--max-concurrent-percentage"),
    ("missing-config", ["--config", "nope.toml"], "--config"),
]


@pytest.mark.parametrize(("args", "flag"), [r[1:] for r in USER_ERRORS], ids=[r[0] for r in USER_ERRORS])
def test_user_error_exits_2_names_flag_and_writes_nothing(tmp_path: Path, args: list[str], flag: str) -> None:
    out = tmp_path / "dist"
    result = invoke(*BASE, *args, "--out", str(out), "--no-validate")
    assert result.exit_code == 2, result.output
    assert flag in result.stderr
    assert result.stdout == ""
    assert "Traceback" not in result.output
    assert not out.exists()
    assert leftovers(tmp_path) == []


def test_user_error_is_one_line(tmp_path: Path) -> None:
    result = invoke(*BASE, "--branch", "[/x]", "--out", str(tmp_path / "dist"))
    assert result.stderr.count("\n") == 1
    assert result.stderr.startswith("error: --branch: ")
    assert "'[/x]'" in result.stderr  # markup characters are printed as is
    assert "1-255 letters, digits and ._/-" in result.stderr and "\\w" not in result.stderr  # the rule in words


def test_user_error_of_console_script(tmp_path: Path) -> None:
    proc = run_script(*BASE, "--prod-ou", STAGING_OU, "--out", str(tmp_path / "dist"))
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert proc.stderr.strip().splitlines() == [
        f"error: --prod-ou: must differ from --staging-ou (both are {STAGING_OU})"
    ]
    assert leftovers(tmp_path) == []


def test_missing_region_names_flag_and_env_vars(tmp_path: Path) -> None:
    args = [a for a in BASE if a not in ("--region", "eu-west-1")]
    result = invoke(*args, "--out", str(tmp_path / "dist"))
    assert result.exit_code == 2
    assert "--region" in result.stderr and "AWS_REGION" in result.stderr and "AWS_DEFAULT_REGION" in result.stderr


@pytest.mark.slow  # renders through the CLI (about a second each)
def test_region_from_environment(tmp_path: Path) -> None:
    args = [a for a in BASE if a not in ("--region", "eu-west-1")]
    result = invoke(*args, "--out", str(tmp_path / "dist"), "--no-validate", env={"AWS_DEFAULT_REGION": "us-east-2"})
    assert result.exit_code == 0, result.output
    assert manifest_of(tmp_path / "dist")["home_region"] == "us-east-2"


def test_non_empty_out_needs_force_and_force_never_touches_a_user_file(tmp_path: Path) -> None:
    out = tmp_path / "dist"
    out.mkdir()
    (out / "old.txt").write_text("old")
    result = invoke(*BASE, "--out", str(out), "--no-validate")
    assert result.exit_code == 2
    assert "--out" in result.stderr and "--force" in result.stderr
    assert sorted(p.name for p in out.iterdir()) == ["old.txt"]
    assert leftovers(tmp_path) == ["dist"]

    # --force replaces only a previous render: a folder of the user's is refused, its file intact.
    result = invoke(*BASE, "--out", str(out), "--no-validate", "--force")
    assert result.exit_code == 2, result.output
    assert "no manifest.json of mlops-gen" in result.stderr and "old.txt" in result.stderr
    assert (out / "old.txt").read_text() == "old" and sorted(p.name for p in out.iterdir()) == ["old.txt"]
    assert leftovers(tmp_path) == ["dist"]


@pytest.mark.slow  # renders through the CLI (about a second each)
def test_force_replaces_a_previous_render(tmp_path: Path) -> None:
    out = tmp_path / "dist"
    assert invoke(*BASE, "--out", str(out), "--no-validate").exit_code == 0
    before = manifest_of(out)
    result = invoke(*BASE, "--out", str(out), "--no-validate", "--force", "--format", "json")
    assert result.exit_code == 0, result.output
    after = manifest_of(out)
    assert {a["path"] for a in after["artifacts"]} != {a["path"] for a in before["artifacts"]}
    on_disk = {p.name for p in out.iterdir()}
    assert on_disk == {a["path"] for a in after["artifacts"]} | {"manifest.json"}  # the old .yaml files are gone
    assert leftovers(tmp_path) == ["dist"]


@pytest.mark.slow  # renders through the CLI (about a second each)
def test_force_refuses_a_previous_render_with_a_user_file_beside_it(tmp_path: Path) -> None:
    out = tmp_path / "dist"
    assert invoke(*BASE, "--out", str(out), "--no-validate").exit_code == 0
    (out / "notes.md").write_text("mine")
    edited = out / "product-template.yaml"
    edited.write_text(edited.read_text() + "# my change\n")
    snapshot = {p.name: p.read_bytes() for p in out.iterdir()}
    result = invoke(*BASE, "--out", str(out), "--no-validate", "--force")
    assert result.exit_code == 2
    assert "not written by mlops-gen: notes.md" in result.stderr
    assert "edited since the render: product-template.yaml" in result.stderr
    assert {p.name: p.read_bytes() for p in out.iterdir()} == snapshot
    assert leftovers(tmp_path) == ["dist"]


@pytest.mark.slow  # runs a process of its own (console script or pytest)
def test_force_on_a_git_checkout_is_refused_and_nothing_is_touched(tmp_path: Path) -> None:
    repo = tmp_path / "myproject"
    (repo / ".git").mkdir(parents=True)
    (repo / ".git" / "HEAD").write_text("ref: refs/heads/main\n")
    (repo / "README.md").write_text("mine")
    (repo / "src").mkdir()
    (repo / "src" / "app.py").write_text("print()")
    snapshot = sorted((p.relative_to(repo).as_posix(), p.read_bytes() if p.is_file() else b"") for p in repo.rglob("*"))
    proc = subprocess.run(
        [sys.executable, "-m", "generator", *BASE, "--out", ".", "--no-validate", "--force"],
        cwd=repo,
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr and ".git" in proc.stderr
    assert (
        sorted((p.relative_to(repo).as_posix(), p.read_bytes() if p.is_file() else b"") for p in repo.rglob("*"))
        == snapshot
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["myproject"]


@pytest.mark.slow  # renders through the CLI (about a second each)
def test_a_manifest_listing_paths_outside_is_no_licence_to_delete(tmp_path: Path) -> None:
    out = tmp_path / "dist"
    assert invoke(*BASE, "--out", str(out), "--no-validate").exit_code == 0
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me")
    data = manifest_of(out)
    data["artifacts"].append({"kind": "seed-bundle", "path": "../victim.txt", "sha256": "0" * 64})
    (out / "manifest.json").write_text(json.dumps(data))
    result = invoke(*BASE, "--out", str(out), "--no-validate", "--force")
    assert result.exit_code == 2 and "lists paths outside the folder (../victim.txt)" in result.stderr
    assert victim.read_text() == "keep me"


@pytest.mark.slow  # renders through the CLI (about a second each)
def test_empty_read_only_out_keeps_its_mode(tmp_path: Path) -> None:
    out = tmp_path / "dist"
    out.mkdir()
    out.chmod(0o555)
    result = invoke(*BASE, "--out", str(out), "--no-validate")
    if os.geteuid() == 0:  # root writes into a read-only folder: the files land, the folder stays as it was
        assert result.exit_code == 0, result.output
        assert (out / "manifest.json").is_file()
    else:
        assert result.exit_code == 2 and "cannot write" in result.stderr
    assert out.stat().st_mode & 0o777 == 0o555
    assert leftovers(tmp_path) == ["dist"]
    out.chmod(0o755)


@pytest.mark.slow  # renders through the CLI (about a second each)
def test_empty_out_is_used_without_force(tmp_path: Path) -> None:
    out = tmp_path / "dist"
    out.mkdir()
    assert invoke(*BASE, "--out", str(out), "--no-validate").exit_code == 0
    assert (out / "manifest.json").is_file()


def test_out_that_is_a_file(tmp_path: Path) -> None:
    out = tmp_path / "somefile"
    out.write_text("x")
    result = invoke(*BASE, "--out", str(out), "--no-validate", "--force")
    assert result.exit_code == 2
    assert "--out" in result.stderr and "not a folder" in result.stderr
    assert out.read_text() == "x"


def test_out_under_a_regular_file(tmp_path: Path) -> None:
    """Unwritable --out that even root cannot create: its parent is a regular file."""
    (tmp_path / "somefile").write_text("x")
    out = tmp_path / "somefile" / "out"
    result = invoke(*BASE, "--out", str(out), "--no-validate")
    assert result.exit_code == 2, result.output
    assert result.stderr.startswith("error: --out: ")
    assert "somefile is a file, not a folder" in result.stderr
    assert "Traceback" not in result.output
    assert leftovers(tmp_path) == []


@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores directory permissions")
def test_out_in_read_only_folder(tmp_path: Path) -> None:
    parent = tmp_path / "keep"
    parent.mkdir()
    parent.chmod(0o555)
    try:
        result = invoke(*BASE, "--out", str(parent / "dist"), "--no-validate")
    finally:
        parent.chmod(0o755)
    assert result.exit_code == 2, result.output
    assert result.stderr.startswith("error: --out: cannot write to")
    assert list(parent.iterdir()) == []


# --- config files ---------------------------------------------------------------------------------------------


@pytest.mark.slow  # renders through the CLI (about a second each)
def test_config_file_in_current_folder_is_found(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "mlops-gen.toml").write_text(
        f'staging-ou = "{STAGING_OU}"\nprod-ou = "{PROD_OU}"\nregion = "ap-southeast-2"\nbranch = "release"\n'
    )
    monkeypatch.chdir(tmp_path)
    result = invoke("render", "--out", "dist", "--no-validate")
    assert result.exit_code == 0, result.output
    assert manifest_of(tmp_path / "dist")["home_region"] == "ap-southeast-2"
    assert "BranchName: release" in (tmp_path / "dist" / "product-template.yaml").read_text()


@pytest.mark.slow  # runs a process of its own (console script or pytest)
def test_config_file_found_by_console_script(tmp_path: Path) -> None:
    (tmp_path / "mlops-gen.toml").write_text(
        f'staging-ou = "{STAGING_OU}"\nprod-ou = "{PROD_OU}"\nregion = "us-west-2"\n'
    )
    proc = run_script("render", "--out", "dist", "--no-validate", "--json", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["home_region"] == "us-west-2"


@pytest.mark.slow  # renders through the CLI (about a second each)
def test_explicit_config_and_flag_precedence(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "keep" / "team.toml"
    config.parent.mkdir()
    config.write_text(f'staging-ou = "{STAGING_OU}"\nprod-ou = "{PROD_OU}"\nregion = "eu-north-1"\n')
    # A file in the current folder is ignored when --config names another.
    (tmp_path / "mlops-gen.toml").write_text('region = "nowhere-1"\n')
    monkeypatch.chdir(tmp_path)
    result = invoke("render", "--config", str(config), "--out", "a", "--no-validate")
    assert result.exit_code == 0, result.output
    assert manifest_of(tmp_path / "a")["home_region"] == "eu-north-1"
    # eu-south-1 is an opt-in region: deployed to (the default deploy region is the home region) only with the flag.
    args = ("render", "--config", str(config), "--region", "eu-south-1", "--out", "b", "--no-validate")
    refused = invoke(*args)
    assert refused.exit_code == 2 and "eu-south-1 is an opt-in region" in refused.output
    result = invoke(*args, "--opt-in-regions-enabled")
    assert result.exit_code == 0, result.output
    assert manifest_of(tmp_path / "b")["home_region"] == "eu-south-1"


def test_bad_config_file_value_names_the_key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "mlops-gen.toml").write_text(
        f'staging-ou = "{STAGING_OU}"\nprod-ou = "{PROD_OU}"\nregion = "eu-west-1"\nmax-concurrent-percentage = 0\n'
    )
    monkeypatch.chdir(tmp_path)
    result = invoke("render", "--out", "dist", "--no-validate")
    assert result.exit_code == 2
    assert "--max-concurrent-percentage (max-concurrent-percentage in the config file)" in result.stderr
    assert leftovers(tmp_path) == []


def test_unknown_config_key_is_rejected(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "mlops-gen.toml").write_text('regoin = "eu-west-1"\n')
    monkeypatch.chdir(tmp_path)
    result = invoke(*BASE, "--out", "dist", "--no-validate")
    assert result.exit_code == 2
    assert "regoin" in result.stderr and "--config" in result.stderr
    assert leftovers(tmp_path) == []


# --- validation -----------------------------------------------------------------------------------------------

#: cfn-lint rejects this: `BucketNam` is not a property of AWS::S3::Bucket (E3002).
BAD_TEMPLATE = b"""AWSTemplateFormatVersion: '2010-09-09'
Resources:
  Bucket:
    Type: AWS::S3::Bucket
    Properties:
      BucketNam: sagemaker-bad
"""


def _bad_renderer(cfg: RenderConfig) -> list[RenderedFile]:
    return [RenderedFile("prerequisites-template", "bad-template.yaml", BAD_TEMPLATE)]


@pytest.mark.slow  # validates whole renders (cfn-lint and every folder check)
@pytest.mark.shared_cache("patches only the renderers: their output is what the cache key covers")
def test_validation_failure_leaves_no_output(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(render, "RENDERERS", (*render.RENDERERS, _bad_renderer))
    out = tmp_path / "dist"
    result = invoke(*BASE, "--out", str(out))
    assert result.exit_code == 1, result.output
    assert "bad-template.yaml" in result.stderr and "E3002" in result.stderr
    assert not out.exists()
    assert leftovers(tmp_path) == []


@pytest.mark.slow  # validates whole renders (cfn-lint and every folder check)
@pytest.mark.shared_cache("patches only the renderers: their output is what the cache key covers")
def test_validation_failure_keeps_previous_output(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "dist"
    assert invoke(*BASE, "--out", str(out), "--no-validate").exit_code == 0
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    monkeypatch.setattr(render, "RENDERERS", (*render.RENDERERS, _bad_renderer))
    result = invoke(*BASE, "--out", str(out), "--force", "--deploy-regions", "eu-west-1,us-east-1")
    assert result.exit_code == 1
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    assert leftovers(tmp_path) == ["dist"]


@pytest.mark.slow  # validates whole renders (cfn-lint and every folder check)
def test_render_with_validation(tmp_path: Path) -> None:
    result = invoke(*BASE, "--out", str(tmp_path / "dist"))
    assert result.exit_code == 0, result.output
    assert "validated" in result.stdout and "not validated" not in result.stdout


def test_validate_folder_without_manifest(tmp_path: Path) -> None:
    result = invoke("validate", str(tmp_path))
    assert result.exit_code == 2
    assert "manifest.json" in result.stderr and str(tmp_path) in result.stderr
    assert "mlops-gen render" in result.stderr
    assert "Traceback" not in result.output


@pytest.mark.slow  # validates whole renders (cfn-lint and every folder check)
def test_validate_json_of_a_good_render(tmp_path: Path) -> None:
    assert invoke(*BASE, "--out", str(tmp_path / "dist"), "--no-validate").exit_code == 0
    result = invoke("validate", str(tmp_path / "dist"), "--json")
    assert json.loads(result.stdout) == {"findings": []}
    assert result.exit_code == 0


def _bad_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "bad"
    folder.mkdir()
    (folder / "product-template.yaml").write_bytes(BAD_TEMPLATE)
    manifest = {
        "generator": "test",
        "home_region": "eu-west-1",
        "deploy_regions": ["eu-west-1"],
        "artifacts": [
            {
                "kind": "product-template",
                "path": "product-template.yaml",
                "sha256": hashlib.sha256(BAD_TEMPLATE).hexdigest(),
            }
        ],
    }
    (folder / "manifest.json").write_text(json.dumps(manifest))
    return folder


def test_validate_json_reports_findings(tmp_path: Path) -> None:
    result = invoke("validate", str(_bad_folder(tmp_path)), "--json")
    assert result.exit_code == 1
    findings = json.loads(result.stdout)["findings"]
    assert any(f["rule"] == "E3002" and f["path"] == "product-template.yaml" and f["line"] == 6 for f in findings)
    assert all(set(f) == {"path", "line", "rule", "message"} for f in findings)


def test_validate_text_reports_findings(tmp_path: Path) -> None:
    result = invoke("validate", str(_bad_folder(tmp_path)))
    assert result.exit_code == 1
    assert "E3002 product-template.yaml:6" in result.stdout
    assert "finding(s)" in result.stdout


# --- start-up cost --------------------------------------------------------------------------------------------

HEAVY = ("boto3", "botocore", "cfnlint", "moto")


def imported_modules(*args: str, cwd: Path) -> set[str]:
    """Top-level packages a `python -m generator ARGS` process imports (from `-X importtime`)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "generator", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    lines = [line for line in proc.stderr.splitlines() if line.startswith("import time:") and "|" in line]
    return {line.rsplit("|", 1)[1].strip().split(".")[0] for line in lines}


@pytest.mark.slow  # runs a process of its own (console script or pytest)
def test_render_no_validate_does_not_import_aws_sdk_or_cfn_lint(tmp_path: Path) -> None:
    modules = imported_modules(*BASE, "--out", str(tmp_path / "dist"), "--no-validate", cwd=tmp_path)
    assert "troposphere" in modules  # the parse worked: the render really ran
    assert not modules & {"rich", *HEAVY}, sorted(modules & {"rich", *HEAVY})


def test_version_imports_neither_troposphere_nor_rich(tmp_path: Path) -> None:
    modules = imported_modules("--version", cwd=tmp_path)
    assert "typer" in modules
    assert not modules & {"troposphere", "rich", *HEAVY}, sorted(modules & {"troposphere", "rich", *HEAVY})


# --- the error boundary: exit codes, --json errors, bugs, Ctrl-C ---------------------------------------


def test_json_error_object_on_stdout(tmp_path: Path) -> None:
    result = invoke("render", "--staging-ou", "bad", "--prod-ou", PROD_OU, "--out", str(tmp_path / "o"), "--json")
    assert result.exit_code == 2
    error = json.loads(result.stdout)["error"]
    assert error["flag"] == "--staging-ou" and error["exit_code"] == 2 and "organizational unit" in error["rule"]


def test_an_unexpected_exception_is_a_short_bug_report(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import generator.render

    def broken(cfg: Any) -> Any:
        raise ZeroDivisionError("division by zero")

    monkeypatch.setattr(generator.render, "render_files", broken)
    result = invoke(*BASE, "--out", str(tmp_path / "o"), "--no-validate")
    assert result.exit_code == 70
    assert "unexpected ZeroDivisionError: division by zero" in result.stderr
    assert "bug in mlops-gen" in result.stderr and "/issues" in result.stderr
    assert "Traceback" not in result.stderr and not (tmp_path / "o").exists()


def test_ctrl_c_in_a_command_exits_130_and_keeps_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import generator.render

    def interrupted(cfg: Any) -> Any:
        raise KeyboardInterrupt

    monkeypatch.setattr(generator.render, "render_files", interrupted)
    result = invoke(*BASE, "--out", str(tmp_path / "o"), "--no-validate")
    assert result.exit_code == 130 and "interrupted" in result.stderr
    assert "Traceback" not in result.stderr and sorted(p.name for p in tmp_path.iterdir()) == []


def test_ctrl_c_while_the_arguments_are_parsed_is_reported_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """typer 0.28 answers a Ctrl-C during its argument parsing with a silent exit 130 (`typer.core._main`): the
    flaky case of the test below (about one run in 200 at a random moment). `main` says it; a command's own
    Ctrl-C is said once."""
    import typer.core

    import generator.render
    from generator import cli

    def interrupted(*args: Any, **kwargs: Any) -> Any:
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, "_INTERRUPTION_SAID", [])
    monkeypatch.setattr(sys, "argv", ["mlops-gen", *BASE, "--out", str(tmp_path / "o"), "--no-validate"])
    with monkeypatch.context() as parsing:
        parsing.setattr(typer.core.TyperGroup, "parse_args", interrupted)
        with pytest.raises(SystemExit) as exited:
            cli.main()
    assert exited.value.code == 130
    assert capsys.readouterr().err.count("interrupted") == 1
    monkeypatch.setattr(generator.render, "render_files", interrupted)
    with pytest.raises(SystemExit) as exited:
        cli.main()
    assert exited.value.code == 130
    assert capsys.readouterr().err.count("interrupted") == 1
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("delay_ms", [5, 30, 80, 140, 200])
@pytest.mark.slow  # starts mlops-gen in a subprocess per case
def test_ctrl_c_in_the_first_200_ms_gives_no_traceback(tmp_path: Path, delay_ms: int) -> None:
    """SIGINT at any moment of mlops-gen's first 200 ms (importing the CLI, parsing, rendering): one line.

    The clock starts when the interpreter has finished its own start-up (`site`, which on a loaded
    machine can itself take longer than 200 ms) and the console script has imported `generator.main`
    (a module of two names): a signal before that is Python's, not ours. Then `main()` runs.
    """
    import signal
    import time

    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    code = (
        "import sys; from generator import main; "
        f"sys.argv = ['mlops-gen', *{[*BASE, '--out', str(tmp_path / 'o')]!r}]; "
        "sys.stdout.write('ready\\n'); sys.stdout.flush(); main()"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=tmp_path
    )
    assert proc.stdout is not None and proc.stdout.readline() == "ready\n"
    time.sleep(delay_ms / 1000)
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=120)
    assert "Traceback" not in stderr
    assert proc.returncode in (130, 0), stderr  # 0: it had already finished
    if proc.returncode == 130:
        assert "interrupted" in stderr
        assert not (tmp_path / "o").exists()
        assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_usage_errors_of_the_console_script_read_like_every_other_error() -> None:
    proc = run_script("render", "--format", "xml")
    assert proc.returncode == 2
    assert (
        proc.stderr.startswith("error: Invalid value for '--format'")
        and "(see: mlops-gen render --help)" in proc.stderr
    )
    assert "Traceback" not in proc.stderr and "╭" not in proc.stderr


def test_rehearse_accepts_100_accounts_per_ou_and_caps_a_typo(tmp_path: Path) -> None:
    """The cap on `--accounts-per-ou` stops a typo (benchmarks/README.md measures 100 per stage), nothing more:
    100 passes the option check and fails only on the missing folder."""
    missing = str(tmp_path / "missing")
    too_many = invoke("rehearse", missing, "--approve", "--accounts-per-ou", "201")
    assert too_many.exit_code == 2 and "--accounts-per-ou" in too_many.output, too_many.output
    allowed = invoke("rehearse", missing, "--approve", "--accounts-per-ou", "100")
    assert allowed.exit_code == 2 and "no manifest.json" in allowed.output, allowed.output
