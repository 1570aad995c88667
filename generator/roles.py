"""ARNs of the SageMaker-provided service roles the product's resources run as.

The product creates no IAM role itself: the standard launch role may not, and the
SageMaker-provided roles are what Studio users' projects are expected to use. The roles
live under the `service-role/` path; their names come from parameters (see parameters.py).
"""

from __future__ import annotations

from awacs.aws import Condition, ForAnyValueStringLike
from troposphere import Parameter, Sub

from generator.naming import Stage


def service_role_arn(role_name: Parameter) -> Sub:
    """The ARN of a `service-role/` role named by a parameter, in this account and partition."""
    return Sub(f"arn:${{AWS::Partition}}:iam::${{AWS::AccountId}}:role/service-role/${{{role_name.title}}}")


def stage_accounts_condition(ous: dict[Stage, Parameter]) -> Condition:
    """Any principal of an account in the staging or prod OU, or in an OU below them.

    `aws:PrincipalOrgPaths` holds `o-xxx/r-xxx/ou-.../` paths; `*/<ou>/*` matches the OU anywhere in
    the path, so neither the organisation id nor the root id (nor an account list) is needed. It is
    multivalued, hence ForAnyValue. https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-keys.html#condition-keys-principalorgpaths
    """
    return Condition(ForAnyValueStringLike("aws:PrincipalOrgPaths", [Sub(f"*/${{{ous[s].title}}}/*") for s in Stage]))
