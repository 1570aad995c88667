"""`mlops-gen destroy`: remove a project's stack sets, the cleanup the source article does by hand.

Deleting the SageMaker project (its Service Catalog product) leaves the two deploy stack sets and
their endpoints in every staging and prod account. This finds them by name (naming.py's patterns,
rendered for the project's name and id), deletes their instances (`RetainStacks=False`, only the
targets that exist, with the chosen admin mode and operation preferences), waits with the same bounded
waiter deploy.py uses, then deletes the stack sets.

`plan` only reads (DescribeStackSet, ListStackInstances): it is the dry run, and `apply` acts on it.
Clients are injected, so tests run it on moto. Nothing here prints.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from botocore.exceptions import ClientError, WaiterError
from botocore.waiter import WaiterModel, create_waiter_with_client

from generator.config import OperationPreferences, StackSetAdmin
from generator.errors import InputError
from generator.naming import DEFAULT_PREFIX, PROJECT_ID_PATTERN, PROJECT_NAME_PATTERN, Names, Stage, prefix_problem
from generator.shipped import SEED_DIR

#: The stack-set operation waiter the seed's deploy/deploy.py uses: one botocore waiter model, one file.
WAITER_MODEL: dict[str, Any] = json.loads((SEED_DIR / "deploy" / "stackset-operation-waiter.json").read_text("utf-8"))
(WAITER_NAME,) = WAITER_MODEL["waiters"]
WAITER_DELAY: int = WAITER_MODEL["waiters"][WAITER_NAME]["delay"]
WAITER_MAX_ATTEMPTS: int = WAITER_MODEL["waiters"][WAITER_NAME]["maxAttempts"]


@dataclass(frozen=True)
class DestroyOptions:
    """Which project, and how its stack sets are administered (as rendered)."""

    project_name: str
    project_id: str
    name_prefix: str = DEFAULT_PREFIX
    stackset_admin: StackSetAdmin = StackSetAdmin.MANAGEMENT
    #: Stage -> OU id: where SERVICE_MANAGED instances are, when ListStackInstances does not say.
    ous: Mapping[Stage, str] = field(default_factory=dict)
    preferences: OperationPreferences = field(default_factory=OperationPreferences)

    @property
    def call_as(self) -> str:
        return "DELEGATED_ADMIN" if self.stackset_admin is StackSetAdmin.DELEGATED else "SELF"


@dataclass
class StackSetPlan:
    """One stack set: whether it exists, its permission model and its instances (account, region, OU)."""

    stage: str
    name: str
    exists: bool = False
    permission_model: str = ""
    instances: list[tuple[str, str, str]] = field(default_factory=list)
    problem: str = ""


@dataclass
class DestroyReport:
    """What was (or would be) removed, and what could not be."""

    dry_run: bool
    call_as: str
    removed: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    absent: list[str] = field(default_factory=list)
    plan: list[StackSetPlan] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["plan"] = [
            {**asdict(p), "instances": [{"account": a, "region": r, "ou": o} for a, r, o in p.instances]}
            for p in self.plan
        ]
        return data


#: The rules of `PROJECT_NAME_PATTERN` and `PROJECT_ID_PATTERN`, in words for messages.
NAME_RULE = "lowercase letters, digits and hyphens, starting and ending with a letter or digit"


def check_names(project_name: str, project_id: str, prefix: str) -> None:
    """The project name, id and prefix must be ones a render could have produced (InputError if not)."""
    import re

    from generator.naming import PROJECT_ID_MAX, PROJECT_NAME_API_MAX

    for flag, value, pattern, most in (
        ("--project-name", project_name, PROJECT_NAME_PATTERN, PROJECT_NAME_API_MAX),
        ("--project-id", project_id, PROJECT_ID_PATTERN, PROJECT_ID_MAX),
    ):
        shown = value if len(value) <= 40 else value[:37] + "..."
        if not re.match(pattern, value) or len(value) > most:
            raise InputError(flag, f"must be 1 to {most} {NAME_RULE} (as SageMaker shows it); got {shown!r}")
    problem = prefix_problem(prefix)
    if problem:
        raise InputError("--name-prefix", problem)


def stack_set_names(options: DestroyOptions) -> dict[Stage, str]:
    """The project's stack sets, named as the product names them."""
    names = Names(options.name_prefix)
    return {stage: names.stack_set(stage).render(options.project_name, options.project_id) for stage in Stage}


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def plan(cfn: Any, options: DestroyOptions) -> list[StackSetPlan]:
    """Read each stack set and its instances (read-only: this is the dry run)."""
    plans = []
    for stage, name in stack_set_names(options).items():
        item = StackSetPlan(stage.value, name)
        try:
            described = cfn.describe_stack_set(StackSetName=name, CallAs=options.call_as)["StackSet"]
        except ClientError as exc:
            if _code(exc) != "StackSetNotFoundException":
                item.problem = f"DescribeStackSet failed: {exc}"
            plans.append(item)
            continue
        if described.get("Status") == "DELETED":
            plans.append(item)
            continue
        item.exists = True
        item.permission_model = str(described.get("PermissionModel", "SELF_MANAGED"))
        paginator = cfn.get_paginator("list_stack_instances")
        for page in paginator.paginate(StackSetName=name, CallAs=options.call_as):
            for summary in page.get("Summaries", []):
                ou = summary.get("OrganizationalUnitId") or options.ous.get(stage, "")
                item.instances.append((summary["Account"], summary["Region"], ou))
        plans.append(item)
    return plans


def operation_waiter(cfn: Any, delay: int = WAITER_DELAY, max_attempts: int = WAITER_MAX_ATTEMPTS) -> Any:
    model: dict[str, Any] = {**WAITER_MODEL, "waiters": {WAITER_NAME: dict(WAITER_MODEL["waiters"][WAITER_NAME])}}
    model["waiters"][WAITER_NAME].update({"delay": delay, "maxAttempts": max_attempts})
    return create_waiter_with_client(WAITER_NAME, WaiterModel(model), cfn)


def _preferences(options: DestroyOptions, regions: list[str]) -> dict[str, Any]:
    """The deletions' OperationPreferences, with the deploy actions' ConcurrencyMode (generator/product/stacksets.py):
    under the default, STRICT, a failure tolerance of 0 would delete one account at a time."""
    from generator.product.stacksets import CONCURRENCY_MODE

    prefs = options.preferences
    return {
        "FailureTolerancePercentage": prefs.failure_tolerance_percentage,
        "MaxConcurrentPercentage": prefs.max_concurrent_percentage,
        "ConcurrencyMode": CONCURRENCY_MODE,
        "RegionConcurrencyType": prefs.region_concurrency.value.upper(),
        "RegionOrder": regions,
    }


def _targets(item: StackSetPlan) -> dict[str, Any]:
    """Exactly the existing instances: their accounts (self-managed), or their OUs narrowed to them."""
    accounts = sorted({a for a, _, _ in item.instances})
    if item.permission_model != "SERVICE_MANAGED":
        return {"Accounts": accounts}
    ous = sorted({o for _, _, o in item.instances if o})
    return {
        "DeploymentTargets": {
            "OrganizationalUnitIds": ous,
            "Accounts": accounts,
            "AccountFilterType": "INTERSECTION",
        }
    }


def _failed_instances(cfn: Any, name: str, operation_id: str, call_as: str) -> list[str]:
    lines = []
    paginator = cfn.get_paginator("list_stack_set_operation_results")
    for page in paginator.paginate(StackSetName=name, OperationId=operation_id, CallAs=call_as):
        for result in page.get("Summaries", []):
            if result.get("Status") != "SUCCEEDED":
                reason = result.get("StatusReason", "")
                lines.append(f"account {result.get('Account')}, region {result.get('Region')}: {result.get('Status')}"
                             + (f": {reason}" if reason else ""))  # fmt: skip
    return lines


def apply(cfn: Any, options: DestroyOptions, plans: list[StackSetPlan], waiter: Any = None) -> DestroyReport:
    """Delete each planned stack set's instances, wait, then the stack set; report what happened."""
    report = DestroyReport(dry_run=False, call_as=options.call_as, plan=plans)
    waiter = waiter or operation_waiter(cfn)
    for item in plans:
        if item.problem:
            report.failed.append(f"stack set {item.name}: {item.problem}")
            continue
        if not item.exists:
            report.absent.append(f"stack set {item.name}")
            continue
        if item.permission_model == "SERVICE_MANAGED" and any(not o for _, _, o in item.instances):
            report.failed.append(
                f"stack set {item.name}: cannot tell the OU of every instance; pass --{item.stage}-ou (or --config)"
            )
            continue
        try:
            if item.instances:
                regions = sorted({r for _, r, _ in item.instances})
                operation = cfn.delete_stack_instances(
                    StackSetName=item.name,
                    Regions=regions,
                    RetainStacks=False,
                    OperationPreferences=_preferences(options, regions),
                    CallAs=options.call_as,
                    **_targets(item),
                )["OperationId"]
                try:
                    waiter.wait(StackSetName=item.name, OperationId=operation, CallAs=options.call_as)
                except WaiterError as exc:
                    lines = _failed_instances(cfn, item.name, operation, options.call_as)
                    report.failed.append(
                        f"stack set {item.name}: deleting its instances did not succeed ({exc}): " + "; ".join(lines)
                    )
                    continue
                left = _remaining_instances(cfn, item.name, options.call_as)
                gone = [(a, r) for a, r, _ in item.instances if (a, r) not in left]
                report.removed += [f"stack instance {item.name} account {a} region {r}" for a, r in gone]
                if left:
                    report.failed.append(
                        f"stack set {item.name}: kept, because {len(left)} instance(s) are still there after the "
                        f"deletion: {', '.join(f'account {a} region {r}' for a, r in sorted(left))}; run destroy again"
                    )
                    continue
            cfn.delete_stack_set(StackSetName=item.name, CallAs=options.call_as)
            report.removed.append(f"stack set {item.name}")
        except ClientError as exc:
            report.failed.append(f"stack set {item.name}: {exc}")
    return report


def _remaining_instances(cfn: Any, name: str, call_as: str) -> set[tuple[str, str]]:
    """(account, region) of every instance the stack set still has: checked before the stack set goes."""
    left: set[tuple[str, str]] = set()
    for page in cfn.get_paginator("list_stack_instances").paginate(StackSetName=name, CallAs=call_as):
        left |= {(summary["Account"], summary["Region"]) for summary in page.get("Summaries", [])}
    return left


def dry_run(options: DestroyOptions, plans: list[StackSetPlan]) -> DestroyReport:
    """What `apply` would remove (nothing is called beyond the reads of `plan`)."""
    report = DestroyReport(dry_run=True, call_as=options.call_as, plan=plans)
    for item in plans:
        if item.problem:
            report.failed.append(f"stack set {item.name}: {item.problem}")
        elif not item.exists:
            report.absent.append(f"stack set {item.name}")
        else:
            report.removed += [f"stack instance {item.name} account {a} region {r}" for a, r, _ in item.instances]
            report.removed.append(f"stack set {item.name}")
    return report


def destroy_options(
    project_name: str,
    project_id: str,
    flags: Mapping[str, Any],
    file_values: Mapping[str, Any],
    environ: Mapping[str, str] | None = None,
) -> tuple[DestroyOptions, str]:
    """Validate like `render` (same layering and rules for the keys destroy uses); (options, home region)."""
    import os

    from generator.config import RegionConcurrency, _Checker, home_region, layer

    values, origin = layer(flags, file_values)
    check = _Checker(values, origin)
    prefix = check.string("name-prefix")
    check_names(project_name, project_id, prefix)
    region, region_origin = home_region(values["region"], origin["region"], os.environ if environ is None else environ)
    check.region(region, region_origin)
    ous = {stage: check.ou(f"{stage.value}-ou") for stage in Stage if values[f"{stage.value}-ou"] is not None}
    options = DestroyOptions(
        project_name=project_name,
        project_id=project_id,
        name_prefix=prefix,
        stackset_admin=check.choice("stackset-admin", StackSetAdmin),
        ous=ous,
        preferences=OperationPreferences(
            max_concurrent_percentage=check.percentage("max-concurrent-percentage", minimum=1),
            failure_tolerance_percentage=check.percentage("failure-tolerance-percentage", minimum=0),
            region_concurrency=check.choice("region-concurrency", RegionConcurrency),
        ),
    )
    return options, str(region)


def session_client(region: str, profile: str | None, endpoint_url: str | None) -> Any:
    """A CloudFormation client of one boto3 session (stack sets live in the home region)."""
    import boto3
    from botocore.exceptions import ProfileNotFound

    try:
        session = boto3.Session(profile_name=profile, region_name=region)
    except ProfileNotFound:
        raise InputError("--profile", f"no AWS profile named {profile!r}") from None
    return session.client("cloudformation", endpoint_url=endpoint_url)
