"""The rendered pipeline is a structure CodePipeline accepts.

The product's `AWS::CodePipeline::Pipeline` properties are resolved with sample parameter values,
turned into the CreatePipeline request shape and sent to moto. botocore validates the request
against the service model (types, required members, lengths: every configuration value must be a
string of 1-1000 characters), moto checks the role's trust, and `get_pipeline` must give back the
stages and actions in order. CodePipeline rules moto does not check (artifact wiring, where source
actions may be) are asserted here against the same resolved structure.
"""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest

from tests.cfn_resolve import REGION, Resolver, product_template
from tests.conftest import config_params, named_config, rendered_files

#: The design (README): Source -> Build -> staging (deploy, test, approve) -> prod.
EXPECTED_ORDER = [
    ("Source", ["ModelDeploySource"]),
    ("Build", ["BuildDeploymentTemplates"]),
    ("DeployStaging", ["DeployResourcesStaging", "TestStaging", "ApproveDeployment"]),
    ("DeployProd", ["DeployResourcesProd"]),
]
#: CloudFormation-only pipeline properties with no CreatePipeline counterpart.
CFN_ONLY = {"RestartExecutionOnUpdate", "Tags", "DisableInboundStageTransitions"}
PIPELINE_KEYS = {"Name": "name", "RoleArn": "roleArn", "PipelineType": "pipelineType", "ExecutionMode": "executionMode"}
ACTION_KEYS = {
    "Name": "name",
    "RunOrder": "runOrder",
    "RoleArn": "roleArn",
    "Region": "region",
    "Namespace": "namespace",
}


def api_action(action: dict[str, Any]) -> dict[str, Any]:
    """One CloudFormation action as a CreatePipeline `ActionDeclaration`."""
    handled = {*ACTION_KEYS, "ActionTypeId", "Configuration", "InputArtifacts", "OutputArtifacts"}
    assert set(action) <= handled, f"map {set(action) - handled} to the API shape"
    declared: dict[str, Any] = {api: action[cfn] for cfn, api in ACTION_KEYS.items() if cfn in action}
    type_id = action["ActionTypeId"]
    declared["actionTypeId"] = {k[0].lower() + k[1:]: v for k, v in type_id.items()}
    if "Configuration" in action:
        declared["configuration"] = action["Configuration"]
    for cfn, api in (("InputArtifacts", "inputArtifacts"), ("OutputArtifacts", "outputArtifacts")):
        if cfn in action:
            declared[api] = [{"name": artifact["Name"]} for artifact in action[cfn]]
    return declared


def api_pipeline(properties: dict[str, Any]) -> dict[str, Any]:
    """The resolved CloudFormation pipeline properties as a CreatePipeline `PipelineDeclaration`."""
    handled = {*PIPELINE_KEYS, *CFN_ONLY, "ArtifactStore", "Stages"}
    assert set(properties) <= handled, f"map {set(properties) - handled} to the API shape"
    store = properties["ArtifactStore"]
    return {
        **{api: properties[cfn] for cfn, api in PIPELINE_KEYS.items() if cfn in properties},
        "artifactStore": {"type": store["Type"], "location": store["Location"]},
        "stages": [
            {"name": stage["Name"], "actions": [api_action(a) for a in stage["Actions"]]}
            for stage in properties["Stages"]
        ],
    }


def rendered_pipeline(config: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """(the resolved template, the CreatePipeline declaration of its one pipeline)."""
    template = product_template(rendered_files(named_config(config)))
    (pipeline,) = [r for r in template["Resources"].values() if r["Type"] == "AWS::CodePipeline::Pipeline"]
    return template, api_pipeline(Resolver(template).resolve(pipeline["Properties"]))


def create_service_role(role_arn: str) -> None:
    """The SageMaker-provided pipeline role (path service-role/), trusting CodePipeline."""
    path_and_name = role_arn.split(":role/", 1)[1]
    path, _, name = path_and_name.rpartition("/")
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"Service": "codepipeline.amazonaws.com"}, "Action": "sts:AssumeRole"}
        ],
    }
    boto3.client("iam").create_role(RoleName=name, Path=f"/{path}/", AssumeRolePolicyDocument=json.dumps(trust))


@pytest.mark.usefixtures("aws")
@pytest.mark.parametrize("config", config_params())
def test_codepipeline_accepts_the_rendered_pipeline(config: str) -> None:
    _, declaration = rendered_pipeline(config)
    create_service_role(declaration["roleArn"])
    boto3.client("s3").create_bucket(
        Bucket=declaration["artifactStore"]["location"], CreateBucketConfiguration={"LocationConstraint": REGION}
    )
    client = boto3.client("codepipeline", region_name=REGION)
    client.create_pipeline(pipeline=declaration)

    stored = client.get_pipeline(name=declaration["name"])["pipeline"]
    order = [(s["name"], [a["name"] for a in s["actions"]]) for s in stored["stages"]]
    assert order == EXPECTED_ORDER
    for sent, got in zip(declaration["stages"], stored["stages"], strict=True):
        assert [_without_empty(a) for a in got["actions"]] == [_without_empty(a) for a in sent["actions"]]
    assert stored["roleArn"] == declaration["roleArn"]
    assert stored["artifactStore"] == declaration["artifactStore"]
    assert [p["name"] for p in client.list_pipelines()["pipelines"]] == [declaration["name"]]


def _without_empty(action: dict[str, Any]) -> dict[str, Any]:
    """moto returns absent artifact lists as []."""
    return {k: v for k, v in action.items() if v != []}


@pytest.mark.usefixtures("aws")
def test_codepipeline_rejects_a_role_that_does_not_trust_it() -> None:
    """The acceptance above means something: moto refuses a pipeline whose role cannot be assumed."""
    _, declaration = rendered_pipeline("default")
    client = boto3.client("codepipeline", region_name=REGION)
    with pytest.raises(client.exceptions.InvalidStructureException):
        client.create_pipeline(pipeline=declaration)


@pytest.mark.usefixtures("aws")
def test_botocore_rejects_a_non_string_configuration_value() -> None:
    """Configuration values must be strings: a number slipping into the dict would not deploy."""
    from botocore.exceptions import ParamValidationError

    _, declaration = rendered_pipeline("custom-preferences")
    create_service_role(declaration["roleArn"])
    deploy = declaration["stages"][2]["actions"][0]
    deploy["configuration"]["MaxConcurrentPercentage"] = 25
    with pytest.raises(ParamValidationError):
        boto3.client("codepipeline", region_name=REGION).create_pipeline(pipeline=declaration)


@pytest.mark.parametrize("config", config_params())
def test_artifacts_are_wired(config: str) -> None:
    """Each input artifact is produced earlier; names are unique; only the first stage holds sources."""
    _, declaration = rendered_pipeline(config)
    produced: set[str] = set()
    for index, stage in enumerate(declaration["stages"]):
        categories = {a["actionTypeId"]["category"] for a in stage["actions"]}
        assert (categories == {"Source"}) == (index == 0), stage["name"]
        run_orders = sorted({a["runOrder"] for a in stage["actions"]})
        assert run_orders == list(range(1, len(run_orders) + 1)), stage["name"]
        for run_order in run_orders:
            batch = [a for a in stage["actions"] if a["runOrder"] == run_order]
            for action in batch:
                for artifact in action.get("inputArtifacts", []):
                    assert artifact["name"] in produced, f"{action['name']} reads {artifact['name']} before it exists"
            for action in batch:
                for artifact in action.get("outputArtifacts", []):
                    assert artifact["name"] not in produced, f"{artifact['name']} is produced twice"
                    produced.add(artifact["name"])


@pytest.mark.parametrize("config", config_params())
def test_pipeline_references_resources_of_the_product(config: str) -> None:
    template, declaration = rendered_pipeline(config)
    resolver = Resolver(template)
    resources = template["Resources"]
    (bucket,) = [r for r in resources.values() if r["Type"] == "AWS::S3::Bucket"]
    assert declaration["artifactStore"]["location"] == resolver.resolve(bucket["Properties"]["BucketName"])
    projects = {
        resolver.resolve(r["Properties"]["Name"]) for r in resources.values() if r["Type"] == "AWS::CodeBuild::Project"
    }
    builds = [a for s in declaration["stages"] for a in s["actions"] if a["actionTypeId"]["provider"] == "CodeBuild"]
    assert {a["configuration"]["ProjectName"] for a in builds} == projects
    source = declaration["stages"][0]["actions"][0]
    cfg = named_config(config)
    assert source["configuration"]["BranchName"] == cfg.branch
    if source["actionTypeId"]["provider"] == "CodeCommit":
        (repository,) = [r for r in resources.values() if r["Type"] == "AWS::CodeCommit::Repository"]
        assert source["configuration"]["RepositoryName"] == resolver.resolve(repository["Properties"]["RepositoryName"])
    else:
        assert source["actionTypeId"]["provider"] == "CodeStarSourceConnection"
        assert source["configuration"]["ConnectionArn"] == cfg.connection_arn
        assert source["configuration"]["FullRepositoryId"] == cfg.repository
