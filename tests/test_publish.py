"""`mlops-gen publish`: flags, reading DIR, the plan, `--dry-run`, the s3-template way end to end on moto, the CLI.

The Service Catalog way is in test_publish_catalog.py (moto lacks most of its calls).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.awsrequest import AWSResponse
from moto import mock_aws
from typer.testing import CliRunner

from generator.cli import app
from generator.errors import InputError
from generator.live import publish as pub
from generator.manifest import read_manifest
from generator.render import build_manifest, write_output
from tests.conftest import make_config, rendered_files

REGION = "eu-west-1"
BUCKET = "acme-mlops-templates"
ACCOUNT = "123456789012"  # moto's default account


def render_into(folder: Path, **overrides: Any) -> Path:
    """Render a product (seed bucket BUCKET unless overridden) into `folder`, as `mlops-gen render` does."""
    cfg = make_config(**{"seed_bucket": BUCKET, **overrides})
    files = rendered_files(cfg)
    write_output(files, build_manifest(cfg, files), folder, force=True)
    return folder


def options(folder: Path, **changes: Any) -> pub.PublishOptions:
    return replace(pub.PublishOptions(folder=folder, bucket=BUCKET), **changes)


def plan_for(opts: pub.PublishOptions) -> pub.Plan:
    pub.check_options(opts)
    release = pub.load_release(opts.folder, opts.bucket)
    return pub.build_plan(opts, release, pub.resolve_region(None, release))


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return render_into(tmp_path_factory.mktemp("render") / "dist")


@pytest.fixture(scope="module")
def rendered_v2(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Same product, another branch: a changed template (and seed bundle)."""
    return render_into(tmp_path_factory.mktemp("render") / "dist", branch="release")


@pytest.fixture
def fake_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": REGION,
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)


@pytest.fixture
def aws(fake_credentials: None, moto_org: str) -> Iterator[pub.Clients]:
    """moto with the rendered-for organisation and the bucket in the home region; clients as the CLI makes them."""
    with mock_aws():
        clients = pub.make_clients(boto3.Session(), REGION)
        clients.organizations.create_organization(FeatureSet="ALL")
        clients.s3.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
        yield clients


# --- flags ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "flag"),
    [
        ({"bucket": "Bad_Bucket"}, "--bucket"),
        ({"prefix": "no-slash"}, "--prefix"),
        ({"prefix": "/abs/"}, "--prefix"),
        ({"principal_arns": ("arn:aws:iam::123456789012:policy/x",)}, "--principal-arn"),
        ({"launch_role_arn": "AmazonSageMakerServiceCatalogProductsLaunchRole"}, "--launch-role-arn"),
        ({"domain_id": "d-abc123abc123"}, "--domain-id"),
        ({"via": pub.Via.S3_TEMPLATE}, "--domain-id"),
        ({"via": pub.Via.S3_TEMPLATE, "domain_id": "D_bad"}, "--domain-id"),
        (
            {"via": pub.Via.S3_TEMPLATE, "domain_id": "d-abc123abc123", "launch_role_arn": "arn:aws:iam::1:role/x"},
            "--launch-role-arn",
        ),
        ({"product_name": ""}, "--product-name"),
    ],
)
def test_bad_flags_are_input_errors(tmp_path: Path, changes: dict[str, Any], flag: str) -> None:
    with pytest.raises(InputError) as caught:
        pub.check_options(options(tmp_path, **changes))
    assert caught.value.flag == flag
    assert caught.value.exit_code == 2


def test_unknown_via_names_the_choices() -> None:
    with pytest.raises(InputError, match="service-catalog, s3-template"):
        pub.parse_via("cloudformation")


# --- reading DIR ----------------------------------------------------------------------------------


@pytest.mark.slow  # renders whole configurations (about a second each)
def test_release_reads_keys_and_role_from_the_render(rendered: Path) -> None:
    release = pub.load_release(rendered, BUCKET)
    manifest = read_manifest(rendered)
    assert release.home_region == REGION
    assert release.template.sha256 == next(a.sha256 for a in manifest.artifacts if a.kind == "product-template")
    assert release.seed is not None and release.seed_key is not None
    assert release.seed_key.startswith("mlops-gen/seedcode/") and release.seed_key.endswith(release.seed.name)
    assert release.launch_role_name == "sagemaker-mlops-gen-launch-role"


def test_standard_launch_role_render_has_no_role_name(tmp_path: Path) -> None:
    folder = render_into(tmp_path / "std", launch_role="standard", service_roles="use-role")
    assert pub.load_release(folder, BUCKET).launch_role_name is None


@pytest.mark.slow  # renders whole configurations (about a second each)
def test_codeconnections_render_has_no_seed_bundle(tmp_path: Path) -> None:
    folder = render_into(
        tmp_path / "cc",
        seed_bucket=None,
        source="codeconnections",
        connection_arn="arn:aws:codeconnections:eu-west-1:123456789012:connection/0a1b2c3d-4e5f-6a7b-8c9d-0e1f2a3b4c5d",
        repository="acme/deploy",
    )
    release = pub.load_release(folder, BUCKET)
    assert release.seed is None and release.seed_key is None
    assert "seed-bundle" not in [s.name for s in plan_for(options(folder)).steps]


@pytest.mark.slow  # renders whole configurations (about a second each)
def test_seed_bucket_must_be_the_publish_bucket(rendered: Path) -> None:
    with pytest.raises(InputError, match=f"--bucket {BUCKET} or render again with --seed-bucket other-bucket"):
        pub.load_release(rendered, "other-bucket")


def test_render_without_seed_bucket_is_refused(tmp_path: Path) -> None:
    folder = render_into(tmp_path / "noseed", seed_bucket=None)
    with pytest.raises(InputError, match=f"no SeedCodeBucket default.*--seed-bucket {BUCKET}"):
        pub.load_release(folder, BUCKET)


def test_edited_template_is_refused(tmp_path: Path) -> None:
    folder = render_into(tmp_path / "edited")
    template = folder / "product-template.yaml"
    template.write_text(template.read_text() + "# edited\n")
    with pytest.raises(InputError, match="was changed after the render"):
        pub.load_release(folder, BUCKET)


def test_missing_manifest_is_an_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="render into it first"):
        pub.load_release(tmp_path, BUCKET)


def test_region_must_be_the_home_region(rendered: Path) -> None:
    release = pub.load_release(rendered, BUCKET)
    assert pub.resolve_region(None, release) == REGION
    assert pub.resolve_region(REGION, release) == REGION
    with pytest.raises(InputError, match="rendered for eu-west-1") as caught:
        pub.resolve_region("us-east-1", release)
    assert caught.value.flag == "--region"


# --- the plan ------------------------------------------------------------------------------------


@pytest.mark.slow  # renders whole configurations (about a second each)
def test_template_key_is_content_addressed(rendered: Path, rendered_v2: Path) -> None:
    one, two = plan_for(options(rendered)), plan_for(options(rendered_v2))
    sha = pub.load_release(rendered, BUCKET).template.sha256
    assert one.template_key == f"mlops-gen/{sha}/product-template.yaml"
    assert one.template_url == f"https://{BUCKET}.s3.{REGION}.amazonaws.com/{one.template_key}"
    assert two.template_key != one.template_key
    assert plan_for(options(rendered, prefix="teams/ml/")).template_key.startswith("teams/ml/")


def test_checks_come_before_writes(rendered: Path) -> None:
    names = [s.name for s in plan_for(options(rendered)).steps]
    assert names[:4] == ["identity", "organization", "bucket", "launch-role"]
    # The ownership check reads before the portfolio or product is created.
    assert names.index("catalog-lookup") < names.index("portfolio") < names.index("product")
    # A constraint needs the product in the portfolio.
    assert names.index("association") < names.index("launch-constraint")


def test_dry_run_makes_no_call(rendered: Path) -> None:
    plan = plan_for(options(rendered))
    report = pub.dry_run(plan)  # takes no clients: it cannot call AWS
    assert [o.step for o in report.outcomes] == [s.name for s in plan.steps]
    assert {o.action for o in report.outcomes} == {pub.PLANNED}
    assert report.as_dict()["outputs"]["template_key"] == plan.template_key
    assert not report.changed


# --- s3-template, end to end on moto -----------------------------------------------------------


def create_domain(clients: pub.Clients) -> str:
    """A Studio domain (moto needs a tag at creation before add_tags works: aws-facts.md)."""
    vpc = boto3.client("ec2", region_name=REGION).create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    subnet = boto3.client("ec2", region_name=REGION).create_subnet(VpcId=vpc, CidrBlock="10.0.0.0/24")
    domain = clients.sagemaker.create_domain(
        DomainName="studio",
        AuthMode="IAM",
        DefaultUserSettings={"ExecutionRole": f"arn:aws:iam::{ACCOUNT}:role/StudioExecution"},
        SubnetIds=[subnet["Subnet"]["SubnetId"]],
        VpcId=vpc,
        Tags=[{"Key": "team", "Value": "ml"}],
    )
    return str(domain["DomainArn"].rsplit("/", 1)[1])


def s3_template_plan(folder: Path, domain_id: str) -> pub.Plan:
    return plan_for(options(folder, via=pub.Via.S3_TEMPLATE, domain_id=domain_id))


def object_tags(clients: pub.Clients, key: str) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in clients.s3.get_object_tagging(Bucket=BUCKET, Key=key)["TagSet"]}


def domain_tags(clients: pub.Clients, domain_id: str) -> dict[str, str]:
    arn = clients.sagemaker.describe_domain(DomainId=domain_id)["DomainArn"]
    return {t["Key"]: t["Value"] for t in clients.sagemaker.list_tags(ResourceArn=arn)["Tags"]}


def test_s3_template_end_to_end(aws: pub.Clients, rendered: Path, rendered_v2: Path) -> None:
    domain_id = create_domain(aws)
    existing_rule = {"AllowedOrigins": ["https://example.com"], "AllowedMethods": ["PUT"], "AllowedHeaders": ["*"]}
    aws.s3.put_bucket_cors(Bucket=BUCKET, CORSConfiguration={"CORSRules": [existing_rule]})
    plan = s3_template_plan(rendered, domain_id)

    report = pub.apply(plan, aws)

    assert report.changed
    studio = aws.s3.get_object(Bucket=BUCKET, Key=plan.studio_key)
    assert (
        plan.studio_key == "mlops-gen/templates/multi-account-model-deployment-mlops-gen.yaml"
    )  # the render's product name
    assert studio["Body"].read() == (rendered / "product-template.yaml").read_bytes()
    assert object_tags(aws, plan.studio_key)["sagemaker:studio-visibility"] == "true"
    assert object_tags(aws, plan.template_key) == {"servicecatalog:provisioning": "true"}
    assert plan.release.seed_key is not None
    assert object_tags(aws, plan.release.seed_key) == {"servicecatalog:provisioning": "true"}
    rules = aws.s3.get_bucket_cors(Bucket=BUCKET)["CORSRules"]
    assert rules[0]["AllowedOrigins"] == ["https://example.com"]  # kept, not clobbered
    ours = [r for r in rules if "https://*.sagemaker.aws" in r["AllowedOrigins"]]
    assert len(ours) == 1 and {"GET", "HEAD"} <= set(ours[0]["AllowedMethods"])
    tags = domain_tags(aws, domain_id)
    assert tags["sagemaker:projectS3TemplatesLocation"] == f"s3://{BUCKET}/mlops-gen/templates/"
    assert tags["team"] == "ml"

    again = pub.apply(plan, aws)
    assert not again.changed, [o for o in again.outcomes if o.action != pub.UNCHANGED]
    assert len(aws.s3.get_bucket_cors(Bucket=BUCKET)["CORSRules"]) == 2

    changed = pub.apply(s3_template_plan(rendered_v2, domain_id), aws)
    actions = {o.step: o.action for o in changed.outcomes}
    assert actions["studio-template"] == pub.UPDATED and actions["template"] == pub.CREATED
    assert actions["cors"] == actions["domain"] == actions["domain-tag"] == pub.UNCHANGED
    body = aws.s3.get_object(Bucket=BUCKET, Key=plan.studio_key)["Body"].read()
    assert body == (rendered_v2 / "product-template.yaml").read_bytes()
    assert object_tags(aws, plan.studio_key)["sagemaker:studio-visibility"] == "true"
    # The old version stays where it was.
    assert aws.s3.get_object(Bucket=BUCKET, Key=plan.template_key)["Body"].read() == studio_bytes(rendered)


def studio_bytes(folder: Path) -> bytes:
    return (folder / "product-template.yaml").read_bytes()


def test_s3_template_restores_a_removed_visibility_tag(aws: pub.Clients, rendered: Path) -> None:
    domain_id = create_domain(aws)
    plan = s3_template_plan(rendered, domain_id)
    pub.apply(plan, aws)
    aws.s3.put_object_tagging(Bucket=BUCKET, Key=plan.studio_key, Tagging={"TagSet": [{"Key": "x", "Value": "1"}]})
    report = pub.apply(plan, aws)
    assert {o.step: o.action for o in report.outcomes}["studio-template"] == pub.UPDATED
    assert object_tags(aws, plan.studio_key) == {
        "x": "1",
        "sagemaker:studio-visibility": "true",
        "servicecatalog:provisioning": "true",
    }


def test_domain_pointing_elsewhere_is_not_retagged(aws: pub.Clients, rendered: Path) -> None:
    domain_id = create_domain(aws)
    arn = aws.sagemaker.describe_domain(DomainId=domain_id)["DomainArn"]
    other = "s3://other-bucket/templates/"
    aws.sagemaker.add_tags(ResourceArn=arn, Tags=[{"Key": "sagemaker:projectS3TemplatesLocation", "Value": other}])
    with pytest.raises(pub.PublishError, match=f"already reads templates from {other}") as caught:
        pub.apply(s3_template_plan(rendered, domain_id), aws)
    assert caught.value.step == "domain"  # refused before any upload or CORS change
    assert domain_tags(aws, domain_id)["sagemaker:projectS3TemplatesLocation"] == other
    assert aws.s3.list_objects_v2(Bucket=BUCKET).get("KeyCount") == 0
    assert "CORSRules" not in _cors_or_empty(aws)


def test_existing_studio_cors_rule_is_reused(aws: pub.Clients, rendered: Path) -> None:
    domain_id = create_domain(aws)
    rule = {"AllowedOrigins": ["*"], "AllowedMethods": ["GET", "HEAD", "PUT"], "AllowedHeaders": ["*"]}
    aws.s3.put_bucket_cors(Bucket=BUCKET, CORSConfiguration={"CORSRules": [rule]})
    report = pub.apply(s3_template_plan(rendered, domain_id), aws)
    assert {o.step: o.action for o in report.outcomes}["cors"] == pub.UNCHANGED
    assert len(aws.s3.get_bucket_cors(Bucket=BUCKET)["CORSRules"]) == 1


def test_unknown_domain_fails_before_any_upload_or_cors_change(aws: pub.Clients, rendered: Path) -> None:
    with pytest.raises(pub.PublishError) as caught:
        pub.apply(s3_template_plan(rendered, "d-nosuchdomain1"), aws)
    assert caught.value.step == "domain"
    assert "d-nosuchdomain1 does not exist" in str(caught.value) and "aws sagemaker list-domains" in str(caught.value)
    assert aws.s3.list_objects_v2(Bucket=BUCKET).get("KeyCount") == 0
    assert "CORSRules" not in _cors_or_empty(aws)


def _cors_or_empty(aws: pub.Clients) -> dict[str, Any]:
    from botocore.exceptions import ClientError

    try:
        return dict(aws.s3.get_bucket_cors(Bucket=BUCKET))
    except ClientError:
        return {}


# --- AWS problems: one clear message each ---------------------------------------------------------


def test_bucket_in_another_region(fake_credentials: None, moto_org: str, rendered: Path) -> None:
    with mock_aws():
        clients = pub.make_clients(boto3.Session(), REGION)
        clients.organizations.create_organization(FeatureSet="ALL")
        west = boto3.client("s3", region_name="us-west-2")
        west.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": "us-west-2"})
        with pytest.raises(pub.PublishError, match="is in us-west-2, but the product is published in eu-west-1") as e:
            pub.apply(s3_template_plan(rendered, "d-abcdefgh1234"), clients)
        assert e.value.step == "bucket"
        assert "Contents" not in clients.s3.list_objects_v2(Bucket=BUCKET)  # nothing was written


def test_the_organisation_must_be_the_rendered_one(fake_credentials: None, tmp_path: Path) -> None:
    """Before any upload: not in an organisation, another organisation, or a render without --org-id."""
    with mock_aws():
        clients = pub.make_clients(boto3.Session(), REGION)
        clients.s3.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
        plan = plan_for(options(render_into(tmp_path / "a")))
        with pytest.raises(pub.PublishError, match="is not in an organisation") as caught:
            pub.apply(plan, clients)
        assert caught.value.step == "organization"
        actual = clients.organizations.create_organization(FeatureSet="ALL")["Organization"]["Id"]
        with pytest.raises(
            pub.PublishError, match=f"rendered with --org-id o-a1b2c3d4e5, but this organisation is {actual}"
        ):
            pub.apply(plan, clients)
        without = plan_for(options(render_into(tmp_path / "b", org_id=None)))
        with pytest.raises(pub.PublishError, match=f"no OrganizationId default.*--org-id {actual}"):
            pub.apply(without, clients)
        assert "Contents" not in clients.s3.list_objects_v2(Bucket=BUCKET)  # nothing was written


def test_missing_bucket(fake_credentials: None, moto_org: str, rendered: Path) -> None:
    with mock_aws():
        clients = pub.make_clients(boto3.Session(), REGION)
        clients.organizations.create_organization(FeatureSet="ALL")
        with pytest.raises(pub.PublishError, match=f"bucket {BUCKET} does not exist.*aws s3 mb") as caught:
            pub.apply(s3_template_plan(rendered, "d-abcdefgh1234"), clients)
        assert caught.value.step == "bucket"


def deny(operation: str) -> Any:
    """A before-call handler answering `operation` as S3 does when IAM denies it."""

    def handler(model: Any, **_: Any) -> Any:
        if model.name != operation:
            return None
        body = {"Error": {"Code": "AccessDenied", "Message": "Access Denied"}, "ResponseMetadata": {}}
        return AWSResponse("https://s3", 403, {}, None), body

    return handler


def test_access_denied_names_the_action_and_caller(aws: pub.Clients, rendered: Path) -> None:
    domain_id = create_domain(aws)
    aws.s3.meta.events.register("before-call.s3.PutObject", deny("PutObject"))
    with pytest.raises(pub.PublishError) as caught:
        pub.apply(s3_template_plan(rendered, domain_id), aws)
    message = str(caught.value)
    assert caught.value.step == "seed-bundle"
    assert "access denied to s3:PutObject" in message
    assert f"arn:aws:sts::{ACCOUNT}:user/moto" in message or f"arn:aws:iam::{ACCOUNT}:user/moto" in message
    # Once allowed (new clients without the denial), the same command completes the job.
    fresh = pub.make_clients(boto3.Session(), REGION)
    assert pub.apply(s3_template_plan(rendered, domain_id), fresh).changed


@pytest.mark.slow  # renders whole configurations (about a second each)
def test_no_credentials(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, rendered: Path) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    # No moto (it would supply credentials): botocore refuses to sign before anything is sent.
    clients = pub.make_clients(boto3.Session(), REGION)
    with pytest.raises(pub.PublishError, match=r"no AWS credentials found.*--profile") as caught:
        pub.apply(s3_template_plan(rendered, "d-abcdefgh1234"), clients)
    assert caught.value.step == "identity"
    assert caught.value.exit_code == 1


# --- the CLI ----------------------------------------------------------------------------------------

runner = CliRunner()


def test_cli_dry_run_json_is_the_plan(rendered: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # No credentials and no moto: a dry run must not need either.
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "")
    result = runner.invoke(app, ["publish", str(rendered), "--bucket", BUCKET, "--dry-run", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["dry_run"] is True and report["via"] == "service-catalog"
    assert {s["action"] for s in report["steps"]} == {"planned"}
    assert report["outputs"]["template_key"].endswith("/product-template.yaml")


def test_cli_bad_flag_exits_2(rendered: Path) -> None:
    result = runner.invoke(app, ["publish", str(rendered), "--bucket", BUCKET, "--via", "s3-template"])
    assert result.exit_code == 2
    assert "--domain-id" in result.stderr


def test_cli_other_region_exits_2(rendered: Path) -> None:
    result = runner.invoke(app, ["publish", str(rendered), "--bucket", BUCKET, "--region", "us-east-1", "--dry-run"])
    assert result.exit_code == 2
    assert "rendered for eu-west-1" in result.stderr


def test_cli_unknown_profile_exits_2(rendered: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    result = runner.invoke(app, ["publish", str(rendered), "--bucket", BUCKET, "--profile", "nope"])
    assert result.exit_code == 2
    assert "no AWS profile named 'nope'" in result.stderr


@pytest.mark.slow  # renders whole configurations (about a second each)
def test_cli_no_credentials_exits_1(rendered: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    result = runner.invoke(app, ["publish", str(rendered), "--bucket", BUCKET])
    assert result.exit_code == 1
    lines = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(lines) == 1 and "publish step 'identity': no AWS credentials found" in lines[0]


def test_cli_s3_template_against_a_moto_server(fake_credentials: None, moto_org: str, rendered: Path) -> None:
    """--endpoint-url: the whole s3-template way against a real HTTP endpoint, then a JSON report."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        url = f"http://{host}:{port}"
        clients = pub.make_clients(boto3.Session(), REGION, url)
        clients.organizations.create_organization(FeatureSet="ALL")
        clients.s3.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
        ec2 = boto3.client("ec2", region_name=REGION, endpoint_url=url)
        vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
        subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.0.0/24")["Subnet"]["SubnetId"]
        domain = clients.sagemaker.create_domain(
            DomainName="studio",
            AuthMode="IAM",
            DefaultUserSettings={"ExecutionRole": f"arn:aws:iam::{ACCOUNT}:role/StudioExecution"},
            SubnetIds=[subnet],
            VpcId=vpc,
            Tags=[{"Key": "team", "Value": "ml"}],
        )
        domain_id = domain["DomainArn"].rsplit("/", 1)[1]
        args = ["publish", str(rendered), "--bucket", BUCKET, "--via", "s3-template", "--domain-id", domain_id]
        args += ["--endpoint-url", url, "--json"]
        first = runner.invoke(app, args)
        assert first.exit_code == 0, first.output
        assert json.loads(first.stdout)["changed"] is True
        second = runner.invoke(app, args)
        assert second.exit_code == 0, second.output
        report = json.loads(second.stdout)
        assert report["changed"] is False
        assert report["outputs"]["templates_location"] == f"s3://{BUCKET}/mlops-gen/templates/"
        tags = clients.s3.get_object_tagging(Bucket=BUCKET, Key=report["outputs"]["studio_template_key"])
        assert {"Key": "sagemaker:studio-visibility", "Value": "true"} in tags["TagSet"]
    finally:
        server.stop()


# --- what render decided, publish reads (manifest settings) ----------------------------------------------


@pytest.mark.slow  # renders whole configurations (about a second each)
def test_publish_reads_the_render_settings_and_says_when_a_flag_overrides(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from generator.cli import app

    studio = f"arn:aws:iam::{ACCOUNT}:role/StudioExecution"
    folder = render_into(
        tmp_path / "dist", portfolio_name="Team A templates", product_name="Iris deploy", studio_role_arn=[studio]
    )
    runner = CliRunner()
    plain = runner.invoke(app, ["publish", str(folder), "--dry-run", "--json"])
    assert plain.exit_code == 0, plain.output
    steps = {o["step"]: o["detail"] for o in json.loads(plain.stdout)["steps"]}
    assert f"s3://{BUCKET}/" in steps["template"]  # the render's --seed-bucket, not typed again
    assert "'Team A templates'" in steps["portfolio"] and "'Iris deploy'" in steps["product"]
    assert steps["principals"].startswith("associate 1 principal")
    assert "overrides" not in plain.stderr

    other = runner.invoke(app, ["publish", str(folder), "--dry-run", "--portfolio-name", "Other", "--bucket", BUCKET])
    assert other.exit_code == 0, other.output
    assert "--portfolio-name overrides the render's portfolio-name ('Team A templates') with 'Other'" in other.stderr
    assert "--bucket overrides" not in other.stderr  # the same value: nothing to say

    s3 = runner.invoke(app, ["publish", str(folder), "--dry-run", "--via", "s3-template", "--domain-id", "d-abc123"])
    assert s3.exit_code == 0, s3.output  # the render's Studio roles are a portfolio's, not an error here
