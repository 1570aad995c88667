"""The product's roles in the management account, with the policies the render gives them.

A role's policies are collected the way `validate` collects them (generator/checks/iam_check.py): the packaged
policy of a SageMaker-provided service role plus what the rendered prerequisites template adds to it;
a role the product template itself creates is read from the local AWS, where the launch created it from
the rendered template. A role known to neither has unknown policies (its calls are listed, not allowed).
"""

from __future__ import annotations

from typing import Any

from generator.live.rehearse.authorize import (
    Authorizer,
    Identity,
    moto_role_boundary,
    moto_role_policies,
    moto_role_tags,
)
from generator.live.rehearse.organization import Organisation
from generator.live.rehearse.rendered import Rendered
from generator.live.rehearse.server import MANAGEMENT_ACCOUNT

PREREQUISITES = "prerequisites-template"


def _prerequisites(rendered: Rendered) -> dict[str, Any] | None:
    """The rendered prerequisites template's data (None without one), parsed as the rehearsal parses every rendered
    template (libyaml, `load_template`): `validate` decodes it with cfn-lint for line numbers the rehearsal does
    not need, and importing cfn-lint's decoder cost each `rehearse` 1.4 s. tests/test_rehearse_clients.py requires
    the same policies from both on every golden prerequisites template."""
    from generator.iam.resolve import load_template

    try:
        path = rendered.folder / rendered.manifest.path_of(PREREQUISITES)
    except KeyError:
        return None
    return load_template(path.read_text(encoding="utf-8"), path.name)


def added_policies(rendered: Rendered) -> dict[str, Any]:
    """Role name -> policies the rendered prerequisites template adds (empty without one)."""
    from generator.checks.iam_check import prerequisite_policies

    template = _prerequisites(rendered)
    return {} if template is None else prerequisite_policies(template, rendered.region)


def rendered_managed_policies(rendered: Rendered) -> dict[str, Any]:
    """Managed policy name -> document, of the rendered prerequisites (the project roles' boundary is one)."""
    from generator.checks.iam_check import managed_policies

    template = _prerequisites(rendered)
    return {} if template is None else managed_policies(template, rendered.region)


def localized(node: Any, org: Organisation | None) -> Any:
    """Rendered policies with the rendered organisation, OU and account ids replaced by the local ones standing in
    for them (as the launch does with the product's parameters): the bootstrap templates hold them as literals
    (an `aws:ResourceOrgID`/`aws:ResourceOrgPaths` condition), which the launch's parameters cannot reach."""
    if org is None:
        return node
    if isinstance(node, dict):
        return {k: localized(v, org) for k, v in node.items()}
    if isinstance(node, list):
        return [localized(v, org) for v in node]
    if isinstance(node, str):
        pairs = [
            (org.rendered_org_id, org.org_id),
            *((org.rendered_ou[s], org.ou[s]) for s in org.rendered_ou if s in org.ou),
        ]
        pairs += list(org.account_map.items())
        for rendered, local in pairs:
            if rendered:
                node = node.replace(rendered, local)
    return node


def role_arn(value: str, partition: str = "aws") -> str:
    """A role name or ARN as an ARN in the management account."""
    return value if value.startswith("arn:") else f"arn:{partition}:iam::{MANAGEMENT_ACCOUNT}:role/{value}"


class ProductRoles:
    """Identities (and local credentials) for the management-account roles the product's resources run as."""

    def __init__(self, rendered: Rendered, authorizer: Authorizer, org: Organisation | None = None) -> None:
        self.authorizer = authorizer
        self.added = localized(added_policies(rendered), org)
        self.managed = localized(rendered_managed_policies(rendered), org)
        self._identities: dict[str, Identity] = {}
        self._credentials: dict[str, dict[str, str]] = {}

    def identity(self, arn: str, label: str) -> Identity:
        """The role `arn` runs as (the first label given names it in the report)."""
        from generator.checks.iam_check import role_policies
        from generator.checks.runtime_iam import role_name

        if arn not in self._identities:
            policies = role_policies(role_name(arn), self.added) or moto_role_policies(MANAGEMENT_ACCOUNT, arn)
            # A role the launch created with a boundary (the project's own roles): identity and boundary both decide.
            boundary_arn = moto_role_boundary(MANAGEMENT_ACCOUNT, arn)
            boundary = None
            if boundary_arn:
                name = boundary_arn.rsplit("/", 1)[-1]
                boundary = {name: self.managed[name]} if name in self.managed else {}
            self._identities[arn] = Identity(arn, label, policies, boundary, moto_role_tags(MANAGEMENT_ACCOUNT, arn))
        return self._identities[arn]

    def credentials(self, arn: str, label: str) -> dict[str, str]:
        """Local credentials of the role (one access key per role, kept for the whole rehearsal)."""
        if arn not in self._credentials:
            self._credentials[arn] = self.authorizer.credentials(self.identity(arn, label))
        return self._credentials[arn]
