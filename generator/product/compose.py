"""The multi-account deployment product: composes the resource modules into one template."""

from __future__ import annotations

from troposphere import Output, Ref, Sub, Template

from generator.config import LaunchRole, RenderConfig, Source
from generator.contract import SEED_BUNDLE
from generator.product.codebuild import add_build_project, add_deploy_projects, add_test_project
from generator.product.grants import artifact_readers, package_readers
from generator.product.kms import add_project_key, encrypt_product
from generator.product.notifications import add_approval_topic
from generator.product.org_id import add_org_id_parameter
from generator.product.parameters import add_parameters
from generator.product.pipeline import add_pipeline
from generator.product.project_roles import add_project_roles, depend_on_roles
from generator.product.registry import add_model_approved_rule, add_model_package_group
from generator.product.source import add_code_pushed_rule, add_repository
from generator.product.storage import add_artifact_bucket

DESCRIPTION = (
    "SageMaker project template (mlops-gen): deploys models approved in the project's model registry "
    "to the accounts of a staging OU, tests them, and after manual approval to a production OU, "
    "with CloudFormation StackSets."
)
DEFAULT_SEED_KEY = f"mlops-gen/{SEED_BUNDLE}"


def build_product(cfg: RenderConfig, seed_key: str = DEFAULT_SEED_KEY) -> Template:
    """The product template for `cfg`; `seed_key` is the seed bundle's key in the seed bucket."""
    template = Template(Description=DESCRIPTION)
    template.set_version("2010-09-09")
    params = add_parameters(template, cfg, seed_key)
    # The stage accounts' target and stack-set execution roles read the model artifacts and packages.
    org_id = add_org_id_parameter(template, cfg)
    # --kms-key: the project's key first (moto's CloudFormation resolves Fn::GetAtt in template order).
    key = add_project_key(template, cfg, org_id, params.ou, params.execution_role)
    bucket = add_artifact_bucket(template, cfg, artifact_readers(org_id, params.ou, params.execution_role))
    if cfg.launch_role is LaunchRole.GENERATED:
        add_model_package_group(template, cfg, package_readers(cfg, org_id, params.ou, params.execution_role))
    repository = add_repository(template, cfg, params) if cfg.source is Source.CODECOMMIT else None
    build_project = add_build_project(template, cfg, params, bucket)
    test_project = add_test_project(template, cfg, params)
    deploy_projects = add_deploy_projects(template, cfg, params)  # deploy mode "api" only
    approval_topic = add_approval_topic(template, cfg)  # with --approver-email only
    pipeline = add_pipeline(
        template, cfg, params, bucket, repository, build_project, test_project, deploy_projects, approval_topic
    )
    # --kms-key: the bucket, the artifact store and the projects use the project's key (generator/product/kms.py).
    encrypt_product(template, cfg, key)
    add_model_approved_rule(template, cfg, params, pipeline)
    if repository is not None:
        add_code_pushed_rule(template, cfg, params, repository, pipeline)
    depend_on_roles(template, add_project_roles(template, cfg))  # --service-roles project only
    template.add_output(Output("PipelineName", Value=Ref(pipeline), Description="The deployment pipeline."))
    template.add_output(Output("ArtifactBucketName", Value=Ref(bucket), Description="The project's artifact bucket."))
    template.add_output(
        Output(
            "ModelPackageGroupName",
            Value=Sub(cfg.names.model_package_group.pattern),
            Description="Register models here; approving one deploys it.",
        )
    )
    return template
