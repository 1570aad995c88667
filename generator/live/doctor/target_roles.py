"""doctor's `--check-roles`: the target role in every target account. The target-role stack set
has a CURRENT/SUCCEEDED instance there, and the role's trust policy (read through the
account-access role) admits the pipeline's CodeBuild role and SageMaker.
"""

from __future__ import annotations

import json
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from generator.companions.target_role import PIPELINE_ACCOUNT, PIPELINE_ROLE
from generator.config import (
    ServiceRoles,
    StackSetAdmin,
)
from generator.contract import PROJECT_SESSION_TAG
from generator.iam import iam_eval
from generator.iam.trust import ContextValue, TrustPrincipal, evaluate_trust, session_tag_context
from generator.live.doctor.common import (
    SAGEMAKER,
    SESSION_NAME,
    SESSION_SECONDS,
    CheckResult,
    ClientFactory,
    DoctorOptions,
    _code,
    _error,
    _pages,
)
from generator.live.doctor.organization import Caller, CallerKind
from generator.naming import DEFAULT_PREFIX, PROJECT_ROLE_PATH, BootstrapNames, Names
from generator.product.parameters import PER_SERVICE_ROLES, USE_ROLE

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
    pipeline: dict[str, ContextValue] = {
        "aws:PrincipalArn": build_arn,
        "aws:PrincipalAccount": caller.account,
        "aws:PrincipalType": "AssumedRole",
    }
    if caller.organization_id:
        pipeline["aws:PrincipalOrgID"] = caller.organization_id
    # The test names its project by a session tag; a project's own test role carries that project's id as a tag.
    sample_id = [(PROJECT_SESSION_TAG, "doctor-p-doctor")]
    own = sample_id if options.service_roles is ServiceRoles.PROJECT else []
    pipeline |= session_tag_context(sample_id, own)
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
