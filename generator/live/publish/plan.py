"""The plan: the ordered steps publish will take and the keys it will write, computed without calling AWS.

`--dry-run` prints it; `apply` runs it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from generator.live.publish.options import PublishOptions, Via
from generator.live.publish.release import Release
from generator.naming import STANDARD_LAUNCH_ROLE

#: Studio shows a Service Catalog product (or, for s3-template, a template object) only with this tag.
VISIBILITY_TAG = ("sagemaker:studio-visibility", "true")
#: The standard launch role (and our generated one) may read objects with this tag from any bucket.
PROVISIONING_TAG = ("servicecatalog:provisioning", "true")
#: The domain tag that points Studio at the S3 templates (s3-template).
TEMPLATES_LOCATION_TAG = "sagemaker:projectS3TemplatesLocation"
STUDIO_ORIGIN = "https://*.sagemaker.aws"
#: The folder (under --prefix) the domain tag points at; Studio lists the templates found there.
STUDIO_FOLDER = "templates/"


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
    keys = Plan(opts, release, region, ())  # the keys and locations the summaries name
    steps = [
        Step("identity", "find the caller's account (sts get-caller-identity)"),
        Step("organization", "check the organisation is the one the product was rendered for (--org-id)"),
        Step("bucket", f"check bucket {b} exists in {region}"),
    ]
    if opts.via is Via.SERVICE_CATALOG:
        role = opts.launch_role_arn or release.launch_role_name or f"service-role/{STANDARD_LAUNCH_ROLE}"
        steps.append(Step("launch-role", f"check launch role {role} exists"))
    else:
        steps.append(Step("domain", f"check SageMaker domain {opts.domain_id} exists and may be tagged"))
    if release.seed_key:
        steps.append(Step("seed-bundle", f"upload the seed bundle to s3://{b}/{release.seed_key}"))
    steps.append(Step("template", f"upload the product template to s3://{b}/{keys.template_key}"))
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
        steps += [
            Step("studio-template", f"put the template Studio lists at s3://{b}/{keys.studio_key}"),
            Step("cors", f"allow {STUDIO_ORIGIN} to GET/HEAD bucket {b} (CORS)"),
            Step("domain-tag", f"tag domain {opts.domain_id} {TEMPLATES_LOCATION_TAG}={keys.templates_location}"),
        ]
    return Plan(opts, release, region, tuple(steps))
