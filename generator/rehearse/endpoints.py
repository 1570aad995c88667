"""The endpoints' side: what the deployed models answer (moto's canned results stand in for the
containers), and which model package every account's endpoints actually serve."""

from __future__ import annotations

import json
from typing import Any

from generator.rehearse.organization import ACCESS_ROLE
from generator.rehearse.server import LocalAws

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


def served(aws: LocalAws, account: str, regions: tuple[str, ...]) -> dict[str, dict[str, str]]:
    """region -> endpoint name -> the model package its live variant serves, in `account`."""
    session = aws.assume(account, ACCESS_ROLE)
    found: dict[str, dict[str, str]] = {}
    for region in regions:
        sm = aws.client("sagemaker", session, region)
        for page in sm.get_paginator("list_endpoints").paginate():
            for summary in page["Endpoints"]:
                endpoint = sm.describe_endpoint(EndpointName=summary["EndpointName"])
                config = sm.describe_endpoint_config(EndpointConfigName=endpoint["EndpointConfigName"])
                packages = [_package(sm, v["ModelName"]) for v in config["ProductionVariants"]]
                found.setdefault(region, {})[summary["EndpointName"]] = ", ".join(packages)
    return found


def _package(sm: Any, model: str) -> str:
    described = sm.describe_model(ModelName=model)
    containers = [described.get("PrimaryContainer", {}), *described.get("Containers", [])]
    return next((c["ModelPackageName"] for c in containers if c.get("ModelPackageName")), f"(model {model})")
