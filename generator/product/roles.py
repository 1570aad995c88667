"""ARNs of the SageMaker-provided service roles the product's resources run as.

The product creates no IAM role itself: the standard launch role may not, and the
SageMaker-provided roles are what Studio users' projects are expected to use. The roles
live under the `service-role/` path; their names come from parameters (see parameters.py).
"""

from __future__ import annotations

from troposphere import Parameter, Sub


def service_role_arn(role_name: Parameter) -> Sub:
    """The ARN of a `service-role/` role named by a parameter, in this account and partition."""
    return Sub(f"arn:${{AWS::Partition}}:iam::${{AWS::AccountId}}:role/service-role/${{{role_name.title}}}")
