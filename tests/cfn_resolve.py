"""Test helpers over generator/iam/resolve.py: the rendered product, resolved for a sample launch."""

from __future__ import annotations

from typing import Any

from generator.iam.resolve import SAMPLE_ACCOUNT, SAMPLE_PROJECT_ID, SAMPLE_PROJECT_NAME, load_template
from generator.iam.resolve import Resolver as _Resolver
from generator.rendered import RenderedFile

ACCOUNT = SAMPLE_ACCOUNT
REGION = "eu-west-1"
PROJECT_NAME = SAMPLE_PROJECT_NAME
PROJECT_ID = SAMPLE_PROJECT_ID
SEED_BUCKET = "sagemaker-seed-bucket"


def product_template(files: list[RenderedFile]) -> dict[str, Any]:
    """The parsed product template among a render's files."""
    (product,) = [f for f in files if f.kind == "product-template"]
    return load_template(product.content.decode(), product.path)


def Resolver(template: dict[str, Any], parameters: dict[str, str] | None = None) -> _Resolver:
    """A resolver with the sample project name, id and seed bucket (overridable)."""
    values = {"SageMakerProjectName": PROJECT_NAME, "SageMakerProjectId": PROJECT_ID, "SeedCodeBucket": SEED_BUCKET}
    values.update(parameters or {})
    return _Resolver(template, values, region=REGION, account=ACCOUNT)
