"""The region contract (generator/checks/regions.py): with deploy regions beyond the home region, each region's model
must read its own region's artifacts, image or package; `validate` reports a template that does not."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest
from cfnlint.decode import decode_str

from generator.checks.regions import NAME_RULE, RULE, bucket_name_findings, check_folder, template_findings
from generator.manifest import verify_manifest
from generator.shipped import SEED_DIR
from tests.conftest import CONFIGS
from tests.edit import reseal
from tests.test_rehearse import render_folder

DATA = Path(__file__).parent / "data" / "regions"
THREE = ("eu-west-1", "eu-central-1", "us-east-1")


def load(path: Path) -> dict:
    template, matches = decode_str(path.read_text())
    assert template is not None, matches
    return dict(template)


@pytest.mark.parametrize(
    ("fixture", "keys"),
    [
        ("home-package-everywhere.yml", ["ModelPackageName"]),
        ("copy-without-region-key.yml", ["ModelPackageName", "Image", "ModelDataUrl"]),
    ],
)
def test_a_template_that_reads_the_home_region_everywhere_is_a_finding(fixture: str, keys: list[str]) -> None:
    findings = template_findings(load(DATA / fixture), fixture, THREE, "eu-west-1")
    assert sorted(f.message.split("'s ")[1].split(" ")[0] for f in findings) == sorted(keys)
    assert {f.rule for f in findings} == {RULE} and {f.logical_id for f in findings} == {"Model"}
    assert all("in eu-central-1, us-east-1 CreateModel reads the eu-west-1" in f.message for f in findings)
    assert all(f.line > 0 for f in findings)


@pytest.mark.parametrize("fixture", ["home-package-everywhere.yml", "copy-without-region-key.yml"])
def test_one_region_has_no_contract_to_break(fixture: str) -> None:
    assert template_findings(load(DATA / fixture), fixture, ("eu-west-1",), "eu-west-1") == []


@pytest.mark.parametrize(
    "path", [DATA / "sub-per-region.yml", SEED_DIR / "endpoint-config-template.yml"], ids=["sub", "seed"]
)
def test_templates_that_read_per_region_pass(path: Path) -> None:
    assert template_findings(load(path), path.name, THREE, "eu-west-1") == []


def test_a_long_prefix_overflows_the_regional_bucket_name() -> None:
    (finding,) = bucket_name_findings("product-template.yaml", 55, THREE, "eu-west-1")
    assert finding.rule == NAME_RULE and "eu-central-1, us-east-1" in finding.message
    assert bucket_name_findings("product-template.yaml", 40, THREE, "eu-west-1") == []
    assert bucket_name_findings("product-template.yaml", 60, ("eu-west-1",), "eu-west-1") == []


def _replace_endpoint_template(folder: Path, text: str) -> None:
    bundle = folder / "seedcode-modeldeploy.zip"
    source = zipfile.ZipFile(io.BytesIO(bundle.read_bytes()))
    edited = io.BytesIO()
    with zipfile.ZipFile(edited, "w", zipfile.ZIP_DEFLATED) as out:
        for info in source.infolist():
            out.writestr(info, text if info.filename == "endpoint-config-template.yml" else source.read(info))
    bundle.write_bytes(edited.getvalue())
    reseal(folder)


def test_validate_reports_a_bundle_whose_template_ignores_the_regions(tmp_path: Path) -> None:
    folder = render_folder(tmp_path / "dist", **CONFIGS["codeconnections-3-regions"])
    assert check_folder(folder, verify_manifest(folder)) == []
    _replace_endpoint_template(folder, (DATA / "home-package-everywhere.yml").read_text())
    (finding,) = check_folder(folder, verify_manifest(folder))
    assert finding.rule == RULE and finding.path == "seedcode-modeldeploy.zip:endpoint-config-template.yml"
    assert finding.blocks_render


def test_only_the_regions_past_the_limit_are_named() -> None:
    (finding,) = bucket_name_findings("product-template.yaml", 51, THREE, "eu-west-1")  # 64 and 61 characters
    assert "in eu-central-1," in finding.message and "us-east-1" not in finding.message
