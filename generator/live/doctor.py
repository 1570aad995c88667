"""`mlops-gen doctor`: preflight checks against the live organisation, before anyone launches the product.

A rendered product only deploys if the organisation around it is right: the pipeline must run in
the management account (CodePipeline's StackSet action cannot act as a delegated administrator),
StackSets trusted access must be on, the two OUs must exist, differ and hold active accounts, and
the management account must not sit in a target OU (SERVICE_MANAGED stack sets skip it silently).
Each check is a small function over injected boto3 clients that returns a `CheckResult` with the
fix spelled out; nothing here prints, so the CLI chooses a table or JSON.

With `--check-roles` it also checks, per target account, the target role a platform engineer cannot
assume (its trust admits only the pipeline's CodeBuild role and SageMaker): the target-role stack set
has a CURRENT/SUCCEEDED instance there, and, read through the account-access role Organizations
creates in the accounts it creates, the role's trust policy admits the CodeBuild role and SageMaker.

Readers only: every call is a Describe/List/Get, plus `sts:AssumeRole` of the account-access role.
"""

from __future__ import annotations

import json
import os
import urllib.parse
from collections.abc import Callable, Iterator, Mapping
from dataclasses import asdict, dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError, PartialCredentialsError, ProfileNotFound

from generator.checks.runtime_iam import tagging_context
from generator.companions.target_role import PIPELINE_ACCOUNT, PIPELINE_ROLE
from generator.config import (
    ORG_ID_PATTERN,
    ROLE_NAME_PATTERN,
    ServiceRoles,
    StackSetAdmin,
    _Checker,
    home_region,
    layer,
    service_roles_option,
)
from generator.contract import PROJECT_SESSION_TAG
from generator.errors import InputError, MlopsGenError
from generator.iam import iam_eval
from generator.iam.trust import TrustPrincipal, evaluate_trust
from generator.naming import DEFAULT_PREFIX, PROJECT_ROLE_PATH, BootstrapNames, Names, prefix_problem
from generator.product.org_id import check_org_id
from generator.product.parameters import PER_SERVICE_ROLES, USE_ROLE

if TYPE_CHECKING:
    from rich.table import Table

#: The service principal of CloudFormation StackSets in Organizations (trusted access and delegated admins).
#: https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/stacksets-orgs-delegated-admin.html
STACKSETS_PRINCIPAL = "member.org.stacksets.cloudformation.amazonaws.com"
ROADMAP_ISSUE = "https://github.com/aws-cloudformation/cloudformation-coverage-roadmap/issues/796"
#: Error codes that mean "your identity may not do this" rather than "this does not exist".
ACCESS_DENIED = frozenset({"AccessDenied", "AccessDeniedException", "UnauthorizedOperation"})
SESSION_NAME = "mlops-gen-doctor"
#: The role Organizations creates in every account it creates (CreateAccount's RoleName default), trusting
#: the management account. https://docs.aws.amazon.com/organizations/latest/userguide/orgs_manage_accounts_access-cross-account-role.html
ACCOUNT_ACCESS_ROLE = "OrganizationAccountAccessRole"
SAGEMAKER = "sagemaker.amazonaws.com"
#: Shortest session STS allows: the credentials are used for one GetRole call.
SESSION_SECONDS = 900
#: Accounts named in a detail before "and N more".
SHOWN_ACCOUNTS = 5

#: (service, assumed-role credentials or None for the caller's own) -> boto3 client.
ClientFactory = Callable[[str, Mapping[str, Any] | None], Any]


class DoctorError(MlopsGenError):
    """The checks cannot start: no credentials, rejected credentials, or no organisation to read."""

    exit_code = 1


@dataclass(frozen=True)
class CheckResult:
    """One line of the report: a stable `name` for automation, and for a failure the fix."""

    name: str
    ok: bool
    detail: str
    fix: str = ""

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class DoctorOptions:
    """The validated flags (and mlops-gen.toml values) doctor needs."""

    staging_ou: str
    prod_ou: str
    region: str
    target_role_name: str
    check_roles: bool = False
    #: The render's --stackset-admin: with "delegated", a registered delegated administrator passes.
    stackset_admin: StackSetAdmin = StackSetAdmin.MANAGEMENT
    #: The render's --service-roles: which role of the staging test the target role must trust.
    service_roles: ServiceRoles = ServiceRoles.PROJECT
    #: The render's --name-prefix: it names the target-role stack set.
    name_prefix: str = DEFAULT_PREFIX
    #: A role in each target account the caller may assume to read the target role's trust policy.
    account_access_role: str = ACCOUNT_ACCESS_ROLE
    #: The render's --org-id (None: doctor reports the organisation's id to render with).
    org_id: str | None = None
    #: `--check-network`: a sample account per stage is ready for models in its VPC (generator/doctor_network.py).
    check_network: bool = False


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


def doctor_options(
    flags: Mapping[str, Any], file_values: Mapping[str, Any], environ: Mapping[str, str] | None = None
) -> DoctorOptions:
    """Validate like `render` does (same layering, OU and role-name rules), or raise `InputError`.

    Two equal OUs are not an input error here: "the OUs differ" is one of the checks.
    """
    values, origin = layer(flags, file_values)
    check = _Checker(values, origin)
    staging_ou = check.ou("staging-ou")
    prod_ou = check.ou("prod-ou")
    region, region_origin = home_region(values["region"], origin["region"], os.environ if environ is None else environ)
    check.region(region, region_origin)
    role_rule = "an IAM role name (1-64 of letters, digits and +=,.@_-)"
    role = check.pattern("target-role-name", ROLE_NAME_PATTERN, role_rule)
    name_prefix = check.string("name-prefix")
    problem = prefix_problem(name_prefix)
    if problem:
        raise check.fail("name-prefix", problem)
    access_role = flags.get("account-access-role") or ACCOUNT_ACCESS_ROLE
    if not isinstance(access_role, str) or not ROLE_NAME_PATTERN.match(access_role):
        raise InputError("--account-access-role", f"must be {role_rule}; got {access_role!r}")
    return DoctorOptions(
        staging_ou=staging_ou,
        prod_ou=prod_ou,
        region=region,
        target_role_name=role,
        check_roles=bool(flags.get("check-roles")),
        stackset_admin=check.choice("stackset-admin", StackSetAdmin),
        service_roles=service_roles_option(check),
        name_prefix=name_prefix,
        account_access_role=access_role,
        org_id=check.optional_pattern("org-id", ORG_ID_PATTERN, "an AWS Organizations id like o-a1b2c3d4e5"),
        check_network=bool(flags.get("check-network")),
    )


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", "Unknown"))


def _error(exc: ClientError) -> str:
    error = exc.response.get("Error", {})
    message = error.get("Message")
    return f"{error.get('Code', 'Unknown')}: {message}" if message else str(error.get("Code", "Unknown"))


def _pages(client: Any, operation: str, key: str, **kwargs: Any) -> Iterator[Any]:
    for page in client.get_paginator(operation).paginate(**kwargs):
        yield from page.get(key, [])


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


# --- --check-roles: the target role in every target account ---------------------------------------------------------


@dataclass(frozen=True)
class RoleTargets:
    """What `--check-roles` compares every target account with."""

    stack_set: str
    #: CallAs of ListStackInstances: SELF, or DELEGATED_ADMIN for a stack set a delegated administrator made.
    call_as: str
    region: str
    role_name: str
    access_role: str

    @property
    def call_as_flag(self) -> str:
        return " --call-as DELEGATED_ADMIN" if self.call_as == "DELEGATED_ADMIN" else ""


@dataclass(frozen=True)
class RoleRead:
    """The target role's trust policy read through the account-access role, or why it was not read."""

    policy: Mapping[str, Any] | None = None
    #: Why the trust was not inspected (the access role or GetRole was refused), or GetRole's NoSuchEntity.
    why: str = ""
    #: The access role worked, and the account has no role of that name.
    missing: bool = False


def build_role_arn(caller: Caller, service_roles: ServiceRoles, name_prefix: str = DEFAULT_PREFIX) -> str:
    """The role that runs the staging test (it assumes the target role), as `render` names it: the shared CodeBuild
    role, or with `--service-roles project` a sample project's own test role (generator/product/project_roles.py)."""
    if service_roles is ServiceRoles.PROJECT:
        sample = Names(name_prefix).project_role("test").render("doctor", "p-doctor")
        return f"arn:{caller.partition}:iam::{caller.account}:role{PROJECT_ROLE_PATH}{sample}"
    name = USE_ROLE if service_roles is ServiceRoles.USE_ROLE else PER_SERVICE_ROLES["build"]
    return f"arn:{caller.partition}:iam::{caller.account}:role/service-role/{name}"


def expected_principals(options: DoctorOptions, caller: Caller, account_id: str) -> tuple[TrustPrincipal, ...]:
    """The pipeline's CodeBuild role (in the caller's account) and SageMaker acting in `account_id`.

    SageMaker's context is what it sends when it assumes an endpoint's role in that account:
    aws:SourceAccount and a SageMaker ARN there as aws:SourceArn (the generated trust checks the latter).
    """
    build_arn = build_role_arn(caller, options.service_roles, options.name_prefix)
    pipeline = {
        "aws:PrincipalArn": build_arn,
        "aws:PrincipalAccount": caller.account,
        "aws:PrincipalType": "AssumedRole",
    }
    if caller.organization_id:
        pipeline["aws:PrincipalOrgID"] = caller.organization_id
    # The test names its project by a session tag; a project's own test role carries that project's id as a tag.
    sample_id = [(PROJECT_SESSION_TAG, "doctor-p-doctor")]
    own = sample_id if options.service_roles is ServiceRoles.PROJECT else []
    pipeline |= dict(tagging_context(sample_id, own))
    source = f"arn:{caller.partition}:sagemaker:{options.region}:{account_id}:endpoint/{options.name_prefix}doctor"
    sagemaker = {"aws:SourceAccount": account_id, "aws:SourceArn": source, "aws:PrincipalServiceName": SAGEMAKER}
    return TrustPrincipal("AWS", build_arn, pipeline), TrustPrincipal("Service", SAGEMAKER, sagemaker)


def list_stack_instances(cloudformation: Any, targets: RoleTargets) -> dict[str, list[Mapping[str, Any]]]:
    """Account -> its instances of the target-role stack set (raises `ClientError`)."""
    by_account: dict[str, list[Mapping[str, Any]]] = {}
    for summary in _pages(
        cloudformation, "list_stack_instances", "Summaries", StackSetName=targets.stack_set, CallAs=targets.call_as
    ):
        by_account.setdefault(summary["Account"], []).append(summary)
    return by_account


def read_trust_policy(
    sts: Any, make_client: ClientFactory, caller: Caller, account_id: str, targets: RoleTargets
) -> RoleRead:
    """The target role's trust policy, read through the account-access role (Organizations' admin role)."""
    access_arn = f"arn:{caller.partition}:iam::{account_id}:role/{targets.access_role}"
    try:
        assumed = sts.assume_role(RoleArn=access_arn, RoleSessionName=SESSION_NAME, DurationSeconds=SESSION_SECONDS)
    except ClientError as exc:
        return RoleRead(why=f"cannot assume {access_arn} ({_error(exc)})")
    iam = make_client("iam", assumed["Credentials"])
    try:
        role = iam.get_role(RoleName=targets.role_name)["Role"]
    except ClientError as exc:
        if _code(exc) == "NoSuchEntity":
            return RoleRead(why=_error(exc), missing=True)
        return RoleRead(why=f"GetRole as {access_arn} failed ({_error(exc)})")
    document = role.get("AssumeRolePolicyDocument") or {}
    if isinstance(document, str):  # boto3 decodes IAM's URL-encoded JSON; be safe with other clients
        document = json.loads(urllib.parse.unquote(document))
    return RoleRead(policy=document)


def _instance_text(instance: Mapping[str, Any]) -> str:
    detailed = instance.get("StackInstanceStatus", {}).get("DetailedStatus", "UNKNOWN")
    reason = f": {instance['StatusReason']}" if instance.get("StatusReason") else ""
    return f"{instance.get('Region', '?')} {instance.get('Status', 'UNKNOWN')}/{detailed}{reason}"


def _is_current(instance: Mapping[str, Any]) -> bool:
    detailed = instance.get("StackInstanceStatus", {}).get("DetailedStatus")
    return (instance.get("Status"), detailed) == ("CURRENT", "SUCCEEDED")


def _deploy_fix(targets: RoleTargets, caller: Caller) -> str:
    return (
        f"Deploy target-role-stackset.yaml from `mlops-gen render` as a stack in account {caller.account}: its "
        f"stack set {targets.stack_set} puts the role into every account of both OUs, and auto-deploys to accounts "
        "that join them later. If it is deployed, add the account's OU: `aws cloudformation create-stack-instances "
        f"--stack-set-name {targets.stack_set} --deployment-targets OrganizationalUnitIds=<its OU> "
        f"--regions {targets.region}{targets.call_as_flag}`."
    )


def _instance_fix(bad: list[Mapping[str, Any]], targets: RoleTargets) -> str:
    statuses = {i.get("Status") for i in bad}
    detailed = {i.get("StackInstanceStatus", {}).get("DetailedStatus") for i in bad}
    if "INOPERABLE" in statuses or "INOPERABLE" in detailed:
        return (
            "INOPERABLE: a DeleteStackInstances operation failed and left the stack unstable, or StackSets could "
            "not act in the account; users see it most when the account lacks the stack-set execution trust (the "
            "StatusReason names the role: for SERVICE_MANAGED stack sets the execution role StackSets keeps in each "
            "member account through the service-linked role AWSServiceRoleForCloudFormationStackSetsOrgMember). "
            "Restore what the reason names, remove the instance with "
            f"`aws cloudformation delete-stack-instances --stack-set-name {targets.stack_set} --retain-stacks "
            f"--deployment-targets OrganizationalUnitIds=<its OU> --regions {targets.region}{targets.call_as_flag}` "
            "(delete a retained stack by hand), then create it again."
        )
    if detailed <= {"PENDING", "RUNNING"}:
        return "A stack set operation is still running for this account: wait for it, then run doctor again."
    return (
        "The stack set's last operation did not succeed here (the reason says why, e.g. a role of that name "
        f"already exists in the account). Fix the cause, then re-run it: `aws cloudformation update-stack-set "
        f"--stack-set-name {targets.stack_set} --use-previous-template --capabilities CAPABILITY_NAMED_IAM "
        f"--parameters ParameterKey={PIPELINE_ACCOUNT},UsePreviousValue=true "
        f"ParameterKey={PIPELINE_ROLE},UsePreviousValue=true{targets.call_as_flag}`."
    )


def trust_findings(
    policy: Mapping[str, Any], principals: tuple[TrustPrincipal, ...], role_arn: str
) -> tuple[list[str], list[str]]:
    """(principals the trust does not admit, principals it admits only under conditions doctor cannot evaluate)."""
    denied: list[str] = []
    unknown: list[str] = []
    for who in principals:
        result = evaluate_trust(policy, who, role_arn)
        if result.allowed and any(key.startswith("aws:RequestTag/") for key in who.context):
            result = evaluate_trust(policy, who, role_arn, "sts:TagSession")  # passing the session tag
        if result.decision is iam_eval.Decision.CONDITIONAL:
            unknown.append(
                f"for {who.value}, {', '.join(result.statements)} has condition(s) doctor cannot "
                f"evaluate: {'; '.join(result.unevaluated)}"
            )
        elif not result.allowed:
            how = f"denied by {', '.join(result.statements)}" if result.statements else "no statement allows it"
            denied.append(f"does not let {who.value} assume it ({how})")
    return denied, unknown


def check_target_role(
    targets: RoleTargets,
    caller: Caller,
    stage: str,
    account_id: str,
    instances: list[Mapping[str, Any]],
    role: RoleRead,
    principals: tuple[TrustPrincipal, ...],
) -> CheckResult:
    """The account's stack instance is CURRENT/SUCCEEDED, and (when readable) the role's trust admits the principals.

    A trust that could not be read does not fail the check: the instance says the stack set's role
    is there, and the detail says what was not inspected.
    """
    name = f"target-role:{account_id}"
    where = f"stack set {targets.stack_set} (CallAs {targets.call_as})"
    if not instances:
        return CheckResult(
            name, False, f"{stage}: no instance of {where} in account {account_id}", _deploy_fix(targets, caller)
        )
    bad = [i for i in instances if not _is_current(i)]
    if bad:
        detail = f"{stage}: instance(s) of {where} not CURRENT/SUCCEEDED: " + "; ".join(_instance_text(i) for i in bad)
        return CheckResult(name, False, detail, _instance_fix(bad, targets))
    deployed = f"{stage}: instance CURRENT/SUCCEEDED in {', '.join(sorted(str(i.get('Region')) for i in instances))}"
    role_arn = f"arn:{caller.partition}:iam::{account_id}:role/{targets.role_name}"
    if role.policy is None and not role.missing:
        return CheckResult(name, True, f"{deployed}; trust not inspected: {role.why}")
    if role.policy is None:
        return CheckResult(
            name,
            False,
            f"{deployed}, but {role_arn} does not exist ({role.why}): the stack set deploys another role name, "
            "or the role was deleted by hand",
            f"Run doctor with the render's --target-role-name, or update the stack of target-role-stackset.yaml "
            f"to put {targets.role_name} back.",
        )
    denied, unknown = trust_findings(role.policy, principals, role_arn)
    read = f"read through {targets.access_role}"
    if not denied and not unknown:
        admitted = " and ".join(who.value for who in principals)
        return CheckResult(name, True, f"{deployed}; the trust of {role_arn} admits {admitted} ({read})")
    detail = f"{deployed}; the trust of {role_arn} ({read}) " + "; ".join(denied + unknown)
    fixes = []
    if denied:
        build = next((who for who in principals if who.kind == "AWS"), None)
        role_name = build.value.rsplit("/", 1)[1] if build else "<role>"
        # The project roles' trust names no role parameter: it admits every project test role by pattern.
        project = f"{PROJECT_ROLE_PATH}" in (build.value if build else "")
        role_parameter = "" if project else f", {PIPELINE_ROLE} {role_name}"
        fixes.append(
            "Render with the --service-roles and --target-role-name the project uses, and update the stack of "
            f"target-role-stackset.yaml from account {caller.account} ({PIPELINE_ACCOUNT} {caller.account}"
            f"{role_parameter}); an edit by hand is lost at the next stack set update."
        )
    if unknown:
        fixes.append(
            "doctor cannot tell whether those conditions hold for the pipeline's request: check them by hand, or "
            "use the generated trust policy."
        )
    return CheckResult(name, False, detail, " ".join(fixes))


def check_target_roles(
    options: DoctorOptions,
    caller: Caller,
    kind: CallerKind,
    sts: Any,
    make_client: ClientFactory,
    accounts: Mapping[str, str],
) -> list[CheckResult]:
    """One `target-role:<account>` result per target account (account id -> stage)."""
    delegated = kind is CallerKind.DELEGATED_ADMIN and options.stackset_admin is StackSetAdmin.DELEGATED
    targets = RoleTargets(
        stack_set=BootstrapNames(options.name_prefix).target_role_stack_set,
        call_as="DELEGATED_ADMIN" if delegated else "SELF",
        region=options.region,
        role_name=options.target_role_name,
        access_role=options.account_access_role,
    )
    try:
        instances = list_stack_instances(make_client("cloudformation", None), targets)
    except ClientError as exc:
        where = f"stack set {targets.stack_set} (CallAs {targets.call_as})"
        if _code(exc) == "StackSetNotFoundException":
            fix = _deploy_fix(targets, caller)
        else:
            fix = f"Run doctor with credentials of account {caller.account} allowed cloudformation:ListStackInstances."
        return [
            CheckResult(
                f"target-role:{account}", False, f"{stage}: cannot list the instances of {where} ({_error(exc)})", fix
            )
            for account, stage in accounts.items()
        ]
    results = []
    for account, stage in accounts.items():
        mine = instances.get(account, [])
        deployed = bool(mine) and all(map(_is_current, mine))
        role = read_trust_policy(sts, make_client, caller, account, targets) if deployed else RoleRead()
        principals = expected_principals(options, caller, account)
        results.append(check_target_role(targets, caller, stage, account, mine, role, principals))
    return results


def not_checked(name: str, caller: Caller) -> CheckResult:
    """A check skipped because the caller may not read the organisation."""
    return CheckResult(
        name,
        False,
        "not checked: only the management account or a delegated administrator may read the organisation",
        f"Run doctor with credentials of the management account {caller.management_account}.",
    )


def run_checks(options: DoctorOptions, sts: Any, organizations: Any, make_client: ClientFactory) -> list[CheckResult]:
    """Every check, in order; raises `DoctorError` only when none can run (no credentials, no organisation)."""
    caller = read_caller(sts, organizations)
    caller_result, kind = check_caller(organizations, caller, options.stackset_admin)
    results = [caller_result, check_organization_id(caller, options.org_id)]
    stages = {"staging": options.staging_ou, "prod": options.prod_ou}
    if kind is CallerKind.MEMBER:
        skipped = ["trusted-access", "staging-ou", "prod-ou", "ous-differ", "staging-accounts", "prod-accounts"]
        return results + [not_checked(name, caller) for name in [*skipped, "management-not-target"]]

    results.append(check_trusted_access(organizations, caller))
    trees: dict[str, OuTree] = {}
    for stage, ou_id in stages.items():
        result, tree = check_ou_exists(organizations, stage, ou_id)
        results.append(result)
        if tree is not None:
            trees[stage] = tree
    results.append(check_ous_differ(options.staging_ou, options.prod_ou, trees.get("staging"), trees.get("prod")))
    results += [check_active_accounts(stage, tree, caller) for stage, tree in trees.items()]
    results.append(check_management_not_target(caller, trees))
    if options.check_roles:
        targets: dict[str, str] = {}
        for stage, tree in trees.items():
            for account in tree.active_accounts(caller.management_account):
                targets.setdefault(account.id, stage)
        results += check_target_roles(options, caller, kind, sts, make_client, targets)
    if options.check_network:  # a sample account per stage (generator/doctor_network.py)
        from generator.doctor_network import check_networks, sample_accounts

        samples = sample_accounts(trees, caller.management_account)
        results += check_networks(
            sts, make_client, caller.partition, options.region, options.account_access_role, samples
        )
    return results


def session_clients(
    options: DoctorOptions, profile: str | None, endpoint_url: str | None
) -> tuple[Any, Any, ClientFactory]:
    """(sts, organizations, factory) from one boto3 session; the factory also builds assumed-role clients."""
    import boto3

    try:
        session = boto3.Session(profile_name=profile, region_name=options.region)
    except ProfileNotFound:
        raise InputError("--profile", f"no AWS profile named {profile!r}") from None

    def make_client(service: str, credentials: Mapping[str, Any] | None = None) -> Any:
        keys: dict[str, Any] = {}
        if credentials is not None:
            keys = {
                "aws_access_key_id": credentials["AccessKeyId"],
                "aws_secret_access_key": credentials["SecretAccessKey"],
                "aws_session_token": credentials["SessionToken"],
            }
        return session.client(service, endpoint_url=endpoint_url, **keys)

    return make_client("sts"), make_client("organizations"), make_client


def report(results: list[CheckResult]) -> dict[str, Any]:
    """The `--json` document."""
    return {"ok": all(r.ok for r in results), "checks": [r.as_dict() for r in results]}


def results_table(results: list[CheckResult]) -> Table:
    """A rich table (check, result, detail, fix); text is never read as markup."""
    from rich.table import Table
    from rich.text import Text

    table = Table(title="mlops-gen doctor", show_lines=True)
    table.add_column("check", no_wrap=True)
    table.add_column("result", no_wrap=True)
    table.add_column("detail", overflow="fold")
    table.add_column("fix", overflow="fold")
    for r in results:
        result = Text("pass", style="green") if r.ok else Text("FAIL", style="bold red")
        table.add_row(Text(r.name), result, Text(r.detail), Text(r.fix))
    return table
