"""`mlops-gen rehearse`: the rendered product and the seed code, played end to end on a local moto.

Each test renders a folder the way `mlops-gen render` does, rehearses it, and checks what the local
AWS holds afterwards (which package each account's endpoints serve), not only what the report says.
"""

from __future__ import annotations

import json
import socket
from dataclasses import asdict
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from generator.cli import app
from generator.live.rehearse import Options, rehearse
from generator.live.rehearse.report import CHECKED, FAILED, REJECTED, SKIPPED, SUCCEEDED, Report, SilentTimeline, Step
from generator.naming import Stage
from generator.render import build_manifest, write_output
from tests.conftest import CONFIGS, make_config, rendered_files
from tests.edit import reseal

PIPELINE_ACTIONS = [
    ("Source", "ModelDeploySource"),
    ("Build", "BuildDeploymentTemplates"),
    ("DeployStaging", "DeployResourcesStaging"),
    ("DeployStaging", "TestStaging"),
    ("DeployStaging", "ApproveDeployment"),
    ("DeployProd", "DeployResourcesProd"),
]

pytestmark = pytest.mark.slow  # every test here rehearses end to end on the embedded moto server (or renders for one)


def render_folder(out: Path, **overrides: Any) -> Path:
    cfg = make_config(**overrides)
    files = rendered_files(cfg)
    write_output(files, build_manifest(cfg, files), out, force=True)
    return out


@pytest.fixture(scope="module")
def default_render(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return render_folder(tmp_path_factory.mktemp("render") / "dist")


def play(folder: Path, **options: Any) -> Report:
    return rehearse(folder, Options(**{"approval": "approve", **options}), SilentTimeline())


def steps(report: Report, run: int | None = None) -> dict[tuple[str, str], Any]:
    return {(s.stage, s.action): s for s in report.steps if run is None or s.run == run}


def prod_endpoints(report: Report) -> dict[str, Any]:
    return {a: by_region for a, by_region in report.served[Stage.PROD.value].items() if by_region}


def assert_prod_untouched(report: Report, stopped_at: str) -> None:
    """The scenario's expected outcome: prod untouched, the pipeline stopped where the fault is."""
    assert report.as_expected, (report.expected, report.actual, report.stopped_at, report.cause)
    assert report.actual == "prod untouched" and report.stopped_at == stopped_at
    assert not report.reached_prod
    assert report.served[Stage.PROD.value]  # the check ran over every prod account ...
    assert prod_endpoints(report) == {}  # ... and found no endpoint
    assert steps(report)[("DeployProd", "DeployResourcesProd")].result == SKIPPED


def assert_broken(report: Report, stopped_at: str) -> None:
    """A broken product under the approve scenario: prod untouched, which is not the expected outcome."""
    assert not report.as_expected and report.scenario == "approve"
    assert report.actual == "prod untouched" and report.stopped_at == stopped_at
    assert steps(report)[("DeployProd", "DeployResourcesProd")].result == SKIPPED
    assert steps(report)[("Verify", "Endpoints")].result == CHECKED  # looked, but nothing "succeeded"


def from_json(text: str) -> Report:
    """The report `rehearse --json` printed, as the `Report` it was written from (`Report.as_dict`)."""
    data = json.loads(text)
    return Report(**{**data, "steps": [Step(**step) for step in data["steps"]]})


def assert_default_reaches_prod(report: Report) -> None:
    """The default render under the approve scenario: everything succeeds, every account serves the package."""
    assert report.reached_prod, report.cause
    assert report.as_expected and (report.scenario, report.actual) == ("approve", "prod gets the new version")
    # Every call made as a role of the product was authorized against its rendered policies.
    assert report.authorization["allowed"] > 10 and report.authorization["denied"] == []
    run = [(s.stage, s.action) for s in report.steps if s.run == 1 and s.stage not in ("Data scientist", "EventBridge")]
    assert run == PIPELINE_ACTIONS
    assert all(s.result == SUCCEEDED for s in report.steps), [(s.action, s.detail) for s in report.steps]
    # What moto created, and what was read from the template instead.
    # The project's own roles (--service-roles project, the default) are created too: the rehearsal reads their
    # policies and boundary from the local IAM.
    roles = {f"Project{kind.capitalize()}Role": "AWS::IAM::Role" for kind in ("pipeline", "build", "test", "events")}
    assert report.launch["created_by_cloudformation"] == {"ArtifactBucket": "AWS::S3::Bucket", **roles}
    assert {"ModelDeployPipeline", "ModelDeployBuildProject", "ModelApprovedRule"} <= set(
        report.launch["read_from_template"]
    )
    # The build really ran build.py, the test really ran test/test.py against every staging account.
    build = steps(report)[("Build", "BuildDeploymentTemplates")]
    assert "endpoint-config-template.yml" in build.detail and "staging-stackset-parameters.json" in build.detail
    test = steps(report)[("DeployStaging", "TestStaging")]
    staging = report.organisation["organizational_units"]["staging"]["accounts"]
    assert len(staging) == 2
    for account, name in staging.items():
        assert any(line.startswith(f"PASS account {account} ({name}), region eu-west-1") for line in test.log)
    # Every staging and prod account serves the approved package, under the rendered endpoint name.
    (package,) = report.model_packages
    assert package["status"] == "Approved"
    for stage in Stage:
        for account, by_region in report.served[stage.value].items():
            assert by_region == {
                "eu-west-1": {f"sagemaker-iris-multi-01-p-abcdefghijkl-{stage.value}": package["arn"]}
            }, account


def test_codeconnections_three_regions_reach_prod(tmp_path: Path) -> None:
    folder = render_folder(tmp_path / "dist", **CONFIGS["codeconnections-3-regions"])
    report = play(folder, accounts_per_ou=1)
    assert report.reached_prod, report.cause
    source = steps(report)[("Source", "ModelDeploySource")]
    assert source.provider == "CodeStarSourceConnection" and "acme/iris-deploy@main" in source.detail
    assert "CodePushedRule" not in report.launch["read_from_template"]
    regions = {"eu-west-1", "eu-central-1", "us-east-1"}
    assert set(steps(report)[("DeployProd", "DeployResourcesProd")].regions) == regions
    for account, by_region in report.served[Stage.PROD.value].items():
        assert set(by_region) == regions, account
        assert {p for endpoints in by_region.values() for p in endpoints.values()} == {report.model_packages[0]["arn"]}
    # Per region, the report shows the artifact bucket and image the models read: each in its own region.
    assert set(report.regions) == regions
    home = report.regions["eu-west-1"]
    assert home["served_as"] == [f"model package {report.model_packages[0]['arn']}"]
    (home_bucket,) = home["artifact_buckets"]
    for region in regions - {"eu-west-1"}:
        assert report.regions[region]["served_as"] == ["regional copy"]
        assert report.regions[region]["artifact_buckets"] == [f"{home_bucket}-{region}"]
        (image,) = report.regions[region]["images"]
        assert f".dkr.ecr.{region}.amazonaws.com/sagemaker-xgboost:" in image
    assert report.authorization["denied"] == []  # the build's bucket calls are the build role's to make


def test_failing_endpoint_test_stops_before_approval(default_render: Path) -> None:
    report = play(default_render, fail_test=True)
    assert_prod_untouched(report, "staging-test")
    test = steps(report)[("DeployStaging", "TestStaging")]
    assert test.result == FAILED
    assert "malformed prediction" in test.detail and "not numbers" in test.detail
    assert report.cause.startswith("DeployStaging / TestStaging: phase build failed (exit 1)")
    assert steps(report)[("DeployStaging", "ApproveDeployment")].result == SKIPPED


def test_rejected_approval_leaves_prod_untouched(default_render: Path) -> None:
    report = play(default_render, approval="reject")
    assert_prod_untouched(report, "approval")
    assert steps(report)[("DeployStaging", "ApproveDeployment")].result == REJECTED
    assert report.cause.startswith("DeployStaging / ApproveDeployment: rejected")
    assert all(report.served[Stage.STAGING.value].values())  # staging did get the model


def test_account_without_target_role_fails_the_staging_deploy(default_render: Path) -> None:
    report = play(default_render, break_account=True)
    assert_prod_untouched(report, "staging-deploy")
    broken = steps(report)[("Setup", "Break a staging account")].accounts[0]
    assert broken in report.organisation["organizational_units"]["staging"]["accounts"]
    deploy = steps(report)[("DeployStaging", "DeployResourcesStaging")]
    assert deploy.result == FAILED
    assert (
        f"account {broken}: SageMaker CreateModel: Could not assume role arn:aws:iam::{broken}:role/" in deploy.detail
    )
    assert "beyond the action's failure tolerance" in deploy.detail
    assert report.served[Stage.STAGING.value][broken] == {}  # its failed stack was rolled back
    assert any("CreateModel" in note for note in report.fidelity)


def test_tolerated_deploy_failure_is_caught_by_the_endpoint_test(tmp_path: Path) -> None:
    """With 50 % tolerance one of two staging stacks may fail; the test's AssumeRole then fails there."""
    folder = render_folder(tmp_path / "dist", **{"failure-tolerance-percentage": 50})
    report = play(folder, break_account=True)
    assert_prod_untouched(report, "staging-test")
    broken = steps(report)[("Setup", "Break a staging account")].accounts[0]
    deploy = steps(report)[("DeployStaging", "DeployResourcesStaging")]
    assert deploy.result == SUCCEEDED
    assert any(
        line.startswith(f"FAILED account {broken}, region eu-west-1: SageMaker CreateModel") for line in deploy.log
    )
    test = steps(report)[("DeployStaging", "TestStaging")]
    assert test.result == FAILED
    assert f"cannot assume arn:aws:iam::{broken}:role/sagemaker-multi-account-deploy" in test.detail
    assert "(AccessDenied)" in test.detail


def test_rejected_only_model_stops_at_the_build(default_render: Path) -> None:
    """A rejection starts the pipeline (it may be a rollback), but with no Approved version left the
    build stops with what to do, and nothing is deployed anywhere."""
    report = play(default_render, no_approved_model=True)
    assert report.as_expected and report.stopped_at == "build"
    assert not report.reached_prod
    trigger = steps(report)[("EventBridge", "Model package state change")]
    assert trigger.result == SUCCEEDED and "(ModelApprovalStatus Rejected): starts" in trigger.detail
    build = steps(report)[("Build", "BuildDeploymentTemplates")]
    assert build.result == FAILED
    assert "no Approved model package left in model package group iris-multi-01 (version 1 Rejected)" in build.detail
    assert steps(report)[("DeployStaging", "DeployResourcesStaging")].result == SKIPPED
    assert all(not by_region for stage in report.served.values() for by_region in stage.values())


def test_second_approval_updates_the_stack_sets(default_render: Path) -> None:
    report = play(default_render, second_approval=True)
    assert report.reached_prod, report.cause
    first, second = report.model_packages
    assert first["arn"].endswith("/1") and second["arn"].endswith("/2")
    assert steps(report, 1)[("DeployProd", "DeployResourcesProd")].detail.startswith("created stack set")
    for stage in ("DeployStaging", "DeployProd"):
        deploy = next(s for s in report.steps if s.run == 2 and s.stage == stage and s.provider.endswith("StackSet"))
        assert deploy.detail.startswith("updated stack set")
    assert steps(report, 2)[("Verify", "Stack sets updated in place")].result == SUCCEEDED
    for stage in Stage:
        for account, by_region in report.served[stage.value].items():
            assert list(by_region["eu-west-1"].values()) == [second["arn"]], account


def test_renamed_export_file_fails_at_the_action_that_reads_it(default_render: Path, tmp_path: Path) -> None:
    broken = tmp_path / "broken"
    broken.mkdir()
    for file in default_render.iterdir():
        (broken / file.name).write_bytes(file.read_bytes())
    product = broken / "product-template.yaml"
    text = product.read_text()
    assert text.count("BuildArtifact::staging-stackset-parameters.json") == 1
    product.write_text(text.replace("BuildArtifact::staging-stackset-parameters.json", "BuildArtifact::staging.json"))
    reseal(broken)  # validate does not see this break: the rehearsal must
    report = play(broken)
    assert_broken(report, "staging-deploy")
    assert steps(report)[("Build", "BuildDeploymentTemplates")].result == SUCCEEDED
    deploy = steps(report)[("DeployStaging", "DeployResourcesStaging")]
    assert deploy.result == FAILED
    assert deploy.detail.startswith("Parameters: BuildArtifact has no file staging.json")
    assert report.cause.startswith("DeployStaging / DeployResourcesStaging: Parameters:")


def test_server_stops_and_patches_are_undone_even_on_error() -> None:
    from moto.sagemaker.models import FakeEndpoint

    from generator.live.rehearse import fidelity
    from generator.live.rehearse.server import local_aws

    before = FakeEndpoint.cloudformation_name_type()
    with pytest.raises(RuntimeError), local_aws("eu-west-1") as aws, fidelity.aws_behaviour():
        host, port = aws.url.removeprefix("http://").split(":")
        assert FakeEndpoint.cloudformation_name_type() == "EndpointName"
        sts = aws.client("sts")
        with pytest.raises(sts.exceptions.ClientError, match="AccessDenied"):
            sts.assume_role(RoleArn="arn:aws:iam::111122223333:role/missing", RoleSessionName="check")
        raise RuntimeError("boom")
    assert FakeEndpoint.cloudformation_name_type() == before
    with pytest.raises(OSError), socket.create_connection((host, int(port)), timeout=1):
        pass


def test_cli_prompts_for_the_approval_and_writes_the_report(
    default_render: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Asked on a terminal, the approver rejects: that is the scenario, and prod untouched is its outcome."""
    monkeypatch.setattr("generator.commands.interactive", lambda: True)
    report_file = tmp_path / "report.json"
    result = CliRunner().invoke(app, ["rehearse", str(default_render), "--report", str(report_file)], input="n\n")
    assert result.exit_code == 0, result.output
    assert "Approve?" in result.stderr and "DeployStaging / ApproveDeployment: rejected" in result.stderr
    # (CliRunner echoes the typed answer to stdout)
    assert "as expected reject: expected prod untouched, stopped at the approval; actual" in result.stdout
    report = json.loads(report_file.read_text())
    assert report["as_expected"] is True and report["options"]["approval"] == "prompt"
    assert (report["scenario"], report["stopped_at"], report["reached_prod"]) == ("reject", "approval", False)


def test_cli_json_and_input_errors_and_the_default_render_reaches_prod(default_render: Path, tmp_path: Path) -> None:
    """`--json` plays the approve scenario (nothing may be asked): the same rehearsal as `rehearse(folder,
    Options(approval="approve"))`, so its report carries the default render's whole check (one rehearsal, not two)."""
    both = CliRunner().invoke(app, ["rehearse", str(default_render), "--approve", "--reject"])
    assert both.exit_code == 2 and "--approve and --reject contradict each other" in both.stderr
    not_a_render = CliRunner().invoke(app, ["rehearse", str(tmp_path), "--approve"])
    assert not_a_render.exit_code == 2 and "has no manifest.json" in not_a_render.output
    result = CliRunner().invoke(app, ["rehearse", str(default_render), "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)  # stdout holds the report only; progress went to stderr
    assert report["reached_prod"] is True and report["cause"] == "" and report["as_expected"] is True
    assert "DeployProd / DeployResourcesProd: succeeded" in result.stderr
    assert report["options"] == asdict(Options(approval="approve"))  # the rehearsal `play(default_render)` runs
    assert_default_reaches_prod(from_json(result.stdout))


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--reject", "--fail-test"], "--reject and --fail-test are different scenarios: give at most one of them"),
        (
            ["--approve", "--second-approval", "--reject-live"],
            "--second-approval and --reject-live are different scenarios",
        ),
        ([], "stdin is not a terminal, so the manual approval cannot be asked: give --approve or --reject"),
    ],
)
def test_cli_refuses_what_it_cannot_play_at_once(default_render: Path, flags: list[str], message: str) -> None:
    """Conflicting scenarios, or a prompt without a terminal: exit 2 before anything runs."""
    result = CliRunner().invoke(app, ["rehearse", str(default_render), *flags])
    assert result.exit_code == 2 and message in result.stderr, result.output
    assert result.stdout == ""


def test_cli_report_under_a_file_is_a_clean_error(default_render: Path, tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    result = CliRunner().invoke(
        app, ["rehearse", str(default_render), "--approve", "--report", str(tmp_path / "file/r.json")]
    )
    assert result.exit_code == 2 and "--report: cannot write the report to" in result.stderr
    assert "Traceback" not in result.output


def test_cli_checks_the_moto_version_it_patches(default_render: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from generator.live.rehearse import server

    monkeypatch.setattr(server, "MOTO_VERSION", "0.0.1")
    result = CliRunner().invoke(app, ["rehearse", str(default_render), "--approve"])
    assert result.exit_code == 2
    assert "rehearse patches moto 0.0.1's internals, but moto 5.2.5 is installed" in result.stderr
    assert "pip install 'mlops-gen[rehearse]'" in result.stderr


def test_a_folder_with_findings_is_refused(tmp_path: Path) -> None:
    """Validate runs first: the approval deleted by hand (GATE-ORDER) and nothing is played; exit 1, listed."""
    folder = render_folder(tmp_path / "dist")
    product = folder / "product-template.yaml"
    text = product.read_text()
    start = text.index("            - ActionTypeId:\n                Category: Approval")
    end = text.index("              RunOrder: 3\n", start) + len("              RunOrder: 3\n")
    product.write_text(text[:start] + text[end:])
    reseal(folder)
    result = CliRunner().invoke(app, ["rehearse", str(folder), "--reject"])
    assert result.exit_code == 1
    assert "product-template.yaml" in result.stderr and "GATE-ORDER" in result.stderr
    assert "not played: the folder has validate findings" in result.stdout
    assert "Organisation" not in result.stderr  # nothing was played


def test_rejecting_the_live_model_rolls_every_endpoint_back(tmp_path: Path) -> None:
    """--reject-live: v1 then v2 deployed, v2 set to Rejected: the rule starts the pipeline and the build
    redeploys v1; each approval showed the approver the package, the test summary and the links."""
    folder = render_folder(tmp_path / "dist", approver_email=["ml-lead@example.com"])
    report = play(folder, reject_live=True)
    assert report.reached_prod, report.cause
    v1, v2 = report.model_packages
    assert (v1["status"], v2["status"]) == ("Approved", "Rejected")
    trigger = steps(report, 3)[("EventBridge", "Model package state change")]
    assert "(ModelApprovalStatus Rejected): starts" in trigger.detail
    build = steps(report, 3)[("Build", "BuildDeploymentTemplates")]
    assert f"rollback: version 2 Rejected; deploying version 1 ({v1['arn']})" in "\n".join(build.log)
    for stage in Stage:
        for account, by_region in report.served[stage.value].items():
            assert list(by_region["eu-west-1"].values()) == [v1["arn"]], account
    # The approvals, as the approver read them: variables resolved from what the builds exported.
    assert [a["run"] for a in report.approvals] == [1, 2, 3]
    rollback = report.approvals[-1]
    assert "#{" not in rollback["custom_data"]
    assert rollback["custom_data"].startswith("Deploy version 1 of model package group iris-multi-01 to production")
    assert "rollback to version 1: newer version(s) 2 Rejected" in rollback["custom_data"]
    assert "Staging test: 2 of 2 endpoint(s) passed" in rollback["custom_data"]
    assert f"Package: {v1['arn']} https://eu-west-1.console.aws.amazon.com/sagemaker/" in rollback["custom_data"]
    assert rollback["external_entity_link"].startswith(
        "https://eu-west-1.console.aws.amazon.com/codesuite/codebuild/123456789012/projects/"
        "sagemaker-iris-multi-01-p-abcdefghijkl-test/build/"
    )
    assert f"Test report: {rollback['external_entity_link']}" in rollback["custom_data"]
    assert rollback["notification_arn"] == (
        "arn:aws:sns:eu-west-1:123456789012:sagemaker-iris-multi-01-p-abcdefghijkl-approval"
    )
    assert {"ApprovalTopic", "ApprovalTopicKey"} <= set(report.launch["created_by_cloudformation"])


def test_an_unexported_variable_fails_the_approval(default_render: Path, tmp_path: Path) -> None:
    broken = tmp_path / "broken"
    broken.mkdir()
    for file in default_render.iterdir():
        (broken / file.name).write_bytes(file.read_bytes())
    product = broken / "product-template.yaml"
    product.write_text(product.read_text().replace("#{TestVariables.P95_MS}", "#{TestVariables.P99_MS}"))
    reseal(broken)
    report = play(broken)
    assert_broken(report, "approval")
    approval = steps(report)[("DeployStaging", "ApproveDeployment")]
    assert approval.result == FAILED
    assert approval.detail.startswith("variable #{TestVariables.P99_MS} cannot be resolved: namespace TestVariables")


# --- deployment topologies (issue 7) -----------------------------------------------------------------------------


def _served_targets(report: Report, stage: Stage) -> dict[str, Any]:
    return {a: by_region for a, by_region in report.served[stage.value].items() if by_region}


def test_delegated_admin_deploys_through_deploy_py_with_call_as(tmp_path: Path) -> None:
    folder = render_folder(tmp_path / "dist", **CONFIGS["delegated-admin"])
    report = play(folder, accounts_per_ou=1)
    assert report.reached_prod, report.cause
    for stage in ("DeployStaging", "DeployProd"):
        deploy = next(s for s in report.steps if s.stage == stage and s.action.startswith("DeployResources"))
        assert deploy.provider == "CodeBuild" and deploy.result == SUCCEEDED
        assert "deploy.py deployed stack set" in deploy.detail and "(CallAs DELEGATED_ADMIN)" in deploy.detail
        calls = [line for line in deploy.log if line.startswith("[rehearsal] ") and "CallAs=" in line]
        assert "[rehearsal] CreateStackSet CallAs=DELEGATED_ADMIN" in calls
        assert "[rehearsal] CreateStackInstances CallAs=DELEGATED_ADMIN" in calls
        assert all(line.endswith("CallAs=DELEGATED_ADMIN") for line in calls), calls
        assert set(deploy.regions) == {"eu-west-1", "us-east-1"}
    for stage in Stage:  # the endpoint test and the check cover every region
        for account, by_region in report.served[stage.value].items():
            assert set(by_region) == {"eu-west-1", "us-east-1"}, account


def test_customer_managed_keys_deploy_to_prod(tmp_path: Path) -> None:
    """--kms-key generated: the launch creates the tagged project key, the artifacts and model data are
    encrypted with it, and the pipeline still reaches prod in every stage account and region."""
    folder = render_folder(tmp_path / "dist", **CONFIGS["customer-managed-keys"])
    report = play(folder, accounts_per_ou=1)
    assert report.reached_prod, report.cause
    for stage in Stage:
        for account, by_region in report.served[stage.value].items():
            assert set(by_region) == {"eu-west-1", "us-east-1"}, account


def test_account_filters_deploy_only_the_listed_accounts(tmp_path: Path) -> None:
    folder = render_folder(tmp_path / "dist", **CONFIGS["account-filters"])
    report = play(folder, second_approval=True)
    assert report.reached_prod, report.cause
    targets = report.organisation["targets"]
    ous = report.organisation["organizational_units"]
    assert len(targets["staging"]) == 1 and len(targets["prod"]) == 2  # as rendered: 1 and 2 accounts
    assert len(ous["staging"]["accounts"]) == 2 and len(ous["prod"]["accounts"]) == 3  # one more in each OU
    for stage in Stage:
        assert set(_served_targets(report, stage)) == set(targets[stage.value])  # the others got nothing
    test = steps(report, 1)[("DeployStaging", "TestStaging")]
    (staging_target,) = targets["staging"]
    assert sum(line.startswith("PASS account") for line in test.log) == 2  # one account, two regions
    assert any(line.startswith(f"PASS account {staging_target}") for line in test.log)
    assert steps(report, 2)[("Verify", "Stack sets updated in place")].result == SUCCEEDED


def test_self_managed_deploys_to_the_listed_accounts(tmp_path: Path) -> None:
    folder = render_folder(tmp_path / "dist", **CONFIGS["self-managed"])
    report = play(folder)
    assert report.reached_prod, report.cause
    deploy = steps(report)[("DeployProd", "DeployResourcesProd")]
    assert deploy.provider == "CloudFormationStackSet"
    targets = report.organisation["targets"]
    assert deploy.accounts == targets["prod"] and len(targets["prod"]) == 1
    for stage in Stage:
        assert set(_served_targets(report, stage)) == set(targets[stage.value])


# --- issue 12: regions and launch roles the rehearsal used to break on ------------------------------------------


def test_us_east_1_render(tmp_path: Path) -> None:
    """The seed bucket is created without a LocationConstraint in us-east-1 (S3 refuses one there)."""
    folder = render_folder(tmp_path / "dist", region="us-east-1")
    report = play(folder, accounts_per_ou=1)
    assert report.as_expected, report.cause
    assert report.launch["seed_bundle"].startswith("s3://")


def test_standard_launch_role_render(tmp_path: Path) -> None:
    """The product cannot create its group (standard launch role) and says so: the registration creates it,
    as the SageMaker SDK's does, and the build puts its policy (moto lacks PutModelPackageGroupPolicy: patched)."""
    folder = render_folder(tmp_path / "dist", **CONFIGS["standard-launch-role"])
    report = play(folder, accounts_per_ou=1)
    assert report.as_expected, report.cause
    register = steps(report)[("Data scientist", "Register iris model v1")]
    assert "created by the registration: the SageMaker SDK's registration creates a missing group" in register.detail
    assert "ModelPackageGroup" not in report.launch["read_from_template"]


def test_a_group_the_product_should_create_is_never_created_for_it(tmp_path: Path) -> None:
    """Without the ModelPackageGroup resource (and no build that says it creates the group), the rehearsal
    fails at the registration instead of creating the group itself."""
    folder = render_folder(tmp_path / "dist")
    product = folder / "product-template.yaml"
    text = product.read_text()
    start = text.index("  ModelPackageGroup:\n")
    end = text.index("    Type: AWS::SageMaker::ModelPackageGroup\n", start) + len(
        "    Type: AWS::SageMaker::ModelPackageGroup\n"
    )
    product.write_text(text[:start] + text[end:])
    reseal(folder)
    report = play(folder, accounts_per_ou=1, validate_first=False)
    register = steps(report)[("Data scientist", "Register iris model v1")]
    assert register.result == FAILED and not report.as_expected
    assert register.detail.startswith("model package group iris-multi-01 does not exist: the product did not create it")


def test_endpoints_of_one_stage_in_the_other_stages_accounts_are_reported(tmp_path: Path) -> None:
    """Prod's stack set pointed at the staging OU (validate's GATE-DISTINCT, turned off here): the prod
    endpoint lands in staging accounts, the rehearsal names it, and the verdict is not as expected."""
    folder = render_folder(tmp_path / "dist")
    product = folder / "product-template.yaml"
    text = product.read_text()
    assert text.count("DeploymentTargets: !Ref 'OrganizationalUnitProdId'") == 1
    product.write_text(text.replace("DeploymentTargets: !Ref 'OrganizationalUnitProdId'",
                                    "DeploymentTargets: !Ref 'OrganizationalUnitStagingId'"))  # fmt: skip
    reseal(folder)
    report = play(folder, accounts_per_ou=1, validate_first=False)
    (staging,) = report.organisation["organizational_units"]["staging"]["accounts"]
    assert f"prod endpoint sagemaker-iris-multi-01-p-abcdefghijkl-prod in staging account {staging} (eu-west-1)" in (
        report.cross_stage
    )
    assert not report.as_expected and steps(report)[("Verify", "Endpoints")].result == FAILED


def _skip_region_copy(folder: Path) -> None:
    """Edit the bundle's seed build so it neither copies the artifacts nor resolves the image per region: every
    region's mapping entry then points at the home region's bucket and image."""
    import io
    import zipfile

    bundle = folder / "seedcode-modeldeploy.zip"
    source = zipfile.ZipFile(io.BytesIO(bundle.read_bytes()))
    edited = io.BytesIO()
    with zipfile.ZipFile(edited, "w", zipfile.ZIP_DEFLATED) as out:
        for info in source.infolist():
            data = source.read(info)
            if info.filename == "regions.py":
                text = data.decode()
                for old, new in (
                    ("region_image = regional_image(image, region, pipeline_account, registries)",
                     "region_image = image"),
                    ("copied_url, copied = copy_artifact(s3_for(plan.home_region), s3, url, bucket, arn)",
                     "copied_url, copied = url, False"),
                ):  # fmt: skip
                    assert text.count(old) == 1, old
                    text = text.replace(old, new)
                data = text.encode()
            out.writestr(info, data)
    bundle.write_bytes(edited.getvalue())
    reseal(folder)


def test_a_build_that_skips_the_region_copy_fails_at_create_model_in_the_second_region(tmp_path: Path) -> None:
    folder = render_folder(tmp_path / "dist", **CONFIGS["codeconnections-3-regions"])
    _skip_region_copy(folder)
    report = play(folder, accounts_per_ou=1)
    assert not report.reached_prod and report.stopped_at == "staging-deploy"
    deploy = steps(report)[("DeployStaging", "DeployResourcesStaging")]
    assert deploy.result == FAILED
    assert "CreateModel in eu-central-1: model data s3://sagemaker-project-p-abcdefghijkl-artifacts/" in deploy.detail
    assert "is in a bucket of eu-west-1; the model artifacts must be in the model's region" in deploy.detail
    assert any("CreateModel refuses model artifacts" in note for note in report.fidelity)
