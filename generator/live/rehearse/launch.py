"""Launch the rendered product template the way Service Catalog would, on the local AWS.

moto's CloudFormation creates what it supports (bucket, ...). The resources it cannot create (the
pipeline, the CodeBuild projects, the repository, the rules, the model package group) and everything
that refers to them are left out of the stack and kept in a `Project`: their properties read from
the template with the intrinsic functions resolved for this launch. Nothing here knows what the
render options were.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass, field
from typing import Any

from generator.iam.resolve import Resolver
from generator.live.rehearse.organization import Organisation
from generator.live.rehearse.report import StepFailed
from generator.live.rehearse.server import MANAGEMENT_ACCOUNT, LocalAws
from generator.naming import Stage
from generator.product.org_id import ORG_ID_PARAMETER

#: Service Catalog names a provisioned product's stack SC-<account>-pp-<provisioned product id>.
STACK_NAME = f"SC-{MANAGEMENT_ACCOUNT}-pp-rehearsal0001"
#: The bucket the administrator would publish the seed bundle to (only asked for when the template needs it).
SEED_BUCKET = "sagemaker-mlops-gen-rehearsal-seed"


@dataclass
class Project:
    """The launched project: the stack moto created and the resources read from the template."""

    resolver: Resolver
    parameters: dict[str, str]
    created: dict[str, str] = field(default_factory=dict)  # logical id -> type, created by moto
    modelled: dict[str, str] = field(default_factory=dict)  # logical id -> type, read from the template

    @property
    def template(self) -> dict[str, Any]:
        return dict(self.resolver.template)

    def resources(self, kind: str) -> dict[str, dict[str, Any]]:
        """Resolved properties of every resource of `kind`, by logical id."""
        return {
            logical: self.resolver.resolve(r.get("Properties", {}))
            for logical, r in self.template["Resources"].items()
            if r["Type"] == kind
        }

    def named(self, kind: str, name: str) -> tuple[str, dict[str, Any]] | None:
        """The resource of `kind` whose physical name is `name`, resolved."""
        for logical in self.resources(kind):
            if self.resolver.physical_name(logical) == name:
                return logical, self.resources(kind)[logical]
        return None

    def outputs(self) -> dict[str, str]:
        return {k: str(self.resolver.resolve(v["Value"])) for k, v in self.template.get("Outputs", {}).items()}


def launch_parameters(
    template: dict[str, Any], org: Organisation, project_name: str, project_id: str
) -> dict[str, str]:
    """What Studio passes (project name and id) plus the local OU ids; the rest keep their defaults."""
    values = {"SageMakerProjectName": project_name, "SageMakerProjectId": project_id}
    for name, spec in template.get("Parameters", {}).items():
        if name in values:
            continue
        default = spec.get("Default")
        if default is not None and org.local_value(str(default)) != str(default):
            values[name] = org.local_value(str(default))
        elif default is None and name == "SeedCodeBucket":
            values[name] = SEED_BUCKET
        elif default is None and name == ORG_ID_PARAMETER:
            values[name] = org.org_id  # what a Studio user would type: their organisation's id
        elif default is None:
            raise StepFailed(f"product parameter {name} has no default and the rehearsal has no value for it")
    return values


def _references(node: Any) -> set[str]:
    """Logical ids and parameter names `node` refers to (Ref, GetAtt, Sub variables, DependsOn)."""
    found: set[str] = set()
    if isinstance(node, list):
        for item in node:
            found |= _references(item)
    elif isinstance(node, dict):
        for key, value in node.items():
            if key == "Ref" and isinstance(value, str):
                found.add(value)
            elif key == "Fn::GetAtt":
                found.add((value if isinstance(value, list) else value.split("."))[0])
            elif key == "Fn::Sub":
                text = value[0] if isinstance(value, list) else value
                found |= {v.split(".")[0] for v in _sub_variables(text)}
                if isinstance(value, list):
                    found |= _references(value[1])
            elif key == "DependsOn":
                found |= set([value] if isinstance(value, str) else value)
            else:
                found |= _references(value)
    return found


def _sub_variables(text: str) -> list[str]:
    import re

    return re.findall(r"\$\{([^}!][^}]*)\}", text)


def split_template(template: dict[str, Any], supported: set[str]) -> tuple[dict[str, Any], dict[str, str]]:
    """The template moto can create, and the resources left out (unsupported types and their dependants)."""
    resources = template.get("Resources", {})
    left_out = {logical for logical, r in resources.items() if r["Type"] not in supported}
    changed = True
    while changed:
        changed = False
        for logical, resource in resources.items():
            if logical not in left_out and _references(resource) & left_out:
                left_out.add(logical)
                changed = True
    kept = copy.deepcopy(template)
    kept["Resources"] = {k: v for k, v in kept["Resources"].items() if k not in left_out}
    kept["Outputs"] = {k: v for k, v in kept.get("Outputs", {}).items() if not _references(v) & left_out}
    if not kept["Outputs"]:
        kept.pop("Outputs")
    return kept, {k: resources[k]["Type"] for k in sorted(left_out)}


def bucket_location(region: str) -> dict[str, Any]:
    """CreateBucket's location for `region`: none in us-east-1. "If you don't specify a Region, the bucket is
    created in the US East (N. Virginia) Region (us-east-1)", and us-east-1 is not among LocationConstraint's
    valid values (https://docs.aws.amazon.com/AmazonS3/latest/API/API_CreateBucketConfiguration.html)."""
    return {} if region == "us-east-1" else {"CreateBucketConfiguration": {"LocationConstraint": region}}


def publish_seed(aws: LocalAws, project: Project, bundle: bytes) -> str | None:
    """Put the seed bundle where each CodeCommit repository's Code.S3 says (the administrator's publish)."""
    s3 = aws.client("s3")
    where = None
    for props in project.resources("AWS::CodeCommit::Repository").values():
        location = props.get("Code", {}).get("S3")
        if not location:
            continue
        bucket, key = location["Bucket"], location["Key"]
        if bucket not in {b["Name"] for b in s3.list_buckets()["Buckets"]}:
            s3.create_bucket(Bucket=bucket, **bucket_location(aws.region))
        s3.put_object(Bucket=bucket, Key=key, Body=bundle)
        where = f"s3://{bucket}/{key}"
    return where


def create_model_package_groups(aws: LocalAws, project: Project) -> list[str]:
    """moto's CloudFormation skips AWS::SageMaker::ModelPackageGroup: create them from their properties, as
    CloudFormation would (this plays the product's own resources; it never adds one the product lacks)."""
    sm = aws.client("sagemaker")
    names = []
    for props in project.resources("AWS::SageMaker::ModelPackageGroup").values():
        args = {"ModelPackageGroupName": props["ModelPackageGroupName"]}
        if "ModelPackageGroupDescription" in props:
            args["ModelPackageGroupDescription"] = props["ModelPackageGroupDescription"]
        sm.create_model_package_group(**args)
        if "ModelPackageGroupPolicy" in props:  # CloudFormation puts the resource policy with the group
            policy = props["ModelPackageGroupPolicy"]
            sm.put_model_package_group_policy(
                ModelPackageGroupName=props["ModelPackageGroupName"],
                ResourcePolicy=policy if isinstance(policy, str) else json.dumps(policy),
            )
        names.append(props["ModelPackageGroupName"])
    return names


def put_bucket_policies(aws: LocalAws, project: Project) -> list[str]:
    """moto's CloudFormation skips AWS::S3::BucketPolicy: put each on its bucket, as CloudFormation would, so
    the call-time authorization reads the bucket's policy (the buckets whose policy was put)."""
    s3 = aws.client("s3")
    buckets = []
    for props in project.resources("AWS::S3::BucketPolicy").values():
        policy = props["PolicyDocument"]
        s3.put_bucket_policy(Bucket=props["Bucket"], Policy=policy if isinstance(policy, str) else json.dumps(policy))
        buckets.append(str(props["Bucket"]))
    return buckets


def launch(
    aws: LocalAws, template: dict[str, Any], parameters: dict[str, str], bundle: bytes, stack_name: str = STACK_NAME
) -> tuple[Project, dict[str, Any]]:
    """Create the stack of what moto supports; model the rest. Returns the project and a summary."""
    from moto.cloudformation.parsing import get_model_map  # imports every model moto can create

    kept, left_out = split_template(template, set(get_model_map()))
    project = Project(Resolver(template, parameters, region=aws.region, account=MANAGEMENT_ACCOUNT), parameters)
    project.resolver.values["AWS::StackName"] = stack_name
    seed = publish_seed(aws, project, bundle)  # before the stack: CloudFormation reads it at create time
    cfn = aws.client("cloudformation")
    cfn.create_stack(
        StackName=stack_name,
        TemplateBody=json.dumps(kept),
        Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in parameters.items()],
        Capabilities=["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM"],
    )
    stack = cfn.describe_stacks(StackName=stack_name)["Stacks"][0]
    if stack["StackStatus"] != "CREATE_COMPLETE":
        raise StepFailed(f"stack {stack_name}: {stack['StackStatus']} {stack.get('StackStatusReason', '')}")
    for summary in cfn.list_stack_resources(StackName=stack_name)["StackResourceSummaries"]:
        logical = summary["LogicalResourceId"]
        project.created[logical] = summary["ResourceType"]
        expected = project.resolver.physical_name(logical)
        if summary["ResourceType"] == "AWS::SNS::Topic":  # its physical id (and Ref) is the topic's ARN
            expected = str(project.resolver.ref(logical))
        if expected != logical and summary.get("PhysicalResourceId") != expected:
            raise StepFailed(
                f"{logical}: moto created {summary.get('PhysicalResourceId')}, the template names it {expected}"
            )
    project.modelled = left_out
    groups = create_model_package_groups(aws, project)
    policies = put_bucket_policies(aws, project)
    return project, {
        "stack": stack_name,
        "parameters": parameters,
        "created_by_cloudformation": project.created,
        "read_from_template": project.modelled,
        "model_package_groups_created_from_template": groups,
        "bucket_policies_put_from_template": policies,
        "seed_bundle": seed,
        "outputs": project.outputs(),
    }


def stage_of_stack_sets(project: Project) -> dict[str, frozenset[Stage]]:
    """Stack-set name -> the stages the pipeline deploys it to (read from the rendered pipeline)."""
    from generator.checks import gates

    targets = gates.stage_targets(project.template, project.resolver.values)
    found: dict[str, frozenset[Stage]] = {}
    for logical in project.resources("AWS::CodePipeline::Pipeline"):
        actions = gates.pipeline_actions(project.resolver, project.template["Resources"][logical].get("Properties", {}))
        for deployment in gates.deployments(actions, targets):
            found[deployment.stack_set] = found.get(deployment.stack_set, frozenset()) | deployment.stages
    return found
