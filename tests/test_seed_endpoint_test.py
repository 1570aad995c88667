"""test/test.py of the deploy repository, run from the rendered bundle against moto.

Endpoints are created in each staging account through assumed-role sessions; their answers are
canned through moto's `/moto-api/static/sagemaker/endpoint-results` (one queue per account and
region; each distinct request body takes the next answer and keeps it).
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
import requests
from moto import mock_aws

from generator import contract
from generator.naming import Names, Stage
from tests.test_seed_support import PROJECT, PROJECT_ID, REGION, Org, Seed, assumed_session, make_org, seed

__all__ = ["seed"]  # the fixture, imported for pytest

ROLE = "sagemaker-multi-account-deploy"
ENDPOINT = Names().endpoint(Stage.STAGING).render(PROJECT, PROJECT_ID)
REGIONS = ("eu-west-1", "eu-central-1")
RESULTS_URL = "http://motoapi.amazonaws.com/moto-api/static/sagemaker/endpoint-results"
FAST = {"Delay": 1, "MaxAttempts": 2}


def test_environ() -> dict[str, str]:
    stage = Stage.STAGING
    return {
        contract.Env.STAGE: stage.value,
        contract.Env.PROJECT_NAME: PROJECT,
        contract.Env.PROJECT_ID: PROJECT_ID,
        contract.Env.DEPLOY_REGIONS: ",".join(REGIONS),
        contract.Env.ou(stage): "",  # set per test
        contract.Env.role(stage): ROLE,
        contract.Env.endpoint(stage): ENDPOINT,
        contract.Env.config(stage): contract.STAGE_CONFIG[stage],
    }


test_environ.__test__ = False  # type: ignore[attr-defined]  # a helper, not a test


@pytest.fixture
def org(monkeypatch: pytest.MonkeyPatch) -> Iterator[Org]:
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    with mock_aws():
        yield make_org()


def create_endpoint(account: str, region: str) -> None:
    sm = assumed_session(account, ROLE, region).client("sagemaker")
    sm.create_model(
        ModelName="iris-model",
        ExecutionRoleArn=f"arn:aws:iam::{account}:role/{ROLE}",
        PrimaryContainer={"ModelPackageName": f"arn:aws:sagemaker:{REGION}:123456789012:model-package/iris/1"},
    )
    sm.create_endpoint_config(
        EndpointConfigName="iris-config",
        ProductionVariants=[
            {"VariantName": "AllTraffic", "ModelName": "iris-model", "InstanceType": "ml.m5.large",
             "InitialInstanceCount": 1}
        ],
    )  # fmt: skip
    sm.create_endpoint(EndpointName=ENDPOINT, EndpointConfigName="iris-config")


def answer(account: str, region: str, bodies: list[str]) -> None:
    """Queue the endpoint's answers in one account and region (moto's static results API)."""
    results = [{"Body": b, "ContentType": "text/csv", "InvokedProductionVariant": "AllTraffic"} for b in bodies]
    response = requests.post(RESULTS_URL, json={"account_id": account, "region": region, "results": results})
    response.raise_for_status()


PROBABILITIES = {"0": "[0.9, 0.05, 0.05]", "1": "0.1,0.8,0.1", "2": "[0.02, 0.18, 0.8]"}


def good_answers() -> list[str]:
    """One answer per distinct iris row: a class for even rows, three probabilities for odd ones."""
    classes = ["0"] * 5 + ["1"] * 5 + ["2"] * 5
    return [c if i % 2 == 0 else PROBABILITIES[c] for i, c in enumerate(classes)]


def deploy_everywhere(org: Org, skip: tuple[str, str] | None = None) -> None:
    for account in org.staging_accounts:
        for region in REGIONS:
            if (account, region) != skip:
                create_endpoint(account, region)
                answer(account, region, good_answers())


class Clock:
    """A fake perf_counter: every reading advances by `step` seconds."""

    def __init__(self, step: float) -> None:
        self.now, self.step = 0.0, step

    def __call__(self) -> float:
        self.now += self.step
        return self.now


def run(seed: Seed, org: Org, tmp_path: Path, clock: Any = None) -> tuple[int, dict[str, Any], ET.Element]:
    environ = test_environ() | {contract.Env.ou(Stage.STAGING): org.staging_ou}
    kwargs: dict[str, Any] = {"clock": clock} if clock else {}
    code = seed.endpoint_test.main(
        ["--repo", str(seed.root), "--report-dir", str(tmp_path)],
        environ=environ,
        org=boto3.client("organizations"),
        sts=boto3.client("sts"),
        waiter_config=FAST,
        **kwargs,
    )
    summary = json.loads((tmp_path / seed.endpoint_test.SUMMARY_JSON).read_text())
    report = ET.parse(tmp_path / seed.endpoint_test.REPORT_XML).getroot()
    return code, summary, report


def failures(report: ET.Element) -> dict[str, str]:
    return {
        case.get("classname", ""): failure.get("message", "")
        for case in report.iter("testcase")
        for failure in case.iter("failure")
    }


def test_valid_answers_pass_in_every_active_account_and_region(seed: Seed, org: Org, tmp_path: Path) -> None:
    deploy_everywhere(org)
    code, summary, report = run(seed, org, tmp_path)
    assert code == 0, failures(report)
    targets = {(t["account_id"], t["region"]) for t in summary["targets"]}
    assert targets == {(a, r) for a in org.staging_accounts for r in REGIONS}  # the closed account is skipped
    assert org.suspended not in {a for a, _ in targets}
    suite = report.find("testsuite")
    assert suite is not None and suite.get("tests") == "4" and suite.get("failures") == "0"
    calls = json.loads((seed.root / contract.STAGE_CONFIG[Stage.STAGING]).read_text())["test"]["calls"]
    assert all(t["calls"] == calls and t["p95_ms"] is not None for t in summary["targets"])


def test_malformed_prediction_fails_naming_account_and_region(
    seed: Seed, org: Org, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad_account = org.staging_accounts[1]
    deploy_everywhere(org, skip=(bad_account, "eu-central-1"))
    create_endpoint(bad_account, "eu-central-1")
    answer(bad_account, "eu-central-1", ["[0.5, 0.2, 0.1]", *good_answers()])  # sums to 0.8
    code, summary, report = run(seed, org, tmp_path)
    assert code == 1
    assert list(failures(report)) == [f"staging.{bad_account}.eu-central-1"]
    message = failures(report)[f"staging.{bad_account}.eu-central-1"]
    assert message.startswith(f"account {bad_account} (staging-b), region eu-central-1: malformed prediction")
    assert "sum to 0.8000, not 1" in message
    assert (
        f"FAIL account {bad_account} (staging-b), region eu-central-1: malformed prediction" in capsys.readouterr().err
    )
    assert summary["passed"] is False


@pytest.mark.parametrize(
    ("body", "problem"),
    [("3", "is not one of 0, 1, 2"), ("1.5", "is not one of 0, 1, 2"), ("setosa", "not numbers"),
     ("0.2,0.8", "expected a class or 3 probabilities"), ("[1.2, -0.1, -0.1]", "not all between 0 and 1")],
)  # fmt: skip
def test_prediction_rules(seed: Seed, body: str, problem: str) -> None:
    assert problem in (seed.endpoint_test.prediction_problem(body) or "")


@pytest.mark.parametrize("body", ["0", "2.0\n", "[0.1, 0.2, 0.7]", "0.3333,0.3333,0.3334"])
def test_valid_predictions(seed: Seed, body: str) -> None:
    assert seed.endpoint_test.prediction_problem(body) is None


def test_missing_endpoint_in_one_account_fails(seed: Seed, org: Org, tmp_path: Path) -> None:
    missing = org.staging_accounts[0]
    deploy_everywhere(org, skip=(missing, "eu-west-1"))
    code, _, report = run(seed, org, tmp_path)
    assert code == 1
    assert list(failures(report)) == [f"staging.{missing}.eu-west-1"]
    message = failures(report)[f"staging.{missing}.eu-west-1"]
    assert message.startswith(f"account {missing} (staging-a), region eu-west-1: endpoint {ENDPOINT} is not InService")
    assert "Could not find endpoint" in message


def test_too_slow_endpoint_fails_on_p95(seed: Seed, org: Org, tmp_path: Path) -> None:
    deploy_everywhere(org)
    limit = json.loads((seed.root / contract.STAGE_CONFIG[Stage.STAGING]).read_text())["test"]["p95_latency_ms"]
    # Every call takes (limit + 100) ms on the injected clock.
    code, summary, report = run(seed, org, tmp_path, clock=Clock((limit + 100) / 1000))
    assert code == 1
    assert len(failures(report)) == 4
    for target in summary["targets"]:
        assert target["p95_ms"] == pytest.approx(limit + 100)
        assert f"too slow: p95 latency {limit + 100:.1f} ms" in target["reason"]
        assert f"exceeds the limit of {limit:g} ms" in target["reason"]


def test_empty_ou_is_a_failure_not_a_pass(
    seed: Seed, org: Org, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    empty = boto3.client("organizations").create_organizational_unit(ParentId=org.prod_ou, Name="empty")
    environ = test_environ() | {contract.Env.ou(Stage.STAGING): empty["OrganizationalUnit"]["Id"]}
    code = seed.endpoint_test.main(
        ["--repo", str(seed.root), "--report-dir", str(tmp_path)], environ=environ,
        org=boto3.client("organizations"), sts=boto3.client("sts"), waiter_config=FAST,
    )  # fmt: skip
    assert code == 1
    assert "no ACTIVE account in staging OU" in capsys.readouterr().err


def test_percentile_is_nearest_rank(seed: Seed) -> None:
    values = [float(v) for v in range(1, 21)]
    assert seed.endpoint_test.percentile(values, 95) == 19.0
    assert seed.endpoint_test.percentile(values, 50) == 10.0
    assert seed.endpoint_test.percentile([7.0], 95) == 7.0


def test_the_seed_and_the_generator_name_the_same_project_session_tag(seed: Seed) -> None:
    """The stage's role admits the test's session only with this tag (generator/companions/target_role.py)."""
    assert seed.endpoint_test.PROJECT_SESSION_TAG == contract.PROJECT_SESSION_TAG
