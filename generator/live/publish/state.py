"""What the steps share: the injected boto3 clients, the state of one run, and small helpers for AWS shapes."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from generator.live.publish.options import PublishOptions
from generator.live.publish.plan import Plan

CREATED, UPDATED, UNCHANGED, PLANNED = "created", "updated", "unchanged", "planned"

#: What a step returns: its action (CREATED, UPDATED or UNCHANGED) and one line of detail.
Result = tuple[str, str]


@dataclass(frozen=True)
class Clients:
    """The boto3 clients publish uses (injected: tests pass moto- or Stubber-backed ones)."""

    sts: Any
    s3: Any
    iam: Any
    servicecatalog: Any
    sagemaker: Any
    organizations: Any

    def all(self) -> tuple[Any, ...]:
        return (self.sts, self.s3, self.iam, self.servicecatalog, self.sagemaker, self.organizations)


def make_clients(session: Any, region: str, endpoint_url: str | None = None) -> Clients:
    """Clients of `session` (a boto3 Session) in `region`, all at `endpoint_url` if given."""

    def client(service: str) -> Any:
        return session.client(service, region_name=region, endpoint_url=endpoint_url)

    return Clients(*(client(s) for s in ("sts", "s3", "iam", "servicecatalog", "sagemaker", "organizations")))


@dataclass
class Run:
    """State shared by the steps of one run: what earlier steps found or created, for later ones."""

    plan: Plan
    clients: Clients
    #: Learnt during the run; the report adds them to the plan's outputs.
    outputs: dict[str, str] = field(default_factory=dict)
    account: str = ""
    caller: str = ""
    partition: str = "aws"
    launch_role_arn: str = ""
    portfolio_id: str | None = None
    product_id: str | None = None
    product_created: bool = False

    @property
    def opts(self) -> PublishOptions:
        return self.plan.options


def paginate(client: Any, operation: str, key: str, **kwargs: Any) -> Iterator[dict[str, Any]]:
    """Every item under `key` of every page of `operation`."""
    for page in client.get_paginator(operation).paginate(**kwargs):
        yield from page.get(key, [])


def tag_map(pairs: list[dict[str, str]]) -> dict[str, str]:
    """AWS's `[{"Key": k, "Value": v}]` as `{k: v}`."""
    return {t["Key"]: t["Value"] for t in pairs}


def tag_list(tags: Mapping[str, str]) -> list[dict[str, str]]:
    """`{k: v}` as AWS's `[{"Key": k, "Value": v}]`, sorted by key."""
    return [{"Key": k, "Value": v} for k, v in sorted(tags.items())]
