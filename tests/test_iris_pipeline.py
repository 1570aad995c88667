"""The iris model-building seed code (seedcode/modelbuild): pipeline definition, run, helpers.

The definition is built with no network at all; upsert/start and the helpers run against moto.
Tests that need the SageMaker SDK (the `sagemaker` extra) import it lazily, through `sdk`.
"""

from __future__ import annotations

import csv
import importlib
import io
import json
import os
import socket
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import boto3
import pytest
from botocore.awsrequest import AWSResponse
from botocore.stub import Stubber
from moto import mock_aws

from generator.naming import Names
from tests.moto_helpers import register_model_package
from tests.sdk_config import TELEMETRY_OPT_OUT, validate_once

MODELBUILD = Path(__file__).resolve().parent.parent / "seedcode" / "modelbuild"
sys.path.insert(0, str(MODELBUILD))

from iris_pipeline import project  # noqa: E402 (importable only once seedcode/modelbuild is on sys.path)

REGION = "eu-west-1"
ACCOUNT = "123456789012"  # moto's default account
PROJECT = "iris-multi-01"
PROJECT_ID = "p-abcdef123456"
BUCKET = f"sagemaker-project-{PROJECT_ID}-artifacts"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/service-role/AmazonSageMakerServiceCatalogProductsUseRole"
SCRIPTS = MODELBUILD / "iris_pipeline" / "scripts"
#: The pipeline definition and the AWS requests (method, URL, body) building it made.
Offline = tuple[dict[str, Any], list[tuple[str, str, bytes]]]


def require(module: str) -> ModuleType:
    """Import an optional-extra module: skipped locally without it, a failure in CI (where it is installed)."""
    if os.environ.get("CI"):
        return importlib.import_module(module)
    return pytest.importorskip(module)


def _fake_aws(mp: pytest.MonkeyPatch) -> None:
    """Fake credentials and a region, and nothing from the developer's own AWS configuration."""
    for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_SESSION_TOKEN"):
        mp.delenv(name, raising=False)
    mp.setenv("AWS_ACCESS_KEY_ID", "testing")
    mp.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    mp.setenv("AWS_DEFAULT_REGION", REGION)


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch) -> None:
    _fake_aws(monkeypatch)


def test_validate_once_remembers_only_what_passed() -> None:
    import jsonschema

    calls: list[Any] = []

    def validate(instance: Any, schema: Any) -> None:
        calls.append(instance)
        jsonschema.validate(instance, schema)

    once, schema = validate_once(validate), {"type": "object", "required": ["a"]}
    once({"a": 1}, schema)
    once({"a": 1}, schema)
    assert calls == [{"a": 1}]  # the same pair: validated once
    for _ in range(2):  # a failure raises every time
        with pytest.raises(jsonschema.ValidationError):
            once({"b": 1}, schema)
    once({"a": 1}, {"type": "object"})  # another schema: validated again
    assert len(calls) == 4


@pytest.fixture(scope="module")
def sdk(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ModuleType]:
    """The SageMaker SDK, set up to make no call of its own (aws-facts: the three offline settings).

    Module-scoped, and its config validated once (tests/sdk_config.py): the SDK re-validates its config on every
    lookup, so each build would cost tens of seconds.
    """
    import jsonschema

    config = tmp_path_factory.mktemp("sagemaker") / "config.yaml"
    config.write_text(TELEMETRY_OPT_OUT)
    with pytest.MonkeyPatch.context() as mp:
        _fake_aws(mp)
        mp.setenv("SAGEMAKER_USER_CONFIG_OVERRIDE", str(config))
        mp.setenv("SAGEMAKER_VALIDATE_ROLE", "false")
        mp.setattr(jsonschema, "validate", validate_once(jsonschema.validate))
        require("sagemaker")
        yield importlib.import_module("iris_pipeline.pipeline")


@pytest.fixture
def moto_aws(aws_env: None) -> Iterator[None]:
    with mock_aws():
        boto3.client("s3", region_name=REGION).create_bucket(
            Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION}
        )
        yield


class _Body:
    """The raw body botocore reads from a response."""

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield b""


def _unchunk(body: bytes) -> bytes:
    """The payload of an `aws-chunked` body (botocore streams uploads so, with a trailing checksum)."""
    payload = b""
    while True:
        size_line, body = body.split(b"\r\n", 1)
        size = int(size_line.split(b";")[0], 16)
        if size == 0:
            return payload
        payload, body = payload + body[:size], body[size + 2 :]


@pytest.fixture(scope="module")
def offline(sdk: ModuleType) -> Iterator[Offline]:
    """The definition, built with sockets disabled; AWS requests are answered in-process and recorded."""
    from sagemaker.core.workflow.pipeline_context import PipelineSession

    requests: list[tuple[str, str, bytes]] = []
    connects: list[Any] = []

    def refuse(sock: socket.socket, address: Any) -> None:
        connects.append(address)
        raise OSError(f"test is offline: {address}")

    def answer(request: Any, **_: Any) -> AWSResponse:
        body = request.body.read() if hasattr(request.body, "read") else request.body or b""
        encoding = request.headers.get("Content-Encoding", b"")
        if b"aws-chunked" in (encoding.encode() if isinstance(encoding, str) else encoding):
            body = _unchunk(body)
        requests.append((request.method, request.url, body))
        return AWSResponse(request.url, 200, {"ETag": '"0"'}, _Body())

    boto_session = boto3.Session(region_name=REGION)
    boto_session.events.register("before-send", answer)
    session = PipelineSession(boto_session=boto_session, default_bucket=BUCKET)
    # The known default bucket: without it the SDK lists and creates buckets (aws-facts).
    session._default_bucket = BUCKET
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(socket.socket, "connect", refuse)
        definition = json.loads(sdk.get_pipeline(PROJECT, BUCKET, ROLE, REGION, session).definition())
    assert connects == []
    yield definition, requests


def _steps(definition: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {step["Name"]: step for step in definition["Steps"]}


@pytest.mark.slow  # builds the pipeline with the SageMaker SDK (and upserts it on moto)
def test_definition_builds_offline_uploading_only_the_two_scripts(offline: Offline) -> None:
    definition, requests = offline
    uploads = {url.rsplit("/", 1)[-1]: (method, url, body) for method, url, body in requests}
    assert len(requests) == 2, [r[:2] for r in requests]
    for script in ("preprocess.py", "evaluate.py"):
        method, url, body = uploads[script]
        assert method == "PUT"
        assert url.startswith(f"https://{BUCKET}.s3.{REGION}.amazonaws.com/{PROJECT}-iris/code/")
        assert body == (SCRIPTS / script).read_bytes()
    assert [(s["Name"], s["Type"]) for s in definition["Steps"]] == [
        ("PreprocessIrisData", "Processing"),
        ("TrainIrisModel", "Training"),
        ("EvaluateIrisModel", "Processing"),
        ("RegisterIrisModel", "RegisterModel"),
    ]


@pytest.mark.slow  # builds the pipeline with the SageMaker SDK (and upserts it on moto)
def test_parameters(offline: Offline) -> None:
    definition, _ = offline
    assert {p["Name"]: (p["Type"], p["DefaultValue"]) for p in definition["Parameters"]} == {
        "TrainingInstanceType": ("String", "ml.m5.xlarge"),
        "TrainingInstanceCount": ("Integer", 1),
        "InputDataUrl": ("String", f"s3://{BUCKET}/iris/input/iris.csv"),
        "ModelApprovalStatus": ("String", "PendingManualApproval"),
    }
    preprocess = _steps(definition)["PreprocessIrisData"]["Arguments"]
    data = next(i for i in preprocess["ProcessingInputs"] if i["InputName"] == "input")
    assert data["S3Input"]["S3Uri"] == {"Get": "Parameters.InputDataUrl"}


@pytest.mark.slow  # builds the pipeline with the SageMaker SDK (and upserts it on moto)
def test_training_is_built_in_xgboost_multiclass(offline: Offline) -> None:
    from sagemaker.core import image_uris

    definition, _ = offline
    train = _steps(definition)["TrainIrisModel"]["Arguments"]
    image = image_uris.retrieve("xgboost", REGION, "1.7-1")
    assert image.endswith("/sagemaker-xgboost:1.7-1")
    assert train["AlgorithmSpecification"]["TrainingImage"] == image
    assert train["HyperParameters"]["objective"] == "multi:softprob"
    assert train["HyperParameters"]["num_class"] == "3"
    assert train["ResourceConfig"]["InstanceType"] == {"Get": "Parameters.TrainingInstanceType"}
    assert train["ResourceConfig"]["InstanceCount"] == {"Get": "Parameters.TrainingInstanceCount"}
    assert train["RoleArn"] == ROLE
    [channel] = train["InputDataConfig"]
    assert channel["ChannelName"] == "train"
    assert channel["ContentType"] == "text/csv"
    assert channel["DataSource"]["S3DataSource"]["S3Uri"] == {
        "Get": "Steps.PreprocessIrisData.ProcessingOutputConfig.Outputs['train'].S3Output.S3Uri"
    }


@pytest.mark.slow  # builds the pipeline with the SageMaker SDK (and upserts it on moto)
def test_evaluation_uses_the_held_out_split_and_the_trained_model(offline: Offline) -> None:
    from iris_pipeline.scripts import evaluate

    definition, _ = offline
    arguments = _steps(definition)["EvaluateIrisModel"]["Arguments"]
    inputs = {i["InputName"]: i["S3Input"]["S3Uri"] for i in arguments["ProcessingInputs"]}
    assert inputs["model"] == {"Get": "Steps.TrainIrisModel.ModelArtifacts.S3ModelArtifacts"}
    assert inputs["test"] == {"Get": "Steps.PreprocessIrisData.ProcessingOutputConfig.Outputs['test'].S3Output.S3Uri"}
    assert arguments["AppSpecification"]["ContainerEntrypoint"][-1].endswith("/evaluate.py")
    [output] = arguments["ProcessingOutputConfig"]["Outputs"]
    # The script writes where the step uploads from.
    assert output["S3Output"]["LocalPath"] == str(evaluate.BASE / "evaluation")


@pytest.mark.slow  # builds the pipeline with the SageMaker SDK (and upserts it on moto)
def test_registers_into_the_project_group_pending_with_accuracy(offline: Offline) -> None:
    from sagemaker.core import image_uris

    definition, _ = offline
    register = _steps(definition)["RegisterIrisModel"]["Arguments"]
    # The product's group (generator/naming.py) is the one the pipeline registers into.
    assert register["ModelPackageGroupName"] == Names().model_package_group.render(PROJECT, PROJECT_ID) == PROJECT
    assert register["ModelApprovalStatus"] == {"Get": "Parameters.ModelApprovalStatus"}
    defaults = {p["Name"]: p["DefaultValue"] for p in definition["Parameters"]}
    assert defaults["ModelApprovalStatus"] == "PendingManualApproval"
    [container] = register["InferenceSpecification"]["Containers"]
    assert container["Image"] == image_uris.retrieve("xgboost", REGION, "1.7-1")
    assert container["ModelDataUrl"] == {"Get": "Steps.TrainIrisModel.ModelArtifacts.S3ModelArtifacts"}
    statistics = register["ModelMetrics"]["ModelQuality"]["Statistics"]
    assert statistics["ContentType"] == "application/json"
    assert statistics["S3Uri"] == {
        "Std:Join": {
            "On": "/",
            "Values": [
                {"Get": "Steps.EvaluateIrisModel.ProcessingOutputConfig.Outputs['evaluation'].S3Output.S3Uri"},
                "evaluation.json",
            ],
        }
    }


@pytest.mark.slow  # builds the pipeline with the SageMaker SDK (and upserts it on moto)
def test_run_pipeline_upserts_and_starts_on_moto_and_the_cli_prints_the_execution_arn(
    sdk: ModuleType, moto_aws: None, capsys: pytest.CaptureFixture[str]
) -> None:
    """`run_pipeline` creates and starts the pipeline; the command line (`main`) then upserts the same pipeline
    (an update) and starts it again, printing the execution ARN. One test: each upsert builds the pipeline with
    the SageMaker SDK (tens of seconds on moto)."""
    from iris_pipeline.run import main, run_pipeline

    sm = boto3.client("sagemaker", region_name=REGION)
    first = run_pipeline(PROJECT, BUCKET, REGION, project_id=PROJECT_ID, parameters={"TrainingInstanceCount": 2})
    capsys.readouterr()
    # upsert: updates, then starts again
    main(
        ["--project-name", PROJECT, "--bucket", BUCKET, "--region", REGION, "--training-instance-type", "ml.m5.2xlarge"]
    )
    second = capsys.readouterr().out.strip()
    assert sm.describe_pipeline_execution(PipelineExecutionArn=second)["PipelineArn"].endswith(f"/{PROJECT}-iris")

    name = project.pipeline_name(PROJECT)
    described = sm.describe_pipeline(PipelineName=name)
    assert described["RoleArn"] == ROLE  # the project use role of the caller's account by default
    steps = [s["Name"] for s in json.loads(described["PipelineDefinition"])["Steps"]]
    assert steps == ["PreprocessIrisData", "TrainIrisModel", "EvaluateIrisModel", "RegisterIrisModel"]
    tags = {t["Key"]: t["Value"] for t in sm.list_tags(ResourceArn=described["PipelineArn"])["Tags"]}
    assert tags == {"sagemaker:project-name": PROJECT, "sagemaker:project-id": PROJECT_ID}
    executions = sm.list_pipeline_executions(PipelineName=name)["PipelineExecutionSummaries"]
    assert {e["PipelineExecutionArn"] for e in executions} == {first, second}
    overrides = sm.list_pipeline_parameters_for_execution(PipelineExecutionArn=first)["PipelineParameters"]
    assert {"Name": "TrainingInstanceCount", "Value": "2"} in overrides
    overrides = sm.list_pipeline_parameters_for_execution(PipelineExecutionArn=second)["PipelineParameters"]
    assert overrides == [{"Name": "TrainingInstanceType", "Value": "ml.m5.2xlarge"}]
    group = sm.describe_model_package_group(ModelPackageGroupName=PROJECT)
    assert group["ModelPackageGroupArn"].endswith(f":model-package-group/{PROJECT}")


# --- the scripts the processing jobs run ---


@pytest.mark.slow  # runs the preprocessing script (pandas, scikit-learn)
def test_preprocess_splits_without_overlap(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    require("pandas")
    require("sklearn")
    from iris_pipeline.scripts import preprocess

    (tmp_path / "input").mkdir()
    (tmp_path / "input" / "iris.csv").write_text(project.iris_csv())
    monkeypatch.setattr(preprocess, "BASE", tmp_path)
    monkeypatch.setattr(sys, "argv", ["preprocess.py", "--test-fraction", "0.2"])
    preprocess.main()
    train = (tmp_path / "train" / "train.csv").read_text().splitlines()
    test = (tmp_path / "test" / "test.csv").read_text().splitlines()
    assert (len(train), len(test)) == (120, 30)
    assert sorted(train + test) == sorted(project.iris_csv().splitlines())
    assert {row.split(",")[0] for row in test} <= {"0", "1", "2"}  # label stays first, as XGBoost wants


@pytest.mark.slow  # imports numpy and scikit-learn
def test_metrics_report_is_model_quality_json() -> None:
    np = require("numpy")
    from iris_pipeline.scripts.evaluate import metrics_report

    probabilities = np.array([[0.8, 0.1, 0.1], [0.1, 0.7, 0.2], [0.2, 0.2, 0.6], [0.5, 0.3, 0.2]])
    report = metrics_report(np.array([0.0, 1.0, 2.0, 2.0]), probabilities)
    assert report == {"multiclass_classification_metrics": {"accuracy": {"value": 0.75}}}
    json.dumps(report)  # plain JSON types only


# --- helpers the notebook calls (no SageMaker SDK) ---


@pytest.mark.parametrize("prefix", ["sagemaker-", "sagemaker-acme-"])
def test_names_match_the_product(prefix: str) -> None:
    names = Names(prefix)
    assert project.model_package_group_name(PROJECT) == names.model_package_group.render(PROJECT, PROJECT_ID)
    assert project.artifact_bucket_name(PROJECT_ID, prefix) == names.artifact_bucket.render(PROJECT, PROJECT_ID)
    assert project.deployment_pipeline_name(PROJECT, PROJECT_ID, prefix) == names.pipeline.render(PROJECT, PROJECT_ID)


def test_write_iris_csv(moto_aws: None) -> None:
    require("sklearn")
    uri = project.write_iris_csv(boto3.client("s3", region_name=REGION), BUCKET)
    assert uri == f"s3://{BUCKET}/iris/input/iris.csv"
    obj = boto3.client("s3", region_name=REGION).get_object(Bucket=BUCKET, Key="iris/input/iris.csv")
    assert obj["ContentType"] == "text/csv"
    rows = list(csv.reader(io.StringIO(obj["Body"].read().decode())))
    assert len(rows) == 150
    assert all(len(row) == 5 for row in rows)
    assert sorted(r[0] for r in rows) == ["0"] * 50 + ["1"] * 50 + ["2"] * 50
    assert rows[0][1:] == ["5.1", "3.5", "1.4", "0.2"]  # the first iris, features after the label


def test_ensure_model_package_group_creates_once(moto_aws: None) -> None:
    sm = boto3.client("sagemaker", region_name=REGION)
    assert project.ensure_model_package_group(sm, PROJECT, {"sagemaker:project-name": PROJECT}) is True
    assert project.ensure_model_package_group(sm, PROJECT) is False
    arn = sm.describe_model_package_group(ModelPackageGroupName=PROJECT)["ModelPackageGroupArn"]
    assert sm.list_tags(ResourceArn=arn)["Tags"] == [{"Key": "sagemaker:project-name", "Value": PROJECT}]


def _register(sm: Any, status: str) -> str:
    return register_model_package(sm, PROJECT, status)


def _status(sm: Any, arn: str) -> str:
    status: str = sm.describe_model_package(ModelPackageName=arn)["ModelApprovalStatus"]
    return status


def test_approve_newest_among_several(moto_aws: None) -> None:
    sm = boto3.client("sagemaker", region_name=REGION)
    project.ensure_model_package_group(sm, PROJECT)
    older = _register(sm, "PendingManualApproval")
    newer = _register(sm, "PendingManualApproval")
    rejected = _register(sm, "Rejected")  # newest of all, but not waiting for approval
    assert project.newest_pending_package(sm, PROJECT) == newer

    assert project.approve_newest_package(sm, PROJECT) == newer
    assert [_status(sm, a) for a in (older, newer, rejected)] == ["PendingManualApproval", "Approved", "Rejected"]
    assert project.newest_pending_package(sm, PROJECT) == older


def test_approve_with_nothing_pending_raises(moto_aws: None) -> None:
    sm = boto3.client("sagemaker", region_name=REGION)
    project.ensure_model_package_group(sm, PROJECT)
    approved = _register(sm, "Approved")
    assert project.newest_pending_package(sm, PROJECT) is None
    with pytest.raises(LookupError, match="PendingManualApproval"):
        project.approve_newest_package(sm, PROJECT)
    assert _status(sm, approved) == "Approved"


def test_default_role_is_the_project_use_role(moto_aws: None) -> None:
    assert project.default_role_arn(boto3.client("sts", region_name=REGION)) == ROLE


def test_wait_for_execution_on_moto(moto_aws: None) -> None:
    sm = boto3.client("sagemaker", region_name=REGION)
    sm.create_pipeline(
        PipelineName="wait-test", PipelineDefinition=json.dumps({"Version": "2020-12-01", "Steps": []}), RoleArn=ROLE
    )
    arn = sm.start_pipeline_execution(PipelineName="wait-test")["PipelineExecutionArn"]
    assert project.wait_for_execution(sm, arn, delay=0) == "Succeeded"


def test_wait_for_execution_polls_then_reports_failure(aws_env: None) -> None:
    sm = boto3.client("sagemaker", region_name=REGION)
    arn = f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:pipeline/{PROJECT}-iris/execution/abc123"
    with Stubber(sm) as stub:
        for status, reason in (("Executing", None), ("Failed", "TrainIrisModel: AlgorithmError")):
            response = {"PipelineExecutionArn": arn, "PipelineExecutionStatus": status}
            if reason:
                response["FailureReason"] = reason
            stub.add_response("describe_pipeline_execution", response, {"PipelineExecutionArn": arn})
        with pytest.raises(RuntimeError, match="failed: TrainIrisModel: AlgorithmError"):
            project.wait_for_execution(sm, arn, delay=0)
        stub.assert_no_pending_responses()


@pytest.mark.slow  # builds the pipeline with the SageMaker SDK (and upserts it on moto)
def test_outputs_follow_the_artifact_bucket_layout(offline: Offline) -> None:
    """Model and evaluation report under `models/` (kept); splits and code under `<pipeline>/` (expiring scratch)."""
    from generator import contract

    definition, requests = offline
    steps = _steps(definition)
    kept = f"s3://{BUCKET}/{contract.MODEL_ARTIFACTS_PREFIX}{PROJECT}-iris"
    assert steps["TrainIrisModel"]["Arguments"]["OutputDataConfig"]["S3OutputPath"] == kept
    scratch = contract.MODEL_BUILD_SCRATCH_PREFIX.replace("${SageMakerProjectName}", PROJECT)

    def prefix_of(uri: Any) -> str:
        values = uri["Std:Join"]["Values"]  # s3:/, bucket, folder, execution id, output name
        return f"{values[0]}/{values[1]}/{values[2]}"

    outputs = {
        o["OutputName"]: prefix_of(o["S3Output"]["S3Uri"])
        for name in ("PreprocessIrisData", "EvaluateIrisModel")
        for o in steps[name]["Arguments"]["ProcessingOutputConfig"]["Outputs"]
    }
    assert outputs == {
        "train": f"s3://{BUCKET}/{scratch}".rstrip("/"),
        "test": f"s3://{BUCKET}/{scratch}".rstrip("/"),
        "evaluation": kept,
    }
    assert all(f".amazonaws.com/{scratch}" in url for _, url, _ in requests)
