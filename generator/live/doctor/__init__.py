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

With `--check-network` it checks the networks, each for its role: the models' VPC of a sample account per
stage in every deploy region (network.py: what a network-isolated model needs) and, with the render's
build-VPC options, the
pipeline account's build VPC (build_vpc.py: what CodeBuild and the seed's scripts need); a check may pass
with a warning (recommended, not required, or beyond what doctor can see).

The checks are split by family: organisation (organization.py), target roles (target_roles.py), networks
(network.py, build_vpc.py, vpc.py, vpc_dns.py, sg_egress.py), and what they share (common.py); this module
validates the options, runs the checks and shapes the report.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ProfileNotFound

from generator.config import (
    MAX_SECURITY_GROUPS,
    MAX_SUBNETS,
    ORG_ID_PATTERN,
    ROLE_NAME_PATTERN,
    SECURITY_GROUP_ID,
    SUBNET_ID,
    VPC_ID,
    StackSetAdmin,
    _build_vpc_ids,
    _Checker,
    home_region,
    layer,
    service_roles_option,
)
from generator.errors import InputError
from generator.live.doctor.common import ACCOUNT_ACCESS_ROLE, CheckResult, ClientFactory, DoctorOptions, _code
from generator.live.doctor.organization import (
    Caller,
    CallerKind,
    OuTree,
    check_active_accounts,
    check_caller,
    check_management_not_target,
    check_organization_id,
    check_ou_exists,
    check_ous_differ,
    check_trusted_access,
    read_caller,
)
from generator.live.doctor.target_roles import check_target_roles
from generator.naming import prefix_problem

if TYPE_CHECKING:
    from rich.table import Table


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
        deploy_regions=check.region_list("deploy-regions"),
        **build_vpc_options(values, origin),
    )


def rendered_settings(folder: Path | None) -> dict[str, Any]:
    """The render options `folder`'s manifest recorded (manifest.json `settings`), set ones only; {} without one.

    Doctor then checks what was rendered (the build VPC among it) without the flags being typed again."""
    if folder is None:
        return {}
    from generator.config import RENDER_OPTIONS
    from generator.manifest import read_manifest

    settings = read_manifest(folder).settings
    return {k: v for k, v in settings.items() if k in RENDER_OPTIONS and v is not None and v != []}


def build_vpc_options(values: Mapping[str, Any], origin: Mapping[str, str]) -> dict[str, Any]:
    """The render's build-VPC options (flags or config file), checked as `render` checks them; {} without them."""
    given = [key for key in ("build-vpc-id", "build-subnets", "build-security-groups") if values.get(key)]
    if not given:
        return {}
    if len(given) < 3:
        missing = next(k for k in ("build-vpc-id", "build-subnets", "build-security-groups") if k not in given)
        raise InputError(origin[missing], f"is needed with --{given[0]}: doctor checks the VPC, its subnets and groups")
    vpc = str(values["build-vpc-id"]).strip()
    if not VPC_ID.match(vpc):
        raise InputError(origin["build-vpc-id"], f"{vpc!r} is not a VPC id like vpc-0a1b2c3d4e5f67890")
    return {
        "build_vpc_id": vpc,
        "build_subnets": _build_vpc_ids(
            values["build-subnets"], origin["build-subnets"], SUBNET_ID, "subnet id", MAX_SUBNETS
        ),
        "build_security_groups": _build_vpc_ids(
            values["build-security-groups"],
            origin["build-security-groups"],
            SECURITY_GROUP_ID,
            "security group id",
            MAX_SECURITY_GROUPS,
        ),
    }


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
    if options.check_network:  # a sample account per stage (generator/live/doctor/network.py)
        from generator.live.doctor.network import check_networks, sample_accounts

        samples = sample_accounts(trees, caller.management_account)
        results += check_networks(sts, make_client, caller.partition, options, samples)
        results += build_vpc_results(options, caller, make_client)
    return results


def build_vpc_results(options: DoctorOptions, caller: Caller, make_client: ClientFactory) -> list[CheckResult]:
    """The build VPC's checks in the caller's (the pipeline's) account; none without --build-vpc-id."""
    if not options.build_vpc_id:
        return []
    from botocore.exceptions import ClientError

    from generator.live.doctor.build_vpc import check_build_vpc

    try:
        return check_build_vpc(
            make_client("ec2", None),
            caller.account,
            options.region,
            options.build_vpc_id,
            options.build_subnets,
            options.build_security_groups,
            delegated=options.stackset_admin is StackSetAdmin.DELEGATED,
        )
    except ClientError as exc:  # AccessDenied, throttling: a failed line, not an aborted run
        return [
            CheckResult(
                f"build-network:{caller.account}",
                False,
                f"pipeline account {caller.account}, build VPC {options.build_vpc_id}: {exc.operation_name} failed "
                f"({_code(exc)}); the build VPC is not checked",
                f"Run doctor with credentials of account {caller.account} allowed the EC2 Describe* read calls.",
            )
        ]


def session_clients(
    options: DoctorOptions, profile: str | None, endpoint_url: str | None
) -> tuple[Any, Any, ClientFactory]:
    """(sts, organizations, factory) from one boto3 session; the factory also builds assumed-role clients."""
    import boto3

    try:
        session = boto3.Session(profile_name=profile, region_name=options.region)
    except ProfileNotFound:
        raise InputError("--profile", f"no AWS profile named {profile!r}") from None

    def make_client(service: str, credentials: Mapping[str, Any] | None = None, /, region: str | None = None) -> Any:
        keys: dict[str, Any] = {}
        if credentials is not None:
            keys = {
                "aws_access_key_id": credentials["AccessKeyId"],
                "aws_secret_access_key": credentials["SecretAccessKey"],
                "aws_session_token": credentials["SessionToken"],
            }
        return session.client(service, region_name=region or options.region, endpoint_url=endpoint_url, **keys)

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
        result = Text("FAIL", style="bold red") if not r.ok else Text("warn", style="yellow") if r.warning else None
        result = result or Text("pass", style="green")
        table.add_row(Text(r.name), result, Text(r.detail), Text(r.fix))
    return table
