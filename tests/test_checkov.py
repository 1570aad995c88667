"""checkov on every template of every named configuration and the seed's endpoint template: no failed check,
and every skip earns its place.

A skip must (1) carry a reason, (2) name a check checkov runs on that resource type (else checkov ignores
it silently: a Terraform-only id, a typo), and (3) hide a real failure: checkov marks a skipped check
SKIPPED without evaluating it, so the only way to see that a skip hides nothing is to scan a copy of the
template without skips. Both scans are one checkov run (the module's `scans` fixture), started through
tests/checkov_launcher.py (PLY's parse tables kept: the same report for half the CPU, checked below).

The binary comes from $MLOPS_GEN_CHECKOV (scripts/test.sh sets it) or PATH. Without it the tests skip,
except under CI (env CI set), where a missing scanner must not look like a pass.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from dataclasses import dataclass, replace
from pathlib import Path

import pytest

from generator.checks.checkov import (
    NO_COMMENT,
    OFFLINE_ENV,
    CheckovError,
    CheckovNotFound,
    CheckovResult,
    checkov_command,
    declared_skips,
    find_checkov,
    load_template,
    run_checkov,
    strip_skips,
)
from generator.contract import EXPORT_TEMPLATE
from generator.manifest import read_manifest
from generator.render import build_manifest, write_output
from generator.shipped import SEED_DIR
from tests.conftest import CHECKOV_LAUNCHER, CONFIGS, checkov_argv, named_config, rendered_files

#: (template path relative to the render root, logical id, check id)
Key = tuple[str, str, str]

pytestmark = pytest.mark.slow  # runs checkov (its own environment) on rendered templates


#: The seed's endpoint template (the stack set's template, exported by build.py), scanned with the renders.
SEED_TEMPLATE = f"seedcode/{EXPORT_TEMPLATE}"


@pytest.fixture(scope="module")
def renders(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[str]]:
    """Every named configuration rendered into ROOT/<name>/, and the templates its manifest lists; and the
    seed's endpoint template (as shipped) at ROOT/SEED_TEMPLATE."""
    root = tmp_path_factory.mktemp("renders")
    templates: list[str] = []
    for name in sorted(CONFIGS):
        cfg = named_config(name)
        files = rendered_files(cfg)
        write_output(files, build_manifest(cfg, files), root / name, force=False)
        kinds = {a.kind: a.path for a in read_manifest(root / name).templates()}
        assert "product-template" in kinds, f"{name}: the manifest lists no product template"
        templates.extend(f"{name}/{path}" for path in sorted(kinds.values()))
    (root / SEED_TEMPLATE).parent.mkdir()
    shutil.copyfile(SEED_DIR / EXPORT_TEMPLATE, root / SEED_TEMPLATE)
    return root, [*templates, SEED_TEMPLATE]


def keyed(results: list[CheckovResult], root: Path) -> dict[Key, CheckovResult]:
    return {(r.file.relative_to(root).as_posix(), r.logical_id, r.check_id): r for r in results}


def distinct(root: Path, templates: list[str]) -> dict[str, list[str]]:
    """First template of each distinct text -> every template with that text: the named configurations share
    many templates byte for byte (53 templates, 41 distinct texts), and checkov's findings depend on a file's
    content alone, so each text is scanned once and a copy gets its twin's results under its own name."""
    twins: dict[bytes, list[str]] = {}
    for rel in templates:
        twins.setdefault((root / rel).read_bytes(), []).append(rel)
    return {rels[0]: rels for rels in twins.values()}


def spread(results: list[CheckovResult], root: Path, first: dict[str, list[str]]) -> dict[Key, CheckovResult]:
    """The results of the scanned files under `root`, given to every twin of each."""
    mine = [r for r in results if r.file.is_relative_to(root)]
    return {
        (rel, logical_id, check_id): replace(result, file=root / rel)
        for (scanned_rel, logical_id, check_id), result in keyed(mine, root).items()
        for rel in first[scanned_rel]
    }


def lines(keys: list[Key]) -> str:
    return "".join(f"\n  {rel}: {logical_id} {check_id}" for rel, logical_id, check_id in keys)


def all_declared_skips(root: Path, templates: list[str]) -> dict[Key, str]:
    skips: dict[Key, str] = {}
    for rel in templates:
        template = load_template((root / rel).read_text(encoding="utf-8"))
        skips.update({(rel, lid, cid): reason for (lid, cid), reason in declared_skips(template).items()})
    return skips


@dataclass(frozen=True)
class Scans:
    """checkov's failed and skipped checks of every template as rendered (`plain`) and of its copy without
    skips (`stripped`), keyed alike; and the skips the templates declare."""

    plain: dict[Key, CheckovResult]
    stripped: dict[Key, CheckovResult]
    declared: dict[Key, str]


@pytest.fixture(scope="module")
def scans(checkov_bin: Path, renders: tuple[Path, list[str]], tmp_path_factory: pytest.TempPathFactory) -> Scans:
    """Both scans in one checkov process: the rendered templates and their skip-stripped copies are different
    files in one `--file` list, so checkov starts once and its JSONPath and parse-table work is shared. A
    template that declares no skip is its own stripped copy (the same data): its results stand for both."""
    root, templates = renders
    declared = all_declared_skips(root, templates)
    skipping = sorted({rel for rel, _, _ in declared})
    stripped_root = tmp_path_factory.mktemp("stripped")
    for rel in skipping:
        stripped = strip_skips(load_template((root / rel).read_text(encoding="utf-8")))
        target = stripped_root / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps(stripped, indent=1), encoding="utf-8")  # JSON is YAML too: name kept
    plain_first, stripped_first = distinct(root, templates), distinct(stripped_root, skipping)
    files = [root / rel for rel in plain_first] + [stripped_root / rel for rel in stripped_first]
    results = run_checkov(files, checkov_bin, CHECKOV_LAUNCHER)
    plain = spread(results, root, plain_first)
    unskipped = {key: result for key, result in plain.items() if key[0] not in skipping}
    return Scans(plain=plain, stripped=unskipped | spread(results, stripped_root, stripped_first), declared=declared)


def test_no_failed_check_and_every_skip_applies(scans: Scans) -> None:
    results = list(scans.plain.values())
    failed = [r.describe() for r in results if not r.skipped]
    assert not failed, "checkov failed checks (fix the template, or skip with a reason):\n" + "\n".join(failed)

    declared = scans.declared
    blank = sorted(k for k, reason in declared.items() if not reason.strip() or reason == NO_COMMENT)
    assert not blank, "skips without a reason:" + lines(blank)
    applied = {k: r.comment for k, r in scans.plain.items() if r.skipped}
    ignored = sorted(set(declared) - set(applied))
    assert not ignored, "skips checkov never applies (no such check for the resource type, or a typo):" + lines(ignored)
    assert applied == declared, "checkov read other skips or reasons than the templates declare"


def test_no_skip_hides_a_passing_check(scans: Scans) -> None:
    failed = {k for k, r in scans.stripped.items() if not r.skipped}
    dead = sorted(set(scans.declared) - failed)
    assert not dead, "skips of checks that pass without them (remove the skip):" + lines(dead)
    unexplained = sorted(failed - set(scans.declared))
    assert not unexplained, "failures without a skip once skips are stripped:" + lines(unexplained)


def full_report(command: list[str]) -> list[str]:
    """Every passed, failed and skipped check of checkov's JSON report, each as canonical JSON, sorted."""
    env = {k: v for k, v in os.environ.items() if k != "BC_API_KEY"} | OFFLINE_ENV
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=300, check=True)
    report = json.loads(done.stdout)
    return sorted(
        json.dumps(check, sort_keys=True)
        for framework in (report if isinstance(report, list) else [report])
        for kind in ("passed_checks", "failed_checks", "skipped_checks")
        for check in framework["results"][kind]
    )


def test_the_launcher_reports_exactly_what_checkov_reports(checkov_bin: Path, renders: tuple[Path, list[str]]) -> None:
    """tests/checkov_launcher.py only keeps PLY's parse tables: on a template whose graph makes checkov parse
    JSONPath expressions many times (the launch role's nested policy statements: 24 parser builds), every
    check's full result (passed ones too, with their evaluated keys and lines) is the plain binary's. It also
    shows that checkov really scans the launch-role template (passed checks), which declares no skip: the scans
    above could not tell a template checkov ignored from a clean one."""
    root, _ = renders
    template = [root / "default" / "launch-role-template.yaml"]
    launched = checkov_command(template, checkov_bin, CHECKOV_LAUNCHER)
    assert launched[:2] == checkov_argv(checkov_bin) and launched[1] == str(CHECKOV_LAUNCHER)  # the launcher runs
    plain = full_report(checkov_command(template, checkov_bin))
    assert plain and any('"result": "PASSED"' in check for check in plain)
    assert full_report(launched) == plain


# The runner itself, on small templates whose findings are known.

BUCKETS = """\
AWSTemplateFormatVersion: '2010-09-09'
Resources:
  Plain:
    Type: AWS::S3::Bucket
  Skipped:
    Type: AWS::S3::Bucket
    Metadata:
      checkov:
        skip:
          - id: CKV_AWS_18
            comment: A reason.
          - id: CKV_AWS_147
            comment: A Terraform-only check, so checkov ignores this skip.
"""


def test_runner_reports_failures_and_skips_of_a_folder(checkov_bin: Path, tmp_path: Path) -> None:
    (tmp_path / "buckets.yaml").write_text(BUCKETS, encoding="utf-8")
    (tmp_path / "manifest.json").write_text('{"artifacts": []}', encoding="utf-8")  # not a template: ignored
    results = {(r.logical_id, r.check_id): r for r in run_checkov(tmp_path, checkov_bin)}
    assert {r.file for r in results.values()} == {tmp_path / "buckets.yaml"}
    assert not results[("Plain", "CKV_AWS_18")].skipped  # access logging: fails on a bare bucket
    assert not results[("Plain", "CKV_AWS_21")].skipped  # versioning
    skipped = results[("Skipped", "CKV_AWS_18")]
    assert skipped.skipped and skipped.comment == "A reason."
    assert not results[("Skipped", "CKV_AWS_21")].skipped
    assert ("Skipped", "CKV_AWS_147") not in results  # so test_no_failed_check_and_every_skip_applies catches it
    assert declared_skips(load_template(BUCKETS)) == {
        ("Skipped", "CKV_AWS_18"): "A reason.",
        ("Skipped", "CKV_AWS_147"): "A Terraform-only check, so checkov ignores this skip.",
    }
    assert declared_skips(strip_skips(load_template(BUCKETS))) == {}


def test_runner_raises_on_an_unparsable_template(checkov_bin: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("Resources:\n  B:\n    Type: AWS::S3::Bucket\n    Properties: [unclosed\n", encoding="utf-8")
    with pytest.raises(CheckovError, match="could not parse"):
        run_checkov([bad], checkov_bin)


def test_find_checkov_order_and_errors(tmp_path: Path) -> None:
    binary = tmp_path / "bin" / "checkov"
    binary.parent.mkdir()
    binary.write_text("#!/bin/sh\n", encoding="utf-8")
    binary.chmod(0o755)
    on_path = {"PATH": str(binary.parent)}
    assert find_checkov(environ=on_path) == binary
    assert find_checkov(environ={"MLOPS_GEN_CHECKOV": str(binary), "PATH": ""}) == binary
    with pytest.raises(CheckovNotFound, match="MLOPS_GEN_CHECKOV"):
        find_checkov(environ={"MLOPS_GEN_CHECKOV": str(tmp_path / "missing"), **on_path})
    with pytest.raises(CheckovNotFound, match="given path"):
        find_checkov(tmp_path / "missing", environ=on_path)
    with pytest.raises(CheckovNotFound, match="not found"):
        find_checkov(environ={"PATH": str(tmp_path)})
