"""Build step of the deployment pipeline: export the endpoint template and one parameter file per stage.

CodeBuild runs this from the repository root (see buildspec.yml) with the environment the project
template declares. It finds the newest *Approved* model package of the project's group, checks the
stage settings, and writes into the output folder:

- the endpoint template (copied unchanged), and
- for each stage, the parameter file the pipeline's CloudFormationStackSet action reads: a JSON list
  of {"ParameterKey", "ParameterValue"} objects giving every parameter of the template (the action
  resets a parameter that is left out to its default).

Any problem stops the build with one clear message and exit code 1.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from stage_config import StageConfig, StageConfigError, load_stage_config

STAGES = ("staging", "prod")


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
        return cls(
            project_name=need("SAGEMAKER_PROJECT_NAME"),
            project_id=need("SAGEMAKER_PROJECT_ID"),
            model_package_group=need("MODEL_PACKAGE_GROUP_NAME"),
            create_model_package_group=create == "true",
            export_template=need("EXPORT_TEMPLATE_NAME"),
            stages=stages,
            reader_ous=tuple(need(f"{stage.upper()}_OU_ID") for stage in STAGES),
        )


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


def group_read_policy(group_arn: str, reader_ous: tuple[str, ...]) -> dict[str, Any]:
    """The group's resource policy: accounts in the stage OUs (or below them) may read its packages.

    The same policy the product puts on the group when its launch role may (generator/registry.py);
    `*/ou-.../*` matches the OU anywhere in `aws:PrincipalOrgPaths`, so no account list is kept.
    """
    package_arn = group_arn.replace(":model-package-group/", ":model-package/", 1) + "/*"
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "StageAccountsReadModelPackages",
                "Effect": "Allow",
                "Principal": "*",
                "Action": [
                    "sagemaker:DescribeModelPackageGroup",
                    "sagemaker:DescribeModelPackage",
                    "sagemaker:ListModelPackages",
                ],
                "Resource": [group_arn, package_arn],
                "Condition": {"ForAnyValue:StringLike": {"aws:PrincipalOrgPaths": [f"*/{ou}/*" for ou in reader_ous]}},
            }
        ],
    }


def ensure_group_read_policy(sm: Any, group: str, reader_ous: tuple[str, ...]) -> None:
    """Put the cross-account read policy on a group the build created (standard launch role)."""
    arn = sm.describe_model_package_group(ModelPackageGroupName=group)["ModelPackageGroupArn"]
    policy = json.dumps(group_read_policy(arn, reader_ous), sort_keys=True)
    sm.put_model_package_group_policy(ModelPackageGroupName=group, ResourcePolicy=policy)


def newest_approved_package(sm: Any, group: str) -> dict[str, Any]:
    """The newest Approved package version of `group` (a ModelPackageSummary), or BuildError."""
    pages = sm.get_paginator("list_model_packages").paginate(
        ModelPackageGroupName=group,
        ModelApprovalStatus="Approved",
        SortBy="CreationTime",
        SortOrder="Descending",
    )
    for page in pages:
        # Sorted newest first: the first summary of the first non-empty page is the one.
        for summary in page.get("ModelPackageSummaryList", []):
            return dict(summary)
    raise BuildError(
        f"no Approved model package in model package group {group}: register a model and approve it "
        "(Studio: Models > your group > version > Update status > Approved), then rerun the pipeline"
    )


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
    a, d = config.autoscaling, config.data_capture
    return {
        "SageMakerProjectName": env.project_name,
        "SageMakerProjectId": env.project_id,
        "StageName": stage.name,
        "ModelPackageArn": package_arn,
        "ModelExecutionRoleName": stage.role_name,
        "EndpointName": stage.endpoint_name,
        "EndpointInstanceType": config.instance_type,
        "EndpointInstanceCount": str(config.instance_count),
        "AutoScalingEnabled": str(a.enabled).lower(),
        "AutoScalingMinCapacity": str(a.min_capacity),
        "AutoScalingMaxCapacity": str(a.max_capacity),
        "AutoScalingTargetInvocations": str(a.target_invocations_per_instance),
        "DataCaptureEnabled": str(d.enabled).lower(),
        "DataCaptureSamplingPercentage": str(d.sampling_percentage),
        "DataCaptureS3Uri": d.s3_uri,
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


def build(env: BuildEnv, sm: Any, repo: Path, out: Path) -> dict[str, Any]:
    """Write the template and the parameter files into `out`; return a summary for the log."""
    # Settings first: a typo in a config file should not wait for (or depend on) the registry.
    configs = {stage.name: load_stage_config(repo / stage.config_file) for stage in env.stages}
    if env.create_model_package_group:
        ensure_model_package_group(sm, env.model_package_group, env.project_name)
        # Every build, so a change of the OU parameters reaches the policy too.
        ensure_group_read_policy(sm, env.model_package_group, env.reader_ous)
    package = newest_approved_package(sm, env.model_package_group)
    package_arn = package["ModelPackageArn"]

    template_path = repo / env.export_template
    try:
        template_text = template_path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise BuildError(f"{env.export_template}: endpoint template not found in the repository") from None
    names = template_parameter_names(template_text)

    out.mkdir(parents=True, exist_ok=True)
    (out / env.export_template).write_text(template_text, encoding="utf-8")
    for stage in env.stages:
        values = stage_parameters(env, stage, configs[stage.name], package_arn)
        (out / stage.parameters_file).write_text(
            stackset_parameter_file(values, names, stage.parameters_file), encoding="utf-8"
        )
    return {
        "model_package_group": env.model_package_group,
        "model_package_arn": package_arn,
        "model_package_version": package.get("ModelPackageVersion"),
        "files": [env.export_template, *(s.parameters_file for s in env.stages)],
    }


def main(argv: list[str] | None = None, environ: Mapping[str, str] | None = None, sm: Any = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repo", type=Path, default=Path.cwd(), help="repository root (default: current folder)")
    parser.add_argument("--out", type=Path, required=True, help="folder of the BuildArtifact files")
    args = parser.parse_args(argv)
    try:
        env = BuildEnv.from_environ(os.environ if environ is None else environ)
        if sm is None:
            import boto3

            sm = boto3.client("sagemaker")
        summary = build(env, sm, args.repo, args.out)
    except (BuildError, StageConfigError) as exc:
        print(f"build failed: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(summary, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
