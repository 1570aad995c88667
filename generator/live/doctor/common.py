"""What every family of doctor's checks shares: the options, the report line, the client factory,
and how an AWS error reads.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass
from typing import Any, Protocol

from botocore.exceptions import ClientError

from generator.config import (
    ServiceRoles,
    StackSetAdmin,
)
from generator.errors import MlopsGenError
from generator.naming import DEFAULT_PREFIX

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


class ClientFactory(Protocol):
    """(service, assumed-role credentials or None for the caller's own, region or None for the home one) -> client.

    The region matters for the network checks: each stack instance resolves its SSM parameters in its own region."""

    def __call__(
        self, service: str, credentials: Mapping[str, Any] | None = None, /, region: str | None = None
    ) -> Any: ...


class DoctorError(MlopsGenError):
    """The checks cannot start: no credentials, rejected credentials, or no organisation to read."""

    exit_code = 1


@dataclass(frozen=True)
class CheckResult:
    """One line of the report: a stable `name` for automation, and for a failure the fix.

    `warning`: it passes, but against something AWS recommends rather than requires, or what doctor cannot see
    (the detail says which); it never fails the run."""

    name: str
    ok: bool
    detail: str
    fix: str = ""
    warning: bool = False

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
    #: `--check-network`: a sample account per stage is ready for models in its VPC (generator/live/doctor/network.py).
    check_network: bool = False
    #: The render's --build-vpc-id/--build-subnets/--build-security-groups: with --check-network, the pipeline
    #: account's build VPC is checked too (generator/live/doctor/build_vpc.py). None: CodeBuild's own network.
    build_vpc_id: str | None = None
    build_subnets: tuple[str, ...] = ()
    build_security_groups: tuple[str, ...] = ()
    #: The render's --deploy-regions (flag, config file or --rendered's manifest); () when none was given: the
    #: network checks then cover the home region only, and say so.
    deploy_regions: tuple[str, ...] = ()


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", "Unknown"))


def _error(exc: ClientError) -> str:
    error = exc.response.get("Error", {})
    message = error.get("Message")
    return f"{error.get('Code', 'Unknown')}: {message}" if message else str(error.get("Code", "Unknown"))


def _pages(client: Any, operation: str, key: str, **kwargs: Any) -> Iterator[Any]:
    for page in client.get_paginator(operation).paginate(**kwargs):
        yield from page.get(key, [])
