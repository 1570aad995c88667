"""The data scientist's notebook: valid, and it runs end to end against a local moto server.

The kernel is this interpreter (a kernelspec written for the test), reaching moto through
AWS_ENDPOINT_URL; `wait_for_training = False` is injected after the parameters cell, as
papermill would, since moto runs no training.
"""

from __future__ import annotations

import ast
import csv
import io
import json
import os
import socket
import sys
from collections.abc import Iterator
from importlib.util import find_spec
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto.server import ThreadedMotoServer

from generator.naming import Names
from tests.moto_helpers import register_model_package
from tests.sdk_config import TELEMETRY_OPT_OUT

if os.environ.get("CI"):  # the `sagemaker` extra is installed in CI: missing modules must fail there
    import nbclient
    import nbformat
else:
    # find_spec, not importorskip: importing sagemaker and sklearn here would cost every collection
    # (even `pytest -m "not slow"`) several seconds; the notebook's kernel imports them itself.
    _missing = [m for m in ("nbclient", "nbformat", "sagemaker", "sklearn", "ipykernel") if find_spec(m) is None]
    if _missing:
        pytest.skip(f"the `sagemaker` extra is not installed ({', '.join(_missing)})", allow_module_level=True)
    import nbclient
    import nbformat

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK = ROOT / "notebooks" / "iris-multi-account.ipynb"
REGION = "eu-west-1"
PROJECT = "iris-nb-01"
PROJECT_ID = "p-0123456789ab"
BUCKET = Names().artifact_bucket.render(PROJECT, PROJECT_ID)
PENDING, APPROVED = "PendingManualApproval", "Approved"
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": REGION}

pytestmark = pytest.mark.slow  # the notebook runs end to end in a kernel against moto


def _parameters_cell(nb: Any) -> int:
    [index] = [i for i, c in enumerate(nb.cells) if "parameters" in c.metadata.get("tags", [])]
    return index


def test_notebook_is_valid_with_one_parameters_cell() -> None:
    nb = nbformat.read(NOTEBOOK, as_version=4)
    nbformat.validate(nb)
    cell = nb.cells[_parameters_cell(nb)]
    assigned = {t.id for node in ast.parse(cell.source).body if isinstance(node, ast.Assign) for t in node.targets}
    assert {"project_name", "region", "bucket", "wait_for_training"} <= assigned
    assert all(c.get("outputs", []) == [] for c in nb.cells if c.cell_type == "code")  # committed without outputs


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture
def moto_endpoint() -> Iterator[str]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=_free_port(), verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        yield f"http://{host}:{port}"
    finally:
        server.stop()


def _client(service: str, endpoint: str) -> Any:
    session = boto3.Session(
        aws_access_key_id="testing", aws_secret_access_key="testing", region_name=REGION, profile_name=None
    )
    return session.client(service, endpoint_url=endpoint)


def _register(sm: Any) -> str:
    return register_model_package(sm, PROJECT, PENDING)


def _venv_kernel(jupyter_path: Path) -> str:
    """A kernelspec that starts this interpreter (the venv with the seed code's dependencies)."""
    name = "mlops-gen-test"
    spec = jupyter_path / "kernels" / name
    spec.mkdir(parents=True)
    argv = [sys.executable, "-m", "tests.sdk_kernel", "-f", "{connection_file}"]  # ipykernel, SDK config checked once
    (spec / "kernel.json").write_text(json.dumps({"argv": argv, "display_name": name, "language": "python"}))
    return name


def test_notebook_runs_and_approves_the_newest_model(
    moto_endpoint: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    s3, sm = _client("s3", moto_endpoint), _client("sagemaker", moto_endpoint)
    s3.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
    sm.create_model_package_group(ModelPackageGroupName=PROJECT)
    older, newer = _register(sm), _register(sm)  # as if earlier runs had registered two models

    nb = nbformat.read(NOTEBOOK, as_version=4)
    injected = (
        f"project_name = {PROJECT!r}\nproject_id = {PROJECT_ID!r}\nregion = {REGION!r}\nwait_for_training = False"
    )
    nb.cells.insert(_parameters_cell(nb) + 1, nbformat.v4.new_code_cell(injected))
    nb.cells.insert(0, nbformat.v4.new_code_cell("import sys\nprint(sys.executable)"))

    config = tmp_path / "sagemaker-config.yaml"
    config.write_text(TELEMETRY_OPT_OUT)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "SAGEMAKER_"))}
    env |= CREDENTIALS | {
        "AWS_ENDPOINT_URL": moto_endpoint,
        "SAGEMAKER_VALIDATE_ROLE": "false",
        "SAGEMAKER_USER_CONFIG_OVERRIDE": str(config),
        "PYTHONPATH": str(ROOT),  # the kernel module tests.sdk_kernel
    }
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "jupyter"))
    kernel = _venv_kernel(tmp_path / "jupyter")
    client = nbclient.NotebookClient(
        nb, kernel_name=kernel, timeout=180, resources={"metadata": {"path": str(NOTEBOOK.parent)}}
    )
    client.execute(env=env)
    assert nb.cells[0].outputs[0]["text"].strip() == sys.executable  # the kernel ran this venv's interpreter

    # The newest pending model was approved; the older one still waits.
    statuses = [sm.describe_model_package(ModelPackageName=a)["ModelApprovalStatus"] for a in (older, newer)]
    assert statuses == [PENDING, APPROVED]
    # The data went to the project's bucket, and the pipeline ran with it.
    rows = list(
        csv.reader(io.StringIO(s3.get_object(Bucket=BUCKET, Key="iris/input/iris.csv")["Body"].read().decode()))
    )
    assert len(rows) == 150
    [execution] = sm.list_pipeline_executions(PipelineName=f"{PROJECT}-iris")["PipelineExecutionSummaries"]
    parameters = sm.list_pipeline_parameters_for_execution(PipelineExecutionArn=execution["PipelineExecutionArn"])
    assert {"Name": "InputDataUrl", "Value": f"s3://{BUCKET}/iris/input/iris.csv"} in parameters["PipelineParameters"]
    # The last cell says where to watch the deployment: the product's CodePipeline.
    outputs = "".join(o.get("text", "") for o in nb.cells[-1].outputs)
    assert Names().pipeline.render(PROJECT, PROJECT_ID) in outputs
