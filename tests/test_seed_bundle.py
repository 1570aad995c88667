"""The seed bundle as `render` writes it: deterministic, content-addressed, and its template clean."""

from __future__ import annotations

import io
import shutil
import zipfile
from pathlib import Path

import jinja2
import pytest

from generator import contract
from generator.checks.validate import lint_text
from generator.manifest import sha256
from generator.product import seed
from generator.render import build_manifest, render_files
from tests.conftest import make_config


def bundle_of(**overrides: object) -> bytes:
    files = {f.path: f for f in render_files(make_config(**overrides))}
    assert files[contract.SEED_BUNDLE].kind == "seed-bundle"
    return files[contract.SEED_BUNDLE].content


@pytest.mark.slow  # renders whole configurations (about a second each)
def test_two_renders_give_the_same_bytes_and_sha256() -> None:
    first, second = bundle_of(), bundle_of()
    assert first == second
    assert sha256(first) == sha256(second)


@pytest.mark.slow  # renders whole configurations (about a second each)
def test_bundle_entries_are_sorted_with_fixed_dates_and_modes() -> None:
    with zipfile.ZipFile(io.BytesIO(bundle_of())) as archive:
        infos = archive.infolist()
        names = [i.filename for i in infos]
        assert names == sorted(names)
        assert {i.date_time for i in infos} == {seed.ZIP_DATE}
        assert {i.external_attr >> 16 for i in infos} == {seed.FILE_MODE}
        assert archive.testzip() is None
        assert not [n for n in names if "__pycache__" in n or n.endswith(".pyc")]
        for required in (contract.BUILD_SPEC, contract.TEST_BUILD_SPEC, contract.EXPORT_TEMPLATE, "build.py",
                         "test/test.py", "README.md", *contract.STAGE_CONFIG.values()):  # fmt: skip
            assert required in names


@pytest.mark.slow  # renders whole configurations (about a second each)
def test_seed_code_key_default_is_the_bundles_content_address() -> None:
    files = {f.path: f.content for f in render_files(make_config())}
    digest = sha256(files[contract.SEED_BUNDLE])
    key = f"mlops-gen/seedcode/{digest[:16]}/{contract.SEED_BUNDLE}"
    assert f"Default: {key}\n" in files["product-template.yaml"].decode()
    manifest = build_manifest(make_config(), render_files(make_config()))
    assert manifest.path_of("seed-bundle") == contract.SEED_BUNDLE
    assert [a.sha256 for a in manifest.artifacts if a.kind == "seed-bundle"] == [digest]


@pytest.mark.slow  # renders whole configurations (about a second each)
def test_render_options_reach_the_bundle() -> None:
    """The README follows the deploy regions and branch; a different bundle gets a different key."""
    default = bundle_of()
    other = bundle_of(deploy_regions="eu-west-1,us-east-1", branch="release")
    with zipfile.ZipFile(io.BytesIO(other)) as archive:
        readme = archive.read("README.md").decode()
    assert "`eu-west-1`, `us-east-1`" in readme and "branch `release`" in readme
    assert seed.bundle_key(default) != seed.bundle_key(other)


def test_templates_fail_on_an_unknown_variable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    shutil.copytree(seed.TEMPLATE_DIR, tmp_path / "t")
    (tmp_path / "t" / "extra.md.j2").write_text("{{ no_such_name }}\n")
    monkeypatch.setattr(seed, "TEMPLATE_DIR", tmp_path / "t")
    with pytest.raises(jinja2.UndefinedError):
        seed.bundle_files(make_config())


def test_a_file_both_plain_and_templated_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    shutil.copytree(seed.TEMPLATE_DIR, tmp_path / "t")
    (tmp_path / "t" / "build.py.j2").write_text("print('shadow')\n")
    monkeypatch.setattr(seed, "TEMPLATE_DIR", tmp_path / "t")
    with pytest.raises(seed.SeedError, match=r"build\.py is both"):
        seed.bundle_files(make_config())


@pytest.mark.slow  # cfn-lint over rendered templates
def test_endpoint_template_passes_cfn_lint() -> None:
    text = (seed.SEED_DIR / contract.EXPORT_TEMPLATE).read_text()
    assert lint_text(text, ["eu-west-1", "us-east-1"], contract.EXPORT_TEMPLATE) == []


def test_endpoint_template_declares_one_checkov_skip_with_its_reason() -> None:
    """The one skip: the serverless model's network isolation (SageMaker supports none for serverless endpoints).
    tests/test_checkov.py scans the template: no failed check, the skip applied, and without it exactly this
    check fails (the instance-based Model passes it)."""
    from generator.checks.checkov import declared_skips, load_template

    declared = declared_skips(load_template((seed.SEED_DIR / contract.EXPORT_TEMPLATE).read_text()))
    assert sorted(declared) == [("ServerlessModel", "CKV_AWS_370")] and all(declared.values())
