"""The seed build's multi-region step (seedcode/modeldeploy/regions.py), run from the bundle against moto.

With deploy regions beyond the home region, build.py copies the approved version's artifacts to a protected
bucket in each, resolves the image there, and writes the endpoint template's RegionModel mapping; a stack set
of that template then creates, in every region, a model whose artifacts and image are in that region.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from cfnlint.decode import decode_str

from generator import contract
from generator.checks.s3_public import public_statements
from generator.live.rehearse.regions import check_model_regions, region_behaviour
from generator.naming import Names, Stage
from tests.moto_helpers import XGBOOST_IMAGE
from tests.test_seed_build import GROUP, ORG_ID, ROLE, aws, build_environ, repo
from tests.test_seed_support import PROJECT, PROJECT_ID, REGION, Seed, make_org, seed

__all__ = ["aws", "repo", "seed"]  # fixtures, imported for pytest

HOME_BUCKET = "sagemaker-project-p-abc-artifacts"
REGIONS = (REGION, "eu-central-1", "us-east-1")
KEY = "model-build/iris-v1/model.tar.gz"


@pytest.fixture(autouse=True)
def bucket_policies() -> Iterator[None]:
    """moto checks a bucket policy without its conditions (the TLS-only Deny would deny everything)."""
    with region_behaviour():
        yield


def register_with_artifacts(sm: Any, body: bytes = b"model", environment: dict[str, str] | None = None) -> str:
    """An Approved package whose one container has an image and artifacts in the home bucket."""
    container = {"Image": XGBOOST_IMAGE, "ModelDataUrl": f"s3://{HOME_BUCKET}/{KEY}"}
    if environment:
        container["Environment"] = environment  # type: ignore[assignment]
    s3 = boto3.client("s3", region_name=REGION)
    s3.create_bucket(Bucket=HOME_BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
    s3.put_object(Bucket=HOME_BUCKET, Key=KEY, Body=body)
    sm.create_model_package_group(ModelPackageGroupName=GROUP)
    arn: str = sm.create_model_package(
        ModelPackageGroupName=GROUP,
        ModelApprovalStatus="Approved",
        InferenceSpecification={
            "Containers": [container],
            "SupportedContentTypes": ["text/csv"],
            "SupportedResponseMIMETypes": ["text/csv"],
        },
    )["ModelPackageArn"]
    return arn


def multi_region_environ(regions: tuple[str, ...] = REGIONS) -> dict[str, str]:
    return build_environ(**{contract.Env.DEPLOY_REGIONS: ",".join(regions), contract.Env.ARTIFACT_BUCKET: HOME_BUCKET})


def run(seed: Seed, repo: Path, out: Path, environ: dict[str, str]) -> int:
    sm = boto3.client("sagemaker", region_name=REGION)
    return int(seed.build.main(["--repo", str(repo), "--out", str(out)], environ=environ, sm=sm))


def exported_mapping(out: Path) -> dict[str, dict[str, str]]:
    template, _ = decode_str((out / contract.EXPORT_TEMPLATE).read_text())
    assert template is not None
    return {region: dict(values) for region, values in template["Mappings"]["RegionModel"].items()}


def test_each_region_gets_a_protected_copy_and_its_own_image(seed: Seed, repo: Path, tmp_path: Path, aws: None) -> None:
    package = register_with_artifacts(boto3.client("sagemaker", region_name=REGION))
    assert run(seed, repo, tmp_path / "out", multi_region_environ()) == 0

    mapping = exported_mapping(tmp_path / "out")
    assert list(mapping) == list(REGIONS)
    assert mapping[REGION] == {
        "Source": "registry",
        "ModelDataUrl": f"s3://{HOME_BUCKET}/{KEY}",
        "Image": XGBOOST_IMAGE,
    }
    registries = json.loads((repo / "image-registries.json").read_text())["repositories"]["sagemaker-xgboost"]
    for region in REGIONS[1:]:
        bucket = f"{HOME_BUCKET}-{region}"
        assert mapping[region] == {
            "Source": "copy",
            "ModelDataUrl": f"s3://{bucket}/{KEY}",
            "Image": f"{registries[region]}.dkr.ecr.{region}.amazonaws.com/sagemaker-xgboost:1.7-1",
        }
        s3 = boto3.client("s3", region_name=region)
        assert (s3.get_bucket_location(Bucket=bucket)["LocationConstraint"] or "us-east-1") == region
        block = s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]
        assert all(block.values()) and len(block) == 4
        rule = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"][0]
        assert rule["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
        policy = json.loads(s3.get_bucket_policy(Bucket=bucket)["Policy"])
        deny, read = policy["Statement"]
        assert deny["Effect"] == "Deny" and deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
        assert read["Action"] == "s3:GetObject" and read["Resource"] == f"arn:aws:s3:::{bucket}/*"
        assert read["Condition"]["StringEquals"] == {"aws:PrincipalOrgID": ORG_ID}
        assert read["Condition"]["ArnLike"] == {"aws:PrincipalArn": [f"arn:aws:iam::*:role/{ROLE}"]}
        ous = [multi_region_environ()[f"{stage.upper()}_OU_ID"] for stage in ("staging", "prod")]
        assert read["Condition"]["ForAnyValue:StringLike"] == {"aws:PrincipalOrgPaths": [f"*/{ou}/*" for ou in ous]}
        assert public_statements(policy, {}) == [], "S3 would call the regional bucket policy public"
        copy = s3.head_object(Bucket=bucket, Key=KEY)
        assert copy["Metadata"]["source-model-package-arn"] == package
        assert copy["Metadata"]["source-model-data-url"] == f"s3://{HOME_BUCKET}/{KEY}"
        assert s3.get_object(Bucket=bucket, Key=KEY)["Body"].read() == b"model"


def test_a_second_build_does_not_copy_again(
    seed: Seed, repo: Path, tmp_path: Path, aws: None, capsys: pytest.CaptureFixture[str]
) -> None:
    register_with_artifacts(boto3.client("sagemaker", region_name=REGION))
    assert run(seed, repo, tmp_path / "one", multi_region_environ()) == 0
    assert capsys.readouterr().out.count("; copied s3://") == 2
    assert run(seed, repo, tmp_path / "two", multi_region_environ()) == 0
    said = capsys.readouterr().out
    assert said.count("; copied s3://") == 0 and said.count("; already has s3://") == 2
    assert exported_mapping(tmp_path / "one") == exported_mapping(tmp_path / "two")


def test_stack_set_models_read_only_their_own_region(
    seed: Seed, repo: Path, tmp_path: Path, aws: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The exported template, deployed by one stack set to three regions: each model passes the region rule."""
    from moto.sagemaker.models import FakeEndpoint

    monkeypatch.setattr(FakeEndpoint, "cloudformation_name_type", staticmethod(lambda: "EndpointName"))
    org = make_org()
    package = register_with_artifacts(boto3.client("sagemaker", region_name=REGION))
    out = tmp_path / "out"
    assert run(seed, repo, out, multi_region_environ()) == 0
    cfn = boto3.client("cloudformation", region_name=REGION)
    name = Names().stack_set(Stage.STAGING).render(PROJECT, PROJECT_ID)
    cfn.create_stack_set(
        StackSetName=name,
        TemplateBody=(out / contract.EXPORT_TEMPLATE).read_text(),
        Parameters=json.loads((out / contract.EXPORT_PARAMETERS[Stage.STAGING]).read_text()),
        PermissionModel="SERVICE_MANAGED",
        AutoDeployment={"Enabled": True, "RetainStacksOnAccountRemoval": False},
    )
    cfn.create_stack_instances(
        StackSetName=name, DeploymentTargets={"OrganizationalUnitIds": [org.staging_ou]}, Regions=list(REGIONS)
    )
    from tests.test_seed_support import assumed_session

    account = org.staging_accounts[0]
    for region in REGIONS:
        sm = assumed_session(account, ROLE).client("sagemaker", region_name=region)
        (summary,) = sm.list_models()["Models"]
        model = sm.describe_model(ModelName=summary["ModelName"])
        container = model["PrimaryContainer"]
        assert check_model_regions(region, {"PrimaryContainer": container}) is None
        tags = {t["Key"]: t["Value"] for t in sm.list_tags(ResourceArn=model["ModelArn"])["Tags"]}
        assert tags["model-package-arn"] == package  # the lineage, in every region
        if region == REGION:
            assert container.get("ModelPackageName") == package
        else:
            assert container["ModelDataUrl"] == f"s3://{HOME_BUCKET}-{region}/{KEY}"


def test_a_home_only_mapping_breaks_the_region_rule_elsewhere() -> None:
    """What the template would do without the copy: every other region reads the home region."""
    home = {"PrimaryContainer": {"Image": XGBOOST_IMAGE, "ModelDataUrl": f"s3://{HOME_BUCKET}/{KEY}"}}
    where = {HOME_BUCKET: REGION}.get
    assert check_model_regions(REGION, home, where) is None
    problem = check_model_regions("eu-central-1", home, where)
    assert problem is not None and f"bucket of {REGION}" in problem and "eu-central-1" in problem
    package = {"PrimaryContainer": {"ModelPackageName": f"arn:aws:sagemaker:{REGION}:111111111111:model-package/g/1"}}
    assert "model package" in str(check_model_regions("us-east-1", package, where))
    image_only = {"PrimaryContainer": {"Image": XGBOOST_IMAGE, "ModelDataUrl": f"s3://{HOME_BUCKET}-x/{KEY}"}}
    assert "ECR registry of eu-west-1" in str(
        check_model_regions("us-east-1", image_only, {f"{HOME_BUCKET}-x": "us-east-1"}.get)
    )
    assert "does not exist" in str(
        check_model_regions(REGION, {"PrimaryContainer": {"ModelDataUrl": "s3://gone/k"}}, where)
    )


@pytest.mark.parametrize(
    ("image", "expected"),
    [
        (XGBOOST_IMAGE, "492215442770.dkr.ecr.eu-central-1.amazonaws.com/sagemaker-xgboost:1.7-1"),
        (
            "111111111111.dkr.ecr.eu-west-1.amazonaws.com/iris:3",
            "111111111111.dkr.ecr.eu-central-1.amazonaws.com/iris:3",
        ),
        ("222222222222.dkr.ecr.eu-west-1.amazonaws.com/iris:3", "neither a SageMaker built-in image"),
        ("docker.io/library/iris:3", "not an ECR image URI"),
    ],
)
def test_regional_image(seed: Seed, image: str, expected: str) -> None:
    import regions

    registries = regions.load_registries()
    if expected.startswith(("neither", "not an")):
        with pytest.raises(regions.RegionError, match=expected):
            regions.regional_image(image, "eu-central-1", "111111111111", registries)
    else:
        assert regions.regional_image(image, "eu-central-1", "111111111111", registries) == expected


def test_too_long_a_regional_bucket_name_is_refused(seed: Seed, repo: Path, tmp_path: Path, aws: None) -> None:
    register_with_artifacts(boto3.client("sagemaker", region_name=REGION))
    environ = multi_region_environ()
    environ[contract.Env.ARTIFACT_BUCKET] = "b" * 51  # 64 characters with -eu-central-1
    assert run(seed, repo, tmp_path / "out", environ) == 1
    assert not (tmp_path / "out").exists()


def test_a_package_without_artifacts_cannot_go_to_other_regions(
    seed: Seed, repo: Path, tmp_path: Path, aws: None, capsys: pytest.CaptureFixture[str]
) -> None:
    from tests.moto_helpers import register_model_package

    sm = boto3.client("sagemaker", region_name=REGION)
    sm.create_model_package_group(ModelPackageGroupName=GROUP)
    register_model_package(sm, GROUP, "Approved")  # an image, no ModelDataUrl
    assert run(seed, repo, tmp_path / "out", multi_region_environ()) == 1
    assert "expected one inference container with an Image and a ModelDataUrl" in capsys.readouterr().err


def test_a_container_environment_cannot_go_to_other_regions(
    seed: Seed, repo: Path, tmp_path: Path, aws: None, capsys: pytest.CaptureFixture[str]
) -> None:
    """The copies are made from Image + ModelDataUrl: an environment (SAGEMAKER_SUBMIT_DIRECTORY naming the
    home region's S3, say) would be lost, so the build refuses rather than serve a different model."""
    environment = {"SAGEMAKER_PROGRAM": "serve.py", "SAGEMAKER_SUBMIT_DIRECTORY": f"s3://{HOME_BUCKET}/code.tar.gz"}
    register_with_artifacts(boto3.client("sagemaker", region_name=REGION), environment=environment)
    assert run(seed, repo, tmp_path / "out", multi_region_environ()) == 1
    err = capsys.readouterr().err
    assert "sets environment variables (SAGEMAKER_PROGRAM, SAGEMAKER_SUBMIT_DIRECTORY)" in err
    assert not (tmp_path / "out").exists()


def test_other_regions_need_the_artifact_bucket_and_the_organisation(
    seed: Seed, repo: Path, tmp_path: Path, aws: None, capsys: pytest.CaptureFixture[str]
) -> None:
    register_with_artifacts(boto3.client("sagemaker", region_name=REGION))
    environ = multi_region_environ()
    del environ[contract.Env.ORG_ID]
    assert run(seed, repo, tmp_path / "out", environ) == 1
    assert "ORGANIZATION_ID not set: with deploy regions beyond eu-west-1" in capsys.readouterr().err
    assert run(seed, repo, tmp_path / "home", {**environ, contract.Env.DEPLOY_REGIONS: REGION}) == 0


def test_an_aws_refusal_in_another_region_is_one_line(
    seed: Seed, repo: Path, tmp_path: Path, aws: None, capsys: pytest.CaptureFixture[str]
) -> None:
    """A regional bucket name taken by another account (BucketAlreadyExists) ends the build with one line."""
    from botocore.exceptions import ClientError

    def refuse(**_: Any) -> Any:
        error = {"Error": {"Code": "BucketAlreadyExists", "Message": "The requested bucket name is not available"}}
        raise ClientError(error, "CreateBucket")

    def s3_for(region: str) -> Any:
        client = boto3.client("s3", region_name=region)
        if region != REGION:
            client.create_bucket = refuse  # another account owns the name
        return client

    register_with_artifacts(boto3.client("sagemaker", region_name=REGION))
    sm = boto3.client("sagemaker", region_name=REGION)
    argv = ["--repo", str(repo), "--out", str(tmp_path / "out")]
    assert seed.build.main(argv, environ=multi_region_environ(), sm=sm, s3_for=s3_for) == 1
    err = capsys.readouterr().err
    assert err.startswith("build failed: ClientError: An error occurred (BucketAlreadyExists)"), err
    assert "Traceback" not in err and not (tmp_path / "out").exists()
