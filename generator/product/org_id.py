"""The organisation id the product's cross-account grants name, and how it is checked.

S3 treats a bucket policy that allows `Principal: "*"` as public unless a condition narrows it to a
*fixed* value of one of a short list of keys (generator/checks/s3_public.py); `aws:PrincipalOrgID` is the one
that fits an OU-targeted product (the stage accounts are not listed anywhere). The id is not known to
a pure `render`, so it is the product parameter `OrganizationId`, defaulting to `render --org-id`.

Without `--org-id` the render still works (for CI, golden files, reviews), but the parameter has no
default and a Studio user would have to type it: `doctor` prints the id to render with, and publish
refuses such a render (`check_org_id(None, actual)` says why), the way it refuses a product without a
`SeedCodeBucket` default.
"""

from __future__ import annotations

from troposphere import Parameter, Template

from generator.config import ORG_ID_PATTERN, RenderConfig

ORG_ID_PARAMETER = "OrganizationId"


def add_org_id_parameter(template: Template, cfg: RenderConfig) -> Parameter:
    """`OrganizationId`: `--org-id` as its default; its pattern admits no wildcard (a fixed value for S3)."""
    parameter = Parameter(
        ORG_ID_PARAMETER,
        Type="String",
        AllowedPattern=ORG_ID_PATTERN.pattern,
        ConstraintDescription="an AWS Organizations id: o- followed by 10-32 lowercase letters or digits",
        Description="Id of the organisation of the staging and prod accounts (aws:PrincipalOrgID of the read grants).",
    )
    if cfg.org_id is not None:
        parameter.Default = cfg.org_id
        # The read grants name it: a launcher may not type another organisation (generator/product/parameters.py).
        parameter.AllowedValues = [cfg.org_id]
    return template.add_parameter(parameter)


def check_org_id(expected: str | None, actual: str) -> str | None:
    """Why a product rendered with `expected` (None: no `--org-id`) cannot serve organisation `actual`; None if it can.

    Pure, for `doctor` and `publish`: the caller reads `actual` from organizations:DescribeOrganization.
    """
    if expected is None:
        return (
            f"the product has no OrganizationId default, so every Studio user would have to type it: "
            f"render again with --org-id {actual}"
        )
    if expected != actual:
        return (
            f"the product was rendered with --org-id {expected}, but this organisation is {actual}: its read grants "
            f"(aws:PrincipalOrgID) would admit no stage account; render again with --org-id {actual}"
        )
    return None
