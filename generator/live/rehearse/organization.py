"""The rehearsal's organisation: the rendered staging and prod OUs with member accounts, and the
target role deployed into them by the rendered stack set (as the administrator would deploy it).

The rendered OU ids belong to the real organisation; the local one gets new ids. Each rendered id
is mapped to the local OU of the same stage, and that map is the only thing changed in what the
rendered templates say.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from generator.iam.resolve import Resolver
from generator.live.rehearse.report import StepFailed
from generator.live.rehearse.server import MANAGEMENT_ACCOUNT, LocalAws
from generator.naming import Stage

#: The role Organizations creates in every account it creates; administrators reach members through it.
ACCESS_ROLE = "OrganizationAccountAccessRole"
_OU = re.compile(r"^ou-[0-9a-z]{4,32}-[a-z0-9]{8,32}$")
_ACCOUNT = re.compile(r"^\d{12}$")


@dataclass
class Organisation:
    """Local OU id, rendered OU id and ACTIVE member accounts (id -> name) per stage."""

    ou: dict[Stage, str] = field(default_factory=dict)
    rendered_ou: dict[Stage, str] = field(default_factory=dict)
    accounts: dict[Stage, dict[str, str]] = field(default_factory=dict)
    #: Rendered account id (`--staging-accounts`/`--prod-accounts`) -> the local account standing in for it.
    account_map: dict[str, str] = field(default_factory=dict)
    #: The accounts each stage's stack set targets: the listed ones, else every account of the OU.
    targets: dict[Stage, dict[str, str]] = field(default_factory=dict)
    #: The local organisation's id, and the one the product was rendered for (`--org-id`; "" if none).
    org_id: str = ""
    rendered_org_id: str = ""

    def local_ou(self, rendered: str) -> str:
        """The local OU standing in for a rendered OU id (unknown ids pass through unchanged)."""
        for stage, ou in self.rendered_ou.items():
            if ou == rendered:
                return self.ou[stage]
        return rendered

    def local_value(self, rendered: str) -> str:
        """A rendered parameter default with its OU id, or its comma-separated account ids, made local."""
        if rendered and all(a.strip() in self.account_map for a in rendered.split(",")):
            return ",".join(self.account_map[a.strip()] for a in rendered.split(","))
        if self.rendered_org_id and rendered == self.rendered_org_id:
            return self.org_id  # the local organisation stands in for the rendered one, as its OUs do
        return self.local_ou(rendered)

    def stage_of_ou(self, ou: str) -> Stage | None:
        return next((stage for stage, local in self.ou.items() if local == ou), None)

    def as_dict(self) -> dict[str, Any]:
        return {
            "management_account": MANAGEMENT_ACCOUNT,
            "organization_id": self.org_id,
            "rendered_organization_id": self.rendered_org_id,
            "organizational_units": {
                s.value: {"id": self.ou[s], "rendered_id": self.rendered_ou[s], "accounts": self.accounts[s]}
                for s in self.ou
            },
            "targets": {s.value: sorted(self.targets.get(s, {})) for s in self.ou},
            "rendered_accounts": dict(self.account_map),
        }


def rendered_org_id(product: dict[str, Any]) -> str:
    """The organisation the product was rendered for (`--org-id`: the OrganizationId default), or ""."""
    from generator.product.org_id import ORG_ID_PARAMETER

    return str(product.get("Parameters", {}).get(ORG_ID_PARAMETER, {}).get("Default", ""))


def rendered_ous(product: dict[str, Any]) -> dict[Stage, str]:
    """The OU ids the product was rendered for: its OU-typed parameters' defaults, by stage name."""
    found: dict[Stage, str] = {}
    for name, spec in product.get("Parameters", {}).items():
        default = str(spec.get("Default", ""))
        if not _OU.match(default):
            continue
        for stage in Stage:
            if stage.value in name.lower():
                found[stage] = default
    missing = [s.value for s in Stage if s not in found]
    if missing:
        raise StepFailed(f"the product template has no OU parameter (with a default) for {', '.join(missing)}")
    return found


def rendered_accounts(product: dict[str, Any]) -> dict[Stage, list[str]]:
    """Account ids the product was rendered for, by stage: its comma-delimited list parameters' defaults."""
    found: dict[Stage, list[str]] = {}
    for name, spec in product.get("Parameters", {}).items():
        ids = [a.strip() for a in str(spec.get("Default", "")).split(",") if a.strip()]
        if spec.get("Type") != "CommaDelimitedList" or not ids or not all(_ACCOUNT.match(a) for a in ids):
            continue
        for stage in Stage:
            if stage.value in name.lower():
                found[stage] = ids
    return found


def build_organisation(aws: LocalAws, product: dict[str, Any], accounts_per_ou: int) -> Organisation:
    """An organisation (management account = the local default account) with one OU per stage."""
    org = aws.client("organizations")
    org_id = org.create_organization(FeatureSet="ALL")["Organization"]["Id"]
    root = org.list_roots()["Roots"][0]["Id"]
    result = Organisation(rendered_ou=rendered_ous(product), org_id=org_id, rendered_org_id=rendered_org_id(product))
    listed = rendered_accounts(product)
    for stage in Stage:
        ou = org.create_organizational_unit(ParentId=root, Name=stage.value)["OrganizationalUnit"]["Id"]
        result.ou[stage] = ou
        result.accounts[stage] = {}
        # With listed accounts, one more account in the OU than listed: it must get nothing.
        count = max(accounts_per_ou, len(listed[stage]) + 1) if stage in listed else accounts_per_ou
        for n in range(1, count + 1):
            name = f"{stage.value}-{n}"
            status = org.create_account(AccountName=name, Email=f"{name}@example.com")["CreateAccountStatus"]
            org.move_account(AccountId=status["AccountId"], SourceParentId=root, DestinationParentId=ou)
            result.accounts[stage][status["AccountId"]] = name
        members = list(result.accounts[stage])
        for rendered, local in zip(listed.get(stage, []), members, strict=False):
            result.account_map[rendered] = local
        chosen = members[: len(listed[stage])] if stage in listed else members
        result.targets[stage] = {a: result.accounts[stage][a] for a in chosen}
    return result


def _stack_set_resource(template: dict[str, Any]) -> dict[str, Any]:
    sets = [r for r in template.get("Resources", {}).values() if r.get("Type") == "AWS::CloudFormation::StackSet"]
    if len(sets) != 1:
        raise StepFailed(f"the target-role stack-set template holds {len(sets)} stack sets, expected 1")
    return dict(sets[0])


def deploy_target_role(aws: LocalAws, template: dict[str, Any], org: Organisation) -> tuple[str, list[str]]:
    """Create the rendered target-role stack set (from the management account); its name and accounts."""
    props = Resolver(template, {}, region=aws.region, account=MANAGEMENT_ACCOUNT).resolve(
        _stack_set_resource(template)["Properties"]
    )
    cfn = aws.client("cloudformation")
    name = props["StackSetName"]
    create: dict[str, Any] = {
        "StackSetName": name,
        "TemplateBody": props["TemplateBody"],
        "PermissionModel": props.get("PermissionModel", "SELF_MANAGED"),
        "Parameters": props.get("Parameters", []),
        "Capabilities": props.get("Capabilities", []),
    }
    for key in ("Description", "AutoDeployment", "AdministrationRoleARN", "ExecutionRoleName"):
        if key in props:
            create[key] = props[key]
    cfn.create_stack_set(**create)
    # SERVICE_MANAGED: every account of both OUs; SELF_MANAGED: only the listed (targeted) accounts.
    expected = sorted(a for members in org.accounts.values() for a in members)
    for group in props.get("StackInstancesGroup", []):
        targets = dict(group["DeploymentTargets"])
        if "OrganizationalUnitIds" in targets:
            targets["OrganizationalUnitIds"] = [org.local_ou(ou) for ou in targets["OrganizationalUnitIds"]]
        if "Accounts" in targets:
            targets["Accounts"] = [org.account_map.get(a, a) for a in targets["Accounts"]]
            expected = sorted(a for members in org.targets.values() for a in members)
        extra: dict[str, Any] = (
            {"OperationPreferences": props["OperationPreferences"]} if "OperationPreferences" in props else {}
        )
        if set(targets) == {"Accounts"}:
            # Same request for a self-managed stack set; moto reads account lists only from `Accounts`.
            extra["Accounts"] = targets["Accounts"]
        else:
            extra["DeploymentTargets"] = targets
        cfn.create_stack_instances(StackSetName=name, Regions=group["Regions"], **extra)
    instances = cfn.list_stack_instances(StackSetName=name)["Summaries"]
    accounts = sorted({i["Account"] for i in instances})
    if accounts != expected:
        raise StepFailed(f"stack set {name} reached accounts {accounts}, not every staging and prod account {expected}")
    return name, accounts


def target_role_name(template: dict[str, Any]) -> str:
    """The RoleName of the rendered target-role template's role."""
    roles = [r for r in template.get("Resources", {}).values() if r.get("Type") == "AWS::IAM::Role"]
    if len(roles) != 1 or "RoleName" not in roles[0].get("Properties", {}):
        raise StepFailed("the target-role template should hold exactly one named AWS::IAM::Role")
    return str(roles[0]["Properties"]["RoleName"])


def check_role(aws: LocalAws, account: str, role: str) -> bool:
    """Does `role` exist in `account` (asked as the organisation's access role)?"""
    iam = aws.client("iam", aws.assume(account, ACCESS_ROLE))
    try:
        iam.get_role(RoleName=role)
    except iam.exceptions.NoSuchEntityException:
        return False
    return True


def break_account(aws: LocalAws, account: str, role: str) -> None:
    """Delete `role` in `account`, as someone with the organisation's access role might by mistake."""
    iam = aws.client("iam", aws.assume(account, ACCESS_ROLE))
    for name in iam.list_role_policies(RoleName=role)["PolicyNames"]:
        iam.delete_role_policy(RoleName=role, PolicyName=name)
    for policy in iam.list_attached_role_policies(RoleName=role)["AttachedPolicies"]:
        iam.detach_role_policy(RoleName=role, PolicyArn=policy["PolicyArn"])
    iam.delete_role(RoleName=role)
