"""Who in the staging and prod accounts may read the project's model artifacts and model packages.

Both resource policies allow `Principal: "*"` narrowed by three conditions, all required:

- `aws:PrincipalOrgID` equal to the `OrganizationId` parameter: a fixed value of a key S3 lists, so the
  bucket policy is not public and `BlockPublicPolicy`/`RestrictPublicBuckets` let it work
  (generator/checks/s3_public.py checks this);
- `aws:PrincipalOrgPaths` under the staging or prod OU (`*/<ou>/*`: the OU anywhere in the path);
- `aws:PrincipalArn` one of the roles that make the calls, in any account (the account is the OU's):
  the target role, which SageMaker assumes to read the model data (the model's ExecutionRoleArn), and,
  for the model package group, the stack-set execution role, as which CloudFormation calls
  sagemaker:CreateModel with the cross-account ModelPackageName.

`aws:PrincipalArn` holds the role's ARN (not the session's) for an assumed role, so the patterns name roles.
https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-keys.html#condition-keys-principalarn
"""

from __future__ import annotations

from awacs.aws import ArnLike, Condition, ForAnyValueStringLike, StringEquals
from troposphere import Parameter, Ref, Sub

from generator.config import PermissionModel, RenderConfig
from generator.naming import Stage

#: SERVICE_MANAGED stack sets run in each target account as a role StackSets creates, `stacksets-exec-<id>`:
#: https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/stacksets-custom-execution-role.html
#: (the management account's service-linked role may assume `arn:aws:iam::*:role/stacksets-exec-*`,
#: CloudFormationStackSetsOrgAdminServiceRolePolicy).
SERVICE_MANAGED_EXECUTION_ROLE = "stacksets-exec-*"


def role_pattern(role_name: str | Parameter) -> Sub:
    """A role of that name (or the name a parameter holds) in any account: the account is narrowed elsewhere."""
    name = f"${{{role_name.title}}}" if isinstance(role_name, Parameter) else role_name
    return Sub(f"arn:${{AWS::Partition}}:iam::*:role/{name}")


def execution_role_name(cfg: RenderConfig) -> str:
    """The stack-set execution role's name in the target accounts (a pattern for SERVICE_MANAGED)."""
    if cfg.permission_model is PermissionModel.SELF_MANAGED and cfg.execution_role_name:
        return cfg.execution_role_name
    return SERVICE_MANAGED_EXECUTION_ROLE


def stage_readers(org_id: Parameter, ous: dict[Stage, Parameter], roles: list[Sub]) -> Condition:
    """`roles` in accounts of the organisation under the staging or prod OU (see the module docstring)."""
    return Condition(
        [
            StringEquals("aws:PrincipalOrgID", Ref(org_id)),
            ForAnyValueStringLike("aws:PrincipalOrgPaths", [Sub(f"*/${{{ous[s].title}}}/*") for s in Stage]),
            ArnLike("aws:PrincipalArn", roles),
        ]
    )


def artifact_readers(org_id: Parameter, ous: dict[Stage, Parameter], target_roles: dict[Stage, Parameter]) -> Condition:
    """The model data's readers: the stages' target roles (SageMaker reads the data as the model's execution role)."""
    return stage_readers(org_id, ous, _unique([role_pattern(target_roles[s]) for s in Stage]))


def package_readers(
    cfg: RenderConfig, org_id: Parameter, ous: dict[Stage, Parameter], target_roles: dict[Stage, Parameter]
) -> Condition:
    """The model packages' readers: the target roles and the stack-set execution role (it calls CreateModel)."""
    roles = _unique([role_pattern(target_roles[s]) for s in Stage] + [role_pattern(execution_role_name(cfg))])
    return stage_readers(org_id, ous, roles)


def _unique(subs: list[Sub]) -> list[Sub]:
    seen: dict[str, Sub] = {}
    for sub in subs:
        seen.setdefault(str(sub.data), sub)
    return list(seen.values())
