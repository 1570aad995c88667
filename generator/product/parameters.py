"""The product's parameters and the Studio form that shows them.

SageMaker passes `SageMakerProjectName` and `SageMakerProjectId` to every project template.
The target-account parameters default to the rendered values, so a data scientist launching
the project from Studio does not have to know OU ids or role names, and they allow only those values
(`AllowedValues`): they flow into the resource policies (the artifact bucket's, the model package
group's, the key's) and the test role's AssumeRole grant, so a launcher who could type another OU id or
role name could widen who reads the project's models. They stay parameters (not literals) because Studio
and the article's templates know them by these names.
https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/parameters-section-structure.html
("AllowedValues ... When applied to a parameter of type CommaDelimitedList, each value in the list must be
one of the specified allowed values.")
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from troposphere import Parameter, Template

from generator.config import RenderConfig, ServiceRoles, Source
from generator.naming import PROJECT_ID_MAX, PROJECT_ID_PATTERN, PROJECT_NAME_PATTERN, Stage

#: The SageMaker-provided service roles (created when projects are enabled for a Studio domain).
PER_SERVICE_ROLES = {
    "pipeline": "AmazonSageMakerServiceCatalogProductsCodePipelineRole",
    "build": "AmazonSageMakerServiceCatalogProductsCodeBuildRole",
    "events": "AmazonSageMakerServiceCatalogProductsEventsRole",
}
USE_ROLE = "AmazonSageMakerServiceCatalogProductsUseRole"


@dataclass(frozen=True)
class ProductParameters:
    """The parameter objects, for `Ref` and `Sub` in the resource modules."""

    project_name: Parameter
    project_id: Parameter
    execution_role: dict[Stage, Parameter]
    ou: dict[Stage, Parameter]
    #: The SageMaker-provided roles' names; None with `--service-roles project` (the product's own roles).
    pipeline_role: Parameter | None
    build_role: Parameter | None
    events_role: Parameter | None
    seed_bucket: Parameter | None
    seed_key: Parameter | None
    #: Stages with listed accounts (`--staging-accounts`/`--prod-accounts`): a comma-delimited list
    #: parameter defaulting to them (a filter inside the OU, or the self-managed targets).
    accounts: dict[Stage, Parameter] = field(default_factory=dict)
    #: What runs as which role: kind (pipeline, build, test, events) -> the role's ARN.
    role_arns: dict[str, Any] = field(default_factory=dict)


def service_role_defaults(cfg: RenderConfig) -> dict[str, str]:
    """Role name per service: the per-service roles, or the single UseRole for all."""
    if cfg.service_roles is ServiceRoles.USE_ROLE:
        return dict.fromkeys(PER_SERVICE_ROLES, USE_ROLE)
    return dict(PER_SERVICE_ROLES)


def _role_name(title: str, default: str, description: str) -> Parameter:
    return Parameter(
        title,
        Type="String",
        Default=default,
        AllowedValues=[default],
        AllowedPattern=r"^[\w+=,.@-]{1,64}$",
        Description=description,
    )


def add_parameters(template: Template, cfg: RenderConfig, seed_key: str) -> ProductParameters:
    """Add every parameter and the `AWS::CloudFormation::Interface` that groups them."""
    max_name = cfg.names.max_project_name_length()
    project_name = template.add_parameter(
        Parameter(
            "SageMakerProjectName",
            Type="String",
            AllowedPattern=PROJECT_NAME_PATTERN,
            ConstraintDescription=f"1-{max_name} lowercase letters, digits and single hyphens, e.g. iris-multi-01",
            MinLength=1,
            MaxLength=max_name,
            Description=f"Name of the project (1-{max_name} lowercase letters, digits and hyphens).",
        )
    )
    project_id = template.add_parameter(
        Parameter(
            "SageMakerProjectId",
            Type="String",
            AllowedPattern=PROJECT_ID_PATTERN,
            MinLength=1,
            MaxLength=PROJECT_ID_MAX,
            Description="Service generated id of the project.",
        )
    )
    ou_defaults = {Stage.STAGING: cfg.staging_ou, Stage.PROD: cfg.prod_ou}
    execution_role: dict[Stage, Parameter] = {}
    ou: dict[Stage, Parameter] = {}
    for stage in Stage:
        label = stage.value.capitalize()
        execution_role[stage] = template.add_parameter(
            _role_name(
                f"SageMakerExecutionRole{label}Name",
                cfg.target_role_name,
                f"Role in every {stage.value} account that the pipeline assumes and the endpoint runs as.",
            )
        )
        ou[stage] = template.add_parameter(
            Parameter(
                f"OrganizationalUnit{label}Id",
                Type="String",
                Default=ou_defaults[stage],
                AllowedValues=[ou_defaults[stage]],
                AllowedPattern=r"^ou-[0-9a-z]{4,32}-[a-z0-9]{8,32}$",
                Description=f"Organizational unit whose accounts get the {stage.value} endpoint.",
            )
        )
    accounts: dict[Stage, Parameter] = {}
    for stage in Stage:
        if cfg.accounts(stage):
            what = "the accounts of the OU that get" if cfg.filters_accounts else "the accounts that get"
            accounts[stage] = template.add_parameter(
                Parameter(
                    f"{stage.value.capitalize()}AccountIds",
                    Type="CommaDelimitedList",
                    Default=",".join(cfg.accounts(stage)),
                    AllowedValues=list(cfg.accounts(stage)),  # a subset narrows; another account cannot be added
                    Description=f"Comma-separated 12-digit ids of {what} the {stage.value} endpoint.",
                )
            )
    pipeline_role = build_role = events_role = None
    if cfg.service_roles is ServiceRoles.PROJECT:
        from generator.product.project_roles import role_arns as project_role_arns

        role_arns: dict[str, Any] = project_role_arns(cfg)
    else:
        from generator.product.roles import service_role_arn

        roles = service_role_defaults(cfg)
        pipeline_role = template.add_parameter(
            _role_name("CodePipelineRoleName", roles["pipeline"], "Service role (path service-role/) of the pipeline.")
        )
        build_role = template.add_parameter(
            _role_name("CodeBuildRoleName", roles["build"], "Service role (path service-role/) of the build projects.")
        )
        events_role = template.add_parameter(
            _role_name("EventsRoleName", roles["events"], "Service role (path service-role/) of the EventBridge rules.")
        )
        role_arns = {
            "pipeline": service_role_arn(pipeline_role),
            "build": service_role_arn(build_role),
            "test": service_role_arn(build_role),
            "events": service_role_arn(events_role),
        }
    seed_bucket = seed_key_param = None
    if cfg.source is Source.CODECOMMIT:
        bucket = Parameter(
            "SeedCodeBucket",
            Type="String",
            AllowedPattern=r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$",
            Description="Bucket holding the seed bundle the deploy repository starts from.",
        )
        if cfg.seed_bucket:
            bucket.Default = cfg.seed_bucket
        seed_bucket = template.add_parameter(bucket)
        seed_key_param = template.add_parameter(
            Parameter(
                "SeedCodeKey",
                Type="String",
                Default=seed_key,
                MinLength=1,
                Description="Key of the seed bundle (a zip) in SeedCodeBucket.",
            )
        )
    params = ProductParameters(
        project_name=project_name,
        project_id=project_id,
        execution_role=execution_role,
        ou=ou,
        pipeline_role=pipeline_role,
        build_role=build_role,
        events_role=events_role,
        seed_bucket=seed_bucket,
        seed_key=seed_key_param,
        accounts=accounts,
        role_arns=role_arns,
    )
    _add_interface(template, params)
    return params


def _add_interface(template: Template, p: ProductParameters) -> None:
    """Group and label the parameters the way Studio and the CloudFormation console show them."""
    targets = [
        x for stage in Stage for x in (p.ou[stage], p.accounts.get(stage), p.execution_role[stage]) if x is not None
    ]
    advanced = [x for x in (p.pipeline_role, p.build_role, p.events_role, p.seed_bucket, p.seed_key) if x]
    labels: dict[Parameter, str] = {
        p.project_name: "Project name",
        p.project_id: "Project id",
        p.ou[Stage.STAGING]: "Staging organizational unit id",
        p.execution_role[Stage.STAGING]: "Staging account role name",
        p.ou[Stage.PROD]: "Production organizational unit id",
        p.execution_role[Stage.PROD]: "Production account role name",
    }
    for role, text in ((p.pipeline_role, "CodePipeline"), (p.build_role, "CodeBuild"), (p.events_role, "EventBridge")):
        if role is not None:
            labels[role] = f"{text} service role name"
    for stage, parameter in p.accounts.items():
        labels[parameter] = f"{'Staging' if stage is Stage.STAGING else 'Production'} account ids"
    if p.seed_bucket and p.seed_key:
        labels[p.seed_bucket] = "Seed code bucket"
        labels[p.seed_key] = "Seed code key"
    template.set_metadata(
        {
            "AWS::CloudFormation::Interface": {
                "ParameterGroups": [
                    {"Label": {"default": "Project"}, "Parameters": [p.project_name.title, p.project_id.title]},
                    {"Label": {"default": "Target accounts"}, "Parameters": [x.title for x in targets]},
                    {"Label": {"default": "Advanced"}, "Parameters": [x.title for x in advanced]},
                ],
                "ParameterLabels": {param.title: {"default": text} for param, text in labels.items()},
            }
        }
    )
