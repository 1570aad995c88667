"""The seed scripts and the RENDERED product agree: env var names, file names, buildspecs, reports.

Read from the rendered product template (generator.render.render_files), not from contract.py: what
CodeBuild and CodePipeline will really be told is what the scripts must match.
"""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
import yaml
from cfnlint.decode import decode_str
from moto import mock_aws

from generator import contract
from generator.live.rehearse.regions import region_behaviour
from tests.conftest import make_config, rendered_files
from tests.moto_helpers import XGBOOST_IMAGE
from tests.test_seed_support import REGION, Seed, seed

__all__ = ["seed"]  # the fixture, imported for pytest


class Recorder(dict[str, str]):
    """An environment that remembers which names a script asked for."""

    def __init__(self, values: dict[str, str]) -> None:
        super().__init__(values)
        self.asked: set[str] = set()

    def get(self, key: str, default: Any = None) -> Any:  # type: ignore[override]
        self.asked.add(key)
        return super().get(key, default)

    def __getitem__(self, key: str) -> str:
        self.asked.add(key)
        return super().__getitem__(key)


def rendered(**overrides: Any) -> tuple[dict[str, Any], dict[str, bytes]]:
    files = {f.path: f.content for f in rendered_files(make_config(**overrides))}
    template, matches = decode_str(files["product-template.yaml"].decode())
    assert template is not None, matches
    with zipfile.ZipFile(io.BytesIO(files[contract.SEED_BUNDLE])) as archive:
        bundle = {name: archive.read(name) for name in archive.namelist()}
    return template, bundle


def project_env(template: dict[str, Any], logical_id: str) -> dict[str, str]:
    """The project's variables; values that are Ref/Sub become a sample string."""
    variables = template["Resources"][logical_id]["Properties"]["Environment"]["EnvironmentVariables"]
    return {v["Name"]: v["Value"] if isinstance(v["Value"], str) else "sample-value" for v in variables}


def stack_set_actions(template: dict[str, Any]) -> list[dict[str, Any]]:
    stages = template["Resources"]["ModelDeployPipeline"]["Properties"]["Stages"]
    return [a for s in stages for a in s["Actions"] if a["ActionTypeId"]["Provider"] == "CloudFormationStackSet"]


def artifact_file(reference: str) -> tuple[str, str]:
    artifact, _, file = reference.partition("::")
    return artifact, file


@pytest.fixture(scope="module", params=["default", "standard"])
def product(request: pytest.FixtureRequest) -> tuple[dict[str, Any], dict[str, bytes]]:
    overrides = {"launch_role": "standard", "service_roles": "use-role"} if request.param == "standard" else {}
    return rendered(deploy_regions="eu-west-1,us-east-1", **overrides)


@pytest.mark.slow  # renders whole configurations (about a second each)
def test_build_py_reads_only_declared_variables(seed: Seed, product: tuple[dict[str, Any], dict[str, bytes]]) -> None:
    template, _ = product
    declared = project_env(template, "ModelDeployBuildProject")
    env = Recorder(declared)
    parsed = seed.build.BuildEnv.from_environ(env)
    assert env.asked <= set(declared), f"build.py reads undeclared variables: {env.asked - set(declared)}"
    assert parsed.create_model_package_group is (declared[contract.Env.CREATE_MODEL_PACKAGE_GROUP] == "true")


def test_test_py_reads_only_declared_variables(seed: Seed, product: tuple[dict[str, Any], dict[str, bytes]]) -> None:
    template, _ = product
    declared = project_env(template, "ModelDeployTestProject")
    env = Recorder(declared)
    parsed = seed.endpoint_test.EndpointTestEnv.from_environ(env)
    assert env.asked <= set(declared), f"test.py reads undeclared variables: {env.asked - set(declared)}"
    assert parsed.regions == ("eu-west-1", "us-east-1")


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    with mock_aws():
        yield


def test_build_writes_exactly_what_the_deploy_actions_read(
    seed: Seed,
    product: tuple[dict[str, Any], dict[str, bytes]],
    tmp_path: Path,
    aws: None,
    model_package_group_policies: None,
) -> None:
    template, bundle = product
    declared = project_env(template, "ModelDeployBuildProject")
    repo = tmp_path / "repo"
    for name, content in bundle.items():
        (repo / name).parent.mkdir(parents=True, exist_ok=True)
        (repo / name).write_bytes(content)
    sm = boto3.client("sagemaker")
    sm.create_model_package_group(ModelPackageGroupName="sample-value")  # the group's name is a Sub: sampled
    # The artifacts in the artifact bucket (its name is a Ref: sampled), copied to the other deploy region.
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket="sample-value", CreateBucketConfiguration={"LocationConstraint": sm.meta.region_name})
    s3.put_object(Bucket="sample-value", Key="model.tar.gz", Body=b"model")
    container = {"Image": XGBOOST_IMAGE, "ModelDataUrl": "s3://sample-value/model.tar.gz"}
    spec = {"Containers": [container], "SupportedContentTypes": ["text/csv"],
            "SupportedResponseMIMETypes": ["text/csv"]}  # fmt: skip
    sm.create_model_package(
        ModelPackageGroupName="sample-value", ModelApprovalStatus="Approved", InferenceSpecification=spec
    )
    out = tmp_path / "export"
    with region_behaviour():  # moto would apply the regional bucket's TLS-only Deny to every request
        assert seed.build.main(["--repo", str(repo), "--out", str(out)], environ=declared, sm=sm) == 0

    read: set[str] = set()
    for action in stack_set_actions(template):
        config = action["Configuration"]
        for key in ("TemplatePath", "Parameters"):
            artifact, file = artifact_file(config[key])
            assert artifact == contract.BUILD_ARTIFACT
            read.add(file)
        assert [a["Name"] for a in action["InputArtifacts"]] == [contract.BUILD_ARTIFACT]
    assert {p.name for p in out.iterdir()} == read

    buildspec = yaml.safe_load(bundle[contract.BUILD_SPEC])
    assert set(buildspec["artifacts"]["files"]) == read
    command = " ".join(buildspec["phases"]["build"]["commands"])
    assert re.search(rf'--out "?{re.escape(buildspec["artifacts"]["base-directory"])}"?', command)


def test_projects_run_the_bundled_buildspecs(product: tuple[dict[str, Any], dict[str, bytes]]) -> None:
    template, bundle = product
    resources = template["Resources"]
    for logical_id in ("ModelDeployBuildProject", "ModelDeployTestProject"):
        spec = resources[logical_id]["Properties"]["Source"]["BuildSpec"]
        assert spec in bundle, f"{logical_id} runs {spec}, which the seed bundle lacks"
        buildspec = yaml.safe_load(bundle[spec])
        assert buildspec["phases"]["install"]["runtime-versions"]["python"] == "3.12"
        # Every $VARIABLE a buildspec uses is declared by its project or is CodeBuild's own.
        declared = set(project_env(template, logical_id))
        used = set(re.findall(r"\$\{?([A-Z][A-Z0-9_]*)", bundle[spec].decode()))
        assert {v for v in used if not v.startswith("CODEBUILD_")} <= declared
    for name in contract.STAGE_CONFIG.values():
        assert name in bundle
    stages = resources["ModelDeployPipeline"]["Properties"]["Stages"]
    build = next(a for s in stages for a in s["Actions"] if a["Name"] == "BuildDeploymentTemplates")
    assert [a["Name"] for a in build["OutputArtifacts"]] == [contract.BUILD_ARTIFACT]


def test_test_buildspec_reports_the_junit_file_test_py_writes(
    seed: Seed, product: tuple[dict[str, Any], dict[str, bytes]]
) -> None:
    _, bundle = product
    buildspec = yaml.safe_load(bundle[contract.TEST_BUILD_SPEC])
    [(_group, report)] = buildspec["reports"].items()
    assert report["file-format"] == "JUNITXML"
    assert report["files"] == [seed.endpoint_test.REPORT_XML]
    command = " ".join(buildspec["phases"]["build"]["commands"])
    assert f'--report-dir "{report["base-directory"]}"' in command
    assert "test/test.py" in command
