"""Build step of the deployment pipeline: export the endpoint template and one parameter file per stage.

CodeBuild runs this from the repository root (see buildspec.yml) with the environment the project
template declares. It finds the newest *Approved* model package of the project's group (after a deployed version is
set to Rejected, that is the version to roll back to), checks the stage settings, and writes into
the output folder:

- the endpoint template, its `RegionModel` mapping written for the deploy regions: with regions beyond
  the home region, the artifacts are copied to a bucket in each and the image resolved there first
  (regions.py; SageMaker serves a model only from its own region), and
- for each stage, the parameter file the pipeline's CloudFormationStackSet action reads: a JSON list
  of {"ParameterKey", "ParameterValue"} objects giving every parameter of the template (the action
  resets a parameter that is left out to its default).

With `--variables FILE` it also writes the pipeline variables (model package ARN, version, link, and
why this version) as shell `export` lines: the buildspec sources them and exports them to the
pipeline, where the manual approval shows them. Any problem stops the build with one clear message
and exit code 1.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from regions import RegionError, RegionModel, RegionPlan, mappings_section, prepare_regions, s3_client, with_mappings
from stage_config import StageConfig, StageConfigError, load_stage_config

STAGES = ("staging", "prod")
#: The SSM parameters (StringList) each target account publishes for `"network": "vpc"`: its private subnets
#: and security groups for the models. The endpoint template reads them through SSM parameter types.
SUBNETS_PARAMETER = "/mlops-gen/network/subnet-ids"
SECURITY_GROUPS_PARAMETER = "/mlops-gen/network/security-group-ids"
#: The template's SSM parameter types, and what they become when no stage asks for a VPC.
SSM_NETWORK_TYPES = (
    "AWS::SSM::Parameter::Value<List<AWS::EC2::Subnet::Id>>",
    "AWS::SSM::Parameter::Value<List<AWS::EC2::SecurityGroup::Id>>",
)


def with_network_types(template_text: str, any_vpc: bool) -> str:
    """The template, its SSM-typed network parameters made plain lists when no stage uses a VPC.

    CloudFormation resolves an SSM parameter type when the stack is created or updated, whether a resource
    uses the value or not, and fails when the parameter does not exist; accounts that never run a model in a
    VPC need not publish the parameters. Both stages share the template, so once one stage uses a VPC every
    account of both stages must publish them (README, Regulated environments).
    https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/parameters-section-structure.html#cloudformation-supplied-parameter-types
    """
    if any_vpc:
        return template_text
    for ssm_type in SSM_NETWORK_TYPES:
        if f"Type: {ssm_type}" not in template_text:
            raise BuildError(f"the endpoint template has no parameter of type {ssm_type} (SubnetIds, SecurityGroupIds)")
        template_text = template_text.replace(f"Type: {ssm_type}", "Type: CommaDelimitedList")
    return template_text


class BuildError(RuntimeError):
    """A failure the build reports as is (one line naming what is wrong)."""


@dataclass(frozen=True)
class StageSettings:
    """What the environment says about one stage."""

    name: str
    role_name: str
    endpoint_name: str
    parameters_file: str
    config_file: str


@dataclass(frozen=True)
class BuildEnv:
    """The CodeBuild environment this script reads (declared by the project template)."""

    project_name: str
    project_id: str
    model_package_group: str
    create_model_package_group: bool
    export_template: str
    stages: tuple[StageSettings, ...]
    #: The staging and prod OU ids: their accounts may read the group's model packages.
    reader_ous: tuple[str, ...] = ()
    #: The organisation (a fixed aws:PrincipalOrgID) and the stack-set execution role's name in the
    #: stage accounts (it calls CreateModel): read only when the build creates the group.
    org_id: str = ""
    execution_role_name: str = ""
    #: The data-capture bucket's name before `-<account>-<region>` (the target-role stack set creates it).
    data_capture_bucket_stem: str = ""
    #: The regions the stack sets deploy to, and the home artifact bucket, whose name before `-<region>` names
    #: each regional copy's bucket (regions.py). The home region is the build's own (its clients' region).
    deploy_regions: tuple[str, ...] = ()
    artifact_bucket: str = ""
    #: The stage accounts' key for endpoint volumes and captured data (an alias name); empty: AWS managed.
    endpoint_kms_key: str = ""

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> BuildEnv:
        def need(name: str) -> str:
            value = environ.get(name, "").strip()
            if not value:
                raise BuildError(f"environment variable {name} is not set (it comes from the CodeBuild project)")
            return value

        stages = tuple(
            StageSettings(
                name=stage,
                role_name=need(f"{stage.upper()}_ROLE_NAME"),
                endpoint_name=need(f"{stage.upper()}_ENDPOINT_NAME"),
                parameters_file=need(f"EXPORT_{stage.upper()}_PARAMETERS"),
                config_file=need(f"{stage.upper()}_CONFIG"),
            )
            for stage in STAGES
        )
        create = need("CREATE_MODEL_PACKAGE_GROUP").lower()
        if create not in ("true", "false"):
            raise BuildError(f"environment variable CREATE_MODEL_PACKAGE_GROUP must be true or false, got {create!r}")
        creates = create == "true"
        regions = tuple(r.strip() for r in environ.get("DEPLOY_REGIONS", "").split(",") if r.strip())
        return cls(
            project_name=need("SAGEMAKER_PROJECT_NAME"),
            project_id=need("SAGEMAKER_PROJECT_ID"),
            model_package_group=need("MODEL_PACKAGE_GROUP_NAME"),
            create_model_package_group=creates,
            export_template=need("EXPORT_TEMPLATE_NAME"),
            stages=stages,
            reader_ous=tuple(need(f"{stage.upper()}_OU_ID") for stage in STAGES),
            execution_role_name=need("STACK_SET_EXECUTION_ROLE_NAME") if creates else "",
            data_capture_bucket_stem=need("DATA_CAPTURE_BUCKET_STEM"),
            deploy_regions=regions,
            artifact_bucket=environ.get("ARTIFACT_BUCKET", "").strip(),
            # Needed to create the group's policy, and the regional buckets' (checked in `region_plan`).
            org_id=need("ORGANIZATION_ID") if creates else environ.get("ORGANIZATION_ID", "").strip(),
            # "none": the render has no --kms-key, the endpoints use AWS managed encryption.
            endpoint_kms_key="" if need("ENDPOINT_KMS_KEY") == "none" else need("ENDPOINT_KMS_KEY"),
        )

    def region_plan(self, home_region: str) -> RegionPlan:
        """The regions to prepare; `home_region` is the build's (CodeBuild runs in the pipeline's region)."""
        regions = self.deploy_regions or (home_region,)
        missing = [n for n, v in (("ARTIFACT_BUCKET", self.artifact_bucket), ("ORGANIZATION_ID", self.org_id)) if not v]
        if any(r != home_region for r in regions) and missing:
            raise BuildError(
                f"environment variable(s) {', '.join(missing)} not set: with deploy regions beyond {home_region} "
                "the build creates a bucket per region named after the artifact bucket, readable in the organisation"
            )
        return RegionPlan(
            home_region=home_region,
            deploy_regions=regions,
            bucket_stem=self.artifact_bucket,
            org_id=self.org_id,
            # The endpoints' execution roles read the artifacts (SageMaker downloads them as that role).
            reader_roles=tuple(dict.fromkeys(stage.role_name for stage in self.stages)),
            reader_ous=self.reader_ous,
        )

    @property
    def reader_roles(self) -> tuple[str, ...]:
        """Role names (patterns) that deploy from the group: each stage's target role and the execution role.

        In the product's order, repeats included (its two stage parameters may name one role), so both
        policies are the same document."""
        names = [stage.role_name for stage in self.stages] + [self.execution_role_name]
        return tuple(n for n in names if n)


def ensure_model_package_group(sm: Any, group: str, project_name: str) -> bool:
    """Create the group if it does not exist yet; True if it was created.

    Used when the product could not create the group itself (standard launch role).
    """
    try:
        sm.describe_model_package_group(ModelPackageGroupName=group)
        return False
    except sm.exceptions.ClientError as exc:
        if exc.response.get("Error", {}).get("Code") != "ValidationException":
            raise
    sm.create_model_package_group(
        ModelPackageGroupName=group,
        ModelPackageGroupDescription=f"Models of SageMaker project {project_name}",
    )
    print(f"created model package group {group}")
    return True


def group_read_policy(
    group_arn: str, reader_ous: tuple[str, ...], org_id: str, reader_roles: tuple[str, ...]
) -> dict[str, Any]:
    """The group's resource policy: `reader_roles` in accounts of the stage OUs may deploy its packages.

    The same policy the product puts on the group when its launch role may (generator/registry.py and
    generator/grants.py): what SageMaker's cross-account deployment example grants (DescribeModelPackageGroup;
    DescribeModelPackage, ListModelPackages, CreateModel; not UpdateModelPackage, which approves), to
    `Principal: "*"` narrowed by a fixed aws:PrincipalOrgID, the OU paths (`*/ou-.../*`: the OU anywhere
    in aws:PrincipalOrgPaths) and aws:PrincipalArn (the roles, in any account of those OUs).
    https://docs.aws.amazon.com/sagemaker/latest/dg/model-registry-deploy-xaccount.html
    """
    partition = group_arn.split(":")[1]
    package_arn = group_arn.replace(":model-package-group/", ":model-package/", 1) + "/*"
    readers = {
        "StringEquals": {"aws:PrincipalOrgID": org_id},
        "ForAnyValue:StringLike": {"aws:PrincipalOrgPaths": [f"*/{ou}/*" for ou in reader_ous]},
        "ArnLike": {"aws:PrincipalArn": [f"arn:{partition}:iam::*:role/{role}" for role in reader_roles]},
    }
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "StageAccountsReadModelPackageGroup",
                "Effect": "Allow",
                "Principal": "*",
                "Action": ["sagemaker:DescribeModelPackageGroup"],
                "Resource": [group_arn],
                "Condition": readers,
            },
            {
                "Sid": "StageAccountsDeployModelPackages",
                "Effect": "Allow",
                "Principal": "*",
                "Action": ["sagemaker:DescribeModelPackage", "sagemaker:ListModelPackages", "sagemaker:CreateModel"],
                "Resource": [package_arn],
                "Condition": readers,
            },
        ],
    }


def ensure_group_read_policy(sm: Any, group: str, env: BuildEnv) -> None:
    """Put the cross-account deployment policy on a group the build created (standard launch role)."""
    arn = sm.describe_model_package_group(ModelPackageGroupName=group)["ModelPackageGroupArn"]
    policy = json.dumps(group_read_policy(arn, env.reader_ous, env.org_id, env.reader_roles), sort_keys=True)
    sm.put_model_package_group_policy(ModelPackageGroupName=group, ResourcePolicy=policy)


@dataclass(frozen=True)
class Selection:
    """The package to deploy, and the newer versions passed over (Rejected, or not approved yet)."""

    package: dict[str, Any]
    passed_over: tuple[dict[str, Any], ...] = ()

    @property
    def version(self) -> Any:
        return self.package.get("ModelPackageVersion")

    def message(self) -> str:
        """One line for the log: which version is deployed and, in a rollback, which one it replaces."""
        deployed = f"deploying version {self.version} ({self.package['ModelPackageArn']}), the newest Approved"
        rejected = [p for p in self.passed_over if p.get("ModelApprovalStatus") == "Rejected"]
        if not rejected:
            return deployed
        newer = ", ".join(f"version {p.get('ModelPackageVersion')}" for p in rejected)
        return f"rollback: {newer} Rejected; {deployed}: version {self.version} replaces {newer} where it is live"

    @property
    def reason(self) -> str:
        """Short form for the approver (the DEPLOY_REASON variable)."""
        rejected = [
            str(p.get("ModelPackageVersion")) for p in self.passed_over if p.get("ModelApprovalStatus") == "Rejected"
        ]
        if rejected:
            return f"rollback to version {self.version}: newer version(s) {', '.join(rejected)} Rejected"
        return f"version {self.version} is the newest Approved"


def newest_approved_package(sm: Any, group: str) -> Selection:
    """The newest still-Approved package version of `group`, or BuildError naming what to do.

    Every version is listed, newest first, so a rollback (the newest version was set to Rejected after
    it was deployed: the model rule starts the pipeline for Rejected too) can say what it replaces.
    """
    pages = sm.get_paginator("list_model_packages").paginate(
        ModelPackageGroupName=group, SortBy="CreationTime", SortOrder="Descending"
    )
    passed_over: list[dict[str, Any]] = []
    for page in pages:
        for summary in page.get("ModelPackageSummaryList", []):
            if summary.get("ModelApprovalStatus") == "Approved":
                return Selection(dict(summary), tuple(passed_over))
            passed_over.append(dict(summary))
    if passed_over:
        seen = ", ".join(f"version {p.get('ModelPackageVersion')} {p.get('ModelApprovalStatus')}" for p in passed_over)
        raise BuildError(
            f"no Approved model package left in model package group {group} ({seen}): nothing to deploy or roll back "
            "to. Approve a version (Studio: Models > your group > version > Update status > Approved) to deploy it, "
            "or remove the staging and prod endpoints with `mlops-gen destroy`"
        )
    raise BuildError(
        f"no Approved model package in model package group {group}: register a model and approve it "
        "(Studio: Models > your group > version > Update status > Approved), then rerun the pipeline"
    )


def model_package_url(package_arn: str) -> str:
    """The package's page in the SageMaker console (a console path, not an API: the ARN is the reference)."""
    from urllib.parse import quote

    region = package_arn.split(":")[3]
    return (
        f"https://{region}.console.aws.amazon.com/sagemaker/home?region={region}"
        f"#/model-packages/{quote(package_arn, safe='')}"
    )


def pipeline_variables(selection: Selection) -> dict[str, str]:
    """What the build action exports to the pipeline (namespace BuildVariables; buildspec `exported-variables`)."""
    arn = str(selection.package["ModelPackageArn"])
    return {
        "MODEL_PACKAGE_ARN": arn,
        "MODEL_PACKAGE_VERSION": str(selection.version),
        "MODEL_PACKAGE_URL": model_package_url(arn),
        "DEPLOY_REASON": selection.reason,
    }


def shell_exports(variables: Mapping[str, str]) -> str:
    """`export NAME='value'` lines the buildspec sources, so CodeBuild can export the variables."""
    import shlex

    return "".join(f"export {name}={shlex.quote(value)}\n" for name, value in variables.items())


def template_parameter_names(template_text: str) -> list[str]:
    """Names of the template's Parameters (YAML with CloudFormation's short-form tags)."""
    import yaml

    class Loader(yaml.SafeLoader):
        pass

    def any_tag(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> Any:
        if isinstance(node, yaml.ScalarNode):
            return loader.construct_scalar(node)
        if isinstance(node, yaml.SequenceNode):
            return loader.construct_sequence(node)
        return loader.construct_mapping(node)

    Loader.add_multi_constructor("!", any_tag)
    data = yaml.load(template_text, Loader=Loader)
    return list((data or {}).get("Parameters", {}))


def stage_parameters(env: BuildEnv, stage: StageSettings, config: StageConfig, package_arn: str) -> dict[str, str]:
    """Every endpoint-template parameter for one stage, as the strings CloudFormation receives."""
    a, d, g = config.autoscaling, config.data_capture, config.deployment
    if d.enabled and not d.s3_uri and not env.data_capture_bucket_stem:
        raise BuildError(
            f"{stage.config_file}: data_capture is enabled with the default destination, but the environment "
            "does not name the data-capture bucket (DATA_CAPTURE_BUCKET_STEM)"
        )
    return {
        "SageMakerProjectName": env.project_name,
        "SageMakerProjectId": env.project_id,
        "StageName": stage.name,
        "ModelPackageArn": package_arn,
        "ModelExecutionRoleName": stage.role_name,
        "EndpointName": stage.endpoint_name,
        "EndpointInstanceType": config.instance_type,
        # A serverless endpoint has no instances; the template's minimum is 1 (unused there).
        "EndpointInstanceCount": str(max(config.instance_count, 1)),
        "InferenceMode": "serverless" if config.serverless else "instances",
        "ServerlessMemorySizeInMB": str(config.serverless.memory_size_mb if config.serverless else 1024),
        "ServerlessMaxConcurrency": str(config.serverless.max_concurrency if config.serverless else 1),
        "NetworkMode": config.network,
        # The names of the SSM parameters each target account publishes (README, Regulated environments).
        "SubnetIds": SUBNETS_PARAMETER,
        "SecurityGroupIds": SECURITY_GROUPS_PARAMETER,
        "AutoScalingEnabled": str(a.enabled).lower(),
        "AutoScalingMinCapacity": str(a.min_capacity),
        "AutoScalingMaxCapacity": str(a.max_capacity),
        "AutoScalingTargetInvocations": str(a.target_invocations_per_instance),
        "DataCaptureEnabled": str(d.enabled).lower(),
        "DataCaptureSamplingPercentage": str(d.sampling_percentage),
        "DataCaptureS3Uri": d.s3_uri,
        # Unused unless capture goes to the default destination (checked above); the template needs a value.
        "DataCaptureBucketStem": env.data_capture_bucket_stem or "none",
        "KmsKeyId": env.endpoint_kms_key,
        "TrafficRoutingType": g.traffic_routing.upper(),
        "CanarySizePercent": str(g.canary_percent),
        "WaitIntervalInSeconds": str(g.wait_interval_seconds),
        "TerminationWaitInSeconds": str(g.termination_wait_seconds),
        "MaximumExecutionTimeoutInSeconds": str(g.maximum_execution_timeout_seconds),
        "MaxInvocation5XXErrorsPerMinute": str(g.max_5xx_errors_per_minute),
        # SageMaker reports ModelLatency in microseconds.
        "ModelLatencyP99ThresholdMicroseconds": str(round(g.max_model_latency_p99_ms * 1000)),
    }


def stackset_parameter_file(values: Mapping[str, str], template_parameters: list[str], file: str) -> str:
    """The CloudFormationStackSet action's format: a JSON list naming every template parameter."""
    missing = sorted(set(template_parameters) - set(values))
    extra = sorted(set(values) - set(template_parameters))
    if missing or extra:
        raise BuildError(
            f"{file}: build.py and the endpoint template disagree on parameters "
            f"(not given: {', '.join(missing) or '-'}; not in the template: {', '.join(extra) or '-'}); "
            "update stage_parameters() in build.py together with the template"
        )
    entries = [{"ParameterKey": key, "ParameterValue": values[key]} for key in template_parameters]
    return json.dumps(entries, indent=2) + "\n"


def region_models(env: BuildEnv, sm: Any, package_arn: str, s3_for: Callable[[str], Any] | None) -> list[RegionModel]:
    """What each deploy region serves; copies the artifacts to the regions beyond the home region."""
    plan = env.region_plan(str(sm.meta.region_name))
    package = sm.describe_model_package(ModelPackageName=package_arn)
    return prepare_regions(plan, package, s3_for or s3_client)


def build(
    env: BuildEnv,
    sm: Any,
    repo: Path,
    out: Path,
    variables: Path | None = None,
    s3_for: Callable[[str], Any] | None = None,
) -> dict[str, Any]:
    """Write the template and the parameter files into `out` (and the pipeline variables into `variables`).

    `s3_for(region)` gives an S3 client of that region (default: boto3's)."""
    # Settings first: a typo in a config file should not wait for (or depend on) the registry.
    configs = {stage.name: load_stage_config(repo / stage.config_file) for stage in env.stages}
    if env.create_model_package_group:
        ensure_model_package_group(sm, env.model_package_group, env.project_name)
        # Every build, so a change of the OU parameters reaches the policy too.
        ensure_group_read_policy(sm, env.model_package_group, env)
    selection = newest_approved_package(sm, env.model_package_group)
    print(selection.message())
    package_arn = selection.package["ModelPackageArn"]

    template_path = repo / env.export_template
    try:
        template_text = template_path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise BuildError(f"{env.export_template}: endpoint template not found in the repository") from None
    names = template_parameter_names(template_text)
    models = region_models(env, sm, package_arn, s3_for)
    template_text = with_mappings(template_text, mappings_section(models))
    template_text = with_network_types(template_text, any(c.network == "vpc" for c in configs.values()))

    out.mkdir(parents=True, exist_ok=True)
    (out / env.export_template).write_text(template_text, encoding="utf-8")
    for stage in env.stages:
        values = stage_parameters(env, stage, configs[stage.name], package_arn)
        (out / stage.parameters_file).write_text(
            stackset_parameter_file(values, names, stage.parameters_file), encoding="utf-8"
        )
    if variables is not None:
        variables.write_text(shell_exports(pipeline_variables(selection)), encoding="utf-8")
    return {
        "model_package_group": env.model_package_group,
        "model_package_arn": package_arn,
        "model_package_version": selection.version,
        "passed_over": [
            {"version": p.get("ModelPackageVersion"), "status": p.get("ModelApprovalStatus")}
            for p in selection.passed_over
        ],
        "files": [env.export_template, *(s.parameters_file for s in env.stages)],
        "regions": {m.region: m.as_mapping() for m in models},
    }


def main(
    argv: list[str] | None = None,
    environ: Mapping[str, str] | None = None,
    sm: Any = None,
    s3_for: Callable[[str], Any] | None = None,
) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repo", type=Path, default=Path.cwd(), help="repository root (default: current folder)")
    parser.add_argument("--out", type=Path, required=True, help="folder of the BuildArtifact files")
    parser.add_argument(
        "--variables", type=Path, help="write the pipeline variables here as `export NAME=value` lines to source"
    )
    args = parser.parse_args(argv)
    try:
        env = BuildEnv.from_environ(os.environ if environ is None else environ)
        if sm is None:
            import boto3

            sm = boto3.client("sagemaker")
        summary = build(env, sm, args.repo, args.out, args.variables, s3_for)
    except (BuildError, StageConfigError, RegionError) as exc:
        print(f"build failed: {exc}", file=sys.stderr)
        return 1
    except Exception as exc:  # an AWS answer (AccessDenied, BucketAlreadyExists...): one line, not a traceback
        if not type(exc).__module__.startswith("botocore"):
            raise
        print(f"build failed: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(summary, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
