"""The publish flags: their defaults and the checks that refuse, before any read or call, what cannot work."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

from generator.config import DEFAULT_PORTFOLIO_NAME, DEFAULT_PRODUCT_NAME
from generator.errors import InputError


class Via(StrEnum):
    """How Studio finds the template."""

    SERVICE_CATALOG = "service-catalog"
    S3_TEMPLATE = "s3-template"


DEFAULT_PREFIX = "mlops-gen/"
DEFAULT_PORTFOLIO = DEFAULT_PORTFOLIO_NAME  # render's defaults: one name from render to publish
DEFAULT_PRODUCT = DEFAULT_PRODUCT_NAME
DEFAULT_OWNER = "mlops-gen"

BUCKET_PATTERN = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
PREFIX_PATTERN = re.compile(r"^([A-Za-z0-9!_.*'()-]+/)+$")
ROLE_ARN_PATTERN = re.compile(r"^arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]+$")
PRINCIPAL_ARN_PATTERN = re.compile(r"^arn:aws[a-z-]*:iam::\d{12}:(role|user|group)/[\w+=,.@/-]+$")
DOMAIN_ID_PATTERN = re.compile(r"^d-(-*[a-z0-9]){1,61}$")


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


#: publish flag -> the render option (manifest setting) it defaults to.
FROM_RENDER = {
    "bucket": "seed-bucket",
    "portfolio-name": "portfolio-name",
    "product-name": "product-name",
    "principal-arn": "studio-role-arn",
}


def from_render(
    settings: Mapping[str, Any], flags: Mapping[str, Any], via: Via = Via.SERVICE_CATALOG
) -> tuple[dict[str, Any], list[str]]:
    """Each publish value: the flag if given, else what render recorded; plus a line per override.

    What render decided (the seed bucket the product reads, the portfolio and product names, the
    Studio roles) is what publish must use, so a user never types it twice; a flag that differs says so.
    """
    values: dict[str, Any] = {}
    notes: list[str] = []
    for flag, key in FROM_RENDER.items():
        given, rendered = flags.get(flag), settings.get(key)
        if flag == "principal-arn":
            given = tuple(given or ()) or None
            rendered = tuple(rendered or ()) or None
        if given is None:
            values[flag] = rendered
        else:
            values[flag] = given
            if rendered is not None and given != rendered:
                notes.append(f"--{flag} overrides the render's {key} ({_shown(rendered)}) with {_shown(given)}")
    if values["bucket"] is None:
        raise InputError(
            "--bucket",
            "is required: the render has no --seed-bucket. Render with --seed-bucket BUCKET (the product reads "
            "its seed code from there) and publish again, or pass --bucket BUCKET",
        )
    values["portfolio-name"] = values["portfolio-name"] or DEFAULT_PORTFOLIO
    values["product-name"] = values["product-name"] or DEFAULT_PRODUCT
    values["principal-arn"] = tuple(values["principal-arn"] or ())
    if via is Via.S3_TEMPLATE and flags.get("principal-arn") is None:
        values["principal-arn"] = ()  # Studio roles are a portfolio's; an S3 template has none to associate
    return values, notes


def _shown(value: Any) -> str:
    return ", ".join(value) if isinstance(value, tuple) else repr(value)


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
