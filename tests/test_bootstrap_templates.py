"""The bootstrap templates `render` writes: target role (and its stack set), prerequisites, portfolio.

Structure tests read the templates as dicts; the moto tests deploy the target role with a
SERVICE_MANAGED stack set into an organisation with staging and prod OUs, and create the
prerequisites as a stack against precreated SageMaker service roles.
"""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest
from moto import mock_aws

from generator.companions.portfolio import build_portfolio
from generator.companions.prerequisites import approval_action_path, build_prerequisites
from generator.companions.target_role import build_target_role, build_target_role_stack_set
from generator.config import LaunchRole, ServiceRoles
from generator.errors import InputError
from generator.iam.iam_eval import wildcard_match
from generator.product.compose import build_product
from generator.product.kms import STANDARD_LAUNCH_ROLE
from generator.product.parameters import PER_SERVICE_ROLES, USE_ROLE
from tests.conftest import CONFIGS, PROD_OU, STAGING_OU, make_config, named_config, rendered_files, shared_roles_config
from tests.moto_helpers import create_stack_set_from_template

STUDIO_ROLES = (
    "arn:aws:iam::111122223333:role/service-role/AmazonSageMaker-ExecutionRole-20240101T000000",
    "arn:aws:iam::111122223333:role/data-scientist",
)


def resources(template: dict[str, Any], rtype: str) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in template["Resources"].items() if v["Type"] == rtype}


def sub_text(value: Any) -> str:
    """The pattern of a `Fn::Sub` (or a plain string)."""
    return value["Fn::Sub"] if isinstance(value, dict) else value


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def all_resources(document: dict[str, Any]) -> list[str]:
    return [sub_text(r) for s in document["Statement"] for r in as_list(s["Resource"])]


# --- manifest -------------------------------------------------------------------------------------


def test_render_lists_every_bootstrap_template_in_the_manifest() -> None:
    kinds = {f.kind: f.path for f in rendered_files(make_config())}
    assert kinds["target-role-template"] == "target-role-template.yaml"
    assert kinds["target-role-stackset"] == "target-role-stackset.yaml"
    assert kinds["prerequisites-template"] == "prerequisites-template.yaml"
    assert kinds["portfolio-template"] == "portfolio-template.yaml"


# --- target role ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("service_roles", "build_role"),
    [("per-service", PER_SERVICE_ROLES["build"]), ("use-role", USE_ROLE)],
)
def test_target_role_is_trusted_only_by_the_data_science_accounts_test_role(
    service_roles: str, build_role: str
) -> None:
    template = build_target_role(make_config(service_roles=service_roles)).to_dict()
    assert template["Parameters"]["PipelineRoleName"]["Default"] == build_role
    (role,) = resources(template, "AWS::IAM::Role").values()
    props = role["Properties"]
    assert props["RoleName"] == "sagemaker-multi-account-deploy"
    statements = {s["Sid"]: s for s in props["AssumeRolePolicyDocument"]["Statement"]}
    assert set(statements) == {"SageMakerRunsEndpoints", "PipelineRolesTestEndpoints", "PipelineRolesTagTestSessions"}
    # The test must name a project by the session tag (with the shared role: any project; README "Not isolated").
    assert statements["PipelineRolesTestEndpoints"]["Condition"]["Null"] == {
        "aws:RequestTag/mlops-gen-project": "false"
    }
    tagging = statements["PipelineRolesTagTestSessions"]
    assert tagging["Action"] == ["sts:TagSession"]
    assert tagging["Condition"]["ForAllValues:StringEquals"] == {"aws:TagKeys": ["mlops-gen-project"]}
    sagemaker = statements["SageMakerRunsEndpoints"]
    assert sagemaker["Principal"] == {"Service": ["sagemaker.amazonaws.com"]}
    pipeline = statements["PipelineRolesTestEndpoints"]
    assert [sub_text(p) for p in pipeline["Principal"]["AWS"]] == [
        "arn:${AWS::Partition}:iam::${PipelineAccountId}:root"
    ]
    # The account is narrowed to the one role: without this condition any principal of the account could assume it.
    allowed = pipeline["Condition"]["ArnEquals"]["aws:PrincipalArn"]
    assert [sub_text(a) for a in allowed] == [
        "arn:${AWS::Partition}:iam::${PipelineAccountId}:role/service-role/${PipelineRoleName}"
    ]


def test_target_role_policy_touches_only_the_projects_endpoints_in_its_own_account() -> None:
    template = build_target_role(make_config(name_prefix="sagemaker-acme-")).to_dict()
    (role,) = resources(template, "AWS::IAM::Role").values()
    document = role["Properties"]["Policies"][0]["PolicyDocument"]
    statements = {s["Sid"]: s for s in document["Statement"]}
    # The test's session: only the endpoints of the project its session tag names, only describe and invoke.
    tested = [sub_text(r) for r in statements["TestProjectEndpoints"]["Resource"]]
    assert tested == [
        "arn:${AWS::Partition}:sagemaker:*:${AWS::AccountId}:endpoint/sagemaker-acme-${!aws:PrincipalTag/mlops-gen-project}-staging",
        "arn:${AWS::Partition}:sagemaker:*:${AWS::AccountId}:endpoint/sagemaker-acme-${!aws:PrincipalTag/mlops-gen-project}-prod",
    ]
    assert statements["TestProjectEndpoints"]["Action"] == ["sagemaker:DescribeEndpoint", "sagemaker:InvokeEndpoint"]
    # Nothing creates, changes or deletes endpoints as this role (the stack sets' execution role does).
    actions = {a for s in document["Statement"] for a in as_list(s["Action"])}
    assert not {a for a in actions if a.split(":")[1].startswith(("Create", "Update", "Delete", "Register"))} - {
        "logs:CreateLogGroup",
        "logs:CreateLogStream",
        # SageMaker attaches a VPC model's network interfaces as this role (generator/network.py).
        "ec2:CreateNetworkInterface",
        "ec2:CreateNetworkInterfacePermission",
        "ec2:DeleteNetworkInterface",
        "ec2:DeleteNetworkInterfacePermission",
    }
    # Every other grant is SageMaker's (untagged sessions), never the test's.
    for sid, statement in statements.items():
        if sid != "TestProjectEndpoints":
            assert statement["Condition"]["Null"] == {"aws:PrincipalTag/mlops-gen-project": "true"}, sid
    reads = statements["ReadModelArtifacts"]
    assert reads["Action"] == ["s3:GetObject"]
    assert reads["Condition"]["StringEquals"] == {"s3:ResourceAccount": {"Ref": "PipelineAccountId"}}
    wildcards = [s["Sid"] for s in document["Statement"] if "*" in as_list(s["Resource"])]
    # Actions without a (required) resource type; the EC2 ones SageMaker calls for models in a VPC.
    assert sorted(wildcards) == ["EcrLogin", "EndpointMetrics", "ModelVpcDescribe", "ModelVpcDetachPermissions"]
    # Only SageMaker's sessions: the one condition, its resource type being optional (hygiene.unavoidable).
    assert statements["ModelVpcDetachPermissions"]["Condition"] == {
        "Null": {"aws:PrincipalTag/mlops-gen-project": "true"}
    }


def test_stack_set_deploys_the_role_to_both_ous_with_auto_deployment_and_the_chosen_preferences() -> None:
    cfg = make_config(**{**CONFIGS["custom-preferences"], "service-roles": "per-service"})
    role_template = build_target_role(cfg)
    template = build_target_role_stack_set(cfg, role_template).to_dict()
    (stack_set,) = resources(template, "AWS::CloudFormation::StackSet").values()
    props = stack_set["Properties"]
    assert props["PermissionModel"] == "SERVICE_MANAGED"
    assert props["AutoDeployment"] == {"Enabled": True, "RetainStacksOnAccountRemoval": False}
    (group,) = props["StackInstancesGroup"]
    assert group["DeploymentTargets"]["OrganizationalUnitIds"] == [STAGING_OU, PROD_OU]
    assert group["Regions"] == ["eu-west-1"]  # IAM is global: one instance per account
    assert props["OperationPreferences"] == {
        "ConcurrencyMode": "SOFT_FAILURE_TOLERANCE",  # else one account at a time whatever the percentage says
        "MaxConcurrentPercentage": 25,
        "FailureTolerancePercentage": 10,
        "RegionConcurrencyType": "SEQUENTIAL",
    }
    assert props["Capabilities"] == ["CAPABILITY_NAMED_IAM"]
    parameters = {p["ParameterKey"]: p["ParameterValue"] for p in props["Parameters"]}
    assert parameters == {
        "PipelineAccountId": {"Ref": "AWS::AccountId"},
        "PipelineRoleName": PER_SERVICE_ROLES["build"],
    }
    body = json.loads(props["TemplateBody"])
    assert body == json.loads(json.dumps(role_template.to_dict()))
    assert body["Resources"]["TargetRole"]["Properties"]["RoleName"] == "sagemaker-acme-deployer"


def test_self_managed_organisations_get_a_self_managed_role_stack_set_on_the_listed_accounts() -> None:
    cfg = named_config("self-managed")
    template = build_target_role_stack_set(cfg, build_target_role(cfg)).to_dict()
    (stack_set,) = resources(template, "AWS::CloudFormation::StackSet").values()
    props = stack_set["Properties"]
    assert props["PermissionModel"] == "SELF_MANAGED"
    assert "AutoDeployment" not in props  # only SERVICE_MANAGED stack sets can follow OU membership
    assert props["AdministrationRoleARN"] == cfg.administration_role_arn
    assert props["ExecutionRoleName"] == cfg.execution_role_name
    (group,) = props["StackInstancesGroup"]
    assert group["DeploymentTargets"] == {"Accounts": [*cfg.staging_accounts, *cfg.prod_accounts]}


# --- prerequisites --------------------------------------------------------------------------------


def policies(cfg_template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {k: v["Properties"] for k, v in resources(cfg_template, "AWS::IAM::ManagedPolicy").items()}


@pytest.mark.parametrize(
    ("service_roles", "pipeline_role", "build_role"),
    [
        (ServiceRoles.PER_SERVICE, PER_SERVICE_ROLES["pipeline"], PER_SERVICE_ROLES["build"]),
        (ServiceRoles.USE_ROLE, USE_ROLE, USE_ROLE),
    ],
)
def test_prerequisites_attach_to_the_role_names_in_use(
    service_roles: ServiceRoles, pipeline_role: str, build_role: str
) -> None:
    template = build_prerequisites(make_config(service_roles=service_roles.value)).to_dict()
    params = template["Parameters"]
    assert params["CodePipelineRoleName"]["Default"] == pipeline_role
    assert params["CodeBuildRoleName"]["Default"] == build_role
    props = policies(template)
    assert props["PipelineRolePolicy"]["Roles"] == [{"Ref": "CodePipelineRoleName"}]
    assert props["BuildRolePolicy"]["Roles"] == [{"Ref": "CodeBuildRoleName"}]
    assert props["ApproverPolicy"]["Roles"] == {
        "Fn::If": ["HasApprovers", {"Ref": "ApproverRoleNames"}, {"Ref": "AWS::NoValue"}]
    }


def test_pipeline_role_gets_the_stack_set_actions_on_the_project_stack_sets_only() -> None:
    document = policies(build_prerequisites(shared_roles_config()).to_dict())["PipelineRolePolicy"]["PolicyDocument"]
    by_sid = {s["Sid"]: s for s in document["Statement"]}
    # CreateStackSet has no resource type in the service authorization reference: "*" is the only sure match.
    assert by_sid["CreateStackSets"]["Action"] == ["cloudformation:CreateStackSet"]
    assert by_sid["CreateStackSets"]["Resource"] == ["*"]
    scoped = by_sid["ProjectStackSets"]
    needed = {
        "UpdateStackSet",
        "CreateStackInstances",
        "DescribeStackSet",
        "DescribeStackSetOperation",
        "ListStackInstances",
    }
    assert {f"cloudformation:{a}" for a in needed} <= set(scoped["Action"])
    (pattern,) = [sub_text(r) for r in scoped["Resource"]]
    assert pattern == "arn:${AWS::Partition}:cloudformation:*:${AWS::AccountId}:stackset/sagemaker-*"
    sample = pattern.replace("${AWS::Partition}", "aws").replace("${AWS::AccountId}", "111122223333")
    arn = "arn:aws:cloudformation:eu-west-1:111122223333:stackset/{}:9f1c2d"
    assert wildcard_match(sample, arn.format("sagemaker-iris-p-abc123-deploy-staging"))
    assert not wildcard_match(sample, arn.format("landing-zone-baseline"))


@pytest.mark.parametrize("launch_role", list(LaunchRole))
def test_build_role_gets_what_the_test_and_the_build_call(launch_role: LaunchRole) -> None:
    cfg = shared_roles_config(launch_role=launch_role.value)
    document = policies(build_prerequisites(cfg).to_dict())["BuildRolePolicy"]["PolicyDocument"]
    by_sid = {s["Sid"]: s for s in document["Statement"]}
    assert by_sid["AssumeTargetRole"]["Action"] == ["sts:AssumeRole"]
    assert all_resources({"Statement": [by_sid["AssumeTargetRole"]]}) == [
        "arn:${AWS::Partition}:iam::*:role/${TargetRoleName}"
    ]
    assert set(by_sid["WalkStageOrganizationalUnits"]["Action"]) == {
        "organizations:ListAccountsForParent",
        "organizations:ListOrganizationalUnitsForParent",
        "organizations:DescribeOrganizationalUnit",
    }
    assert {"codebuild:CreateReportGroup", "codebuild:BatchPutTestCases"} <= set(by_sid["TestReports"]["Action"])
    # Only under the standard launch role does the build create the group (and set its policy).
    assert ("ProjectModelPackageGroups" in by_sid) is (launch_role is LaunchRole.STANDARD)
    assert "*" not in all_resources(document)


def test_approver_policy_is_scoped_to_the_project_pipelines_approval_only() -> None:
    cfg = make_config(name_prefix="sagemaker-acme-")
    assert approval_action_path(cfg) == ("DeployStaging", "ApproveDeployment")
    document = policies(build_prerequisites(cfg).to_dict())["ApproverPolicy"]["PolicyDocument"]
    actions = sorted(a for s in document["Statement"] for a in s["Action"])
    assert actions == ["codepipeline:GetPipelineState", "codepipeline:PutApprovalResult"]
    by_sid = {s["Sid"]: s for s in document["Statement"]}
    (approve,) = all_resources({"Statement": [by_sid["ApproveProjectDeployments"]]})
    sample = approve.replace("${AWS::Partition}", "aws").replace("${AWS::Region}", "eu-west-1")
    sample = sample.replace("${AWS::AccountId}", "111122223333")
    prefix = "arn:aws:codepipeline:eu-west-1:111122223333:"
    assert wildcard_match(sample, prefix + "sagemaker-acme-iris-p-abc123-modeldeploy/DeployStaging/ApproveDeployment")
    assert not wildcard_match(
        sample, prefix + "sagemaker-acme-iris-p-abc123-modeldeploy/DeployProd/DeployResourcesProd"
    )
    assert not wildcard_match(sample, prefix + "other-pipeline/DeployStaging/ApproveDeployment")
    assert not wildcard_match(sample, prefix + "sagemaker-iris-p-abc123-modeldeploy/DeployStaging/ApproveDeployment")


# --- model artifacts and model packages: read access for the two OUs -------------------------------

ORG_PATH = "o-a1b2c3d4e5/r-ab12/{ou}/"


def _org_paths_match(condition: dict[str, Any], path: str, ou_values: dict[str, str]) -> bool:
    patterns = condition["ForAnyValue:StringLike"]["aws:PrincipalOrgPaths"]
    resolved = [sub_text(p) for p in patterns]
    for name, value in ou_values.items():
        resolved = [p.replace("${" + name + "}", value) for p in resolved]
    return any(wildcard_match(p, path) for p in resolved)


@pytest.mark.parametrize("launch_role", list(LaunchRole))
def test_product_lets_the_stage_ous_read_model_artifacts_and_packages(launch_role: LaunchRole) -> None:
    template = build_product(make_config(launch_role=launch_role.value, org_id="o-a1b2c3d4e5")).to_dict()
    assert template["Parameters"]["OrganizationId"]["Default"] == "o-a1b2c3d4e5"
    (bucket_policy,) = resources(template, "AWS::S3::BucketPolicy").values()
    statements = {s["Sid"]: s for s in bucket_policy["Properties"]["PolicyDocument"]["Statement"]}
    read = statements["StageTargetRolesReadModelArtifacts"]
    assert read["Action"] == ["s3:GetObject"] and read["Principal"] == "*"
    conditions = [read["Condition"]]
    readers = {sub_text(p) for p in read["Condition"]["ArnLike"]["aws:PrincipalArn"]}
    assert readers == {
        "arn:${AWS::Partition}:iam::*:role/${SageMakerExecutionRoleStagingName}",
        "arn:${AWS::Partition}:iam::*:role/${SageMakerExecutionRoleProdName}",
    }
    groups = resources(template, "AWS::SageMaker::ModelPackageGroup")
    if launch_role is LaunchRole.GENERATED:
        (group,) = groups.values()
        (describe_group, deploy) = group["Properties"]["ModelPackageGroupPolicy"]["Statement"]
        assert describe_group["Action"] == ["sagemaker:DescribeModelPackageGroup"]
        # what SageMaker's cross-account deployment example grants on the packages, but UpdateModelPackage
        assert set(deploy["Action"]) == {
            "sagemaker:DescribeModelPackage",
            "sagemaker:ListModelPackages",
            "sagemaker:CreateModel",
        }
        deployers = {sub_text(p) for p in deploy["Condition"]["ArnLike"]["aws:PrincipalArn"]}
        assert deployers == readers | {"arn:${AWS::Partition}:iam::*:role/stacksets-exec-*"}
        conditions += [describe_group["Condition"], deploy["Condition"]]
    else:
        assert not groups  # the build step creates the group (and must set its policy)
    ous = {"OrganizationalUnitStagingId": STAGING_OU, "OrganizationalUnitProdId": PROD_OU}
    for condition in conditions:
        assert condition["StringEquals"]["aws:PrincipalOrgID"] == {"Ref": "OrganizationId"}
        assert _org_paths_match(condition, ORG_PATH.format(ou=STAGING_OU), ous)
        assert _org_paths_match(condition, ORG_PATH.format(ou=f"{PROD_OU}/ou-ab12-33333333"), ous)  # child OU
        assert not _org_paths_match(condition, ORG_PATH.format(ou="ou-ab12-99999999"), ous)
        assert not _org_paths_match(condition, "o-a1b2c3d4e5/r-ab12/", ous)  # an account under the root


def test_without_org_id_the_parameter_has_no_default() -> None:
    """`render` works without --org-id; publish then refuses the product (generator/product/org_id.py)."""
    parameter = build_product(make_config(org_id=None)).to_dict()["Parameters"]["OrganizationId"]
    assert "Default" not in parameter and parameter["AllowedPattern"] == r"^o-[a-z0-9]{10,32}$"


# --- portfolio ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("launch_role", "role_arn"),
    [
        (LaunchRole.GENERATED, "arn:${AWS::Partition}:iam::${AWS::AccountId}:role/sagemaker-mlops-gen-launch-role"),
        (
            LaunchRole.STANDARD,
            f"arn:${{AWS::Partition}}:iam::${{AWS::AccountId}}:role/service-role/{STANDARD_LAUNCH_ROLE}",
        ),
    ],
)
def test_portfolio_has_the_visible_product_the_launch_role_and_the_studio_roles(
    launch_role: LaunchRole, role_arn: str
) -> None:
    cfg = make_config(launch_role=launch_role.value, studio_role_arn=list(STUDIO_ROLES), product_name="Iris deploy")
    template = build_portfolio(cfg).to_dict()
    (product,) = resources(template, "AWS::ServiceCatalog::CloudFormationProduct").values()
    props = product["Properties"]
    assert props["Name"] == "Iris deploy"
    assert {"Key": "sagemaker:studio-visibility", "Value": "true"} in props["Tags"]
    (artifact,) = props["ProvisioningArtifactParameters"]
    assert artifact["Info"] == {"LoadTemplateFromURL": {"Ref": "ProductTemplateUrl"}}
    assert "Default" not in template["Parameters"]["ProductTemplateUrl"]
    (constraint,) = resources(template, "AWS::ServiceCatalog::LaunchRoleConstraint").values()
    assert sub_text(constraint["Properties"]["RoleArn"]) == role_arn
    (association_id,) = resources(template, "AWS::ServiceCatalog::PortfolioProductAssociation")
    assert constraint["DependsOn"] == [association_id]  # Service Catalog wants the product in the portfolio first
    principals = resources(template, "AWS::ServiceCatalog::PortfolioPrincipalAssociation").values()
    assert sorted(p["Properties"]["PrincipalARN"] for p in principals) == sorted(STUDIO_ROLES)
    assert {p["Properties"]["PrincipalType"] for p in principals} == {"IAM"}


def test_studio_role_arn_flag_is_checked() -> None:
    with pytest.raises(InputError, match=r"--studio-role-arn.*IAM role ARN"):
        make_config(studio_role_arn=["arn:aws:iam::111122223333:user/alice"])
    with pytest.raises(InputError, match="twice"):
        make_config(studio_role_arn=[STUDIO_ROLES[0], STUDIO_ROLES[0]])
    with pytest.raises(InputError, match=r"--portfolio-name.*1-100"):
        make_config(portfolio_name="x" * 101)
    assert make_config(studio_role_arn=STUDIO_ROLES[1]).studio_role_arns == (STUDIO_ROLES[1],)


# --- moto: the stack set puts the role into every account of both OUs ------------------------------

MOTO_REGION = "eu-west-1"


def _organisation() -> tuple[str, dict[str, str], dict[str, str]]:
    """Staging (with a child OU), prod and sandbox OUs with one account each: (management id, OU ids, accounts)."""
    org = boto3.client("organizations", region_name=MOTO_REGION)
    org.create_organization(FeatureSet="ALL")
    root = org.list_roots()["Roots"][0]["Id"]
    mgmt = boto3.client("sts", region_name=MOTO_REGION).get_caller_identity()["Account"]
    ous: dict[str, str] = {}
    for name, parent in (("staging", None), ("prod", None), ("sandbox", None), ("staging-child", "staging")):
        parent_id = root if parent is None else ous[parent]
        ous[name] = org.create_organizational_unit(ParentId=parent_id, Name=name)["OrganizationalUnit"]["Id"]
    accounts: dict[str, str] = {}
    for name, ou in ous.items():
        account = org.create_account(AccountName=f"{name}-1", Email=f"{name}@example.com")["CreateAccountStatus"]
        org.move_account(AccountId=account["AccountId"], SourceParentId=root, DestinationParentId=ou)
        accounts[name] = account["AccountId"]
    return mgmt, ous, accounts


@mock_aws
@pytest.mark.parametrize("service_roles", ["project", "per-service"])
@pytest.mark.slow  # renders whole configurations (about a second each)
def test_stack_set_creates_the_role_in_every_staging_and_prod_account(service_roles: str) -> None:
    mgmt, ous, accounts = _organisation()
    cfg = make_config(staging_ou=ous["staging"], prod_ou=ous["prod"], service_roles=service_roles)
    wrapper = build_target_role_stack_set(cfg, build_target_role(cfg)).to_dict()
    cfn = boto3.client("cloudformation", region_name=MOTO_REGION)
    name = create_stack_set_from_template(cfn, wrapper, mgmt)
    sts = boto3.client("sts", region_name=MOTO_REGION)
    targets = {accounts["staging"], accounts["staging-child"], accounts["prod"]}
    for account in targets:
        role_arn = f"arn:aws:iam::{account}:role/{cfg.target_role_name}"
        credentials = sts.assume_role(RoleArn=role_arn, RoleSessionName="staging-endpoint-test")["Credentials"]
        iam = boto3.client(
            "iam",
            region_name=MOTO_REGION,
            aws_access_key_id=credentials["AccessKeyId"],
            aws_secret_access_key=credentials["SecretAccessKey"],
            aws_session_token=credentials["SessionToken"],
        )
        role = iam.get_role(RoleName=cfg.target_role_name)["Role"]
        trust = role["AssumeRolePolicyDocument"]
        trust = json.loads(trust) if isinstance(trust, str) else trust
        (pipeline,) = [s for s in trust["Statement"] if s["Sid"] == "PipelineRolesTestEndpoints"]
        assert pipeline["Principal"]["AWS"] in ([f"arn:aws:iam::{mgmt}:root"], f"arn:aws:iam::{mgmt}:root")
        if service_roles == "project":  # only the mlops-gen project roles that run a staging test
            expected, operator = f"arn:aws:iam::{mgmt}:role/mlops-gen/sagemaker-*-test", "ArnLike"
        else:
            expected, operator = f"arn:aws:iam::{mgmt}:role/service-role/{PER_SERVICE_ROLES['build']}", "ArnEquals"
        assert pipeline["Condition"][operator]["aws:PrincipalArn"] in ([expected], expected)
    # An account outside the two OUs gets no stack instance.
    instances = cfn.list_stack_instances(StackSetName=name)["Summaries"]
    assert {i["Account"] for i in instances} == targets
    assert accounts["sandbox"] not in {i["Account"] for i in instances}


@mock_aws
def test_prerequisites_stack_attaches_the_policies_to_the_service_roles() -> None:
    cfg = shared_roles_config()
    iam = boto3.client("iam", region_name=MOTO_REGION)
    trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
             "Principal": {"Service": "codebuild.amazonaws.com"}}]}  # fmt: skip
    for name in (*PER_SERVICE_ROLES.values(), "approver"):
        iam.create_role(RoleName=name, Path="/" if name == "approver" else "/service-role/",
                        AssumeRolePolicyDocument=json.dumps(trust))  # fmt: skip
    cfn = boto3.client("cloudformation", region_name=MOTO_REGION)
    cfn.create_stack(
        StackName="mlops-gen-prerequisites",
        TemplateBody=json.dumps(build_prerequisites(cfg).to_dict()),
        Parameters=[{"ParameterKey": "ApproverRoleNames", "ParameterValue": "approver"}],
        Capabilities=["CAPABILITY_NAMED_IAM"],
    )
    stack = cfn.describe_stacks(StackName="mlops-gen-prerequisites")["Stacks"][0]
    assert stack["StackStatus"] == "CREATE_COMPLETE"

    def attached(role: str) -> set[str]:
        return {p["PolicyName"] for p in iam.list_attached_role_policies(RoleName=role)["AttachedPolicies"]}

    assert attached(PER_SERVICE_ROLES["pipeline"]) == {"sagemaker-mlops-gen-pipeline-role"}
    assert attached(PER_SERVICE_ROLES["build"]) == {"sagemaker-mlops-gen-build-role"}
    assert attached(PER_SERVICE_ROLES["events"]) == set()
    assert attached("approver") == {"sagemaker-mlops-gen-approver"}
