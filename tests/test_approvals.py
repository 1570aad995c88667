"""Approvals people can act on: the email topic, the evidence in CustomData, and the IAM behind them.

With `--approver-email` the product creates a KMS key (rotated, default key policy), an SNS topic
encrypted with it, one email subscription per address, and sets the approval's `NotificationArn`.
CustomData reads CodePipeline variables the build and test actions export (namespaces and names in
generator/contract.py). The pipeline role publishes (prerequisites grant it), the standard launch
role cannot create a key or a topic (refused, naming the permissions), and the lint rule E9102 knows
variables flow forward like artifacts. tests/test_rehearse.py plays the variables end to end.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from generator.checks.iam_check import check_folder
from generator.checks.runtime_iam import runtime_needs
from generator.checks.validate import lint_text
from generator.cli import app
from generator.contract import Variables
from generator.errors import InputError
from generator.manifest import read_manifest
from generator.product.pipeline import CONFIGURATION_VALUE_MAX
from generator.render import build_manifest, write_output
from tests.cfn_resolve import ACCOUNT, REGION, Resolver, product_template
from tests.conftest import make_config, rendered_files

EMAILS = ["ml-lead@example.com", "risk-officer@example.com"]


def product(**overrides: Any) -> dict[str, Any]:
    return product_template(rendered_files(make_config(**overrides)))


def of_type(template: dict[str, Any], rtype: str) -> dict[str, dict[str, Any]]:
    return {k: r for k, r in template["Resources"].items() if r["Type"] == rtype}


def action(template: dict[str, Any], name: str) -> dict[str, Any]:
    (pipeline,) = of_type(template, "AWS::CodePipeline::Pipeline").values()
    return next(a for s in pipeline["Properties"]["Stages"] for a in s["Actions"] if a["Name"] == name)


@pytest.mark.slow  # renders whole configurations (about a second each)
def test_approver_emails_create_an_encrypted_topic_with_subscriptions() -> None:
    template = product(approver_email=EMAILS)
    (key_id, key), (topic_id, topic) = (
        *of_type(template, "AWS::KMS::Key").items(),
        *of_type(template, "AWS::SNS::Topic").items(),
    )
    assert key["Properties"]["EnableKeyRotation"] is True
    # The account's IAM policies decide, and the launch role administers this key (generator/product/kms.py).
    statement, launch = key["Properties"]["KeyPolicy"]["Statement"]
    assert statement["Principal"] == {"AWS": [{"Fn::Sub": "arn:${AWS::Partition}:iam::${AWS::AccountId}:root"}]}
    assert launch["Sid"] == "LaunchRoleAdministersThisKey"
    assert launch["Principal"] == {
        "AWS": [{"Fn::Sub": "arn:${AWS::Partition}:iam::${AWS::AccountId}:role/sagemaker-mlops-gen-launch-role"}]
    }
    assert topic["Properties"]["KmsMasterKeyId"] == {"Fn::GetAtt": [key_id, "Arn"]}
    resolver = Resolver(template)
    assert resolver.physical_name(topic_id) == "sagemaker-iris-multi-01-p-abcdefghijkl-approval"
    (alias,) = of_type(template, "AWS::KMS::Alias").values()
    assert resolver.resolve(alias["Properties"]) == {
        "AliasName": "alias/sagemaker-iris-multi-01-p-abcdefghijkl-approval",
        "TargetKeyId": resolver.ref(key_id),
    }
    subscriptions = of_type(template, "AWS::SNS::Subscription").values()
    assert sorted((s["Properties"]["Endpoint"], s["Properties"]["Protocol"]) for s in subscriptions) == [
        (e, "email") for e in EMAILS
    ]
    assert all(s["Properties"]["TopicArn"] == {"Ref": topic_id} for s in subscriptions)
    approval = action(template, "ApproveDeployment")
    assert approval["Configuration"]["NotificationArn"] == {"Ref": topic_id}
    topic_arn = f"arn:aws:sns:{REGION}:{ACCOUNT}:sagemaker-iris-multi-01-p-abcdefghijkl-approval"
    assert resolver.resolve(approval["Configuration"]["NotificationArn"]) == topic_arn


def test_without_emails_there_is_no_topic_no_key_and_no_notification() -> None:
    template = product()
    kinds = {r["Type"] for r in template["Resources"].values()}
    assert not kinds & {"AWS::SNS::Topic", "AWS::SNS::Subscription", "AWS::KMS::Key", "AWS::KMS::Alias"}
    assert "NotificationArn" not in action(template, "ApproveDeployment")["Configuration"]


def test_custom_data_reads_the_exported_variables() -> None:
    template = product()
    build, test = action(template, "BuildDeploymentTemplates"), action(template, "TestStaging")
    assert (build["Namespace"], test["Namespace"]) == (Variables.BUILD_NAMESPACE, Variables.TEST_NAMESPACE)
    configuration = action(template, "ApproveDeployment")["Configuration"]
    text = configuration["CustomData"]["Fn::Sub"]
    for name in Variables.BUILD:
        assert f"#{{BuildVariables.{name}}}" in text
    for name in ("PASS_COUNT", "TARGET_COUNT", "P95_MS", "REPORT_URL"):
        assert f"#{{TestVariables.{name}}}" in text
    assert configuration["ExternalEntityLink"] == "#{TestVariables.REPORT_URL}"
    # CodePipeline counts the variable syntax against the 1000 characters of a configuration value.
    longest = Resolver(template, {"SageMakerProjectName": "p" * 32, "SageMakerProjectId": "q" * 20})
    assert len(longest.resolve(configuration["CustomData"])) <= CONFIGURATION_VALUE_MAX


def test_standard_launch_role_refuses_approver_emails_naming_the_permissions() -> None:
    with pytest.raises(InputError) as error:
        rendered_files(make_config(launch_role="standard", approver_email=EMAILS[:1]))
    message = str(error.value)
    assert error.value.flag == "--launch-role standard"
    assert "ApprovalTopicKey (AWS::KMS::Key) needs kms:CreateKey (create) on *" in message
    assert "ApprovalTopic (AWS::SNS::Topic) needs sns:CreateTopic (create)" in message
    rendered_files(make_config(launch_role="standard"))  # without emails the standard role is enough


@pytest.mark.parametrize(
    ("value", "rule"),
    [
        (["not-an-address"], "must be an email address like approver@example.com; got 'not-an-address'"),
        (["a@example.com", "A@example.com"], "lists an address twice"),
    ],
)
def test_bad_approver_emails_name_the_flag(value: list[str], rule: str) -> None:
    with pytest.raises(InputError) as error:
        make_config(approver_email=value)
    assert error.value.flag == "--approver-email" and rule in str(error.value)


@pytest.mark.slow  # renders through the CLI (about a second each)
def test_cli_repeats_the_flag(tmp_path: Path) -> None:
    out = tmp_path / "dist"
    args = ["render", "--staging-ou", "ou-ab12-11111111", "--prod-ou", "ou-ab12-22222222", "--region", REGION,
            "--out", str(out), "--no-validate"]  # fmt: skip
    result = CliRunner().invoke(app, [*args, "--approver-email", EMAILS[0], "--approver-email", EMAILS[1]])
    assert result.exit_code == 0, result.output
    text = (out / "product-template.yaml").read_text()
    assert all(f"Endpoint: {e}" in text for e in EMAILS)


@pytest.mark.slow  # renders whole configurations (about a second each)
def test_pipeline_role_needs_publish_and_the_key_through_sns() -> None:
    template = product(approver_email=EMAILS, service_roles="per-service")
    model = runtime_needs(template, None, REGION)
    approval = [n for n in model.needs if "ApproveDeployment" in n.subject]
    topic = f"arn:aws:sns:{REGION}:{ACCOUNT}:sagemaker-iris-multi-01-p-abcdefghijkl-approval"
    assert {(n.action, n.resource) for n in approval if n.action.startswith("sns:")} == {("sns:Publish", topic)}
    kms = [n for n in approval if n.action.startswith("kms:")]
    assert sorted(n.action for n in kms) == ["kms:Decrypt", "kms:GenerateDataKey"]
    assert all(n.resource.startswith(f"arn:aws:kms:{REGION}:{ACCOUNT}:key/") for n in kms)
    assert all(dict(n.context) == {"kms:ViaService": f"sns.{REGION}.amazonaws.com"} for n in kms)
    assert all(n.role_name == "AmazonSageMakerServiceCatalogProductsCodePipelineRole" for n in approval)


def render_folder(out: Path, **overrides: Any) -> Path:
    cfg = make_config(**overrides)
    files = rendered_files(cfg)
    write_output(files, build_manifest(cfg, files), out, force=True)
    return out


@pytest.mark.slow  # validates whole renders (cfn-lint and every folder check)
def test_prerequisites_let_the_pipeline_role_notify(tmp_path: Path) -> None:
    folder = render_folder(tmp_path / "dist", approver_email=EMAILS, service_roles="per-service")
    manifest = read_manifest(folder)
    assert check_folder(folder, manifest) == []
    # Without the prerequisites' statements the SageMaker pipeline role could not publish.
    prerequisites = folder / manifest.path_of("prerequisites-template")
    text = prerequisites.read_text()
    for sid in ("PublishApprovalNotifications", "EncryptApprovalNotifications"):
        assert f"Sid: {sid}" in text
    stripped = text.replace("sns:Publish", "sns:ListTopics").replace("kms:GenerateDataKey*", "kms:ListKeys")
    prerequisites.write_text(stripped)
    missing = {(f.action, f.kind) for f in check_folder(folder, manifest)}
    assert {("sns:Publish", "missing"), ("kms:GenerateDataKey", "missing")} <= missing
    assert (
        "PublishApprovalNotifications"
        not in (
            render_folder(tmp_path / "plain", service_roles="per-service") / "prerequisites-template.yaml"
        ).read_text()
    )


@pytest.mark.slow  # cfn-lint over rendered templates
def test_e9102_catches_a_renamed_namespace_in_the_rendered_product() -> None:
    (product_file,) = [f for f in rendered_files(make_config()) if f.kind == "product-template"]
    text = product_file.content.decode()
    assert lint_text(text, [REGION], product_file.path) == []
    broken = text.replace("Namespace: TestVariables", "Namespace: StagingTestVariables")
    assert broken != text
    findings = lint_text(broken, [REGION], product_file.path)
    assert {f.rule for f in findings} == {"E9102"}
    assert any(
        "reads #{TestVariables.PASS_COUNT}, but no action has namespace 'TestVariables'" in f.message for f in findings
    )
