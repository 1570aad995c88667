"""`mlops-gen publish`: put a rendered product where SageMaker Studio finds it, and do it idempotently.

Two ways (docs: shared/reference/aws-facts.md):

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

This is, with `doctor`, the only package that talks to AWS. Its modules, in the order a run uses them:

- `options`: the flags and their checks; `release`: what DIR holds; `plan`: the steps (no AWS).
- `state`: the clients and what one run learns; `errors`: PublishError and how boto failures read.
- the steps: `checks` (identity, bucket, launch role), `uploads` (S3), `catalog` (Service Catalog),
  `studio` (s3-template); `runner`: `apply` and its report; `progress`: showing it.
"""

from generator.live.publish.errors import PublishError
from generator.live.publish.options import PublishOptions, Via, check_options, from_render, parse_via
from generator.live.publish.plan import Plan, Step, build_plan
from generator.live.publish.progress import RichProgress
from generator.live.publish.release import LocalFile, Release, load_release, resolve_region
from generator.live.publish.runner import Outcome, Progress, Report, apply, dry_run
from generator.live.publish.state import CREATED, PLANNED, UNCHANGED, UPDATED, Clients, make_clients

__all__ = [
    "CREATED",
    "PLANNED",
    "UNCHANGED",
    "UPDATED",
    "Clients",
    "LocalFile",
    "Outcome",
    "Plan",
    "Progress",
    "PublishError",
    "PublishOptions",
    "Release",
    "Report",
    "RichProgress",
    "Step",
    "Via",
    "apply",
    "build_plan",
    "check_options",
    "dry_run",
    "from_render",
    "load_release",
    "make_clients",
    "parse_via",
    "resolve_region",
]
