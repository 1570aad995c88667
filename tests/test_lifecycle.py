"""Lifecycle rules never expire the model artifacts of registered versions (issue 11, case 8).

The failing fixture is the rule the product used to render (every object expires after 365 days); the
passing one is today's render. The overlap decision is tested on its own with a table.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest

from generator import contract
from generator.checks.lifecycle import RULE, bucket_findings, pattern_of, prefixes_overlap
from generator.checks.lifecycle import check_folder as lifecycle_check
from generator.errors import ValidationFailed
from generator.manifest import read_manifest
from generator.product.storage import pipeline_artifacts_prefix
from generator.render import build_manifest, validation_step, write_output
from tests.conftest import make_config, rendered_files
from tests.edit import reseal

MODELBUILD = Path(__file__).resolve().parent.parent / "seedcode" / "modelbuild"

#: The rule the product rendered before the fix: every current object expires after a year.
EXPIRE_EVERYTHING = {
    "Id": "ExpireOldArtifacts",
    "Status": "Enabled",
    "ExpirationInDays": 365,
    "NoncurrentVersionExpiration": {"NoncurrentDays": 30},
    "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 7},
}


@pytest.mark.parametrize(
    ("rule_prefix", "overlaps"),
    [
        ("", True),  # no prefix: every object
        ("models/", True),
        ("models/old/", True),  # inside the model prefix
        ("m", True),  # the model prefix starts with it
        ("model", True),
        ("modelsx/", False),
        ("sagemaker-", False),  # CodePipeline's folder
        ("iris/", False),
        ("${SageMakerProjectName}-iris/", False),  # a project name holds no '/', so '-iris/' never matches 'models/'
        ("${SageMakerProjectName}/", True),  # project "models"
        ("${SageMakerProjectName}", True),
        ("${SageMakerProjectId}-x/", False),
        ("${AWS::AccountId}/", False),  # digits only
        ("${SomethingElse}/scratch/", True),  # unknown: any text, '/' included
        ("mo${AWS::Region}", True),
    ],
)
def test_prefix_overlap_with_the_model_prefix(rule_prefix: str, overlaps: bool) -> None:
    assert prefixes_overlap(pattern_of(rule_prefix), pattern_of(contract.MODEL_ARTIFACTS_PREFIX)) is overlaps
    assert prefixes_overlap(pattern_of(contract.MODEL_ARTIFACTS_PREFIX), pattern_of(rule_prefix)) is overlaps


def bucket(*rules: dict[str, Any]) -> dict[str, Any]:
    properties = {"LifecycleConfiguration": {"Rules": list(rules)}}
    return {"Resources": {"Bucket": {"Type": "AWS::S3::Bucket", "Properties": properties}}}


@pytest.mark.parametrize(
    ("rule", "found"),
    [
        (EXPIRE_EVERYTHING, True),
        ({**EXPIRE_EVERYTHING, "Prefix": {"Fn::Sub": "${SageMakerProjectName}/"}}, True),
        ({**EXPIRE_EVERYTHING, "Prefix": {"Fn::Join": ["", ["a", "b"]]}}, True),  # not decidable: reported
        ({"Id": "ByDate", "Status": "Enabled", "ExpirationDate": "2030-01-01"}, True),
        ({**EXPIRE_EVERYTHING, "Prefix": "sagemaker-"}, False),
        ({**EXPIRE_EVERYTHING, "Status": "Disabled"}, False),
        ({"Id": "Noncurrent", "Status": "Enabled", "NoncurrentVersionExpiration": {"NoncurrentDays": 30}}, False),
        (
            {"Id": "Archive", "Status": "Enabled", "Transitions": [{"StorageClass": "GLACIER", "TransitionInDays": 9}]},
            False,
        ),
    ],
)
def test_bucket_rules(rule: dict[str, Any], found: bool) -> None:
    findings = bucket_findings(bucket(rule), "t.json")
    assert bool(findings) is found
    if found:
        [finding] = findings
        assert finding.rule == RULE and finding.logical_id == "Bucket"
        assert "models/" in finding.message and "https://docs.aws.amazon.com/" in finding.message


def render_to(folder: Path, **overrides: Any) -> Path:
    cfg = make_config(format="json", **overrides)
    files = rendered_files(cfg)
    write_output(files, build_manifest(cfg, files), folder, force=True)
    return folder


def test_rendered_artifact_bucket_keeps_model_artifacts(tmp_path: Path) -> None:
    folder = render_to(tmp_path / "out")
    assert lifecycle_check(folder, read_manifest(folder)) == []
    product = json.loads((folder / "product-template.json").read_text())
    rules = product["Resources"]["ArtifactBucket"]["Properties"]["LifecycleConfiguration"]["Rules"]
    expiring = {r["Id"]: r["Prefix"] for r in rules if "ExpirationInDays" in r}
    # Scratch expires: CodePipeline's artifact folder and the seed model-build pipeline's own folder.
    assert expiring == {
        "ExpirePipelineArtifacts": "sagemaker-",
        "ExpireModelBuildScratch": {"Fn::Sub": contract.MODEL_BUILD_SCRATCH_PREFIX},
    }


@pytest.mark.slow  # validates whole renders (cfn-lint and every folder check)
def test_yesterdays_rule_is_a_finding_and_render_refuses(tmp_path: Path) -> None:
    folder = render_to(tmp_path / "out")
    path = folder / "product-template.json"
    product = json.loads(path.read_text())
    product["Resources"]["ArtifactBucket"]["Properties"]["LifecycleConfiguration"]["Rules"] = [EXPIRE_EVERYTHING]
    path.write_text(json.dumps(product, indent=2))
    reseal(folder)
    [finding] = lifecycle_check(folder, read_manifest(folder))
    assert finding.rule == RULE and "ExpireOldArtifacts" in finding.message
    assert finding.path == "product-template.json" and finding.blocks_render
    with pytest.raises(ValidationFailed, match=RULE):
        validation_step(folder)


def test_pipeline_folder_prefix_is_the_pipeline_names_fixed_start() -> None:
    """CodePipeline's folder is the pipeline name's first 20 characters; the rule names their fixed part."""
    cfg = make_config(**{"name-prefix": "sagemaker-acme-mlops-ab-"})
    prefix = pipeline_artifacts_prefix(cfg)
    assert prefix == "sagemaker-acme-mlops"
    name = cfg.names.pipeline.render("p", "p-abc")
    assert name[:20] == prefix
    assert pipeline_artifacts_prefix(make_config()) == "sagemaker-"


def test_seed_model_build_writes_models_under_the_kept_prefix() -> None:
    """The iris pipeline repeats the layout (it runs without the generator): pinned here."""
    sys.path.insert(0, str(MODELBUILD))
    try:
        from iris_pipeline import project
    finally:
        sys.path.remove(str(MODELBUILD))
    assert project.MODEL_ARTIFACTS_PREFIX == contract.MODEL_ARTIFACTS_PREFIX
    scratch = contract.MODEL_BUILD_SCRATCH_PREFIX.replace("${SageMakerProjectName}", "iris-multi-01")
    assert scratch == project.pipeline_name("iris-multi-01") + "/"
