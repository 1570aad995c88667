"""Bad input a user can give, and what each gets: one clear message, the documented exit code, no traceback.

Each case runs the real CLI (typer's runner, same process). `docs/bad-input.md` is generated from these
cases' actual results: `pytest tests/test_bad_input.py --update-golden` rewrites it, and the test fails
when the file and the results differ, so the table can never drift from what the tool does.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from typer.testing import CliRunner

from generator.cli import app
from tests.conftest import PROD_OU, STAGING_OU

DOC = Path(__file__).resolve().parents[1] / "docs" / "bad-input.md"
runner = CliRunner()
OUS = ["--staging-ou", STAGING_OU, "--prod-ou", PROD_OU, "--region", "eu-west-1"]
#: No credentials, region or profile from the machine (None: unset for the run).
NO_AWS: dict[str, str | None] = {
    "AWS_ACCESS_KEY_ID": None,
    "AWS_SECRET_ACCESS_KEY": None,
    "AWS_SESSION_TOKEN": None,
    "AWS_PROFILE": None,
    "AWS_REGION": None,
    "AWS_DEFAULT_REGION": None,
    "AWS_CONFIG_FILE": "/nonexistent/config",
    "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent/credentials",
    "AWS_EC2_METADATA_DISABLED": "true",
}


@dataclass(frozen=True)
class Case:
    """One bad input: the arguments (`{tmp}`: a fresh folder, `{dist}`: a good render there), what to set up
    first, and the exit code and message fragment the user must get."""

    name: str
    args: list[str]
    exit_code: int
    message: str
    setup: Callable[[Path], None] | None = None
    env: dict[str, str | None] = field(default_factory=dict)


def _render(tmp: Path) -> None:
    result = runner.invoke(app, ["render", *OUS, "--out", str(tmp / "dist"), "--no-validate"])
    assert result.exit_code == 0, result.output


def _then(*steps: Callable[[Path], None]) -> Callable[[Path], None]:
    def run(tmp: Path) -> None:
        for step in steps:
            step(tmp)

    return run


def _edit_product(tmp: Path) -> None:
    path = tmp / "dist" / "product-template.yaml"
    path.write_text(path.read_text() + "# edited\n")


def _drop_product(tmp: Path) -> None:
    (tmp / "dist" / "product-template.yaml").unlink()


def _corrupt_zip(tmp: Path) -> None:
    """A truncated bundle whose manifest entry was re-sealed: the archive itself must be refused."""
    from tests.edit import reseal

    path = tmp / "dist" / "seedcode-modeldeploy.zip"
    path.write_bytes(path.read_bytes()[:200])
    reseal(tmp / "dist")


def _escape_manifest(tmp: Path) -> None:
    manifest = tmp / "dist" / "manifest.json"
    data = json.loads(manifest.read_text())
    data["artifacts"].append({"kind": "seed-bundle", "path": "../../etc/passwd", "sha256": "0" * 64})
    manifest.write_text(json.dumps(data))


def _user_file(tmp: Path) -> None:
    (tmp / "dist").mkdir()
    (tmp / "dist" / "notes.txt").write_text("mine")


def _a_file(name: str) -> Callable[[Path], None]:
    def make(tmp: Path) -> None:
        (tmp / name).write_text("x")

    return make


def _toml(text: str) -> Callable[[Path], None]:
    def make(tmp: Path) -> None:
        (tmp / "bad.toml").write_text(text)

    return make


CASES = [
    # render: flags
    Case("render without OUs", ["render", "--region", "eu-west-1", "--out", "{tmp}/o"], 2, "--staging-ou: is required"),
    Case(
        "render, malformed OU", ["render", *OUS[:1], "ou-1", *OUS[2:], "--out", "{tmp}/o"], 2, "--staging-ou: must be"
    ),
    Case("render, same OU twice", ["render", *OUS[:2], "--prod-ou", STAGING_OU, "--region", "eu-west-1"], 2, "prod-ou"),
    Case("render, unknown region", ["render", *OUS[:4], "--region", "nowhere-1", "--out", "{tmp}/o"], 2, "--region"),
    Case("render, no region anywhere", ["render", *OUS[:4], "--out", "{tmp}/o"], 2, "--region: no home region"),
    Case(
        "render, unknown deploy region",
        ["render", *OUS, "--deploy-regions", "eu-west-1,mars-1", "--out", "{tmp}/o"],
        2,
        "--deploy-regions",
    ),
    Case(
        "render, opt-in deploy region",
        ["render", *OUS, "--deploy-regions", "eu-west-1,af-south-1", "--out", "{tmp}/o"],
        2,
        "af-south-1 is an opt-in region",
    ),
    Case(
        "render, bad seed bucket", ["render", *OUS, "--seed-bucket", "Bad_Bucket", "--out", "{tmp}/o"], 2, "S3 bucket"
    ),
    Case(
        "render, percentage 0", ["render", *OUS, "--max-concurrent-percentage", "0", "--out", "{tmp}/o"], 2, "percent"
    ),
    Case("render, bad name prefix", ["render", *OUS, "--name-prefix", "My-", "--out", "{tmp}/o"], 2, "--name-prefix"),
    Case("render, unknown format", ["render", *OUS, "--format", "xml", "--out", "{tmp}/o"], 2, "--format"),
    Case(
        "render, project roles with the standard launch role",
        ["render", *OUS, "--launch-role", "standard", "--service-roles", "project", "--out", "{tmp}/o"],
        2,
        "--service-roles: project needs --launch-role generated",
    ),
    Case("render, bad approver email", ["render", *OUS, "--approver-email", "nobody", "--out", "{tmp}/o"], 2, "email"),
    Case("render, --kms-key an alias", ["render", *OUS, "--kms-key", "alias/mine", "--out", "{tmp}/o"], 2, "--kms-key"),
    Case(
        "render, --kms-key in another region",
        ["render", *OUS, "--kms-key", "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"],
        2,
        "home region",
    ),
    Case(
        "render, generated key with the standard launch role",
        ["render", *OUS, "--kms-key", "generated", "--launch-role", "standard", "--out", "{tmp}/o"],
        2,
        "kms:CreateKey",
    ),
    Case(
        "render, connection without source",
        ["render", *OUS, "--connection-arn", "arn:aws:codeconnections:eu-west-1:123456789012:connection/x"],
        2,
        "--connection-arn",
    ),
    Case("render, unknown flag", ["render", *OUS, "--stagingou", "x"], 2, "No such option"),
    Case("unknown command", ["rendr"], 2, "No such command"),
    # render: the output folder
    Case(
        "render --out is a file", ["render", *OUS, "--out", "{tmp}/somefile"], 2, "is not a folder", _a_file("somefile")
    ),
    Case("render --out under a file", ["render", *OUS, "--out", "{tmp}/f/out"], 2, "is a file", _a_file("f")),
    Case("render into a folder of the user's", ["render", *OUS, "--out", "{tmp}/dist"], 2, "--force", _user_file),
    Case(
        "render --force over a folder of the user's",
        ["render", *OUS, "--out", "{tmp}/dist", "--force"],
        2,
        "no manifest.json of mlops-gen",
        _user_file,
    ),
    Case(
        "render --force over an edited render",
        ["render", *OUS, "--out", "{tmp}/dist", "--force", "--no-validate"],
        2,
        "edited since the render",
        _then(_render, _edit_product),
    ),
    # render: the config file
    Case("config file missing", ["render", *OUS, "--config", "{tmp}/none.toml"], 2, "--config"),
    Case("config file not TOML", ["render", *OUS, "--config", "{tmp}/bad.toml"], 2, "--config", _toml("= nope")),
    Case(
        "config file unknown key", ["render", *OUS, "--config", "{tmp}/bad.toml"], 2, "regoin", _toml('regoin = "x"\n')
    ),
    Case("config file wrong type", ["render", *OUS, "--config", "{tmp}/bad.toml"], 2, "branch", _toml("branch = 3\n")),
    # commands that read a render folder
    Case("validate a missing folder", ["validate", "{tmp}/nothing"], 2, "has no manifest.json"),
    Case("validate a file", ["validate", "{tmp}/somefile"], 2, "is a file", _a_file("somefile")),
    Case(
        "validate an edited render",
        ["validate", "{tmp}/dist"],
        2,
        "was changed after the render",
        _then(_render, _edit_product),
    ),
    Case(
        "validate with a file missing",
        ["validate", "{tmp}/dist"],
        2,
        "is listed but missing",
        _then(_render, _drop_product),
    ),
    Case(
        "validate a corrupt seed zip", ["validate", "{tmp}/dist"], 2, "not a readable zip", _then(_render, _corrupt_zip)
    ),
    Case(
        "validate, manifest path escapes",
        ["validate", "{tmp}/dist"],
        2,
        "outside the folder",
        _then(_render, _escape_manifest),
    ),
    Case(
        "graph an edited render",
        ["graph", "{tmp}/dist"],
        2,
        "was changed after the render",
        _then(_render, _edit_product),
    ),
    Case("graph --format svg", ["graph", "{tmp}/dist", "--format", "svg"], 2, "--format", _render),
    Case(
        "graph --out in a missing folder", ["graph", "{tmp}/dist", "--out", "{tmp}/no/g.md"], 2, "cannot write", _render
    ),
    Case(
        "rehearse an edited render",
        ["rehearse", "{tmp}/dist", "--approve"],
        2,
        "changed after",
        _then(_render, _edit_product),
    ),
    Case(
        "publish an edited render",
        ["publish", "{tmp}/dist", "--bucket", "b-1", "--dry-run"],
        2,
        "changed after",
        _then(_render, _edit_product),
    ),
    Case("publish without a seed bucket", ["publish", "{tmp}/dist", "--dry-run"], 2, "--bucket: is required", _render),
    Case("publish, bad bucket name", ["publish", "{tmp}/dist", "--bucket", "B", "--dry-run"], 2, "--bucket", _render),
    Case("publish, unknown --via", ["publish", "{tmp}/dist", "--bucket", "b-1", "--via", "ftp"], 2, "--via", _render),
    Case(
        "publish s3-template without a domain",
        ["publish", "{tmp}/dist", "--bucket", "b-1", "--via", "s3-template", "--dry-run"],
        2,
        "--domain-id",
        _render,
    ),
    Case(
        "publish, endpoint URL not a URL",
        ["publish", "{tmp}/dist", "--bucket", "b-1", "--endpoint-url", "notaurl"],
        2,
        "--endpoint-url: must be an http:// or https:// URL",
        _render,
    ),
    Case(
        "publish, bad principal ARN",
        ["publish", "{tmp}/dist", "--bucket", "b-1", "--principal-arn", "me", "--dry-run"],
        2,
        "--principal-arn",
        _render,
    ),
    # destroy and doctor
    Case(
        "destroy, bad project name",
        ["destroy", "--project-name", "Iris!", "--project-id", "p-abc", "--region", "eu-west-1"],
        2,
        "--project-name: must be",
    ),
    Case(
        "destroy, bad project id",
        ["destroy", "--project-name", "iris", "--project-id", "P_1", "--region", "eu-west-1"],
        2,
        "--project-id: must be",
    ),
    Case(
        "destroy --yes --dry-run",
        ["destroy", "--project-name", "iris", "--project-id", "p-abc", "--yes", "--dry-run"],
        2,
        "give one of them",
    ),
    Case(
        "destroy without credentials",
        ["destroy", "--project-name", "iris", "--project-id", "p-abcdefghijkl", "--region", "eu-west-1"],
        2,
        "no AWS credentials found",
        env=NO_AWS,
    ),
    Case(
        "destroy, endpoint URL not a URL",
        ["destroy", "--project-name", "iris", "--project-id", "p-abc", "--region", "eu-west-1", "--endpoint-url", "x"],
        2,
        "--endpoint-url",
    ),
    Case("doctor, endpoint URL not a URL", ["doctor", *OUS, "--endpoint-url", "ftp://x"], 2, "--endpoint-url"),
    Case("doctor without credentials", ["doctor", *OUS], 2, "no AWS credentials found", env=NO_AWS),
]


def _run(case: Case, tmp: Path) -> tuple[int, str, str]:
    if case.setup is not None:
        case.setup(tmp)
    args = [a.replace("{tmp}", str(tmp)).replace("{dist}", str(tmp / "dist")) for a in case.args]
    result = runner.invoke(app, args, env={**NO_AWS, "COLUMNS": "200", **case.env})
    return result.exit_code, result.stdout, result.stderr


def _first_line(stderr: str, tmp: Path) -> str:
    """The message as a user reads it, with this run's temporary folder written as `TMP`."""
    lines = [line.strip(" │╭╮╰╯─") for line in stderr.splitlines() if not line.startswith("... ")]
    lines = [line for line in lines if line]
    usage = [line for line in lines if re.search(r"Error|Invalid value|No such|Missing", line)]
    text = usage[-1] if not any(line.startswith("error:") for line in lines) and usage else lines[0]
    text = text.replace(str(tmp.resolve()), "TMP").replace(str(tmp), "TMP")
    return re.sub(r"\s+", " ", text).strip()


#: What each case answered in this process: (exit code, stdout, stderr, the case's temporary folder).
Answers = dict[str, tuple[int, str, str, Path]]


@pytest.fixture(scope="session")
def answers() -> Answers:
    """The CLI's answers to the cases run so far in this process, so the generated doc reuses them instead of
    running every case a second time (scripts/test.sh runs each file on one xdist worker: `--dist loadscope`)."""
    return {}


#: A case that renders a folder first (`setup`) costs about a second of CPU: `slow` (tests/README.md).
PARAMS = [pytest.param(c, id=c.name, marks=[pytest.mark.slow] if c.setup is not None else []) for c in CASES]


@pytest.mark.parametrize("case", PARAMS)
def test_bad_input(case: Case, tmp_path: Path, answers: Answers) -> None:
    code, stdout, stderr = _run(case, tmp_path)
    answers[case.name] = (code, stdout, stderr, tmp_path)
    assert code == case.exit_code, stderr
    assert "Traceback" not in stderr + stdout
    assert case.message in " ".join(stderr.split()), stderr


def _table(tmp_root: Path, answers: Answers) -> str:
    """The doc, from each case's answer: the one `test_bad_input` got in this process, else a fresh run."""
    rows = []
    for number, case in enumerate(CASES):
        if case.name in answers:
            code, _, stderr, tmp = answers[case.name]
        else:
            tmp = tmp_root / str(number)
            tmp.mkdir()
            code, _, stderr = _run(case, tmp)
        shown = " ".join(a if len(a) < 40 else a[:37] + "..." for a in case.args).replace("{tmp}", "TMP")
        message = _first_line(stderr, tmp).replace("|", "\\|")
        rows.append(f"| {case.name} | `mlops-gen {shown}` | {code} | {message} |")
    return (
        "# Bad input: what each gets\n\n"
        "Generated by `pytest tests/test_bad_input.py --update-golden` from the cases in that file and what the\n"
        "CLI really answered; do not edit by hand. `TMP` stands for the test's temporary folder. Exit codes:\n"
        "0 ok, 1 findings or a failed AWS operation, 2 usage or input error, 70 a bug of mlops-gen, 130 Ctrl-C.\n\n"
        "| case | input | exit | message |\n| --- | --- | --- | --- |\n" + "\n".join(rows) + "\n"
    )


@pytest.mark.slow  # runs checkov or every bad-input case
def test_doc_is_generated_from_these_cases(tmp_path: Path, update_golden: bool, answers: Answers) -> None:
    text = _table(tmp_path, answers)
    if update_golden:
        DOC.parent.mkdir(exist_ok=True)
        DOC.write_text(text, encoding="utf-8")
    assert DOC.read_text(encoding="utf-8") == text, "docs/bad-input.md is stale: run with --update-golden"
