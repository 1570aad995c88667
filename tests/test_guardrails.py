"""Endpoint guardrails: blue/green updates with auto-rollback alarms, set per stage.

The seed's endpoint template gets its `DeploymentConfig` and CloudWatch alarms from parameters that
build.py derives from each stage config (`deployment`, optional, defaults safe for prod). Checked
here: the stage-config rules and defaults, the parameters build.py writes, and the template as
CloudFormation would create it (cfn-lint's schema, and the resolved structure for a canary and an
all-at-once stage; checkov scans it in tests/test_seed_bundle.py). moto's CloudFormation skips
`AWS::CloudWatch::Alarm` and ignores `DeploymentConfig` (tests/test_seed_build.py deploys the template
through stack sets regardless).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from generator import contract
from generator.naming import Stage
from tests.cfn_resolve import Resolver
from tests.test_seed_support import Seed, seed

__all__ = ["seed"]

TEMPLATE = Path(__file__).resolve().parent.parent / "seedcode" / "modeldeploy" / contract.EXPORT_TEMPLATE
ARN = "arn:aws:sagemaker:eu-west-1:123456789012:model-package/iris/3"


def stage_config() -> Any:
    """The seed's stage_config module (the seed fixture puts the bundle's root on sys.path)."""
    import importlib

    return importlib.import_module("stage_config")


def stage_values(seed: Seed, file: str) -> dict[str, str]:
    """Every endpoint-template parameter build.py writes for one stage config of the seed."""
    config = stage_config().load_stage_config(seed.root / file)
    env = seed.build.BuildEnv(
        project_name="iris", project_id="p-abc", model_package_group="iris", create_model_package_group=False,
        export_template=contract.EXPORT_TEMPLATE, stages=(), data_capture_bucket_stem="sagemaker-capture",
    )  # fmt: skip
    stage = seed.build.StageSettings("prod", "role", "sagemaker-iris-p-abc-prod", "p.json", file)
    return dict(seed.build.stage_parameters(env, stage, config, ARN))


def endpoint_resources(values: dict[str, str]) -> dict[str, Any]:
    """The template's resources resolved for these parameter values (conditions applied)."""
    from cfnlint.decode import decode_str

    template, _ = decode_str(TEMPLATE.read_text(encoding="utf-8"))
    assert template is not None
    plain = json.loads(json.dumps(template))
    canary = values["TrafficRoutingType"] == "CANARY"
    config = plain["Resources"]["Endpoint"]["Properties"]["DeploymentConfig"]
    routing = config["BlueGreenUpdatePolicy"]["TrafficRoutingConfiguration"]
    condition, if_true, if_false = routing["CanarySize"]["Fn::If"]
    assert condition == "Canary"
    if canary:
        routing["CanarySize"] = if_true
    else:
        routing.pop("CanarySize")
        assert if_false == {"Ref": "AWS::NoValue"}
    guarded = ("Endpoint", "Invocation5XXErrorsAlarm", "ModelLatencyAlarm")
    plain["Resources"]["Endpoint"]["Properties"].pop("EndpointConfigName")  # a GetAtt of the config: not ours
    return dict(Resolver(plain, values).resolve({k: plain["Resources"][k] for k in guarded}))


def test_prod_defaults_are_a_canary_with_rollback_alarms(seed: Seed) -> None:
    values = stage_values(seed, contract.STAGE_CONFIG[Stage.PROD])
    assert values["TrafficRoutingType"] == "CANARY" and values["CanarySizePercent"] == "10"
    resources = endpoint_resources(values)
    deployment = resources["Endpoint"]["Properties"]["DeploymentConfig"]
    assert deployment["BlueGreenUpdatePolicy"] == {
        "TrafficRoutingConfiguration": {
            "Type": "CANARY",
            "WaitIntervalInSeconds": "600",
            "CanarySize": {"Type": "CAPACITY_PERCENT", "Value": "10"},
        },
        "TerminationWaitInSeconds": "600",
        "MaximumExecutionTimeoutInSeconds": "3600",
    }
    # Ref of an alarm is its name: the rollback watches exactly the template's two alarms.
    alarms = [a["AlarmName"] for a in deployment["AutoRollbackConfiguration"]["Alarms"]]
    assert alarms == ["Invocation5XXErrorsAlarm", "ModelLatencyAlarm"]
    errors, latency = resources["Invocation5XXErrorsAlarm"]["Properties"], resources["ModelLatencyAlarm"]["Properties"]
    dimensions = [
        {"Name": "EndpointName", "Value": "sagemaker-iris-p-abc-prod"},
        {"Name": "VariantName", "Value": "AllTraffic"},
    ]
    assert (errors["Namespace"], errors["MetricName"], errors["Statistic"]) == (
        "AWS/SageMaker",
        "Invocation5XXErrors",
        "Sum",
    )
    assert errors["Dimensions"] == latency["Dimensions"] == dimensions
    assert errors["Threshold"] == "0" and errors["ComparisonOperator"] == "GreaterThanThreshold"
    assert (latency["MetricName"], latency["ExtendedStatistic"]) == ("ModelLatency", "p99")
    assert latency["Threshold"] == "1000000"  # 1000 ms, in the microseconds SageMaker reports ModelLatency in
    assert errors["AlarmName"] == "sagemaker-iris-p-abc-prod-invocation-5xx-errors"
    assert latency["AlarmName"] == "sagemaker-iris-p-abc-prod-model-latency-p99"


def test_staging_shifts_all_at_once_without_a_canary(seed: Seed) -> None:
    values = stage_values(seed, contract.STAGE_CONFIG[Stage.STAGING])
    routing = endpoint_resources(values)["Endpoint"]["Properties"]["DeploymentConfig"]["BlueGreenUpdatePolicy"]
    assert routing["TrafficRoutingConfiguration"] == {"Type": "ALL_AT_ONCE", "WaitIntervalInSeconds": "0"}


def test_missing_deployment_section_takes_the_safe_defaults(seed: Seed, tmp_path: Path) -> None:
    data = json.loads((seed.root / "staging-config.json").read_text())
    del data["deployment"]
    (tmp_path / "staging-config.json").write_text(json.dumps(data))
    config = stage_config().load_stage_config(tmp_path / "staging-config.json")
    assert config.deployment == stage_config().Deployment(**stage_config().DEFAULTS)
    assert config.deployment.traffic_routing == "canary"
    data["deployment"] = {"canary_percent": 25}  # one key: the others default
    (tmp_path / "staging-config.json").write_text(json.dumps(data))
    partial = stage_config().load_stage_config(tmp_path / "staging-config.json").deployment
    assert partial.canary_percent == 25 and partial.termination_wait_seconds == 600


@pytest.mark.slow  # builds cfn-lint's rule set
def test_endpoint_template_is_lint_clean() -> None:
    """checkov on this template (no failed check, its one skip declared) is
    tests/test_seed_bundle.py::test_endpoint_template_has_no_failed_checkov_check: the same file, scanned once."""
    from cfnlint.api import ManualArgs, lint

    # The regions the rendered products deploy to (lint_all would add regions without SageMaker).
    found = lint(TEMPLATE.read_text(encoding="utf-8"), config=ManualArgs(regions=["eu-west-1", "us-east-1"]))
    assert [str(m) for m in found] == []


def test_test_script_exports_its_summary_for_the_approval(seed: Seed) -> None:
    test = seed.endpoint_test
    results = [
        test.TargetResult("111111111111", "a", "eu-west-1", "e", passed=True, p95_ms=12.5),
        test.TargetResult("222222222222", "b", "eu-west-1", "e", passed=True, p95_ms=40.26),
    ]
    arn = (
        "arn:aws:codebuild:eu-west-1:123456789012:build/sagemaker-iris-p-abc-test:0a1b2c3d-aaaa-bbbb-cccc-123456789012"
    )
    url = test.report_url({"CODEBUILD_BUILD_ARN": arn}, "fallback")
    assert url == (
        "https://eu-west-1.console.aws.amazon.com/codesuite/codebuild/123456789012/projects/sagemaker-iris-p-abc-test"
        "/build/sagemaker-iris-p-abc-test%3A0a1b2c3d-aaaa-bbbb-cccc-123456789012/reports?region=eu-west-1"
    )
    assert test.report_url({}, "test-results/endpoint-tests.json") == "test-results/endpoint-tests.json"
    variables = test.pipeline_variables(results, url)
    assert tuple(variables) == contract.Variables.TEST
    assert variables == {"PASS_COUNT": "2", "TARGET_COUNT": "2", "P95_MS": "40.3", "REPORT_URL": url}
