"""doctor's checks of the organisation: who calls (management account or delegated StackSets
administrator), the organisation's id, StackSets trusted access, and the two target OUs (exist,
differ, hold active accounts, do not hold the management account).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError, PartialCredentialsError

from generator.config import (
    StackSetAdmin,
)
from generator.live.doctor.common import ACCESS_DENIED, SHOWN_ACCOUNTS, CheckResult, DoctorError, _code, _error, _pages
from generator.product.org_id import check_org_id

#: The service principal of CloudFormation StackSets in Organizations (trusted access and delegated admins).
#: https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/stacksets-orgs-delegated-admin.html
STACKSETS_PRINCIPAL = "member.org.stacksets.cloudformation.amazonaws.com"
ROADMAP_ISSUE = "https://github.com/aws-cloudformation/cloudformation-coverage-roadmap/issues/796"


class CallerKind(StrEnum):
    """What the calling account is to the organisation, as far as StackSets care."""

    MANAGEMENT = "management"
    DELEGATED_ADMIN = "delegated-admin"
    MEMBER = "member"


@dataclass(frozen=True)
class Caller:
    """Who is calling, and the organisation they are in."""

    account: str
    arn: str
    management_account: str
    feature_set: str
    organization_id: str = ""

    @property
    def partition(self) -> str:
        return self.arn.split(":")[1]

    @property
    def is_management(self) -> bool:
        return self.account == self.management_account


@dataclass(frozen=True)
class Account:
    """An account found under a target OU (`state` from `State`, else the older `Status`)."""

    id: str
    name: str
    state: str


@dataclass(frozen=True)
class OuTree:
    """An OU with every OU and account below it: StackSets deploy to nested child OUs too."""

    ou_id: str
    name: str
    ous: tuple[str, ...]
    accounts: tuple[Account, ...]

    def active_accounts(self, management_account: str) -> tuple[Account, ...]:
        """Accounts a SERVICE_MANAGED stack set really deploys to: active ones, never the management account."""
        return tuple(a for a in self.accounts if a.state == "ACTIVE" and a.id != management_account)


def _accounts_text(accounts: tuple[Account, ...]) -> str:
    shown = ", ".join(f"{a.id} ({a.name})" for a in accounts[:SHOWN_ACCOUNTS])
    more = len(accounts) - SHOWN_ACCOUNTS
    return shown + (f" and {more} more" if more > 0 else "")


def read_caller(sts: Any, organizations: Any) -> Caller:
    """The caller's identity and organisation, or a `DoctorError` with one clear line."""
    try:
        identity = sts.get_caller_identity()
    except (NoCredentialsError, PartialCredentialsError):
        raise  # the CLI's error boundary: a setup problem of the user's, exit 2 like every other command

    except ClientError as exc:
        raise DoctorError(f"AWS rejected the credentials ({_error(exc)})") from None
    except BotoCoreError as exc:
        raise DoctorError(f"cannot reach AWS STS: {exc}") from None
    try:
        organization = organizations.describe_organization()["Organization"]
    except ClientError as exc:
        if _code(exc) == "AWSOrganizationsNotInUseException":
            raise DoctorError(f"account {identity['Account']} is not in an AWS organisation ({_error(exc)})") from None
        raise DoctorError(
            f"{identity['Arn']} cannot read the organisation ({_error(exc)}): "
            "run doctor with credentials of the management account"
        ) from None
    except BotoCoreError as exc:
        raise DoctorError(f"cannot reach AWS Organizations: {exc}") from None
    return Caller(
        account=identity["Account"],
        arn=identity["Arn"],
        management_account=organization["MasterAccountId"],
        feature_set=organization.get("FeatureSet", "ALL"),
        organization_id=organization.get("Id", ""),
    )


def check_caller(
    organizations: Any, caller: Caller, admin: StackSetAdmin = StackSetAdmin.MANAGEMENT
) -> tuple[CheckResult, CallerKind]:
    """The pipeline's StackSet deploy action only works from the management account.

    A delegated StackSets administrator can call the CloudFormation API with `CallAs=DELEGATED_ADMIN`,
    but CodePipeline's `CloudFormationStackSet` action has no such setting (issue 796), so a pipeline
    in a delegated-administrator account fails at its first deploy stage.
    """
    name = "caller"
    if caller.is_management:
        return CheckResult(name, True, f"{caller.arn} is in the management account {caller.account}"), (
            CallerKind.MANAGEMENT
        )
    run_there = f"Run the pipeline (create the SageMaker project) in the management account {caller.management_account}"
    try:
        listed = _pages(
            organizations,
            "list_delegated_administrators",
            "DelegatedAdministrators",
            ServicePrincipal=STACKSETS_PRINCIPAL,
        )
        admins = {admin["Id"] for admin in listed}
    except ClientError as exc:
        why = (
            "only the management account and delegated administrators may list delegated administrators"
            if _code(exc) in ACCESS_DENIED
            else "the check could not tell whether it is a StackSets delegated administrator"
        )
        detail = (
            f"{caller.arn}: account {caller.account} is not the management account "
            f"({caller.management_account}); listing StackSets delegated administrators failed "
            f"({_error(exc)}): {why}"
        )
        return CheckResult(name, False, detail, f"{run_there}, and run doctor with its credentials (--profile)."), (
            CallerKind.MEMBER
        )
    if caller.account in admins and admin is StackSetAdmin.DELEGATED:
        detail = (
            f"account {caller.account} is a registered delegated administrator for StackSets (management account "
            f"{caller.management_account}). With --stackset-admin delegated the deploy actions are CodeBuild "
            "projects running deploy/deploy.py, which calls the CloudFormation API with CallAs=DELEGATED_ADMIN "
            "(CodePipeline's own StackSet action could not), so the pipeline may run here."
        )
        return CheckResult(name, True, detail), CallerKind.DELEGATED_ADMIN
    if caller.account in admins:
        detail = (
            f"account {caller.account} is a delegated administrator for StackSets, not the management account "
            f"({caller.management_account}). CodePipeline's CloudFormationStackSet deploy action cannot deploy "
            f"as a delegated administrator (it has no CallAs setting; {ROADMAP_ISSUE}), so the pipeline "
            "fails at its first SERVICE_MANAGED deploy from this account."
        )
        fix = (
            f"{run_there}, or render with `--stackset-admin delegated` and run doctor with it: the deploy actions then "
            "call the CloudFormation API with CallAs=DELEGATED_ADMIN, which a delegated administrator may use."
        )
        return CheckResult(name, False, detail, fix), CallerKind.DELEGATED_ADMIN
    detail = (
        f"{caller.arn}: account {caller.account} is neither the management account ({caller.management_account}) "
        "nor a registered delegated administrator for StackSets"
    )
    return CheckResult(name, False, detail, f"{run_there}, and run doctor with its credentials (--profile)."), (
        CallerKind.MEMBER
    )


def check_organization_id(caller: Caller, expected: str | None) -> CheckResult:
    """The render's --org-id is this organisation's: the product's read grants name it (aws:PrincipalOrgID).

    Without --org-id the check passes and says which id to render with, so a first render without it
    still leads somewhere (publish refuses a product without an OrganizationId default).
    """
    actual = caller.organization_id
    problem = check_org_id(expected, actual)
    if expected is None:
        return CheckResult("org-id", True, f"organisation {actual}: render (and doctor) with --org-id {actual}")
    if problem is None:
        return CheckResult("org-id", True, f"--org-id {expected} is this organisation's id")
    return CheckResult("org-id", False, problem, f"render again with --org-id {actual}")


def check_trusted_access(organizations: Any, caller: Caller) -> CheckResult:
    """SERVICE_MANAGED stack sets need all features and StackSets trusted access in the organisation."""
    name = "trusted-access"
    activate = (
        f"In the management account {caller.management_account}: `aws cloudformation activate-organizations-access` "
        "(console: CloudFormation > StackSets > Activate trusted access)."
    )
    if caller.feature_set != "ALL":
        return CheckResult(
            name,
            False,
            f"the organisation's feature set is {caller.feature_set}: trusted access needs all features",
            f"Enable all features (Organizations console > Settings), then: {activate}",
        )
    try:
        listed = _pages(organizations, "list_aws_service_access_for_organization", "EnabledServicePrincipals")
        enabled = {service["ServicePrincipal"] for service in listed}
    except ClientError as exc:
        return CheckResult(
            name,
            False,
            f"cannot list trusted services ({_error(exc)})",
            "Run doctor with management-account credentials allowed organizations:ListAWSServiceAccessForOrganization.",
        )
    if STACKSETS_PRINCIPAL in enabled:
        return CheckResult(name, True, f"trusted access is enabled for {STACKSETS_PRINCIPAL}")
    return CheckResult(name, False, f"trusted access is not enabled for {STACKSETS_PRINCIPAL}", activate)


def read_ou_tree(organizations: Any, ou_id: str) -> OuTree:
    """The OU, its nested OUs and every account below them (raises `ClientError`)."""
    described = organizations.describe_organizational_unit(OrganizationalUnitId=ou_id)["OrganizationalUnit"]
    ous: list[str] = []
    accounts: list[Account] = []
    queue = [ou_id]
    while queue:
        parent = queue.pop(0)
        ous.append(parent)
        for a in _pages(organizations, "list_accounts_for_parent", "Accounts", ParentId=parent):
            accounts.append(Account(a["Id"], a.get("Name", ""), a.get("State") or a.get("Status", "UNKNOWN")))
        children = _pages(organizations, "list_organizational_units_for_parent", "OrganizationalUnits", ParentId=parent)
        queue += [child["Id"] for child in children]
    return OuTree(ou_id, described.get("Name", ""), tuple(ous), tuple(accounts))


def check_ou_exists(organizations: Any, stage: str, ou_id: str) -> tuple[CheckResult, OuTree | None]:
    """The OU id names an OU of this organisation (and the caller may read it)."""
    name = f"{stage}-ou"
    try:
        tree = read_ou_tree(organizations, ou_id)
    except ClientError as exc:
        if _code(exc) == "OrganizationalUnitNotFoundException":
            fix = (
                f"Pass the right --{stage}-ou: list OUs with `aws organizations list-organizational-units-for-parent "
                "--parent-id <root or OU id>` (root id: `aws organizations list-roots`)."
            )
        else:
            fix = "Run doctor with management-account credentials allowed organizations:Describe*/List*."
        return CheckResult(name, False, f"{ou_id}: {_error(exc)}", fix), None
    nested = len(tree.ous) - 1
    below = f", {nested} nested OU(s)" if nested else ""
    return CheckResult(name, True, f"{ou_id} is {tree.name!r} ({len(tree.accounts)} account(s){below})"), tree


def check_ous_differ(staging_ou: str, prod_ou: str, staging: OuTree | None, prod: OuTree | None) -> CheckResult:
    """Staging and prod must be separate OUs, neither inside the other.

    StackSets deploy to every OU nested in a target OU, so a prod OU inside the staging OU would get
    every untested staging deployment.
    """
    name = "ous-differ"
    fix = "Pass two separate OUs, neither nested in the other, as --staging-ou and --prod-ou."
    if staging_ou == prod_ou:
        return CheckResult(name, False, f"--staging-ou and --prod-ou are both {prod_ou}", fix)
    for inner, outer, tree in (("prod", "staging", staging), ("staging", "prod", prod)):
        inner_ou = prod_ou if inner == "prod" else staging_ou
        if tree is not None and inner_ou in tree.ous:
            detail = f"the {inner} OU {inner_ou} is nested in the {outer} OU {tree.ou_id}: {outer} deployments reach it"
            return CheckResult(name, False, detail, fix)
    if staging is None or prod is None:
        return CheckResult(name, True, f"{staging_ou} and {prod_ou} differ (nesting not checked: an OU is unreadable)")
    return CheckResult(name, True, f"{staging_ou} and {prod_ou} are separate OUs")


def check_active_accounts(stage: str, tree: OuTree, caller: Caller) -> CheckResult:
    """A stage with no active target account deploys nothing, and its test has no endpoint to call."""
    name = f"{stage}-accounts"
    active = tree.active_accounts(caller.management_account)
    if active:
        return CheckResult(name, True, f"{len(active)} active account(s): {_accounts_text(active)}")
    inactive = tuple(a for a in tree.accounts if a.id != caller.management_account)
    seen = f"; found only {', '.join(f'{a.id} ({a.state})' for a in inactive)}" if inactive else ""
    return CheckResult(
        name,
        False,
        f"no ACTIVE account in {tree.ou_id} or its nested OUs{seen}",
        f"Move (or create) at least one {stage} account into {tree.ou_id}: `aws organizations move-account "
        f"--account-id <id> --source-parent-id <current parent> --destination-parent-id {tree.ou_id}`.",
    )


def check_management_not_target(caller: Caller, trees: Mapping[str, OuTree]) -> CheckResult:
    """SERVICE_MANAGED stack sets never deploy to the management account, even when its OU is targeted."""
    name = "management-not-target"
    inside = [stage for stage, tree in trees.items() if any(a.id == caller.management_account for a in tree.accounts)]
    if not inside:
        return CheckResult(name, True, f"management account {caller.management_account} is in neither target OU")
    ou = trees[inside[0]].ou_id
    return CheckResult(
        name,
        False,
        f"management account {caller.management_account} is inside the {' and '.join(inside)} OU ({ou}): "
        "SERVICE_MANAGED stack sets silently skip it, so no endpoint would be deployed there",
        f"Move it back to the root: `aws organizations move-account --account-id {caller.management_account} "
        f"--source-parent-id <its OU> --destination-parent-id <root id>` (root id: `aws organizations list-roots`).",
    )
