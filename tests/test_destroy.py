"""`mlops-gen destroy` on moto: finds the project's stack sets, deletes their instances, then the stack sets.

moto ignores CallAs (a botocore hook records what each call sends) and DeploymentTargets on delete (the
rehearsal's fidelity patch resolves them as CloudFormation does, so a wrong target deletes nothing).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws
from typer.testing import CliRunner

from generator.cli import app
from generator.config import StackSetAdmin
from generator.errors import InputError
from generator.live import destroy as des
from generator.live.rehearse import fidelity
from generator.naming import Stage

REGION = "eu-west-1"
PROJECT, PROJECT_ID = "iris", "p-abcdefghijkl"
TEMPLATE = json.dumps({"Resources": {"Topic": {"Type": "AWS::SNS::Topic"}}})


class World:
    """An organisation with a staging OU of two accounts, and the project's two stack sets deployed."""

    def __init__(self, admin: StackSetAdmin) -> None:
        orgs = boto3.client("organizations", region_name=REGION)
        orgs.create_organization(FeatureSet="ALL")
        root = orgs.list_roots()["Roots"][0]["Id"]
        self.ou = {}
        self.accounts: dict[Stage, list[str]] = {}
        for stage in Stage:
            ou = orgs.create_organizational_unit(ParentId=root, Name=stage.value)["OrganizationalUnit"]["Id"]
            self.ou[stage] = ou
            self.accounts[stage] = []
            for n in range(2):
                name = f"{stage.value}-{n}"
                account = orgs.create_account(AccountName=name, Email=f"{name}@example.com")["CreateAccountStatus"]
                orgs.move_account(AccountId=account["AccountId"], SourceParentId=root, DestinationParentId=ou)
                self.accounts[stage].append(account["AccountId"])
        self.options = des.DestroyOptions(PROJECT, PROJECT_ID, stackset_admin=admin, ous=self.ou)
        self.cfn = boto3.client("cloudformation", region_name=REGION)
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.cfn.meta.events.register(
            "before-parameter-build.cloudformation.*",
            lambda model, params, **_: self.calls.append((model.name, dict(params))),
        )
        for stage, name in des.stack_set_names(self.options).items():
            auto = {"Enabled": True, "RetainStacksOnAccountRemoval": False}
            self.cfn.create_stack_set(
                StackSetName=name, TemplateBody=TEMPLATE, PermissionModel="SERVICE_MANAGED", AutoDeployment=auto
            )
            # prod: only its first account (as with --prod-accounts)
            targets: dict[str, Any] = {"OrganizationalUnitIds": [self.ou[stage]]}
            if stage is Stage.PROD:
                targets.update(Accounts=self.accounts[stage][:1], AccountFilterType="INTERSECTION")
            self.cfn.create_stack_instances(StackSetName=name, DeploymentTargets=targets, Regions=[REGION, "us-east-1"])
        self.calls.clear()

    def sets(self) -> list[str]:
        # moto keeps deleted stack sets in the list (Status DELETED) and ignores the Status filter
        return [s["StackSetName"] for s in self.cfn.list_stack_sets()["Summaries"] if s["Status"] == "ACTIVE"]


@pytest.fixture(params=[StackSetAdmin.MANAGEMENT, StackSetAdmin.DELEGATED], ids=lambda a: a.value)
def world(request: pytest.FixtureRequest) -> Iterator[World]:
    with mock_aws(), fidelity.aws_behaviour():
        yield World(request.param)


def test_dry_run_only_reads(world: World) -> None:
    report = des.dry_run(world.options, des.plan(world.cfn, world.options))
    assert report.dry_run and not report.failed and not report.absent
    staging, prod = (f"sagemaker-{PROJECT}-{PROJECT_ID}-deploy-{s.value}" for s in Stage)
    assert f"stack set {staging}" in report.removed and f"stack set {prod}" in report.removed
    assert len([r for r in report.removed if r.startswith("stack instance")]) == 2 * 2 + 1 * 2
    assert {op for op, _ in world.calls} <= {"DescribeStackSet", "ListStackInstances"}
    assert sorted(world.sets()) == sorted([staging, prod])  # nothing deleted


def test_apply_deletes_instances_then_stack_sets(world: World) -> None:
    report = des.apply(
        world.cfn, world.options, des.plan(world.cfn, world.options), des.operation_waiter(world.cfn, 0, 5)
    )
    assert report.failed == [], report.failed
    assert world.sets() == []
    deletes = [params for op, params in world.calls if op == "DeleteStackInstances"]
    assert len(deletes) == 2
    prod = next(d for d in deletes if d["StackSetName"].endswith("-prod"))
    assert prod["RetainStacks"] is False
    assert prod["DeploymentTargets"] == {
        "OrganizationalUnitIds": [world.ou[Stage.PROD]],
        "Accounts": world.accounts[Stage.PROD][:1],
        "AccountFilterType": "INTERSECTION",
    }
    assert prod["Regions"] == sorted([REGION, "us-east-1"])
    assert prod["OperationPreferences"]["RegionOrder"] == prod["Regions"]
    sent = {params.get("CallAs") for op, params in world.calls if op != "ListStackSets"}  # (the test's own reads)
    assert sent == {world.options.call_as}
    # A second run finds nothing left and says so.
    again = des.apply(world.cfn, world.options, des.plan(world.cfn, world.options))
    assert again.removed == [] and len(again.absent) == 2 and again.failed == []


def test_instances_left_after_the_deletion_keep_the_stack_set_and_are_named(world: World) -> None:
    """An instance the deletion did not cover (here: one added after the plan was read, as when an account
    joins the OU mid-run) is found by the re-check; the stack set is kept and the instance named."""
    plans = des.plan(world.cfn, world.options)
    staging = des.stack_set_names(world.options)[Stage.STAGING]
    world.cfn.create_stack_instances(
        StackSetName=staging,
        DeploymentTargets={"OrganizationalUnitIds": [world.ou[Stage.STAGING]]},
        Regions=["eu-central-1"],
    )
    report = des.apply(world.cfn, world.options, plans, des.operation_waiter(world.cfn, 0, 5))
    kept = [line for line in report.failed if staging in line]
    assert len(kept) == 1 and "still there after the deletion" in kept[0] and "run destroy again" in kept[0]
    for account in world.accounts[Stage.STAGING]:
        assert f"account {account} region eu-central-1" in kept[0]
    assert staging in world.sets()
    assert f"stack set {staging}" not in report.removed
    assert any(line.startswith(f"stack instance {staging}") for line in report.removed)


def test_unknown_ou_is_reported_not_guessed() -> None:
    with mock_aws(), fidelity.aws_behaviour():
        world = World(StackSetAdmin.MANAGEMENT)
        options = des.DestroyOptions(PROJECT, PROJECT_ID)  # no OUs, and moto's summaries do not name them
        report = des.apply(world.cfn, options, des.plan(world.cfn, options))
        assert len(report.failed) == 2 and all("pass --" in f for f in report.failed)
        assert len(world.sets()) == 2


def test_options_validate_like_render() -> None:
    with pytest.raises(InputError, match="--project-name"):
        des.destroy_options("Iris_1", PROJECT_ID, {"region": REGION}, {})
    with pytest.raises(InputError, match="--stackset-admin"):
        des.destroy_options(PROJECT, PROJECT_ID, {"region": REGION, "stackset-admin": "root"}, {})
    options, region = des.destroy_options(
        PROJECT, PROJECT_ID, {"region": None}, {"stackset-admin": "delegated", "staging-ou": "ou-ab12-11111111"},
        environ={"AWS_REGION": "us-east-1"},
    )  # fmt: skip
    assert region == "us-east-1" and options.call_as == "DELEGATED_ADMIN"
    assert options.ous == {Stage.STAGING: "ou-ab12-11111111"}


def test_cli_dry_run_and_yes(monkeypatch: pytest.MonkeyPatch) -> None:
    with mock_aws(), fidelity.aws_behaviour():
        world = World(StackSetAdmin.DELEGATED)
        monkeypatch.setattr(des, "session_client", lambda region, profile, url: world.cfn)
        monkeypatch.setattr(des, "WAITER_DELAY", 0)
        args = ["destroy", "--project-name", PROJECT, "--project-id", PROJECT_ID, "--region", REGION,
                "--stackset-admin", "delegated", "--staging-ou", world.ou[Stage.STAGING], "--prod-ou",
                world.ou[Stage.PROD]]  # fmt: skip
        dry = CliRunner().invoke(app, args)
        assert dry.exit_code == 0, dry.output
        assert "would remove stack set sagemaker-iris-p-abcdefghijkl-deploy-prod" in dry.output
        assert "pass --yes to delete" in dry.output and len(world.sets()) == 2
        done = CliRunner().invoke(app, [*args, "--yes", "--json"])
        assert done.exit_code == 0, done.output
        report = json.loads(done.stdout)
        assert report["dry_run"] is False and report["call_as"] == "DELEGATED_ADMIN" and report["failed"] == []
        assert world.sets() == []


def test_regional_artifact_buckets_are_emptied_and_deleted() -> None:
    """The build's per-region copies (seed regions.py) are found by name, emptied and deleted; others stay."""
    from generator.live import regional_buckets
    from generator.naming import Names

    stem = Names().artifact_bucket.render(PROJECT, PROJECT_ID)
    with mock_aws():
        s3_for = regional_buckets.s3_factory(None, None)
        for region in ("eu-central-1", "us-east-1"):
            s3 = s3_for(region)
            config = {} if region == "us-east-1" else {"CreateBucketConfiguration": {"LocationConstraint": region}}
            s3.create_bucket(Bucket=f"{stem}-{region}", **config)
            s3.put_object(Bucket=f"{stem}-{region}", Key="model-build/v1/model.tar.gz", Body=b"m")
        home = s3_for(REGION)
        for other in (stem, f"{stem}-backup", f"{stem}-eu-central-1-old"):  # the home bucket and look-alikes
            home.create_bucket(Bucket=other, CreateBucketConfiguration={"LocationConstraint": REGION})
        found = regional_buckets.regional_buckets(home, "sagemaker-", PROJECT, PROJECT_ID)
        assert found == [("eu-central-1", f"{stem}-eu-central-1"), ("us-east-1", f"{stem}-us-east-1")]
        dry = regional_buckets.remove(s3_for, found, dry_run=True)
        assert dry.failed == [] and len(dry.removed) == 2 and "(eu-central-1, 1 object(s))" in dry.removed[0]
        assert len(home.list_buckets()["Buckets"]) == 5
        done = regional_buckets.remove(s3_for, found, dry_run=False)
        assert done.failed == [] and done.removed == dry.removed
        assert sorted(b["Name"] for b in home.list_buckets()["Buckets"]) == sorted(
            [stem, f"{stem}-backup", f"{stem}-eu-central-1-old"]
        )


def test_regional_buckets_stay_while_stack_instances_remain() -> None:
    """When deleting some stack instances failed, their endpoints still read the regional copies: kept, and
    said; once the instances are gone (or in a dry run) the buckets go."""
    from generator.live import regional_buckets
    from generator.naming import Names

    stem = Names().artifact_bucket.render(PROJECT, PROJECT_ID)
    with mock_aws():
        s3_for = regional_buckets.s3_factory(None, None)
        s3 = s3_for("eu-central-1")
        s3.create_bucket(
            Bucket=f"{stem}-eu-central-1", CreateBucketConfiguration={"LocationConstraint": "eu-central-1"}
        )
        found = regional_buckets.regional_buckets(s3_for(REGION), "sagemaker-", PROJECT, PROJECT_ID)
        kept = regional_buckets.after_instances(s3_for, found, yes=True, instances_failed=True)
        assert kept.removed == [] and kept.failed == [
            f"regional bucket {stem}-eu-central-1 kept: stack instances remain, and their endpoints read from it"
        ]
        assert [b["Name"] for b in s3.list_buckets()["Buckets"]] == [f"{stem}-eu-central-1"]
        dry = regional_buckets.after_instances(s3_for, found, yes=False, instances_failed=True)
        assert dry.failed == [] and len(dry.removed) == 1
        done = regional_buckets.after_instances(s3_for, found, yes=True, instances_failed=False)
        assert done.failed == [] and s3.list_buckets()["Buckets"] == []
