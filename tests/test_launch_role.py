"""The launch role: generated from the table, lint-clean (checkov: tests/test_checkov.py scans it in every named
configuration); the standard one checked."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
import yaml

from generator.checks.cache import user_cache
from generator.checks.validate import lint_text
from generator.companions.launch_role import (
    KIND,
    STANDARD_ACCEPTED_GAPS,
    allows,
    build_launch_role_template,
    check_standard_launch_role,
    launch_role_files,
    launch_role_policy,
    missing_permissions,
    product_for_launch_role,
    standard_policy,
)
from generator.errors import InputError
from generator.iam.iam_table import required_permissions
from generator.iam.schemas import Operation
from generator.naming import ROLE_NAME_LIMIT, launch_role_name
from generator.product.compose import build_product
from generator.rendered import serialise
from tests.conftest import TEST_DATA, make_config, named_config

GENERATED = ["default", "codeconnections-3-regions", "custom-preferences"]
REFERENCE = TEST_DATA / "iam" / "AmazonSageMakerAdmin-ServiceCatalogProductsServiceRolePolicy.json"


def _policy_for_matching(policy: dict) -> dict:  # type: ignore[type-arg]
    """The rendered policy with `Fn::Sub` resources as plain text (pseudo parameters stay as written)."""
    statements = []
    for st in policy["Statement"]:
        resources = [r["Fn::Sub"] if isinstance(r, dict) else r for r in st["Resource"]]
        statements.append({**st, "Resource": resources})
    return {"Statement": statements}


@pytest.mark.parametrize("name", [*GENERATED, "standard-launch-role"])
def test_generated_role_grants_every_requirement(name: str) -> None:
    cfg = named_config(name)
    policy = _policy_for_matching(launch_role_policy(cfg))
    product = product_for_launch_role(cfg).to_dict()
    reqs = required_permissions(product)
    # Match the Sub texts as they are: the sample substitution keeps `${AWS::...}` on both sides equal.
    not_granted = [r for r in reqs if not r.policy_of and not _granted_verbatim(policy, r)]
    assert not_granted == []
    # A key's administration comes from the key's own policy, which names the launch role (generator/product/kms.py).
    from generator.checks.iam_check import STANDARD_LAUNCH_ROLE, key_policy_allows

    role = STANDARD_LAUNCH_ROLE if name == "standard-launch-role" else launch_role_name(cfg.name_prefix)
    by_key = [r for r in reqs if r.policy_of]
    assert [r for r in by_key if not key_policy_allows(product, r, role, cfg.region).allowed] == []
    assert all(not _granted_verbatim(policy, r) or r.action == "kms:TagResource" for r in by_key)


def _granted_verbatim(policy: dict, req) -> bool:  # type: ignore[no-untyped-def,type-arg]
    for st in policy["Statement"]:
        if req.action in st["Action"] and req.resource in st["Resource"]:
            condition = st.get("Condition", {}).get("StringEquals", {})
            condition = {k: v["Fn::Sub"] if isinstance(v, dict) else v for k, v in condition.items()}
            if condition == dict(req.context):
                return True
    return False


def test_generated_role_grants_nothing_the_product_does_not_need() -> None:
    cfg = named_config("default")
    policy = launch_role_policy(cfg)
    needed = {r.action for r in required_permissions(build_product(cfg).to_dict())}
    service_catalog = {
        "cloudformation:CreateStack",
        "cloudformation:DeleteStack",
        "cloudformation:DescribeStackEvents",
        "cloudformation:DescribeStacks",
        "cloudformation:SetStackPolicy",
        "cloudformation:TagResource",
        "cloudformation:UntagResource",
        "cloudformation:UpdateStack",
        "cloudformation:GetTemplateSummary",
        "cloudformation:ValidateTemplate",
        "s3:GetObject",
    }
    granted = {a for st in policy["Statement"] for a in st["Action"]}
    assert granted - needed - service_catalog == set()
    assert not any("*" in a for a in granted)


def test_pass_role_only_for_the_service_roles_with_passed_to_service() -> None:
    policy = launch_role_policy(make_config(**{"service-roles": "use-role"}))
    passing = [st for st in policy["Statement"] if "iam:PassRole" in st["Action"]]
    assert passing
    for st in passing:
        assert st["Action"] == ["iam:PassRole"]
        assert st["Condition"]["StringEquals"]["iam:PassedToService"].endswith(".amazonaws.com")
        for resource in st["Resource"]:
            assert resource["Fn::Sub"].endswith(":role/service-role/AmazonSageMakerServiceCatalogProductsUseRole")


def test_role_name_and_trust() -> None:
    cfg = make_config(**{"name-prefix": "sagemaker-acme-"})
    role = build_launch_role_template(cfg).to_dict()["Resources"]["LaunchRole"]["Properties"]
    assert role["RoleName"] == "sagemaker-acme-mlops-gen-launch-role" == launch_role_name("sagemaker-acme-")
    assert role["AssumeRolePolicyDocument"]["Statement"][0]["Principal"] == {
        "Service": ["servicecatalog.amazonaws.com"]
    }
    with pytest.raises(ValueError, match="64"):
        launch_role_name("sagemaker-" + "a" * ROLE_NAME_LIMIT + "-")


@pytest.mark.parametrize("name", GENERATED)
def test_generated_file_and_outputs(name: str) -> None:
    files = launch_role_files(named_config(name))
    assert [(f.kind, f.path) for f in files] == [(KIND, "launch-role-template.yaml")]
    outputs = yaml.safe_load(files[0].content.decode().replace("!GetAtt", "").replace("!Ref", "").replace("!Sub", ""))
    assert set(outputs["Outputs"]) == {"LaunchRoleArn", "LaunchRoleName"}
    json_files = launch_role_files(make_config(format="json"))
    assert json_files[0].path == "launch-role-template.json"


@pytest.mark.parametrize("name", GENERATED)
@pytest.mark.slow  # validates whole renders (cfn-lint and every folder check)
def test_generated_template_passes_cfn_lint(name: str) -> None:
    cfg = named_config(name)
    text = serialise(build_launch_role_template(cfg), cfg.output_format).decode()
    # Through the run's result cache: the same template is in the named renders other tests validate.
    assert lint_text(text, [cfg.region], "launch-role-template.yaml", user_cache()) == []


def test_shipped_standard_policy_is_the_reference() -> None:
    assert standard_policy() == json.loads(REFERENCE.read_text())


def test_standard_product_is_accepted() -> None:
    cfg = named_config("standard-launch-role")
    assert launch_role_files(cfg) == []
    check_standard_launch_role(build_product(make_config(**{"launch-role": "standard"})).to_dict())


def test_accepted_gaps_are_all_still_needed() -> None:
    """Each accepted gap is one the standard product really has: none can linger after a fix."""
    template = build_product(named_config("standard-launch-role")).to_dict()
    gaps = {(r.resource_type, r.action, r.operation) for r in missing_permissions(template, standard_policy())}
    assert set(STANDARD_ACCEPTED_GAPS) == gaps


def _standard_product_with(logical_id: str, resource: dict) -> dict:  # type: ignore[type-arg]
    template = build_product(named_config("standard-launch-role")).to_dict()
    template["Resources"][logical_id] = resource
    return template


@pytest.mark.parametrize(
    ("logical_id", "resource", "missing"),
    [
        (
            "ArtifactBucket",
            {
                "Type": "AWS::S3::Bucket",
                "DeletionPolicy": "Retain",
                "Properties": {
                    "BucketName": {"Fn::Sub": "sagemaker-project-${SageMakerProjectId}-artifacts"},
                    "VersioningConfiguration": {"Status": "Enabled"},
                },
            },
            "s3:PutBucketVersioning",
        ),
        (
            "ModelPackageGroup",
            {
                "Type": "AWS::SageMaker::ModelPackageGroup",
                "Properties": {"ModelPackageGroupName": {"Fn::Sub": "${SageMakerProjectName}"}},
            },
            "sagemaker:CreateModelPackageGroup",
        ),
        (
            "Topic",
            {
                "Type": "AWS::SNS::Topic",
                "Properties": {"TopicName": {"Fn::Sub": "sagemaker-${SageMakerProjectName}-approvals"}},
            },
            "sns:CreateTopic",
        ),
        ("Key", {"Type": "AWS::KMS::Key", "Properties": {"KeyPolicy": {}}}, "kms:CreateKey"),
    ],
)
def test_standard_refuses_what_its_role_cannot_create(logical_id: str, resource: dict, missing: str) -> None:  # type: ignore[type-arg]
    with pytest.raises(InputError) as err:
        check_standard_launch_role(_standard_product_with(logical_id, resource))
    assert err.value.flag == "--launch-role standard" and err.value.exit_code == 2
    assert missing in err.value.rule and logical_id in err.value.rule


def test_standard_render_writes_no_launch_role(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from generator.cli import app

    result = CliRunner().invoke(
        app,
        [
            "render",
            "--staging-ou",
            "ou-ab12-11111111",
            "--prod-ou",
            "ou-ab12-22222222",
            "--region",
            "eu-west-1",
            "--launch-role",
            "standard",
            "--out",
            str(tmp_path / "out"),
            "--no-validate",
        ],
    )
    assert result.exit_code == 0, result.output
    assert not (tmp_path / "out" / "launch-role-template.yaml").exists()


def test_allow_check_understands_conditions() -> None:
    from generator.iam.iam_table import Requirement

    policy = standard_policy()
    passed = Requirement(
        "P",
        "AWS::CodeBuild::Project",
        "iam:PassRole",
        "arn:${AWS::Partition}:iam::${AWS::AccountId}:role/service-role/AmazonSageMakerServiceCatalogProductsUseRole",
        Operation.CREATE,
        "x",
    )
    assert allows(policy, passed)
    connection = Requirement(
        "P",
        "AWS::CodePipeline::Pipeline",
        "codeconnections:PassConnection",
        "arn:aws:codeconnections:eu-west-1:123456789012:connection/abc",
        Operation.CREATE,
        "x",
    )
    assert not allows(policy, connection)  # condition key unknown: not granted
    known = dataclasses.replace(
        connection, context=(("codeconnections:PassedToService", "codepipeline.amazonaws.com"),)
    )
    assert allows(policy, known)
    outside = Requirement(
        "B", "AWS::S3::Bucket", "s3:CreateBucket", "arn:${AWS::Partition}:s3:::acme-*", Operation.CREATE, "x"
    )
    assert not allows(policy, outside)
