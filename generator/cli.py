"""The `mlops-gen` command line: the options of each command, declared once, and a call to generator/commands.py.

Each command's body only gathers its options and calls the function of the same name in `commands`, which does
the work and prints; this module also holds the one error boundary (`guarded`) and the exit codes.

Heavy imports (troposphere, cfn-lint, boto3) happen inside the commands that need them, so
`--help`, `--version` and `render --no-validate` start fast.

Longer than 400 lines because it is a table: every option of every command with its help text (render alone
has some thirty), which the user reads in `--help`; no logic of the commands lives here.
"""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable
from enum import Enum, StrEnum
from pathlib import Path
from typing import Annotated, Any, NoReturn, ParamSpec

import typer

# typer 0.28 vendors click: its context and exceptions, not the `click` package's (typer is pinned).
from typer._click.exceptions import ClickException
from typer._click.globals import get_current_context

from generator import __version__, commands
from generator.commands import say, shorten
from generator.config import (
    LaunchRole,
    OutputFormat,
    PermissionModel,
    RegionConcurrency,
    ServiceRoles,
    Source,
    StackSetAdmin,
)
from generator.errors import AwsCallFailed, InputError, MlopsGenError

P = ParamSpec("P")

app = typer.Typer(
    name="mlops-gen",
    help="Render, validate and publish a multi-account SageMaker project template.",
    rich_markup_mode="rich",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


# Options several commands share, declared once.
StagingOu = Annotated[
    str | None,
    typer.Option("--staging-ou", help="Staging organizational unit id (ou-xxxx-xxxxxxxx).", show_default=False),
]
ProdOu = Annotated[str | None, typer.Option("--prod-ou", help="Production organizational unit id.", show_default=False)]
ConfigFile = Annotated[
    Path | None,
    typer.Option("--config", help="TOML file with render options (default: ./mlops-gen.toml if present). Flags win."),
]
TargetRoleName = Annotated[
    str | None,
    typer.Option(
        "--target-role-name",
        help="Role in every staging/prod account. Default: sagemaker-multi-account-deploy.",
        show_default=False,
    ),
]
AsJson = Annotated[bool, typer.Option("--json", help="Print JSON on stdout, and nothing else.")]
EndpointUrl = Annotated[
    str | None,
    typer.Option("--endpoint-url", help="Send every AWS call to this URL (e.g. a moto server).", show_default=False),
]
Profile = Annotated[str | None, typer.Option("--profile", help="AWS profile.", show_default=False)]


def fail(exc: MlopsGenError) -> NoReturn:
    """Print one clear message and exit with the error's code (2 for user input, 1 for AWS failures).

    With `--json`, stdout also gets `{"error": {...}}`, so a script reading stdout sees why it failed.
    """
    say(("error:", "red"), f" {exc}", err=True)
    if _json_requested():
        error: dict[str, object] = {"message": str(exc), "exit_code": exc.exit_code, "type": type(exc).__name__}
        if isinstance(exc, InputError):
            error.update(flag=exc.flag, rule=exc.rule)
        sys.stdout.write(json.dumps({"error": error}, indent=2) + "\n")
    raise typer.Exit(exc.exit_code)


def _json_requested() -> bool:
    context = get_current_context(silent=True)
    return bool(context is not None and context.params.get("as_json"))


#: Exit codes, documented in the README and kept by tests/test_cli.py.
EXIT_OK, EXIT_FINDINGS, EXIT_INPUT, EXIT_BUG, EXIT_INTERRUPTED = 0, 1, 2, 70, 130
#: Set when a command's Ctrl-C was reported (`guarded`): typer 0.28 answers a Ctrl-C while it parses the
#: arguments with a silent exit 130 (`typer.core._main`: `except KeyboardInterrupt: raise Exit(130)`), which
#: `main` then reports itself.
_INTERRUPTION_SAID: list[bool] = []
ISSUES_URL = "https://github.com/mlops-gen/mlops-gen/issues"


def guarded(command: Callable[P, None]) -> Callable[P, None]:
    """The CLI's one error boundary, around every command.

    A user-caused error (ours, or botocore's missing credentials and unreachable endpoints) becomes
    `error: ...` and exit 2; an AWS call that failed, exit 1; Ctrl-C, exit 130; anything else is a bug of
    ours: a short message with the exit code (70) and where to report it, never a traceback.
    """

    @functools.wraps(command)
    def run(*args: P.args, **kwargs: P.kwargs) -> None:
        try:
            command(*args, **kwargs)
        except (typer.Exit, ClickException, typer.Abort):
            raise
        except MlopsGenError as exc:
            fail(exc)
        except KeyboardInterrupt:
            say(("interrupted", "red"), " (Ctrl-C); nothing half-written was kept", err=True)
            _INTERRUPTION_SAID.append(True)
            raise typer.Exit(EXIT_INTERRUPTED) from None
        except Exception as exc:
            known = aws_error(exc)
            if known is not None:
                fail(known)
            say(
                ("error:", "red"),
                f" unexpected {type(exc).__name__}: {shorten(str(exc))}. This is a bug in mlops-gen {__version__}"
                f" (exit {EXIT_BUG}); please report it with the command you ran at {ISSUES_URL}",
                err=True,
            )
            raise typer.Exit(EXIT_BUG) from None

    return run


def aws_error(exc: Exception) -> MlopsGenError | None:
    """botocore's errors a user can cause or an AWS call can return, as our errors (None: not one)."""
    try:
        from botocore import exceptions as bx
    except ImportError:  # pragma: no cover - boto3 is a dependency
        return None
    if isinstance(exc, bx.NoCredentialsError | bx.PartialCredentialsError):
        return InputError(
            "credentials",
            "no AWS credentials found: set AWS_PROFILE (or pass --profile), or AWS_ACCESS_KEY_ID and "
            "AWS_SECRET_ACCESS_KEY",
        )
    if isinstance(exc, bx.NoRegionError):
        return InputError("--region", "no AWS region: pass --region or set AWS_REGION")
    if isinstance(exc, bx.EndpointConnectionError | bx.ConnectTimeoutError):
        return InputError("--endpoint-url", f"cannot reach AWS: {shorten(str(exc))}; check the URL and the network")
    if isinstance(exc, bx.ClientError | bx.WaiterError | bx.BotoCoreError):
        return AwsCallFailed(shorten(str(exc), 400))
    return None


def finish(code: int) -> None:
    """Exit with `code` when a command's result is not a success (1: findings, failed checks, failures)."""
    if code:
        raise typer.Exit(code)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"mlops-gen {__version__}")
        raise typer.Exit()


@app.callback()
def main_options(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit.")
    ] = False,
) -> None:
    """Render, validate and publish a multi-account SageMaker project template."""


def _value(option: Any) -> Any:
    return option.value if isinstance(option, Enum) else option


@app.command()
@guarded
def render(
    staging_ou: StagingOu = None,
    prod_ou: ProdOu = None,
    out_dir: Annotated[Path, typer.Option("--out", help="Output folder.")] = Path("dist"),
    config: ConfigFile = None,
    region: Annotated[
        str | None,
        typer.Option(help="Home region of the project (else AWS_REGION or AWS_DEFAULT_REGION).", show_default=False),
    ] = None,
    deploy_regions: Annotated[
        str | None,
        typer.Option(
            help="Comma-separated regions to deploy endpoints to (default: the home region).", show_default=False
        ),
    ] = None,
    opt_in_regions_enabled: Annotated[
        bool | None,
        typer.Option(
            "--opt-in-regions-enabled",
            help="The staging and prod accounts have the opt-in regions among --deploy-regions enabled "
            "(otherwise such regions are refused).",
            show_default=False,
        ),
    ] = None,
    source: Annotated[Source | None, typer.Option(help="Deploy repository source. Default: codecommit.")] = None,
    connection_arn: Annotated[
        str | None, typer.Option(help="CodeConnections ARN (with --source codeconnections).", show_default=False)
    ] = None,
    repository: Annotated[
        str | None,
        typer.Option(help="owner/name of the repository (with --source codeconnections).", show_default=False),
    ] = None,
    branch: Annotated[str | None, typer.Option(help="Deploy branch. Default: main.", show_default=False)] = None,
    seed_bucket: Annotated[
        str | None,
        typer.Option(help="Bucket the seed bundle is published to (default of SeedCodeBucket).", show_default=False),
    ] = None,
    max_concurrent_percentage: Annotated[
        int | None, typer.Option(help="StackSet MaxConcurrentPercentage, 1-100. Default: 100.", show_default=False)
    ] = None,
    failure_tolerance_percentage: Annotated[
        int | None,
        typer.Option(
            help="StackSet FailureTolerancePercentage for staging, 0-100 (prod is always 0). Default: 0.",
            show_default=False,
        ),
    ] = None,
    region_concurrency: Annotated[
        RegionConcurrency | None, typer.Option(help="StackSet RegionConcurrencyType. Default: parallel.")
    ] = None,
    target_role_name: TargetRoleName = None,
    launch_role: Annotated[
        LaunchRole | None,
        typer.Option(help="Build for a generated launch role, or stay within the standard one. Default: generated."),
    ] = None,
    service_roles: Annotated[
        ServiceRoles | None,
        typer.Option(
            help="The project's own roles (needs --launch-role generated), the SageMaker-provided per-service "
            "roles, or the single UseRole. Default: project, or per-service with --launch-role standard."
        ),
    ] = None,
    name_prefix: Annotated[
        str | None, typer.Option(help="Prefix of every physical name. Default: sagemaker-.", show_default=False)
    ] = None,
    output_format: Annotated[
        OutputFormat | None, typer.Option("--format", help="Template format. Default: yaml.")
    ] = None,
    studio_role_arn: Annotated[
        list[str] | None,
        typer.Option(
            help="Studio execution role ARN the portfolio is shared with (repeat for several).", show_default=False
        ),
    ] = None,
    portfolio_name: Annotated[
        str | None, typer.Option(help="Display name of the Service Catalog portfolio.", show_default=False)
    ] = None,
    product_name: Annotated[
        str | None, typer.Option(help="Name of the Service Catalog product.", show_default=False)
    ] = None,
    stackset_admin: Annotated[
        StackSetAdmin | None,
        typer.Option(
            help="Account administering the stack sets: the management account, or a delegated "
            "StackSets administrator (CallAs=DELEGATED_ADMIN). Default: management."
        ),
    ] = None,
    permission_model: Annotated[
        PermissionModel | None,
        typer.Option(help="service-managed (OU targets) or self-managed (account lists). Default: service-managed."),
    ] = None,
    staging_accounts: Annotated[
        str | None,
        typer.Option(
            help="Comma-separated account ids: only these accounts of the staging OU (self-managed: the targets).",
            show_default=False,
        ),
    ] = None,
    prod_accounts: Annotated[
        str | None, typer.Option(help="Comma-separated account ids, as --staging-accounts.", show_default=False)
    ] = None,
    administration_role_arn: Annotated[
        str | None,
        typer.Option(
            help="Self-managed: the administration role (default: AWSCloudFormationStackSetAdministrationRole "
            "in the pipeline's account).",
            show_default=False,
        ),
    ] = None,
    execution_role_name: Annotated[
        str | None,
        typer.Option(
            help="Self-managed: the execution role in every target account. "
            "Default: AWSCloudFormationStackSetExecutionRole.",
            show_default=False,
        ),
    ] = None,
    org_id: Annotated[
        str | None,
        typer.Option(
            help="Your AWS Organizations id (o-...): default of the product's OrganizationId parameter, which keeps "
            "the cross-account read grants non-public. `mlops-gen doctor` prints it; publish requires it.",
            show_default=False,
        ),
    ] = None,
    approver_email: Annotated[
        list[str] | None,
        typer.Option(
            help="Email told (SNS topic, KMS-encrypted) when a deployment waits for approval; repeat for several.",
            show_default=False,
        ),
    ] = None,
    kms_key: Annotated[
        str | None,
        typer.Option(
            help="Customer managed encryption: none (SSE-S3 and AWS managed keys), generated (the product creates "
            "a key per project; the target-role stack set one per stage account and region), or the ARN of a "
            "key in the home region. Default: none.",
            show_default=False,
        ),
    ] = None,
    build_vpc_id: Annotated[
        str | None,
        typer.Option(
            help="Run the CodeBuild projects in this VPC of the pipeline's account (needs the two below).",
            show_default=False,
        ),
    ] = None,
    build_subnets: Annotated[
        str | None, typer.Option(help="Comma-separated private subnet ids for the builds.", show_default=False)
    ] = None,
    build_security_groups: Annotated[
        str | None, typer.Option(help="Comma-separated security group ids for the builds.", show_default=False)
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Replace the contents of a non-empty --out.")] = False,
    validate: Annotated[
        bool, typer.Option("--validate/--no-validate", help="Lint the output before keeping it.")
    ] = True,
    use_cache: Annotated[
        bool,
        typer.Option("--cache/--no-cache", help="Reuse check results for unchanged files (the user's cache folder)."),
    ] = True,
    as_json: Annotated[bool, typer.Option("--json", help="Print the manifest on stdout, and nothing else.")] = False,
) -> None:
    """Render the product template (and its companions) into [bold]--out[/], with a manifest.

    Example: [cyan]mlops-gen render --staging-ou ou-ab12-11111111 --prod-ou ou-ab12-22222222 --region eu-west-1[/]
    """
    flags = {
        "staging-ou": staging_ou,
        "prod-ou": prod_ou,
        "region": region,
        "deploy-regions": deploy_regions,
        "opt-in-regions-enabled": opt_in_regions_enabled,
        "source": source,
        "connection-arn": connection_arn,
        "repository": repository,
        "branch": branch,
        "seed-bucket": seed_bucket,
        "max-concurrent-percentage": max_concurrent_percentage,
        "failure-tolerance-percentage": failure_tolerance_percentage,
        "region-concurrency": region_concurrency,
        "target-role-name": target_role_name,
        "launch-role": launch_role,
        "service-roles": service_roles,
        "name-prefix": name_prefix,
        "format": output_format,
        "studio-role-arn": studio_role_arn or None,  # typer gives [] when absent: let the config file speak
        "portfolio-name": portfolio_name,
        "product-name": product_name,
        "approver-email": approver_email or None,  # typer gives [] when absent: let the config file speak
        "stackset-admin": stackset_admin,
        "permission-model": permission_model,
        "staging-accounts": staging_accounts,
        "prod-accounts": prod_accounts,
        "administration-role-arn": administration_role_arn,
        "execution-role-name": execution_role_name,
        "org-id": org_id,
        "kms-key": kms_key,
        "build-vpc-id": build_vpc_id,
        "build-subnets": build_subnets,
        "build-security-groups": build_security_groups,
    }
    commands.render({k: _value(v) for k, v in flags.items()}, config, out_dir, force, validate, use_cache, as_json)


@app.command("validate")
@guarded
def validate_command(
    folder: Annotated[Path, typer.Argument(help="A render output folder.")] = Path("dist"),
    as_json: Annotated[bool, typer.Option("--json", help="Print the findings as JSON.")] = False,
    use_cache: Annotated[
        bool,
        typer.Option("--cache/--no-cache", help="Reuse check results for unchanged files (the user's cache folder)."),
    ] = True,
) -> None:
    """Lint every template in [bold]FOLDER[/]'s manifest with cfn-lint and mlops-gen's own rules, then
    check IAM: the launch role may create the product, the pipeline's roles may do what it does.

    Exits 1 on any error, warning or IAM finding.
    """
    finish(commands.validate(folder, use_cache, as_json))


@app.command()
@guarded
def publish(
    folder: Annotated[Path, typer.Argument(help="A render output folder.")] = Path("dist"),
    bucket: Annotated[
        str | None,
        typer.Option(help="Bucket for the uploads. Default: the render's --seed-bucket.", show_default=False),
    ] = None,
    via: Annotated[str, typer.Option(help="service-catalog, or s3-template (Studio reads S3).")] = "service-catalog",
    prefix: Annotated[str, typer.Option(help="Key prefix of the uploads (ends with /).")] = "mlops-gen/",
    portfolio_name: Annotated[
        str | None, typer.Option(help="Portfolio name. Default: the render's --portfolio-name.", show_default=False)
    ] = None,
    product_name: Annotated[
        str | None, typer.Option(help="Product name. Default: the render's --product-name.", show_default=False)
    ] = None,
    product_owner: Annotated[str, typer.Option(help="Product owner (and portfolio provider).")] = "mlops-gen",
    principal_arn: Annotated[
        list[str] | None,
        typer.Option(
            help="Studio execution role ARN allowed to launch the product (repeatable). "
            "Default: the render's --studio-role-arn.",
            show_default=False,
        ),
    ] = None,
    launch_role_arn: Annotated[
        str | None,
        typer.Option(help="Launch constraint role (default: the role FOLDER was rendered for).", show_default=False),
    ] = None,
    domain_id: Annotated[
        str | None, typer.Option(help="SageMaker domain to tag (with --via s3-template).", show_default=False)
    ] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Print the plan; make no AWS call.")] = False,
    as_json: AsJson = False,
    endpoint_url: EndpointUrl = None,
    profile: Profile = None,
    region: Annotated[
        str | None, typer.Option(help="AWS region (must be the render's home region).", show_default=False)
    ] = None,
) -> None:
    """Publish [bold]FOLDER[/] so SageMaker Studio offers it; running it again changes nothing.

    The bucket, portfolio and product names and Studio roles default to what [bold]render[/] recorded.
    Example: [cyan]mlops-gen publish dist --principal-arn arn:aws:iam::111122223333:role/Studio[/]
    """
    commands.publish(
        commands.PublishFlags(
            folder,
            bucket,
            via,
            prefix,
            portfolio_name,
            product_name,
            product_owner,
            principal_arn,
            launch_role_arn,
            domain_id,
            dry_run,
            as_json,
            endpoint_url,
            profile,
            region,
        )
    )


@app.command()
@guarded
def doctor(
    staging_ou: StagingOu = None,
    prod_ou: ProdOu = None,
    config: ConfigFile = None,
    region: Annotated[
        str | None,
        typer.Option(help="Home region (else AWS_REGION or AWS_DEFAULT_REGION).", show_default=False),
    ] = None,
    target_role_name: TargetRoleName = None,
    check_roles: Annotated[
        bool,
        typer.Option(
            "--check-roles",
            help="Also check, per target account, the target-role stack set's instance and (through "
            "--account-access-role) that the role trusts the pipeline's CodeBuild role and SageMaker.",
        ),
    ] = False,
    check_network: Annotated[
        bool,
        typer.Option(
            "--check-network",
            help="Also check a sample account per stage for models in a VPC: the /mlops-gen/network/* SSM "
            "parameters name its subnets and security groups, and its VPC reaches AWS (NAT or VPC endpoints).",
        ),
    ] = False,
    stackset_admin: Annotated[
        StackSetAdmin | None,
        typer.Option(help="As rendered: with delegated, a registered delegated administrator passes."),
    ] = None,
    service_roles: Annotated[
        ServiceRoles | None,
        typer.Option(
            help="As rendered: the role of the staging test the target role must trust. "
            "Default: project, or per-service with --launch-role standard."
        ),
    ] = None,
    name_prefix: Annotated[
        str | None,
        typer.Option(help="As rendered: it names the target-role stack set. Default: sagemaker-.", show_default=False),
    ] = None,
    account_access_role: Annotated[
        str | None,
        typer.Option(
            help="Role in each target account doctor assumes to read the target role's trust. "
            "Default: OrganizationAccountAccessRole.",
            show_default=False,
        ),
    ] = None,
    org_id: Annotated[
        str | None,
        typer.Option(
            help="As rendered: checked against the organisation's id (else doctor prints the id to render with).",
            show_default=False,
        ),
    ] = None,
    build_vpc_id: Annotated[
        str | None,
        typer.Option(help="As rendered: with --check-network, the builds' VPC is checked too.", show_default=False),
    ] = None,
    build_subnets: Annotated[str | None, typer.Option(help="As rendered.", show_default=False)] = None,
    build_security_groups: Annotated[str | None, typer.Option(help="As rendered.", show_default=False)] = None,
    deploy_regions: Annotated[
        str | None,
        typer.Option(
            help="As rendered: with --check-network, each of these regions is checked. Default: the home region.",
            show_default=False,
        ),
    ] = None,
    rendered: Annotated[
        Path | None,
        typer.Option(
            "--rendered",
            metavar="DIR",
            help="A render output folder: its manifest's settings (OUs, region, roles, build VPC...) stand for the "
            "flags not given, over the config file.",
            show_default=False,
        ),
    ] = None,
    as_json: AsJson = False,
    endpoint_url: EndpointUrl = None,
    profile: Profile = None,
) -> None:
    """Check the live organisation before launching the product: caller, trusted access, OUs, accounts.

    Every check prints pass or FAIL with the fix; exits 1 if any fails.
    Example: [cyan]mlops-gen doctor --staging-ou ou-ab12-11111111 --prod-ou ou-ab12-22222222 --check-roles[/]
    """
    flags = {
        "staging-ou": staging_ou,
        "prod-ou": prod_ou,
        "region": region,
        "target-role-name": target_role_name,
        "check-roles": check_roles,
        "check-network": check_network,
        "stackset-admin": _value(stackset_admin),
        "service-roles": _value(service_roles),
        "name-prefix": name_prefix,
        "account-access-role": account_access_role,
        "org-id": org_id,
        "build-vpc-id": build_vpc_id,
        "build-subnets": build_subnets,
        "build-security-groups": build_security_groups,
        "deploy-regions": deploy_regions,
    }
    finish(commands.doctor(flags, config, endpoint_url, profile, as_json, rendered))


@app.command()
@guarded
def destroy(
    project_name: Annotated[str, typer.Option(help="The SageMaker project's name.", show_default=False)],
    project_id: Annotated[str, typer.Option(help="The SageMaker project's id (p-...).", show_default=False)],
    config: ConfigFile = None,
    name_prefix: Annotated[
        str | None, typer.Option(help="The render's --name-prefix. Default: sagemaker-.", show_default=False)
    ] = None,
    stackset_admin: Annotated[
        StackSetAdmin | None, typer.Option(help="As rendered: management, or delegated (CallAs=DELEGATED_ADMIN).")
    ] = None,
    staging_ou: StagingOu = None,
    prod_ou: ProdOu = None,
    max_concurrent_percentage: Annotated[
        int | None, typer.Option(help="MaxConcurrentPercentage of the deletions. Default: 100.", show_default=False)
    ] = None,
    failure_tolerance_percentage: Annotated[
        int | None, typer.Option(help="FailureTolerancePercentage of the deletions. Default: 0.", show_default=False)
    ] = None,
    region_concurrency: Annotated[
        RegionConcurrency | None, typer.Option(help="RegionConcurrencyType of the deletions. Default: parallel.")
    ] = None,
    yes: Annotated[bool, typer.Option("--yes", help="Delete (without it: a dry run that only reads).")] = False,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Only read and say what would be removed (the default without --yes).")
    ] = False,
    as_json: AsJson = False,
    endpoint_url: EndpointUrl = None,
    profile: Profile = None,
    region: Annotated[
        str | None, typer.Option(help="Home region (else AWS_REGION or AWS_DEFAULT_REGION).", show_default=False)
    ] = None,
) -> None:
    """Remove the project's stack sets (their instances in every account and region, then the stack sets) and
    the regional artifact buckets its build created.

    A dry run unless [bold]--yes[/]; exits 1 if anything could not be removed.
    Example: [cyan]mlops-gen destroy --project-name iris --project-id p-abcdefghijkl --yes[/]
    """
    if yes and dry_run:
        raise InputError("--yes/--dry-run", "give one of them: --dry-run only reads, --yes deletes")
    flags = {
        "name-prefix": name_prefix,
        "stackset-admin": _value(stackset_admin),
        "staging-ou": staging_ou,
        "prod-ou": prod_ou,
        "region": region,
        "max-concurrent-percentage": max_concurrent_percentage,
        "failure-tolerance-percentage": failure_tolerance_percentage,
        "region-concurrency": _value(region_concurrency),
    }
    finish(commands.destroy(project_name, project_id, flags, config, yes, as_json, endpoint_url, profile))


class GraphFormat(StrEnum):
    """`graph` outputs: a Markdown fenced block, or the bare Mermaid source (mermaid-cli draws SVG from it)."""

    MARKDOWN = "markdown"
    MERMAID = "mermaid"


@app.command()
@guarded
def graph(
    folder: Annotated[Path, typer.Argument(metavar="DIR", help="A render output folder.")] = Path("dist"),
    out: Annotated[
        Path | None, typer.Option("--out", help="Write to this file instead of stdout.", show_default=False)
    ] = None,
    graph_format: Annotated[
        GraphFormat,
        typer.Option(
            "--format",
            help="markdown (a ```mermaid block GitHub draws), or mermaid (for mermaid-cli: "
            "mlops-gen graph DIR --format mermaid | npx -p @mermaid-js/mermaid-cli mmdc -i - -o graph.svg).",
        ),
    ] = GraphFormat.MARKDOWN,
) -> None:
    """Draw [bold]DIR[/]'s rendered project as a Mermaid diagram: rules, stages, actions, artifacts, target OUs.

    Example: [cyan]mlops-gen graph dist --out docs/pipeline.md[/]
    """
    commands.graph(folder, out, markdown=graph_format is GraphFormat.MARKDOWN)


@app.command()
@guarded
def rehearse(
    folder: Annotated[Path, typer.Argument(metavar="DIR", help="A render output folder.")] = Path("dist"),
    accounts_per_ou: Annotated[
        # The cap only stops a typo from filling memory: each account costs the local AWS a few MB and
        # about 0.2-0.4 s CPU per region (benchmarks/README.md); 100 per stage is measured there.
        int, typer.Option(min=1, max=200, help="Member accounts created in each of the staging and prod OUs.")
    ] = 2,
    approve: Annotated[bool, typer.Option("--approve", help="Approve the manual approval without asking.")] = False,
    reject: Annotated[
        bool, typer.Option("--reject", help="Reject the manual approval (prod stays untouched).")
    ] = False,
    fail_test: Annotated[
        bool, typer.Option("--fail-test", help="Staging endpoints answer malformed predictions.")
    ] = False,
    break_account: Annotated[
        bool, typer.Option("--break-account", help="One staging account lacks the target role.")
    ] = False,
    no_approved_model: Annotated[
        bool,
        typer.Option(
            "--no-approved-model", help="The data scientist rejects the model: the build must stop, nothing deployed."
        ),
    ] = False,
    second_approval: Annotated[
        bool, typer.Option("--second-approval", help="Then approve a newer version: the stack sets must update.")
    ] = False,
    reject_live: Annotated[
        bool,
        typer.Option(
            "--reject-live", help="Approve v1, then v2, then reject the live v2: every endpoint must serve v1 again."
        ),
    ] = False,
    second_project: Annotated[
        bool,
        typer.Option(
            "--second-project",
            help="After prod: launch a second project and prove its roles cannot reach this one "
            "(needs a --service-roles project render).",
        ),
    ] = False,
    vpc: Annotated[
        bool, typer.Option("--vpc", help='Stage configs ask for "network": "vpc"; accounts publish their network.')
    ] = False,
    break_network: Annotated[
        bool, typer.Option("--break-network", help="As --vpc, but one staging account publishes no network.")
    ] = False,
    report_file: Annotated[
        Path | None, typer.Option("--report", help="Write the JSON report to this file.", show_default=False)
    ] = None,
    as_json: AsJson = False,
) -> None:
    """Play [bold]DIR[/]'s whole multi-account life on an embedded local AWS (moto), offline.

    Organisation and target roles, project launch, model approval, and the pipeline action by action,
    every call a role of the product makes authorized against that role's rendered policies.
    Each scenario states its expected outcome; exits 0 exactly when the outcome is the expected one
    (1 otherwise, or when [bold]validate[/] has findings; 2 for unusable input).
    Needs [cyan]pip install 'mlops-gen\\[rehearse]'[/].
    Example: [cyan]mlops-gen rehearse dist --approve --second-approval[/]
    """
    scenario = commands.Scenario(
        accounts_per_ou,
        approve,
        reject,
        fail_test,
        break_account,
        no_approved_model,
        second_approval,
        reject_live,
        second_project,
        vpc,
        break_network,
    )
    finish(commands.rehearse(folder, scenario, report_file, as_json))


def main() -> None:
    """Console-script entry point (see `generator.main`): click's own handling stays off so that a
    usage error reads like every other error (`error: ...`, exit 2) and Ctrl-C exits 130 while parsing too."""
    _INTERRUPTION_SAID.clear()
    try:
        code = app(standalone_mode=False, prog_name="mlops-gen")
    except typer.Abort:
        say(("interrupted", "red"), " (Ctrl-C)", err=True)
        sys.exit(EXIT_INTERRUPTED)
    except ClickException as exc:  # a usage error: our one error style, and where to read the usage
        context = getattr(exc, "ctx", None)
        command = context.command_path if context is not None else "mlops-gen"
        say(("error:", "red"), f" {exc.format_message()} (see: {command} --help)", err=True)
        sys.exit(exc.exit_code)
    if code == EXIT_INTERRUPTED and not _INTERRUPTION_SAID:
        say(("interrupted", "red"), " (Ctrl-C)", err=True)
    sys.exit(code if isinstance(code, int) else EXIT_OK)
