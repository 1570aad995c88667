"""The endpoints' side: what the deployed models answer (moto's canned results stand in for the
containers), and which model package every account's endpoints actually serve."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from generator.live.rehearse.organization import ACCESS_ROLE
from generator.live.rehearse.server import LocalAws

#: XGBoost multi:softprob answers for one CSV row: three class probabilities summing to 1.
GOOD_ANSWERS = ("0.96,0.03,0.01", "0.02,0.95,0.03", "0.01,0.04,0.95")
#: What a broken model or serving container might send instead (`--fail-test`).
MALFORMED_ANSWER = '{"error": "model returned no prediction"}'
#: Answers queued per account and region: more than the distinct rows any endpoint test sends.
QUEUED = 64


def queue_answers(aws: LocalAws, instances: list[tuple[str, str]], malformed: bool) -> None:
    """Queue the answers the endpoints in each (account, region) give to each distinct request."""
    for account, region in sorted(set(instances)):
        bodies = [MALFORMED_ANSWER] * QUEUED if malformed else [GOOD_ANSWERS[i % 3] for i in range(QUEUED)]
        results = [{"Body": b, "ContentType": "text/csv", "InvokedProductionVariant": "AllTraffic"} for b in bodies]
        payload = {"account_id": account, "region": region, "results": results}
        aws.post("/moto-api/static/sagemaker/endpoint-results", json.dumps(payload).encode())


@dataclass
class Reads:
    """DescribeModel and DescribeModelPackage answers of one verification, which reads every account's models
    twice (`served`, then `region_sources`) and the home account's package once per model: nothing changes them
    while it reads, so each is asked once. A model is keyed by account, region and name, a package by its ARN
    (both read as the same caller each time: the account's access role, the management account)."""

    models: dict[tuple[str, str, str], dict[str, Any]] = field(default_factory=dict)
    packages: dict[str, dict[str, Any]] = field(default_factory=dict)

    def model(self, sm: Any, account: str, region: str, name: str) -> dict[str, Any]:
        key = (account, region, name)
        if key not in self.models:
            self.models[key] = sm.describe_model(ModelName=name)
        return self.models[key]

    def package(self, sm: Any, arn: str) -> dict[str, Any]:
        if arn not in self.packages:
            self.packages[arn] = sm.describe_model_package(ModelPackageName=arn)
        return self.packages[arn]


def served(
    aws: LocalAws, account: str, regions: tuple[str, ...], reads: Reads | None = None
) -> dict[str, dict[str, str]]:
    """region -> endpoint name -> the model package its live variant serves, in `account`."""
    reads = Reads() if reads is None else reads
    session = aws.assume(account, ACCESS_ROLE)
    found: dict[str, dict[str, str]] = {}
    for region in regions:
        sm = aws.client("sagemaker", session, region)
        for page in sm.get_paginator("list_endpoints").paginate():
            for summary in page["Endpoints"]:
                endpoint = sm.describe_endpoint(EndpointName=summary["EndpointName"])
                config = sm.describe_endpoint_config(EndpointConfigName=endpoint["EndpointConfigName"])
                packages = [
                    _package(sm, reads.model(sm, account, region, v["ModelName"])) for v in config["ProductionVariants"]
                ]
                found.setdefault(region, {})[summary["EndpointName"]] = ", ".join(packages)
    return found


#: The endpoint template's tag naming the approved package a model serves (a regional copy's lineage).
LINEAGE_TAG = "model-package-arn"


def _package(sm: Any, described: dict[str, Any]) -> str:
    """The package the model (`described`: its DescribeModel) serves: its container's ModelPackageName, or for a
    regional copy (artifacts and image in the model's region) the package its lineage tag names."""
    containers = [described.get("PrimaryContainer", {}), *described.get("Containers", [])]
    named = next((c["ModelPackageName"] for c in containers if c.get("ModelPackageName")), None)
    if named:
        return str(named)
    tags = {t["Key"]: t["Value"] for t in sm.list_tags(ResourceArn=described["ModelArn"]).get("Tags", [])}
    return str(tags.get(LINEAGE_TAG) or f"(model {described['ModelName']})")


def region_sources(
    aws: LocalAws, accounts: list[str], regions: tuple[str, ...], reads: Reads | None = None
) -> dict[str, dict[str, list[str]]]:
    """region -> where its models' artifacts and image come from (`artifact_buckets`, `images`, `served_as`),
    over every model in `accounts`: what the stack sets actually created, as SageMaker would read it."""
    reads = Reads() if reads is None else reads
    home = aws.client("sagemaker")
    found: dict[str, dict[str, set[str]]] = {
        r: {"artifact_buckets": set(), "images": set(), "served_as": set()} for r in regions
    }
    for account in accounts:
        session = aws.assume(account, ACCESS_ROLE)
        for region in regions:
            sm = aws.client("sagemaker", session, region)
            for page in sm.get_paginator("list_models").paginate():
                for summary in page["Models"]:
                    described = reads.model(sm, account, region, summary["ModelName"])
                    for container in [described.get("PrimaryContainer", {}), *described.get("Containers", [])]:
                        into = found[region]
                        if container.get("ModelPackageName"):
                            package = reads.package(home, container["ModelPackageName"])
                            inner = package.get("InferenceSpecification", {}).get("Containers", [{}])[0]
                            into["served_as"].add("model package " + container["ModelPackageName"])
                        else:
                            inner = container
                            into["served_as"].add("regional copy")
                        url = str(inner.get("ModelDataUrl", ""))
                        if url:
                            into["artifact_buckets"].add(url.removeprefix("s3://").split("/", 1)[0])
                        if inner.get("Image"):
                            into["images"].add(str(inner["Image"]))
    return {r: {k: sorted(v) for k, v in by.items()} for r, by in found.items()}
