"""checkov on every template of every named configuration: no failed check, and every skip earns its place.

A skip must (1) carry a reason, (2) name a check checkov runs on that resource type (else checkov ignores
it silently: a Terraform-only id, a typo), and (3) hide a real failure: checkov marks a skipped check
SKIPPED without evaluating it, so the only way to see that a skip hides nothing is to scan a copy of the
template without skips. One checkov run per test (about 3 s each); the two runs go in parallel under -n 2.

The binary comes from $MLOPS_GEN_CHECKOV (scripts/test.sh sets it) or PATH. Without it the tests skip,
except under CI (env CI set), where a missing scanner must not look like a pass.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from generator.checks.checkov import (
    NO_COMMENT,
    CheckovError,
    CheckovNotFound,
    CheckovResult,
    declared_skips,
    find_checkov,
    load_template,
    run_checkov,
    strip_skips,
)
from generator.manifest import read_manifest
from generator.render import build_manifest, write_output
from tests.conftest import CONFIGS, named_config, rendered_files

#: (template path relative to the render root, logical id, check id)
Key = tuple[str, str, str]

pytestmark = pytest.mark.slow  # runs checkov (its own environment) on rendered templates


@pytest.fixture(scope="module")
def renders(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[str]]:
    """Every named configuration rendered into ROOT/<name>/, and the templates its manifest lists."""
    root = tmp_path_factory.mktemp("renders")
    templates: list[str] = []
    for name in sorted(CONFIGS):
        cfg = named_config(name)
        files = rendered_files(cfg)
        write_output(files, build_manifest(cfg, files), root / name, force=False)
        kinds = {a.kind: a.path for a in read_manifest(root / name).templates()}
        assert "product-template" in kinds, f"{name}: the manifest lists no product template"
        templates.extend(f"{name}/{path}" for path in sorted(kinds.values()))
    return root, templates


def keyed(results: list[CheckovResult], root: Path) -> dict[Key, CheckovResult]:
    return {(r.file.relative_to(root).as_posix(), r.logical_id, r.check_id): r for r in results}


def scan_distinct(root: Path, templates: list[str], checkov_bin: Path) -> dict[Key, CheckovResult]:
    """checkov's results for every template, scanning each distinct text once: the named configurations
    share many templates byte for byte (53 templates, 41 distinct texts), and checkov's findings depend on
    a file's content alone, so a copy gets its twin's results under its own name."""
    twins: dict[bytes, list[str]] = {}
    for rel in templates:
        twins.setdefault((root / rel).read_bytes(), []).append(rel)
    scanned = keyed(run_checkov([root / rels[0] for rels in twins.values()], checkov_bin), root)
    first = {rels[0]: rels for rels in twins.values()}
    return {
        (rel, logical_id, check_id): replace(result, file=root / rel)
        for (scanned_rel, logical_id, check_id), result in scanned.items()
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


def test_no_failed_check_and_every_skip_applies(checkov_bin: Path, renders: tuple[Path, list[str]]) -> None:
    root, templates = renders
    results = list(scan_distinct(root, templates, checkov_bin).values())
    failed = [r.describe() for r in results if not r.skipped]
    assert not failed, "checkov failed checks (fix the template, or skip with a reason):\n" + "\n".join(failed)

    declared = all_declared_skips(root, templates)
    blank = sorted(k for k, reason in declared.items() if not reason.strip() or reason == NO_COMMENT)
    assert not blank, "skips without a reason:" + lines(blank)
    applied = {k: r.comment for k, r in keyed(results, root).items() if r.skipped}
    ignored = sorted(set(declared) - set(applied))
    assert not ignored, "skips checkov never applies (no such check for the resource type, or a typo):" + lines(ignored)
    assert applied == declared, "checkov read other skips or reasons than the templates declare"


def test_no_skip_hides_a_passing_check(checkov_bin: Path, renders: tuple[Path, list[str]], tmp_path: Path) -> None:
    root, templates = renders
    declared = all_declared_skips(root, templates)
    for rel in templates:
        stripped = strip_skips(load_template((root / rel).read_text(encoding="utf-8")))
        target = tmp_path / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps(stripped, indent=1), encoding="utf-8")  # JSON is YAML too: name kept
    failed = {k for k, r in scan_distinct(tmp_path, templates, checkov_bin).items() if not r.skipped}
    dead = sorted(set(declared) - failed)
    assert not dead, "skips of checks that pass without them (remove the skip):" + lines(dead)
    unexplained = sorted(failed - set(declared))
    assert not unexplained, "failures without a skip once skips are stripped:" + lines(unexplained)


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
