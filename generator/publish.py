"""`mlops-gen publish`: put a rendered product where SageMaker Studio finds it, and do it idempotently.

Two ways (docs: /work/shared/reference/aws-facts.md):

- `service-catalog` (the article's way): a portfolio, a product tagged `sagemaker:studio-visibility=true`
  whose versions (provisioning artifacts) load the template from S3, a launch constraint and the
  Studio execution roles as principals.
- `s3-template` (since 2025): the template object tagged `sagemaker:studio-visibility=true`, a CORS rule
  so Studio's pages may read the bucket, and the SageMaker domain tagged with the templates location.

The work is split in two. `build_plan` is pure: it reads DIR, checks it and lists the steps (what
`--dry-run` prints). `apply` runs the steps against injected boto3 clients; every step first reads
what exists and only then writes what is missing, so a second run changes nothing and a run that
failed half-way completes the job when repeated. Uploads go to content-addressed keys (the sha256
of the bytes), so a new version never overwrites an object an older product version still reads.

This is, with `doctor`, the only module that talks to AWS.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlencode

from botocore.exceptions import ClientError, EndpointConnectionError, NoCredentialsError

from generator import __version__
from generator.errors import InputError, MlopsGenError
from generator.manifest import Manifest, read_manifest, sha256


class Via(StrEnum):
    """How Studio finds the template."""

    SERVICE_CATALOG = "service-catalog"
    S3_TEMPLATE = "s3-template"


DEFAULT_PREFIX = "mlops-gen/"
DEFAULT_PORTFOLIO = "SageMaker Organization Templates"
DEFAULT_PRODUCT = "Multi Account Deployment"
DEFAULT_OWNER = "mlops-gen"
PRODUCT_DESCRIPTION = "Multi account deployment project (mlops-gen): train in one account, deploy to staging and prod."
PORTFOLIO_DESCRIPTION = "SageMaker project templates published by mlops-gen."

#: Studio shows a Service Catalog product (or, for s3-template, a template object) only with this tag.
VISIBILITY_TAG = ("sagemaker:studio-visibility", "true")
#: The standard launch role (and our generated one) may read objects with this tag from any bucket.
PROVISIONING_TAG = ("servicecatalog:provisioning", "true")
#: The domain tag that points Studio at the S3 templates (s3-template).
TEMPLATES_LOCATION_TAG = "sagemaker:projectS3TemplatesLocation"
STUDIO_ORIGIN = "https://*.sagemaker.aws"
CORS_RULE_ID = "mlops-gen-sagemaker-studio"
CORS_METHODS = ("GET", "HEAD")
#: The folder (under --prefix) the domain tag points at; Studio lists the templates found there.
STUDIO_FOLDER = "templates/"
STANDARD_LAUNCH_ROLE = "AmazonSageMakerServiceCatalogProductsLaunchRole"
#: Object metadata holding the content's sha256 (for the one key that is not content-addressed).
SHA_METADATA = "sha256"
#: Artifact descriptions carry the template's sha256: how a later run knows the template changed.
_SHA_IN_DESCRIPTION = re.compile(r"sha256:([0-9a-f]{64})")

BUCKET_PATTERN = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
PREFIX_PATTERN = re.compile(r"^([A-Za-z0-9!_.*'()-]+/)+$")
ROLE_ARN_PATTERN = re.compile(r"^arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]+$")
PRINCIPAL_ARN_PATTERN = re.compile(r"^arn:aws[a-z-]*:iam::\d{12}:(role|user|group)/[\w+=,.@/-]+$")
DOMAIN_ID_PATTERN = re.compile(r"^d-(-*[a-z0-9]){1,61}$")
ACCESS_DENIED = frozenset({"AccessDenied", "AccessDeniedException", "UnauthorizedOperation", "Forbidden", "403"})
BAD_CREDENTIALS = frozenset({"ExpiredToken", "ExpiredTokenException", "InvalidClientTokenId", "SignatureDoesNotMatch"})
NOT_FOUND = frozenset({"404", "NoSuchKey", "NotFound"})


class PublishError(MlopsGenError):
    """An AWS problem during one step: exit 1 with one line naming the step, the problem and the fix."""

    exit_code = 1

    def __init__(self, step: str, problem: str, fix: str) -> None:
        self.step = step
        self.problem = problem
        self.fix = fix
        super().__init__(f"publish step '{step}': {problem}. Fix: {fix}")


# --- inputs: flags and the render output ------------------------------------------------------


@dataclass(frozen=True)
class PublishOptions:
    """The publish flags, checked by `check_options`."""

    folder: Path
    bucket: str
    via: Via = Via.SERVICE_CATALOG
    prefix: str = DEFAULT_PREFIX
    portfolio_name: str = DEFAULT_PORTFOLIO
    product_name: str = DEFAULT_PRODUCT
    product_owner: str = DEFAULT_OWNER
    principal_arns: tuple[str, ...] = ()
    launch_role_arn: str | None = None
    domain_id: str | None = None


def parse_via(value: str) -> Via:
    try:
        return Via(value)
    except ValueError:
        choices = ", ".join(v.value for v in Via)
        raise InputError("--via", f"must be one of {choices}; got {value!r}") from None


def check_options(opts: PublishOptions) -> None:
    """Refuse flags that cannot work, before anything is read or called (exit 2)."""
    if not BUCKET_PATTERN.match(opts.bucket):
        raise InputError("--bucket", f"must be an S3 bucket name; got {opts.bucket!r}")
    if not PREFIX_PATTERN.match(opts.prefix):
        raise InputError("--prefix", f"must be folders ending with '/', e.g. 'mlops-gen/'; got {opts.prefix!r}")
    for flag, value in (("--portfolio-name", opts.portfolio_name), ("--product-name", opts.product_name)):
        if not 1 <= len(value) <= 100:
            raise InputError(flag, "must be 1 to 100 characters")
    if not 1 <= len(opts.product_owner) <= 8191:
        raise InputError("--product-owner", "must not be empty")
    for arn in opts.principal_arns:
        if not PRINCIPAL_ARN_PATTERN.match(arn):
            raise InputError("--principal-arn", f"must be an IAM role, user or group ARN; got {arn!r}")
    if opts.launch_role_arn is not None and not ROLE_ARN_PATTERN.match(opts.launch_role_arn):
        raise InputError("--launch-role-arn", f"must be an IAM role ARN; got {opts.launch_role_arn!r}")
    if opts.via is Via.S3_TEMPLATE:
        if opts.domain_id is None:
            raise InputError("--domain-id", "is required with --via s3-template (the SageMaker domain to tag)")
        if not DOMAIN_ID_PATTERN.match(opts.domain_id):
            raise InputError(
                "--domain-id", f"must be a SageMaker domain id like d-xxxxxxxxxxxx; got {opts.domain_id!r}"
            )
        for flag, given in (("--principal-arn", opts.principal_arns), ("--launch-role-arn", opts.launch_role_arn)):
            if given:
                raise InputError(flag, "only applies with --via service-catalog")
    elif opts.domain_id is not None:
        raise InputError("--domain-id", "only applies with --via s3-template")


@dataclass(frozen=True)
class LocalFile:
    """One rendered file to upload."""

    name: str
    data: bytes

    @property
    def sha256(self) -> str:
        return sha256(self.data)


@dataclass(frozen=True)
class Release:
    """What DIR holds for publish: the product template, the seed bundle and where it must live."""

    home_region: str
    template: LocalFile
    seed: LocalFile | None
    seed_key: str | None
    #: The generated launch role's name; None: the product is built for the standard launch role.
    launch_role_name: str | None
    #: The template that creates it (relative to DIR), for the message when the role is missing.
    launch_role_template: str | None = None


def _read_checked(folder: Path, manifest: Manifest, kind: str) -> LocalFile:
    path = manifest.path_of(kind)
    data = (folder / path).read_bytes()
    expected = next(a.sha256 for a in manifest.artifacts if a.kind == kind)
    if sha256(data) != expected:
        raise InputError("DIR", f"{folder / path} changed since it was rendered (sha256 differs): render again")
    return LocalFile(Path(path).name, data)


def _decode(file: LocalFile) -> dict[str, Any]:
    from cfnlint.decode import decode_str

    template, problems = decode_str(file.data.decode("utf-8"))
    if problems or not isinstance(template, dict):
        raise InputError("DIR", f"{file.name} is not a readable CloudFormation template")
    return template


def _default(template: Mapping[str, Any], parameter: str) -> str | None:
    value = template.get("Parameters", {}).get(parameter, {}).get("Default")
    return str(value) if value is not None else None


def load_release(folder: Path, bucket: str) -> Release:
    """Read DIR's manifest and files; refuse a render whose product cannot find its seed bundle in `bucket`.

    The product's `SeedCodeBucket` default is fixed at render time (`render --seed-bucket`) because
    the template is content-addressed: publish uploads the bytes that were rendered and never edits
    them. Without a default, every Studio user would have to type the bucket at launch, so publish
    requires the render's `--seed-bucket` to be the bucket it uploads the bundle to.
    """
    from generator.seed import bundle_key

    manifest = read_manifest(folder)
    kinds = {a.kind for a in manifest.artifacts}
    if "product-template" not in kinds:
        raise InputError("DIR", f"{folder} has no product template in its manifest: render into it first")
    template = _read_checked(folder, manifest, "product-template")
    parameters = _decode(template)
    seed = seed_key = None
    # A CodeCommit product creates its repository from the bundle; other sources do not read it.
    if "seed-bundle" in kinds and "SeedCodeKey" in parameters.get("Parameters", {}):
        seed = _read_checked(folder, manifest, "seed-bundle")
        seed_bucket = _default(parameters, "SeedCodeBucket")
        if seed_bucket is None:
            raise InputError(
                "--bucket",
                f"the product in {folder} has no SeedCodeBucket default, so Studio users would have to type it: "
                f"render again with --seed-bucket {bucket}",
            )
        if seed_bucket != bucket:
            raise InputError(
                "--bucket",
                f"the product in {folder} reads its seed bundle from bucket {seed_bucket!r}: "
                f"publish with --bucket {seed_bucket} or render again with --seed-bucket {bucket}",
            )
        seed_key = _default(parameters, "SeedCodeKey")
        if seed_key != bundle_key(seed.data):
            raise InputError("DIR", f"the product's SeedCodeKey {seed_key!r} does not name {seed.name}: render again")
    launch_role_name = launch_role_template = None
    if "launch-role-template" in kinds:
        launch_role_template = manifest.path_of("launch-role-template")
        role_template = _decode(_read_checked(folder, manifest, "launch-role-template"))
        launch_role_name = str(role_template["Resources"]["LaunchRole"]["Properties"]["RoleName"])
    return Release(manifest.home_region, template, seed, seed_key, launch_role_name, launch_role_template)


def resolve_region(flag: str | None, release: Release) -> str:
    """The region to publish in: the render's home region; `--region` may only repeat it."""
    if flag is not None and flag != release.home_region:
        raise InputError(
            "--region",
            f"the product was rendered for {release.home_region} (its pipeline runs there): publish in "
            f"{release.home_region}, or render again with --region {flag}",
        )
    return release.home_region


# --- the plan ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Step:
    """One idempotent step: its name (used in errors and the report) and what it ensures."""

    name: str
    summary: str


@dataclass(frozen=True)
class Plan:
    """Everything publish will do, computed without calling AWS."""

    options: PublishOptions
    release: Release
    region: str
    steps: tuple[Step, ...]

    @property
    def template_key(self) -> str:
        """`<prefix><sha256>/product-template.yaml`: a changed template gets a new key."""
        template = self.release.template
        return f"{self.options.prefix}{template.sha256}/{template.name}"

    @property
    def template_url(self) -> str:
        return object_url(self.options.bucket, self.region, self.template_key)

    @property
    def studio_key(self) -> str:
        """s3-template: the one object per product Studio lists (replaced when the template changes)."""
        suffix = Path(self.release.template.name).suffix
        return f"{self.options.prefix}{STUDIO_FOLDER}{slug(self.options.product_name)}{suffix}"

    @property
    def templates_location(self) -> str:
        return f"s3://{self.options.bucket}/{self.options.prefix}{STUDIO_FOLDER}"

    def outputs(self) -> dict[str, str]:
        """What is known before any call."""
        known = {"bucket": self.options.bucket, "template_key": self.template_key, "template_url": self.template_url}
        if self.release.seed_key:
            known["seed_key"] = self.release.seed_key
        if self.options.via is Via.S3_TEMPLATE:
            known["studio_template_key"] = self.studio_key
            known["templates_location"] = self.templates_location
        return known


def slug(name: str) -> str:
    """`Multi Account Deployment` -> `multi-account-deployment` (a file name Studio shows)."""
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-") or "template"


def object_url(bucket: str, region: str, key: str) -> str:
    """The virtual-hosted URL Service Catalog loads a template from."""
    return f"https://{bucket}.s3.{region}.amazonaws.com/{key}"


def build_plan(opts: PublishOptions, release: Release, region: str) -> Plan:
    """The ordered steps: checks first (nothing written before they pass), uploads, then the catalog.

    The order makes a repeated run after a failure finish the job: each step only depends on
    earlier ones, and reads before it writes.
    """
    b = opts.bucket
    steps = [
        Step("identity", "find the caller's account (sts get-caller-identity)"),
        Step("bucket", f"check bucket {b} exists in {region}"),
    ]
    if opts.via is Via.SERVICE_CATALOG:
        role = opts.launch_role_arn or release.launch_role_name or f"service-role/{STANDARD_LAUNCH_ROLE}"
        steps.append(Step("launch-role", f"check launch role {role} exists"))
    if release.seed_key:
        steps.append(Step("seed-bundle", f"upload the seed bundle to s3://{b}/{release.seed_key}"))
    template_key = f"{opts.prefix}{release.template.sha256}/{release.template.name}"
    steps.append(Step("template", f"upload the product template to s3://{b}/{template_key}"))
    if opts.via is Via.SERVICE_CATALOG:
        portfolio, product = opts.portfolio_name, opts.product_name
        steps += [
            Step("catalog-lookup", f"find portfolio {portfolio!r} and product {product!r}"),
            Step("portfolio", f"ensure portfolio {portfolio!r}"),
            Step("product", f"ensure product {product!r}"),
            Step("version", "add a product version if the template changed"),
            Step("association", f"associate product {product!r} with portfolio {portfolio!r}"),
            Step("launch-constraint", "ensure the portfolio's launch constraint for the product"),
            Step("principals", f"associate {len(opts.principal_arns)} principal(s) with the portfolio"),
            Step("visibility-tag", f"tag the product {VISIBILITY_TAG[0]}={VISIBILITY_TAG[1]}"),
        ]
    else:
        plan_stub = Plan(opts, release, region, ())
        steps += [
            Step("studio-template", f"put the template Studio lists at s3://{b}/{plan_stub.studio_key}"),
            Step("cors", f"allow {STUDIO_ORIGIN} to GET/HEAD bucket {b} (CORS)"),
            Step("domain-tag", f"tag domain {opts.domain_id} {TEMPLATES_LOCATION_TAG}={plan_stub.templates_location}"),
        ]
    return Plan(opts, release, region, tuple(steps))


# --- applying it ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Clients:
    """The boto3 clients publish uses (injected: tests pass moto- or Stubber-backed ones)."""

    sts: Any
    s3: Any
    iam: Any
    servicecatalog: Any
    sagemaker: Any

    def all(self) -> tuple[Any, ...]:
        return (self.sts, self.s3, self.iam, self.servicecatalog, self.sagemaker)


def make_clients(session: Any, region: str, endpoint_url: str | None = None) -> Clients:
    """Clients of `session` (a boto3 Session) in `region`, all at `endpoint_url` if given."""

    def client(service: str) -> Any:
        return session.client(service, region_name=region, endpoint_url=endpoint_url)

    return Clients(client("sts"), client("s3"), client("iam"), client("servicecatalog"), client("sagemaker"))


CREATED, UPDATED, UNCHANGED, PLANNED = "created", "updated", "unchanged", "planned"


@dataclass(frozen=True)
class Outcome:
    """What one step did."""

    step: str
    action: str
    detail: str

    def as_dict(self) -> dict[str, str]:
        return {"step": self.step, "action": self.action, "detail": self.detail}


@dataclass
class Report:
    """The run's result (`--json` prints `as_dict()`)."""

    plan: Plan
    dry_run: bool
    outcomes: list[Outcome] = field(default_factory=list)
    outputs: dict[str, str] = field(default_factory=dict)

    @property
    def changed(self) -> bool:
        return any(o.action in (CREATED, UPDATED) for o in self.outcomes)

    def as_dict(self) -> dict[str, Any]:
        return {
            "generator": f"mlops-gen {__version__}",
            "via": self.plan.options.via.value,
            "region": self.plan.region,
            "dry_run": self.dry_run,
            "changed": self.changed,
            "steps": [o.as_dict() for o in self.outcomes],
            "outputs": dict(sorted(self.outputs.items())),
        }


class Progress(Protocol):
    """Told when a step starts and what it did (the CLI shows it with rich)."""

    def start(self, step: Step) -> None: ...

    def done(self, outcome: Outcome) -> None: ...


def dry_run(plan: Plan) -> Report:
    """The report of a run that makes no call: every step `planned`."""
    report = Report(plan, dry_run=True, outputs=plan.outputs())
    report.outcomes = [Outcome(s.name, PLANNED, s.summary) for s in plan.steps]
    return report


def apply(plan: Plan, clients: Clients, progress: Progress | None = None) -> Report:
    """Run every step in order; the first failure raises PublishError (completed steps stay done)."""
    run = _Run(plan, clients)
    report = Report(plan, dry_run=False)
    for step in plan.steps:
        if progress:
            progress.start(step)
        outcome = run.step(step)
        report.outcomes.append(outcome)
        if progress:
            progress.done(outcome)
    report.outputs = {**plan.outputs(), **run.outputs}
    return report


def _paginate(client: Any, operation: str, key: str, **kwargs: Any) -> Iterator[dict[str, Any]]:
    for page in client.get_paginator(operation).paginate(**kwargs):
        yield from page.get(key, [])


def _tags(pairs: list[dict[str, str]]) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in pairs}


class _Run:
    """State shared by the steps of one run (account, ids found or created)."""

    def __init__(self, plan: Plan, clients: Clients) -> None:
        self.plan = plan
        self.opts = plan.options
        self.c = clients
        self.outputs: dict[str, str] = {}
        self.account = ""
        self.caller = ""
        self.partition = "aws"
        self.launch_role_arn = ""
        self.portfolio_id: str | None = None
        self.product_id: str | None = None
        self.product_created = False
        self._steps: dict[str, Callable[[], tuple[str, str]]] = {
            "identity": self.identity,
            "bucket": self.bucket,
            "launch-role": self.launch_role,
            "seed-bundle": self.seed_bundle,
            "template": self.template,
            "catalog-lookup": self.catalog_lookup,
            "portfolio": self.portfolio,
            "product": self.product,
            "version": self.version,
            "association": self.association,
            "launch-constraint": self.launch_constraint,
            "principals": self.principals,
            "visibility-tag": self.visibility_tag,
            "studio-template": self.studio_template,
            "cors": self.cors,
            "domain-tag": self.domain_tag,
        }

    def step(self, step: Step) -> Outcome:
        try:
            action, detail = self._steps[step.name]()
        except NoCredentialsError:
            raise PublishError(
                step.name,
                "no AWS credentials found",
                "pass --profile, set AWS_PROFILE or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, or run `aws configure`",
            ) from None
        except EndpointConnectionError as exc:
            raise PublishError(
                step.name,
                f"cannot reach {exc.kwargs.get('endpoint_url')}",
                "check --endpoint-url, --region and the network",
            ) from None
        except ClientError as exc:
            raise self._client_error(step.name, exc) from None
        return Outcome(step.name, action, detail)

    def _client_error(self, step: str, exc: ClientError) -> PublishError:
        error = exc.response.get("Error", {})
        code, message = str(error.get("Code", "")), str(error.get("Message", ""))
        action = f"{self._service_of(exc.operation_name)}:{exc.operation_name}"
        who = self.caller or "the caller"
        if code in ACCESS_DENIED:
            return PublishError(step, f"access denied to {action}", f"allow {action} for {who} and run publish again")
        if code in BAD_CREDENTIALS:
            return PublishError(
                step, f"the credentials were refused ({code})", "refresh them (aws sso login, or new keys)"
            )
        if code == "NoSuchBucket":
            return PublishError(
                step,
                f"bucket {self.opts.bucket} does not exist",
                f"create it in {self.plan.region} (aws s3 mb s3://{self.opts.bucket} --region {self.plan.region})",
            )
        return PublishError(step, f"{action} failed: {code}: {message}", "fix that and run publish again")

    def _service_of(self, operation: str) -> str:
        for client in self.c.all():
            if operation in client.meta.service_model.operation_names:
                return str(client.meta.service_model.service_name)
        return "aws"

    # --- checks ---------------------------------------------------------------------------------

    def identity(self) -> tuple[str, str]:
        ident = self.c.sts.get_caller_identity()
        self.account, self.caller = ident["Account"], ident["Arn"]
        self.partition = self.caller.split(":")[1]
        self.outputs["account"] = self.account
        return UNCHANGED, f"account {self.account} as {self.caller}"

    def bucket(self) -> tuple[str, str]:
        location = self.c.s3.get_bucket_location(Bucket=self.opts.bucket).get("LocationConstraint")
        # Buckets in us-east-1 report no location; very old eu-west-1 buckets report "EU".
        region = {None: "us-east-1", "": "us-east-1", "EU": "eu-west-1"}.get(location, location)
        if region != self.plan.region:
            raise PublishError(
                "bucket",
                f"bucket {self.opts.bucket} is in {region}, but the product is published in {self.plan.region}",
                f"pass a bucket in {self.plan.region} (and render with --seed-bucket set to it)",
            )
        return UNCHANGED, f"bucket {self.opts.bucket} in {region}"

    def launch_role(self) -> tuple[str, str]:
        if self.opts.launch_role_arn:
            self.launch_role_arn = self.opts.launch_role_arn
            return UNCHANGED, f"{self.launch_role_arn} (--launch-role-arn, not checked)"
        name = self.plan.release.launch_role_name or STANDARD_LAUNCH_ROLE
        try:
            role = self.c.iam.get_role(RoleName=name)["Role"]
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "NoSuchEntity":
                raise
            raise PublishError(
                "launch-role", f"role {name} does not exist in account {self.account}", self._role_fix(name)
            ) from None
        self.launch_role_arn = role["Arn"]
        self.outputs["launch_role_arn"] = self.launch_role_arn
        return UNCHANGED, self.launch_role_arn

    def _role_fix(self, name: str) -> str:
        if self.plan.release.launch_role_template is None:
            return (
                "enable SageMaker project templates for your Studio domain (that creates the standard role), "
                "or pass --launch-role-arn"
            )
        template = self.opts.folder / self.plan.release.launch_role_template
        return (
            f"deploy {template} first: aws cloudformation deploy --template-file {template} --stack-name {name} "
            f"--capabilities CAPABILITY_NAMED_IAM --region {self.plan.region}"
        )

    # --- uploads --------------------------------------------------------------------------------

    def _head(self, key: str) -> dict[str, Any] | None:
        try:
            head: dict[str, Any] = self.c.s3.head_object(Bucket=self.opts.bucket, Key=key)
        except ClientError as exc:
            if str(exc.response.get("Error", {}).get("Code")) in NOT_FOUND:
                return None
            raise
        return head

    def _ensure_tags(self, key: str, wanted: Mapping[str, str]) -> bool:
        """Add missing tags to an existing object, keeping others; True if it changed anything."""
        current = _tags(self.c.s3.get_object_tagging(Bucket=self.opts.bucket, Key=key)["TagSet"])
        if all(current.get(k) == v for k, v in wanted.items()):
            return False
        merged = {**current, **wanted}
        self.c.s3.put_object_tagging(
            Bucket=self.opts.bucket,
            Key=key,
            Tagging={"TagSet": [{"Key": k, "Value": v} for k, v in sorted(merged.items())]},
        )
        return True

    def _put(self, key: str, file: LocalFile, tags: Mapping[str, str]) -> None:
        self.c.s3.put_object(
            Bucket=self.opts.bucket,
            Key=key,
            Body=file.data,
            Tagging=urlencode(sorted(tags.items())),
            Metadata={SHA_METADATA: file.sha256},
        )

    def _upload(self, step: str, key: str, file: LocalFile, tags: Mapping[str, str]) -> tuple[str, str]:
        """Upload to a content-addressed key: an existing object there already holds these bytes."""
        where = f"s3://{self.opts.bucket}/{key}"
        head = self._head(key)
        if head is None:
            self._put(key, file, tags)
            return CREATED, where
        if head.get("ContentLength") != len(file.data):
            raise PublishError(
                step,
                f"{where} exists with other content ({head.get('ContentLength')} bytes, not {len(file.data)})",
                "delete that object or use another --prefix",
            )
        return (UPDATED, f"{where} (tags added)") if self._ensure_tags(key, tags) else (UNCHANGED, where)

    def seed_bundle(self) -> tuple[str, str]:
        assert self.plan.release.seed is not None and self.plan.release.seed_key is not None
        return self._upload("seed-bundle", self.plan.release.seed_key, self.plan.release.seed, dict([PROVISIONING_TAG]))

    def template(self) -> tuple[str, str]:
        return self._upload("template", self.plan.template_key, self.plan.release.template, dict([PROVISIONING_TAG]))

    # --- Service Catalog --------------------------------------------------------------------------

    def catalog_lookup(self) -> tuple[str, str]:
        """Read-only: find both by name, and refuse a product another portfolio owns before creating anything."""
        sc = self.c.servicecatalog
        name = self.opts.portfolio_name
        portfolios = [p for p in _paginate(sc, "list_portfolios", "PortfolioDetails") if p["DisplayName"] == name]
        if len(portfolios) > 1:
            ids = ", ".join(p["Id"] for p in portfolios)
            raise PublishError(
                "catalog-lookup",
                f"{len(portfolios)} portfolios are named {name!r} ({ids})",
                "delete or rename the extra ones, or pass another --portfolio-name",
            )
        self.portfolio_id = portfolios[0]["Id"] if portfolios else None
        product = self.opts.product_name
        found = [
            d["ProductViewSummary"]
            for d in _paginate(
                sc, "search_products_as_admin", "ProductViewDetails", Filters={"FullTextSearch": [product]}
            )
            if d["ProductViewSummary"]["Name"] == product
        ]
        if len(found) > 1:
            ids = ", ".join(p["ProductId"] for p in found)
            raise PublishError(
                "catalog-lookup",
                f"{len(found)} products are named {product!r} ({ids})",
                "delete the extra ones, or pass another --product-name",
            )
        self.product_id = found[0]["ProductId"] if found else None
        if self.product_id:
            owners = list(_paginate(sc, "list_portfolios_for_product", "PortfolioDetails", ProductId=self.product_id))
            if owners and all(p["Id"] != self.portfolio_id for p in owners):
                names = ", ".join(f"{p['DisplayName']!r} ({p['Id']})" for p in owners)
                raise PublishError(
                    "catalog-lookup",
                    f"product {product!r} ({self.product_id}) belongs to portfolio {names}, not {name!r}",
                    f"publish with --portfolio-name {owners[0]['DisplayName']!r}, or choose another --product-name",
                )
        seen = [
            f"portfolio {self.portfolio_id}" if self.portfolio_id else "no portfolio",
            f"product {self.product_id}" if self.product_id else "no product",
        ]
        return UNCHANGED, ", ".join(seen)

    def portfolio(self) -> tuple[str, str]:
        if self.portfolio_id:
            self.outputs["portfolio_id"] = self.portfolio_id
            return UNCHANGED, self.portfolio_id
        detail = self.c.servicecatalog.create_portfolio(
            DisplayName=self.opts.portfolio_name,
            ProviderName=self.opts.product_owner,
            Description=PORTFOLIO_DESCRIPTION,
        )["PortfolioDetail"]
        self.portfolio_id = detail["Id"]
        self.outputs["portfolio_id"] = detail["Id"]
        return CREATED, detail["Id"]

    def _artifact(self, number: int) -> dict[str, Any]:
        sha = self.plan.release.template.sha256
        return {
            "Name": f"{number}.0",
            "Description": f"mlops-gen {__version__}, template sha256:{sha}",
            "Info": {"LoadTemplateFromURL": self.plan.template_url},
            "Type": "CLOUD_FORMATION_TEMPLATE",
        }

    def product(self) -> tuple[str, str]:
        if self.product_id:
            self.outputs["product_id"] = self.product_id
            return UNCHANGED, self.product_id
        response = self.c.servicecatalog.create_product(
            Name=self.opts.product_name,
            Owner=self.opts.product_owner,
            Description=PRODUCT_DESCRIPTION,
            ProductType="CLOUD_FORMATION_TEMPLATE",
            Tags=[{"Key": VISIBILITY_TAG[0], "Value": VISIBILITY_TAG[1]}],
            ProvisioningArtifactParameters=self._artifact(1),
        )
        self.product_id = response["ProductViewDetail"]["ProductViewSummary"]["ProductId"]
        self.product_created = True
        self.outputs["product_id"] = self.product_id
        artifact_id = response.get("ProvisioningArtifactDetail", {}).get("Id")
        if artifact_id:
            self.outputs["provisioning_artifact_id"] = artifact_id
        return CREATED, f"{self.product_id} with version 1.0"

    def version(self) -> tuple[str, str]:
        sha = self.plan.release.template.sha256
        if self.product_created:
            return UNCHANGED, "version 1.0 was created with the product"
        artifacts = self.c.servicecatalog.list_provisioning_artifacts(ProductId=self.product_id)
        details = artifacts.get("ProvisioningArtifactDetails", [])
        active = [a for a in details if a.get("Active", True)]
        if active:
            newest = max(active, key=lambda a: a["CreatedTime"])
            match = _SHA_IN_DESCRIPTION.search(newest.get("Description", ""))
            if match and match.group(1) == sha:
                self.outputs["provisioning_artifact_id"] = newest["Id"]
                return UNCHANGED, f"newest version {newest.get('Name')} ({newest['Id']}) has this template"
        created = self.c.servicecatalog.create_provisioning_artifact(
            ProductId=self.product_id, Parameters=self._artifact(len(details) + 1)
        )["ProvisioningArtifactDetail"]
        self.outputs["provisioning_artifact_id"] = created["Id"]
        return CREATED, f"version {created.get('Name')} ({created['Id']})"

    def association(self) -> tuple[str, str]:
        sc = self.c.servicecatalog
        owners = {
            p["Id"] for p in _paginate(sc, "list_portfolios_for_product", "PortfolioDetails", ProductId=self.product_id)
        }
        if self.portfolio_id in owners:
            return UNCHANGED, f"product {self.product_id} is in portfolio {self.portfolio_id}"
        sc.associate_product_with_portfolio(ProductId=self.product_id, PortfolioId=self.portfolio_id)
        return CREATED, f"product {self.product_id} added to portfolio {self.portfolio_id}"

    def launch_constraint(self) -> tuple[str, str]:
        sc = self.c.servicecatalog
        wanted = json.dumps({"RoleArn": self.launch_role_arn})
        launch = [
            c
            for c in _paginate(
                sc,
                "list_constraints_for_portfolio",
                "ConstraintDetails",
                PortfolioId=self.portfolio_id,
                ProductId=self.product_id,
            )
            if c["Type"] == "LAUNCH"
        ]
        if not launch:
            created = sc.create_constraint(
                PortfolioId=self.portfolio_id,
                ProductId=self.product_id,
                Type="LAUNCH",
                Parameters=wanted,
                Description="Launch role (mlops-gen)",
            )["ConstraintDetail"]
            return CREATED, f"{created['ConstraintId']}: {self.launch_role_arn}"
        constraint_id = launch[0]["ConstraintId"]
        current = json.loads(sc.describe_constraint(Id=constraint_id).get("ConstraintParameters") or "{}")
        if current.get("RoleArn") == self.launch_role_arn:
            return UNCHANGED, f"{constraint_id}: {self.launch_role_arn}"
        sc.update_constraint(Id=constraint_id, Parameters=wanted)
        was = current.get("RoleArn") or current.get("LocalRoleName") or "another role"
        return UPDATED, f"{constraint_id}: {was} -> {self.launch_role_arn}"

    def principals(self) -> tuple[str, str]:
        sc = self.c.servicecatalog
        present = {
            p["PrincipalARN"]
            for p in _paginate(sc, "list_principals_for_portfolio", "Principals", PortfolioId=self.portfolio_id)
        }
        missing = [arn for arn in self.opts.principal_arns if arn not in present]
        for arn in missing:
            sc.associate_principal_with_portfolio(PortfolioId=self.portfolio_id, PrincipalARN=arn, PrincipalType="IAM")
        if missing:
            return CREATED, "added " + ", ".join(missing)
        if not present:
            return UNCHANGED, "no principal: Studio users see nothing until you pass --principal-arn <execution role>"
        return UNCHANGED, f"{len(present)} principal(s) already associated"

    def visibility_tag(self) -> tuple[str, str]:
        sc = self.c.servicecatalog
        key, value = VISIBILITY_TAG
        tags = _tags(sc.describe_product_as_admin(Id=self.product_id).get("Tags", []))
        if tags.get(key, "").lower() == value:
            return UNCHANGED, f"{key}={tags[key]}"
        sc.update_product(Id=self.product_id, AddTags=[{"Key": key, "Value": value}])
        return UPDATED, f"{key}={value}"

    # --- S3 templates ---------------------------------------------------------------------------

    def studio_template(self) -> tuple[str, str]:
        """The object Studio lists: one per product name, replaced only when the template changed."""
        key, file = self.plan.studio_key, self.plan.release.template
        tags = dict([VISIBILITY_TAG, PROVISIONING_TAG])
        where = f"s3://{self.opts.bucket}/{key}"
        head = self._head(key)
        if head is None:
            self._put(key, file, tags)
            return CREATED, where
        if head.get("Metadata", {}).get(SHA_METADATA) != file.sha256:
            self._put(key, file, tags)
            return UPDATED, f"{where} (template changed)"
        return (UPDATED, f"{where} (tags added)") if self._ensure_tags(key, tags) else (UNCHANGED, where)

    def cors(self) -> tuple[str, str]:
        s3, bucket = self.c.s3, self.opts.bucket
        try:
            rules: list[dict[str, Any]] = s3.get_bucket_cors(Bucket=bucket)["CORSRules"]
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "NoSuchCORSConfiguration":
                raise
            rules = []
        if any(_allows_studio(rule) for rule in rules):
            return UNCHANGED, f"a CORS rule of {bucket} already allows {STUDIO_ORIGIN}"
        ours = {
            "ID": CORS_RULE_ID,
            "AllowedOrigins": [STUDIO_ORIGIN],
            "AllowedMethods": list(CORS_METHODS),
            "AllowedHeaders": ["*"],
            "MaxAgeSeconds": 3000,
        }
        s3.put_bucket_cors(Bucket=bucket, CORSConfiguration={"CORSRules": [*rules, ours]})
        kept = f", kept {len(rules)} existing rule(s)" if rules else ""
        return (UPDATED if rules else CREATED), f"rule {CORS_RULE_ID} added{kept}"

    def domain_tag(self) -> tuple[str, str]:
        sm = self.c.sagemaker
        arn = sm.describe_domain(DomainId=self.opts.domain_id)["DomainArn"]
        self.outputs["domain_arn"] = arn
        tags = _tags(list(_paginate(sm, "list_tags", "Tags", ResourceArn=arn)))
        location = self.plan.templates_location
        current = tags.get(TEMPLATES_LOCATION_TAG)
        if current == location:
            return UNCHANGED, f"{TEMPLATES_LOCATION_TAG}={location}"
        if current is not None:
            raise PublishError(
                "domain-tag",
                f"domain {self.opts.domain_id} already reads templates from {current}",
                f"publish with the --bucket/--prefix of that location, or remove the tag first "
                f"(aws sagemaker delete-tags --resource-arn {arn} --tag-keys {TEMPLATES_LOCATION_TAG})",
            )
        sm.add_tags(ResourceArn=arn, Tags=[{"Key": TEMPLATES_LOCATION_TAG, "Value": location}])
        return CREATED, f"{TEMPLATES_LOCATION_TAG}={location}"


def _allows_studio(rule: Mapping[str, Any]) -> bool:
    origins = set(rule.get("AllowedOrigins", []))
    return bool(origins & {STUDIO_ORIGIN, "*"}) and set(CORS_METHODS) <= set(rule.get("AllowedMethods", []))


# --- showing it -------------------------------------------------------------------------------------

_COLOURS = {CREATED: "green", UPDATED: "yellow", UNCHANGED: "dim", PLANNED: "cyan"}


class RichProgress:
    """Progress on stderr: a spinner while a step runs, then one line per step."""

    def __init__(self) -> None:
        from rich.console import Console

        self.console = Console(stderr=True, highlight=False)
        self._status: Any = None

    def start(self, step: Step) -> None:
        self._status = self.console.status(f"{step.name}: {step.summary}")
        self._status.start()

    def done(self, outcome: Outcome) -> None:
        if self._status is not None:
            self._status.stop()
            self._status = None
        self.show(outcome)

    def stop(self) -> None:
        if self._status is not None:
            self._status.stop()
            self._status = None

    def show(self, outcome: Outcome) -> None:
        from rich.text import Text

        line = Text()
        line.append(f"{outcome.action:<9}", style=_COLOURS.get(outcome.action, ""))
        line.append(f" {outcome.step:<17} ", style="bold")
        line.append(outcome.detail)
        self.console.print(line, soft_wrap=True)
