"""The render configuration: one frozen object, validated once, from flags, a TOML file and env.

Everything downstream receives a `RenderConfig` and never re-checks it. Layering follows copier:
a flag wins over the config file, the file over the environment, the environment over defaults.
Each error names the flag (and the file key it came from) and the rule, so the CLI can print it
as is and exit with code 2.

Over 400 lines because it is the one place the configuration is validated (STYLE.md): the typed fields, the
layering, each option's check and the rules that cross its parts; split, a field and its check would live apart.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum
from functools import cache
from pathlib import Path
from typing import Any

from generator.errors import InputError
from generator.naming import DEFAULT_PREFIX, Names, Stage, prefix_problem

CONFIG_FILE_NAME = "mlops-gen.toml"

#: Organizations OU ids: "ou-" + 4-32 lowercase alphanumerics (the root id) + "-" + 8-32 more.
#: https://docs.aws.amazon.com/organizations/latest/APIReference/API_OrganizationalUnit.html
OU_ID_PATTERN = re.compile(r"^ou-[0-9a-z]{4,32}-[a-z0-9]{8,32}$")
#: IAM role names: 1-64 of these characters. https://docs.aws.amazon.com/IAM/latest/APIReference/API_CreateRole.html
ROLE_NAME_PATTERN = re.compile(r"^[\w+=,.@-]{1,64}$")
#: CodeConnections ARNs, old (codestar-connections) and new service prefix.
CONNECTION_ARN_PATTERN = re.compile(
    r"^arn:aws[a-z-]*:(codestar-connections|codeconnections):[a-z0-9-]+:\d{12}:connection/[0-9a-f-]{36}$"
)
FULL_REPOSITORY_PATTERN = re.compile(r"^[\w.-]+(/[\w.-]+)+$")
#: Git branch names as CodePipeline accepts them (no spaces, no '..', no leading '-').
#: S3 bucket names. https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucketnamingrules.html
BUCKET_PATTERN = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
BRANCH_PATTERN = re.compile(r"^(?!-)(?!.*\.\.)[\w./-]{1,255}$")
#: AWS account ids: exactly 12 digits. https://docs.aws.amazon.com/accounts/latest/reference/manage-acct-identifiers.html
ACCOUNT_ID_PATTERN = re.compile(r"^\d{12}$")
#: AWS Organizations ids: "o-" + 10-32 lowercase letters or digits.
#: https://docs.aws.amazon.com/organizations/latest/APIReference/API_Organization.html
ORG_ID_PATTERN = re.compile(r"^o-[a-z0-9]{10,32}$")
#: The roles self-managed stack sets use unless told otherwise (CloudFormation's documented names).
#: https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/stacksets-prereqs-self-managed.html
DEFAULT_ADMINISTRATION_ROLE = "AWSCloudFormationStackSetAdministrationRole"
DEFAULT_EXECUTION_ROLE = "AWSCloudFormationStackSetExecutionRole"

DEFAULT_TARGET_ROLE = "sagemaker-multi-account-deploy"
#: An email address SNS can subscribe (a pragmatic check: one @, a dotted domain, no spaces).
EMAIL_PATTERN = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
#: IAM role ARNs (any partition, with a path): the Studio execution roles the portfolio is shared with.
ROLE_ARN_PATTERN = re.compile(r"^arn:aws[a-z-]*:iam::\d{12}:role/(?:[\w+=,.@-]+/)*[\w+=,.@-]{1,64}$")
DEFAULT_PORTFOLIO_NAME = "SageMaker multi-account deployment (mlops-gen)"
DEFAULT_PRODUCT_NAME = "Multi-account model deployment (mlops-gen)"
#: Service Catalog limits: portfolio DisplayName 1-100, product Name 1-8191 characters.
#: https://docs.aws.amazon.com/servicecatalog/latest/dg/API_CreatePortfolio.html
#: https://docs.aws.amazon.com/servicecatalog/latest/dg/API_CreateProduct.html
PORTFOLIO_NAME_MAX = 100
PRODUCT_NAME_MAX = 8191


class Source(StrEnum):
    """Where the project's deploy repository lives."""

    CODECOMMIT = "codecommit"
    CODECONNECTIONS = "codeconnections"


class RegionConcurrency(StrEnum):
    """StackSet `RegionConcurrencyType`, lowercased for the CLI."""

    PARALLEL = "parallel"
    SEQUENTIAL = "sequential"


class StackSetAdmin(StrEnum):
    """Which account administers the stack sets: the management account, or a delegated administrator
    (the CloudFormation API with `CallAs=DELEGATED_ADMIN`, which CodePipeline's action cannot do)."""

    MANAGEMENT = "management"
    DELEGATED = "delegated"


class PermissionModel(StrEnum):
    """StackSet `PermissionModel`, lowercased for the CLI: Organizations-managed OU targets, or explicit
    accounts with an administration role and an execution role the organisation created itself."""

    SERVICE_MANAGED = "service-managed"
    SELF_MANAGED = "self-managed"

    @property
    def api_value(self) -> str:
        """`SERVICE_MANAGED` / `SELF_MANAGED`, as the CloudFormation API and CodePipeline spell it."""
        return self.value.upper().replace("-", "_")


class LaunchRole(StrEnum):
    """Which launch role the product is built for (see generator/companions/launch_role.py)."""

    GENERATED = "generated"
    STANDARD = "standard"


class ServiceRoles(StrEnum):
    """Which roles run the pipeline, builds and rules: the project's own (generator/product/project_roles.py),
    or the SageMaker-provided ones every project of the account shares."""

    PROJECT = "project"
    PER_SERVICE = "per-service"
    USE_ROLE = "use-role"


class OutputFormat(StrEnum):
    """Serialisation of the rendered templates."""

    YAML = "yaml"
    JSON = "json"


@dataclass(frozen=True)
class OperationPreferences:
    """StackSet operation preferences for the deploy actions."""

    max_concurrent_percentage: int = 100
    failure_tolerance_percentage: int = 0
    region_concurrency: RegionConcurrency = RegionConcurrency.PARALLEL


@dataclass(frozen=True)
class RenderConfig:
    """Everything `render` needs; built only through `build_config`."""

    staging_ou: str
    prod_ou: str
    region: str
    deploy_regions: tuple[str, ...]
    source: Source = Source.CODECOMMIT
    connection_arn: str | None = None
    repository: str | None = None
    branch: str = "main"
    preferences: OperationPreferences = field(default_factory=OperationPreferences)
    target_role_name: str = DEFAULT_TARGET_ROLE
    launch_role: LaunchRole = LaunchRole.GENERATED
    service_roles: ServiceRoles = ServiceRoles.PER_SERVICE
    name_prefix: str = DEFAULT_PREFIX
    output_format: OutputFormat = OutputFormat.YAML
    seed_bucket: str | None = None
    studio_role_arns: tuple[str, ...] = ()
    portfolio_name: str = DEFAULT_PORTFOLIO_NAME
    product_name: str = DEFAULT_PRODUCT_NAME
    #: People told by email (an SNS topic) when a deployment waits for approval; none: no topic.
    approver_emails: tuple[str, ...] = ()
    stackset_admin: StackSetAdmin = StackSetAdmin.MANAGEMENT
    permission_model: PermissionModel = PermissionModel.SERVICE_MANAGED
    #: Accounts per stage (value of `Stage`): with service-managed, a filter inside the stage's OU
    #: (`AccountFilterType` INTERSECTION); with self-managed, the targets themselves. Empty: the whole OU.
    staging_accounts: tuple[str, ...] = ()
    prod_accounts: tuple[str, ...] = ()
    #: Self-managed only: the administration role (None: the standard one in the pipeline's account)
    #: and the execution role's name in every target account.
    administration_role_arn: str | None = None
    execution_role_name: str | None = None
    #: The organisation's id (`--org-id`): the default of the product's OrganizationId parameter, the
    #: fixed `aws:PrincipalOrgID` that keeps its cross-account grants non-public for S3. None: no default
    #: (publish refuses such a render, see generator/product/org_id.py).
    org_id: str | None = None
    #: The stage accounts have the opt-in regions among the deploy regions enabled (`--opt-in-regions-enabled`).
    opt_in_regions_enabled: bool = False
    #: Customer managed encryption (`--kms-key`): "none", "generated" or a key ARN (generator/product/kms.py).
    kms_key: str = "none"
    #: CodeBuild in a VPC of the pipeline's account (generator/build_network.py); None: CodeBuild's network.
    build_vpc_id: str | None = None
    build_subnets: tuple[str, ...] = ()
    build_security_groups: tuple[str, ...] = ()

    def settings(self) -> dict[str, Any]:
        """The resolved render options, keyed like the flags and TOML keys.

        `manifest.json` carries them so that publish, doctor and destroy read what render decided
        (portfolio, Studio roles, seed bucket, OUs, prefix...) instead of asking for it again.
        """
        prefs = self.preferences
        values: dict[str, Any] = {
            "staging-ou": self.staging_ou,
            "prod-ou": self.prod_ou,
            "region": self.region,
            "deploy-regions": list(self.deploy_regions),
            "opt-in-regions-enabled": self.opt_in_regions_enabled,
            "source": self.source.value,
            "connection-arn": self.connection_arn,
            "repository": self.repository,
            "branch": self.branch,
            "max-concurrent-percentage": prefs.max_concurrent_percentage,
            "failure-tolerance-percentage": prefs.failure_tolerance_percentage,
            "region-concurrency": prefs.region_concurrency.value,
            "target-role-name": self.target_role_name,
            "launch-role": self.launch_role.value,
            "service-roles": self.service_roles.value,
            "name-prefix": self.name_prefix,
            "format": self.output_format.value,
            "seed-bucket": self.seed_bucket,
            "studio-role-arn": list(self.studio_role_arns),
            "portfolio-name": self.portfolio_name,
            "product-name": self.product_name,
            "approver-email": list(self.approver_emails),
            "stackset-admin": self.stackset_admin.value,
            "permission-model": self.permission_model.value,
            "staging-accounts": list(self.staging_accounts),
            "prod-accounts": list(self.prod_accounts),
            "administration-role-arn": self.administration_role_arn,
            "execution-role-name": self.execution_role_name,
            "kms-key": self.kms_key,
            "build-vpc-id": self.build_vpc_id,
            "build-subnets": list(self.build_subnets),
            "build-security-groups": list(self.build_security_groups),
        }
        return values

    @property
    def names(self) -> Names:
        """The physical names for this configuration's prefix."""
        return Names(self.name_prefix)

    def accounts(self, stage: Stage) -> tuple[str, ...]:
        """The accounts listed for a stage; empty when the stage targets its whole OU."""
        return self.staging_accounts if stage is Stage.STAGING else self.prod_accounts

    @property
    def filters_accounts(self) -> bool:
        """Do the service-managed stack sets target only some accounts of their OUs?"""
        return self.permission_model is PermissionModel.SERVICE_MANAGED and bool(
            self.staging_accounts or self.prod_accounts
        )


#: Render option (flag name without dashes) -> default. Also the keys a config file may hold.
RENDER_OPTIONS: dict[str, Any] = {
    "staging-ou": None,
    "prod-ou": None,
    "region": None,
    "deploy-regions": None,
    "opt-in-regions-enabled": False,
    "source": Source.CODECOMMIT.value,
    "connection-arn": None,
    "repository": None,
    "branch": "main",
    "max-concurrent-percentage": 100,
    "failure-tolerance-percentage": 0,
    "region-concurrency": RegionConcurrency.PARALLEL.value,
    "target-role-name": DEFAULT_TARGET_ROLE,
    "launch-role": LaunchRole.GENERATED.value,
    #: None: `project` with the generated launch role, `per-service` with the standard one (`_service_roles`).
    "service-roles": None,
    "name-prefix": DEFAULT_PREFIX,
    "format": OutputFormat.YAML.value,
    "seed-bucket": None,
    "studio-role-arn": None,
    "portfolio-name": DEFAULT_PORTFOLIO_NAME,
    "product-name": DEFAULT_PRODUCT_NAME,
    "approver-email": None,
    "stackset-admin": StackSetAdmin.MANAGEMENT.value,
    "permission-model": PermissionModel.SERVICE_MANAGED.value,
    "staging-accounts": None,
    "prod-accounts": None,
    "administration-role-arn": None,
    "execution-role-name": None,
    "org-id": None,
    "kms-key": "none",
    "build-vpc-id": None,
    "build-subnets": None,
    "build-security-groups": None,
}


@cache
def known_regions() -> frozenset[str]:
    """Regions of every partition in botocore's endpoint data, read without importing botocore."""
    spec = importlib.util.find_spec("botocore")
    if spec is None or not spec.submodule_search_locations:  # pragma: no cover - botocore is a dependency
        raise RuntimeError("botocore is not installed")
    path = Path(next(iter(spec.submodule_search_locations))) / "data" / "endpoints.json"
    data = json.loads(path.read_text(encoding="utf-8"))
    return frozenset(region for partition in data["partitions"] for region in partition["regions"])


def read_config_file(path: Path) -> dict[str, Any]:
    """Parse a TOML config file; unknown keys are errors so a typo cannot be silently ignored."""
    import tomllib  # only when there is a file: it is not free at start-up

    flag = f"--config {path}"
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError("--config", f"file {path} does not exist") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError("--config", f"cannot read {path}: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise InputError(flag, f"is not valid TOML: {exc}") from None
    unknown = sorted(set(data) - set(RENDER_OPTIONS))
    if unknown:
        raise InputError(flag, f"unknown key(s) {', '.join(unknown)}; allowed: {', '.join(sorted(RENDER_OPTIONS))}")
    return data


def find_config_file(explicit: Path | None, cwd: Path) -> Path | None:
    """The `--config` file, else `mlops-gen.toml` in the current folder if there is one."""
    if explicit is not None:
        return explicit
    candidate = cwd / CONFIG_FILE_NAME
    return candidate if candidate.is_file() else None


def layer(flags: Mapping[str, Any], file_values: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    """Merge flags over file values over defaults; also return where each value came from."""
    values: dict[str, Any] = {}
    origin: dict[str, str] = {}
    for key, default in RENDER_OPTIONS.items():
        if flags.get(key) is not None:
            values[key], origin[key] = flags[key], f"--{key}"
        elif key in file_values:
            values[key], origin[key] = file_values[key], f"--{key} ({key} in the config file)"
        else:
            values[key], origin[key] = default, f"--{key}"
    return values, origin


def build_config(
    flags: Mapping[str, Any],
    file_values: Mapping[str, Any] | None = None,
    environ: Mapping[str, str] | None = None,
) -> RenderConfig:
    """Validate the layered options and return the frozen config, or raise `InputError`."""
    values, origin = layer(flags, file_values or {})
    env = os.environ if environ is None else environ
    check = _Checker(values, origin)

    for stage in ("staging", "prod"):
        if values[f"{stage}-accounts"] is not None and values[f"{stage}-ou"] is None:
            raise check.fail(
                f"{stage}-accounts",
                f"needs --{stage}-ou: the accounts are chosen inside that OU (and it scopes the model read policies)",
            )
    staging_ou = check.ou("staging-ou")
    prod_ou = check.ou("prod-ou")
    if staging_ou == prod_ou:
        raise InputError(origin["prod-ou"], f"must differ from --staging-ou (both are {prod_ou})")
    topology = _topology(check)

    region, region_origin = home_region(values["region"], origin["region"], env)
    check.region(region, region_origin)

    deploy_regions = check.region_list("deploy-regions") or (region,)
    opt_in_enabled = values["opt-in-regions-enabled"]
    if not isinstance(opt_in_enabled, bool):
        raise check.fail("opt-in-regions-enabled", f"must be true or false, got {opt_in_enabled!r}")
    if not opt_in_enabled:
        refused = opt_in_problem(deploy_regions)
        if refused:
            raise InputError(origin["deploy-regions"], refused)

    source = check.choice("source", Source)
    connection_arn = values["connection-arn"]
    repository = values["repository"]
    if source is Source.CODECONNECTIONS:
        for key in ("connection-arn", "repository"):
            if values[key] is None:
                raise check.fail(key, "is required with --source codeconnections")
        connection_arn = check.pattern(
            "connection-arn",
            CONNECTION_ARN_PATTERN,
            "a CodeConnections connection ARN (arn:aws:codeconnections:REGION:ACCOUNT:connection/ID)",
        )
        repository = check.pattern(
            "repository", FULL_REPOSITORY_PATTERN, "owner/name of the repository (letters, digits, '.', '_' and '-')"
        )
    elif connection_arn is not None or repository is not None:
        flag = "connection-arn" if connection_arn is not None else "repository"
        raise InputError(origin[flag], "only applies with --source codeconnections")
    branch = check.pattern(
        "branch", BRANCH_PATTERN, "a git branch name: 1-255 letters, digits and ._/-, not starting with '-', no '..'"
    )

    preferences = OperationPreferences(
        max_concurrent_percentage=check.percentage("max-concurrent-percentage", minimum=1),
        failure_tolerance_percentage=check.percentage("failure-tolerance-percentage", minimum=0),
        region_concurrency=check.choice("region-concurrency", RegionConcurrency),
    )
    seed_bucket = values["seed-bucket"]
    if seed_bucket is not None:
        if source is not Source.CODECOMMIT:
            raise InputError(origin["seed-bucket"], "only applies with --source codecommit")
        seed_bucket = check.pattern(
            "seed-bucket",
            BUCKET_PATTERN,
            "an S3 bucket name: 3-63 lowercase letters, digits, '.' and '-', "
            "starting and ending with a letter or digit",
        )
    target_role_name = check.pattern(
        "target-role-name", ROLE_NAME_PATTERN, "an IAM role name (1-64 of letters, digits and +=,.@_-)"
    )

    name_prefix = check.string("name-prefix")
    problem = prefix_problem(name_prefix)
    if problem:
        raise InputError(origin["name-prefix"], problem)
    limit = Names(name_prefix).max_project_name_length()
    if limit < 1:
        tightest = min(Names(name_prefix).all(), key=lambda n: n.name_budget())
        raise InputError(
            origin["name-prefix"],
            f"is too long: it leaves {limit} characters for the project name "
            f"({tightest.key} {tightest.pattern!r} must fit its AWS limit of {tightest.limit}); "
            "choose a shorter prefix",
        )

    cfg = RenderConfig(
        staging_ou=staging_ou,
        prod_ou=prod_ou,
        region=region,
        deploy_regions=deploy_regions,
        source=source,
        connection_arn=connection_arn,
        repository=repository,
        branch=branch,
        preferences=preferences,
        target_role_name=target_role_name,
        launch_role=check.choice("launch-role", LaunchRole),
        service_roles=service_roles_option(check),
        name_prefix=name_prefix,
        output_format=check.choice("format", OutputFormat),
        seed_bucket=seed_bucket,
        studio_role_arns=check.role_arns("studio-role-arn"),
        portfolio_name=check.bounded_string("portfolio-name", PORTFOLIO_NAME_MAX),
        product_name=check.bounded_string("product-name", PRODUCT_NAME_MAX),
        approver_emails=check.emails("approver-email"),
        org_id=check.optional_pattern("org-id", ORG_ID_PATTERN, "an AWS Organizations id like o-a1b2c3d4e5"),
        opt_in_regions_enabled=opt_in_enabled,
        **topology,
    )
    cfg = replace(cfg, kms_key=check_kms_key(values["kms-key"], origin["kms-key"], cfg))
    cfg = check_build_network(values, origin, cfg)  # CodeBuild in a VPC (generator/build_network.py)
    if flags.get("region-concurrency") is not None or "region-concurrency" in (file_values or {}):
        check_region_concurrency(cfg, origin["region-concurrency"])
    return cfg


def service_roles_option(check: _Checker) -> ServiceRoles:
    """`--service-roles`, defaulting by launch role: the project's own roles need a launch role that may
    create IAM roles, which the standard `AmazonSageMakerServiceCatalogProductsLaunchRole` may not
    (shared/reference/iam), so `project` is refused with it and the default there stays `per-service`."""
    launch = check.choice("launch-role", LaunchRole)
    if check.values["service-roles"] is None:
        return ServiceRoles.PROJECT if launch is LaunchRole.GENERATED else ServiceRoles.PER_SERVICE
    roles: ServiceRoles = check.choice("service-roles", ServiceRoles)
    if roles is ServiceRoles.PROJECT and launch is LaunchRole.STANDARD:
        raise check.fail(
            "service-roles",
            f"project needs --launch-role generated (got --launch-role {launch.value}): the project creates its "
            "own IAM roles, and the standard launch role may not create IAM roles; use --service-roles "
            "per-service or use-role with it",
        )
    return roles


def _topology(check: _Checker) -> dict[str, Any]:
    """Stack-set administration, permission model, accounts and self-managed roles, checked together."""
    admin = check.choice("stackset-admin", StackSetAdmin)
    model = check.choice("permission-model", PermissionModel)
    staging_accounts = check.account_list("staging-accounts")
    prod_accounts = check.account_list("prod-accounts")
    both = sorted(set(staging_accounts) & set(prod_accounts))
    if both:
        raise check.fail("prod-accounts", f"lists {', '.join(both)}, also a staging account: stages must not share one")
    admin_role = execution_role = None
    if model is PermissionModel.SELF_MANAGED:
        if admin is StackSetAdmin.DELEGATED:
            raise check.fail(
                "stackset-admin",
                "delegated only applies to --permission-model service-managed (CallAs=DELEGATED_ADMIN is valid "
                "only for SERVICE_MANAGED stack sets); a self-managed stack set belongs to the account that runs it",
            )
        for key, listed in (("staging-accounts", staging_accounts), ("prod-accounts", prod_accounts)):
            if not listed:
                raise check.fail(key, "is required with --permission-model self-managed (it targets accounts, not OUs)")
        if check.values["administration-role-arn"] is not None:
            admin_role = check.pattern(
                "administration-role-arn", ROLE_ARN_PATTERN, "an IAM role ARN (arn:aws:iam::ACCOUNT:role/NAME)"
            )
        execution_role = DEFAULT_EXECUTION_ROLE
        if check.values["execution-role-name"] is not None:
            execution_role = check.pattern(
                "execution-role-name", ROLE_NAME_PATTERN, "an IAM role name (1-64 of letters, digits and +=,.@_-)"
            )
    else:
        for key in ("administration-role-arn", "execution-role-name"):
            if check.values[key] is not None:
                raise check.fail(key, "only applies with --permission-model self-managed")
    return {
        "stackset_admin": admin,
        "permission_model": model,
        "staging_accounts": staging_accounts,
        "prod_accounts": prod_accounts,
        "administration_role_arn": admin_role,
        "execution_role_name": execution_role,
    }


def home_region(value: Any, flag: str, env: Mapping[str, str]) -> tuple[Any, str]:
    """The home region and where it came from: the flag (or file), else AWS_REGION, else AWS_DEFAULT_REGION."""
    if value:
        return value, flag
    for variable in ("AWS_REGION", "AWS_DEFAULT_REGION"):
        if env.get(variable):
            return env[variable], f"{variable} (environment)"
    raise InputError("--region", "no home region: pass --region, or set AWS_REGION or AWS_DEFAULT_REGION")


def _shown(value: object, most: int = 60) -> str:
    """A user's value in a message: quoted, and cut in the middle when long (a pasted file stays readable)."""
    text = repr(value)
    return (
        text
        if len(text) <= most
        else f"{text[: most // 2]}...{text[-(most // 2 - 3) :]} ({len(str(value))} characters)"
    )


class _Checker:
    """Small typed readers over the layered values; each raises an `InputError` naming the flag."""

    def __init__(self, values: Mapping[str, Any], origin: Mapping[str, str]) -> None:
        self.values = values
        self.origin = origin

    def fail(self, key: str, rule: str) -> InputError:
        return InputError(self.origin[key], rule)

    def string(self, key: str) -> str:
        value = self.values[key]
        if value is None:
            raise self.fail(key, "is required")
        if not isinstance(value, str):
            raise self.fail(key, f"must be a string, got {value!r}")
        return value

    def pattern(self, key: str, regex: re.Pattern[str], what: str) -> str:
        value = self.string(key)
        if not regex.match(value):
            raise self.fail(key, f"must be {what}; got {_shown(value)}")
        return value

    def optional_pattern(self, key: str, regex: re.Pattern[str], what: str) -> str | None:
        """`pattern` for an option that may be absent (None)."""
        return None if self.values[key] is None else self.pattern(key, regex, what)

    def ou(self, key: str) -> str:
        return self.pattern(
            key,
            OU_ID_PATTERN,
            "an organizational unit id: ou-, 4-32 lowercase letters or digits, -, then 8-32 more "
            "(like ou-ab12-cdefgh34)",
        )

    def region(self, region: object, flag: str) -> str:
        if not isinstance(region, str) or region not in known_regions():
            raise InputError(flag, f"unknown AWS region {region!r} (not in botocore's endpoint data)")
        return region

    def region_list(self, key: str) -> tuple[str, ...]:
        raw = self.values[key]
        if raw is None:
            return ()
        items = raw.split(",") if isinstance(raw, str) else raw
        if not isinstance(items, (list, tuple)):
            raise self.fail(key, f"must be a list of regions, got {raw!r}")
        regions = tuple(str(item).strip() for item in items if str(item).strip())
        for region in regions:
            self.region(region, self.origin[key])
        if len(set(regions)) != len(regions):
            raise self.fail(key, f"lists a region twice: {', '.join(regions)}")
        return regions

    def account_list(self, key: str) -> tuple[str, ...]:
        """Comma-separated (or a TOML list of) 12-digit account ids, none twice; () when absent."""
        raw = self.values[key]
        if raw is None:
            return ()
        items = raw.split(",") if isinstance(raw, str) else raw
        if not isinstance(items, (list, tuple)):
            raise self.fail(key, f"must be a list of account ids, got {raw!r}")
        accounts = tuple(str(item).strip() for item in items if str(item).strip())
        if not accounts:
            raise self.fail(key, "lists no account id")
        for account in accounts:
            if not ACCOUNT_ID_PATTERN.match(account):
                raise self.fail(key, f"must be 12-digit AWS account ids; got {account!r}")
        if len(set(accounts)) != len(accounts):
            raise self.fail(key, f"lists an account twice: {', '.join(accounts)}")
        return accounts

    def role_arns(self, key: str) -> tuple[str, ...]:
        """A repeatable flag (or a TOML list) of IAM role ARNs, none twice."""
        raw = self.values[key]
        if raw is None:
            return ()
        items = [raw] if isinstance(raw, str) else raw
        if not isinstance(items, (list, tuple)) or not all(isinstance(item, str) for item in items):
            raise self.fail(key, f"must be a list of IAM role ARNs, got {raw!r}")
        for item in items:
            if not ROLE_ARN_PATTERN.match(item):
                raise self.fail(key, f"must be an IAM role ARN like arn:aws:iam::111122223333:role/name; got {item!r}")
        if len(set(items)) != len(items):
            raise self.fail(key, f"lists a role twice: {', '.join(items)}")
        return tuple(items)

    def emails(self, key: str) -> tuple[str, ...]:
        """A repeatable flag (or a TOML list) of email addresses, none twice (case-insensitive)."""
        raw = self.values[key]
        if raw is None:
            return ()
        items = [raw] if isinstance(raw, str) else raw
        if not isinstance(items, (list, tuple)) or not all(isinstance(item, str) for item in items):
            raise self.fail(key, f"must be a list of email addresses, got {raw!r}")
        for item in items:
            if not EMAIL_PATTERN.match(item):
                raise self.fail(key, f"must be an email address like approver@example.com; got {item!r}")
        if len({item.lower() for item in items}) != len(items):
            raise self.fail(key, f"lists an address twice: {', '.join(items)}")
        return tuple(items)

    def bounded_string(self, key: str, maximum: int) -> str:
        value = self.string(key)
        if not 1 <= len(value.strip()) <= maximum or value != value.strip():
            raise self.fail(key, f"must be 1-{maximum} characters without leading or trailing spaces; got {value!r}")
        return value

    def percentage(self, key: str, minimum: int) -> int:
        value = self.values[key]
        if isinstance(value, bool) or not isinstance(value, int) or not minimum <= value <= 100:
            raise self.fail(key, f"must be a whole number from {minimum} to 100, got {value!r}")
        return value

    def choice(self, key: str, enum: type[Any]) -> Any:
        value = self.values[key]
        allowed = [member.value for member in enum]
        if value not in allowed:
            raise self.fail(key, f"must be one of {', '.join(allowed)}; got {value!r}")
        return enum(value)


# === Rules that cross the configuration's parts ==============================================================
# Opt-in regions, the `--kms-key` option, and the deploy mode with the region concurrency it can honour. They
# use one part's knowledge (regions, keys, stack sets) but are rules of the configuration, checked once here;
# the product and check modules import them from here, so `config` imports nothing above the base (the layout
# rule in generator/__init__.py). `deploy_mode` is the one place that decides how the stage stack sets are
# deployed (generator/product/stacksets.py says what each mode renders).

# --- deploy regions: opt-in regions ----------------------------------------------------------------------

#: Regions every account has enabled: those launched before 20 March 2019 ("Default Regions"); any later
#: region of the aws partition is an opt-in region, disabled until an administrator enables it per account.
#: https://docs.aws.amazon.com/accounts/latest/reference/manage-acct-regions.html (botocore's endpoint data
#: lists regions but not which are opt-in).
DEFAULT_ENABLED_REGIONS = frozenset(
    {
        "us-east-1",
        "us-east-2",
        "us-west-1",
        "us-west-2",
        "ca-central-1",
        "sa-east-1",
        "eu-central-1",
        "eu-west-1",
        "eu-west-2",
        "eu-west-3",
        "eu-north-1",
        "ap-south-1",
        "ap-northeast-1",
        "ap-northeast-2",
        "ap-northeast-3",
        "ap-southeast-1",
        "ap-southeast-2",
    }
)
REGIONS_DOC = "https://docs.aws.amazon.com/accounts/latest/reference/manage-acct-regions.html"


def opt_in_regions(regions: tuple[str, ...]) -> list[str]:
    """The opt-in regions among `regions` (aws partition only: China and GovCloud have no opt-in)."""
    return [r for r in regions if not r.startswith(("cn-", "us-gov-", "us-iso")) and r not in DEFAULT_ENABLED_REGIONS]


def opt_in_problem(regions: tuple[str, ...]) -> str:
    """Why `regions` cannot be deployed to without `--opt-in-regions-enabled` ("" when they can)."""
    found = opt_in_regions(regions)
    if not found:
        return ""
    return (
        f"{', '.join(found)} {'is an opt-in region' if len(found) == 1 else 'are opt-in regions'}: disabled in "
        "every account until an administrator enables them, so the stack instances there would fail. Enable "
        "them in every staging and prod account (and the pipeline account, which copies the model there), then "
        f"render with --opt-in-regions-enabled ({REGIONS_DOC})"
    )


# --- `--kms-key`: none, generated or a key ARN -------------------------------------------------------

KMS_NONE = "none"
KMS_GENERATED = "generated"
#: A KMS key ARN (a single-Region key id, or a multi-Region `mrk-` id); aliases are not accepted, because the
#: key policy that must grant the stage accounts is the key's. https://docs.aws.amazon.com/kms/latest/developerguide/find-cmk-id-arn.html
KEY_ARN_PATTERN = re.compile(
    r"^arn:aws[a-z-]*:kms:(?P<region>[a-z0-9-]+):\d{12}:key/"
    r"(?:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|mrk-[0-9a-f]{32})$"
)
#: S3 default encryption, CodePipeline artifact stores and CodeBuild encrypt with a key of their own Region.
SAME_REGION_DOC = "https://docs.aws.amazon.com/AmazonS3/latest/userguide/UsingKMSEncryption.html"


def check_kms_key(value: Any, flag: str, cfg: RenderConfig) -> str:
    """`--kms-key` checked at the edge: none, generated, or a key ARN in the home region; else InputError."""
    if not isinstance(value, str):
        raise InputError(flag, f"must be none, generated or a KMS key ARN; got {value!r}")
    if value in (KMS_NONE, KMS_GENERATED):
        if value == KMS_GENERATED and cfg.launch_role is LaunchRole.STANDARD:
            raise InputError(
                flag,
                "generated needs --launch-role generated: the standard AmazonSageMakerServiceCatalogProductsLaunchRole "
                "may not call kms:CreateKey; pass the ARN of an existing key, or none",
            )
        return value
    match = KEY_ARN_PATTERN.match(value)
    if match is None:
        raise InputError(
            flag,
            "must be none, generated or a KMS key ARN like "
            f"arn:aws:kms:{cfg.region}:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab (not an alias); "
            f"got {value[:80]!r}",
        )
    if match["region"] != cfg.region:
        raise InputError(
            flag,
            f"names a key in {match['region']}, but the home region is {cfg.region}: the artifact bucket, the "
            f"pipeline's artifact store and the build projects need a key of their own Region ({SAME_REGION_DOC})",
        )
    return value


# --- the deploy mode -------------------------------------------------------------------------------------


class DeployMode(StrEnum):
    """How the deploy actions create and update the stack sets (see the module docstring)."""

    NATIVE = "native"
    API = "api"


def deploy_mode(cfg: RenderConfig) -> DeployMode:
    """native for the management account with whole OUs and for self-managed account lists; api for a
    delegated administrator or accounts filtered inside an OU (what the CodePipeline action cannot do)."""
    if cfg.permission_model is PermissionModel.SELF_MANAGED:
        return DeployMode.NATIVE
    if cfg.stackset_admin is StackSetAdmin.DELEGATED or cfg.filters_accounts:
        return DeployMode.API
    return DeployMode.NATIVE


def check_region_concurrency(cfg: RenderConfig, flag: str) -> None:
    """Refuse `--region-concurrency parallel` where the native action would deploy the regions in order anyway.

    The CloudFormationStackSet action's configuration has no RegionConcurrencyType (action reference): its
    `Regions` are deployed one after another, in the order listed. `flag` names where the value came from.
    """
    if (
        deploy_mode(cfg) is DeployMode.NATIVE
        and cfg.preferences.region_concurrency is RegionConcurrency.PARALLEL
        and len(cfg.deploy_regions) > 1
    ):
        raise InputError(
            flag,
            "parallel cannot be honoured: the CodePipeline CloudFormationStackSet action (this configuration's "
            "deploy mode) has no documented RegionConcurrencyType and deploys --deploy-regions one after "
            "another, in the order given; drop the option or choose sequential "
            "(https://docs.aws.amazon.com/codepipeline/latest/userguide/action-reference-StackSets.html)",
        )


# --- CodeBuild in a VPC of the pipeline's account (--build-vpc-id; generator/build_network.py renders it) ---

VPC_ID = re.compile(r"^vpc-[0-9a-f]{8,17}$")
SUBNET_ID = re.compile(r"^subnet-[0-9a-f]{8,17}$")
SECURITY_GROUP_ID = re.compile(r"^sg-[0-9a-f]{8,17}$")
#: CodeBuild VpcConfig (botocore codebuild service model): at most 16 subnets and 5 security groups.
MAX_SUBNETS = 16
MAX_SECURITY_GROUPS = 5
BUILD_VPC_OPTIONS = ("build-vpc-id", "build-subnets", "build-security-groups")
BUILD_VPC_DOC = "https://docs.aws.amazon.com/codebuild/latest/userguide/vpc-support.html"


def _build_vpc_ids(value: Any, flag: str, pattern: re.Pattern[str], what: str, most: int) -> tuple[str, ...]:
    """Comma-separated ids (or a TOML list), each matching `pattern`, at least one and at most `most`."""
    items = value if isinstance(value, list) else str(value).split(",")
    ids = tuple(dict.fromkeys(str(i).strip() for i in items if str(i).strip()))
    bad = [i for i in ids if not pattern.match(i)]
    if bad:
        raise InputError(flag, f"{bad[0]!r} is not {what}")
    if not 1 <= len(ids) <= most:
        raise InputError(flag, f"must name 1 to {most} {what}s (CodeBuild VpcConfig), got {len(ids)}")
    return ids


def check_build_network(values: Mapping[str, Any], origin: Mapping[str, str], cfg: RenderConfig) -> RenderConfig:
    """The three options checked together: all or none, well-formed, and only with the project's own roles."""
    given = [key for key in BUILD_VPC_OPTIONS if values.get(key)]
    if not given:
        return cfg
    missing = [key for key in BUILD_VPC_OPTIONS if key not in given]
    if missing:
        raise InputError(
            origin[missing[0]],
            f"is needed with --{given[0]}: a build in a VPC needs the VPC, its subnets and its security groups",
        )
    if cfg.service_roles is not ServiceRoles.PROJECT:
        raise InputError(
            origin["build-vpc-id"],
            f"needs --service-roles project: CodeBuild creates a build's network interfaces as the project's role, and "
            f"the SageMaker-provided CodeBuild role ({cfg.service_roles.value}) has none of the EC2 permissions "
            f"CodeBuild documents for builds in a VPC ({BUILD_VPC_DOC})",
        )
    vpc = str(values["build-vpc-id"]).strip()
    if not VPC_ID.match(vpc):
        raise InputError(origin["build-vpc-id"], f"{vpc!r} is not a VPC id like vpc-0a1b2c3d4e5f67890")
    return replace(
        cfg,
        build_vpc_id=vpc,
        build_subnets=_build_vpc_ids(
            values["build-subnets"], origin["build-subnets"], SUBNET_ID, "subnet id", MAX_SUBNETS
        ),
        build_security_groups=_build_vpc_ids(
            values["build-security-groups"],
            origin["build-security-groups"],
            SECURITY_GROUP_ID,
            "security group id",
            MAX_SECURITY_GROUPS,
        ),
    )
