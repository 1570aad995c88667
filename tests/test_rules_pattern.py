"""The rendered EventBridge rules start the pipeline for the right events only.

Approach: resolve each rule's `EventPattern` from the rendered product with a sample project, then
match sample events (shaped like the AWS-documented ones) with moto's EventBridge pattern matcher,
offline and end to end (put_rule + an SQS target, put_events, read the queue).
"""

from __future__ import annotations

import copy
import functools
import json
from typing import Any

import boto3
import pytest
from moto.events.models import EventPattern  # internal class: moto is pinned (see aws-facts.md)

from tests.cfn_resolve import ACCOUNT, PROJECT_NAME, REGION, Resolver, product_template
from tests.conftest import CONNECTION_ARN, make_config, rendered_files

OTHER_GROUP = "other-project"


def resolved_pattern(rule: str, **overrides: Any) -> dict[str, Any]:
    """The rule's EventPattern from the rendered product, with the sample project's values."""
    template = product_template(rendered_files(make_config(**overrides)))
    return dict(Resolver(template).resolve(template["Resources"][rule]["Properties"]["EventPattern"]))


def model_event(status: str = "Approved", group: str = PROJECT_NAME) -> dict[str, Any]:
    """A `SageMaker Model Package State Change` event as EventBridge delivers it."""
    arn = f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:model-package/{group.lower()}/3"
    return {
        "version": "0",
        "id": "6f2a1b9c-0d1e-4f5a-8b7c-9d0e1f2a3b4c",
        "detail-type": "SageMaker Model Package State Change",
        "source": "aws.sagemaker",
        "account": ACCOUNT,
        "time": "2026-11-26T10:00:00Z",
        "region": REGION,
        "resources": [arn],
        "detail": {
            "ModelPackageGroupName": group,
            "ModelPackageVersion": 3,
            "ModelPackageArn": arn,
            "CreationTime": 1795000000000,
            "ModelPackageStatus": "Completed",
            "ModelApprovalStatus": status,
        },
    }


@functools.cache
def repository_arn() -> str:
    """Rendered once: the parametrised events below are built at collection time."""
    template = product_template(rendered_files(make_config()))
    return str(Resolver(template).get_att("ModelDeployRepository", "Arn"))


def push_event(branch: str = "main", event: str = "referenceUpdated", kind: str = "branch") -> dict[str, Any]:
    """A `CodeCommit Repository State Change` event for a push to the deploy repository."""
    arn = repository_arn()
    return {
        "version": "0",
        "id": "01234567-0123-0123-0123-012345678901",
        "detail-type": "CodeCommit Repository State Change",
        "source": "aws.codecommit",
        "account": ACCOUNT,
        "time": "2026-11-26T10:00:00Z",
        "region": REGION,
        "resources": [arn],
        "detail": {
            "callerUserArn": f"arn:aws:iam::{ACCOUNT}:user/alice",
            "commitId": "3c5f4a1b2e6d7f8091a2b3c4d5e6f708192a3b4c",
            "event": event,
            "oldCommitId": "0a1b2c3d4e5f60718293a4b5c6d7e8f901a2b3c4",
            "referenceFullName": f"refs/{'heads' if kind == 'branch' else 'tags'}/{branch}",
            "referenceName": branch,
            "referenceType": kind,
            "repositoryId": "12345678-1234-1234-1234-123456789012",
            "repositoryName": arn.rsplit(":", 1)[1],
        },
    }


def _other_repository(event: dict[str, Any]) -> dict[str, Any]:
    changed = copy.deepcopy(event)
    changed["resources"] = [f"arn:aws:codecommit:{REGION}:{ACCOUNT}:some-other-repository"]
    return changed


MODEL_EVENTS: list[tuple[str, dict[str, Any], bool]] = [
    ("approved", model_event("Approved"), True),
    # A new registration never deploys ...
    ("pending", model_event("PendingManualApproval"), False),
    # ... but rejecting a version does: the build redeploys the newest version still Approved.
    ("rejected", model_event("Rejected"), True),
    ("approved-other-group", model_event("Approved", OTHER_GROUP), False),
    ("approved-group-name-prefix", model_event("Approved", PROJECT_NAME + "-v2"), False),
    ("other-source", {**model_event("Approved"), "source": "aws.codecommit"}, False),
]
PUSH_EVENTS: list[tuple[str, dict[str, Any], bool]] = [
    ("push-to-branch", push_event("main"), True),
    ("branch-created", push_event("main", event="referenceCreated"), True),
    ("push-to-other-branch", push_event("feature/x"), False),
    ("branch-deleted", push_event("main", event="referenceDeleted"), False),
    ("tag-named-like-branch", push_event("main", kind="tag"), False),
    ("other-repository", _other_repository(push_event("main")), False),
]


@pytest.mark.parametrize(("event", "matches"), [r[1:] for r in MODEL_EVENTS], ids=[r[0] for r in MODEL_EVENTS])
def test_model_rule_pattern(event: dict[str, Any], matches: bool) -> None:
    pattern = EventPattern.load(json.dumps(resolved_pattern("ModelApprovedRule")))
    assert pattern.matches_event(event) is matches


@pytest.mark.parametrize(("event", "matches"), [r[1:] for r in PUSH_EVENTS], ids=[r[0] for r in PUSH_EVENTS])
def test_code_rule_pattern(event: dict[str, Any], matches: bool) -> None:
    pattern = EventPattern.load(json.dumps(resolved_pattern("CodePushedRule")))
    assert pattern.matches_event(event) is matches


@pytest.mark.slow  # renders whole configurations (about a second each)
def test_code_rule_follows_the_configured_branch() -> None:
    pattern = EventPattern.load(json.dumps(resolved_pattern("CodePushedRule", branch="release/2026")))
    assert pattern.matches_event(push_event("release/2026"))
    assert not pattern.matches_event(push_event("main"))


@pytest.mark.slow  # renders whole configurations (about a second each)
def test_codeconnections_has_no_code_rule() -> None:
    """A CodeStarSourceConnection source detects pushes itself; a CodeCommit rule would never fire."""
    config = {"source": "codeconnections", "connection-arn": CONNECTION_ARN, "repository": "acme/iris"}
    template = product_template(rendered_files(make_config(**config)))
    kinds = {r["Type"] for r in template["Resources"].values()}
    assert "AWS::CodeCommit::Repository" not in kinds
    assert "CodePushedRule" not in template["Resources"]
    assert "ModelApprovedRule" in template["Resources"]


# --- end to end through moto's EventBridge ---------------------------------------------------------------------


def delivered(rule: str, events: list[dict[str, Any]]) -> list[str]:
    """Put `events` on the default bus with the rendered `rule` routed to a queue; the ids that arrive."""
    events_client = boto3.client("events", region_name=REGION)
    sqs = boto3.client("sqs", region_name=REGION)
    queue_url = sqs.create_queue(QueueName="rule-target")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    template = product_template(rendered_files(make_config()))
    properties = template["Resources"][rule]["Properties"]
    name = Resolver(template).resolve(properties["Name"])
    events_client.put_rule(Name=name, EventPattern=json.dumps(resolved_pattern(rule)), State=properties["State"])
    events_client.put_targets(Rule=name, Targets=[{"Id": "queue", "Arn": queue_arn}])
    entries = [
        {
            "Source": e["source"],
            "DetailType": e["detail-type"],
            "Detail": json.dumps(e["detail"]),
            "Resources": e["resources"],
        }
        for e in events
    ]
    answer = events_client.put_events(Entries=entries)
    assert answer["FailedEntryCount"] == 0
    received: list[str] = []
    while True:
        messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", [])
        if not messages:
            return received
        for message in messages:
            body = json.loads(message["Body"])
            received.append(f"{body['detail-type']}|{json.dumps(body['detail'], sort_keys=True)}")
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])


def _key(event: dict[str, Any]) -> str:
    return f"{event['detail-type']}|{json.dumps(event['detail'], sort_keys=True)}"


@pytest.mark.usefixtures("aws")
def test_model_rule_delivers_approvals_and_rejections_only() -> None:
    events = [e for _, e, _ in MODEL_EVENTS if e["source"] == "aws.sagemaker"]
    expected = [_key(e) for _, e, matches in MODEL_EVENTS if matches]
    assert delivered("ModelApprovedRule", events) == expected


@pytest.mark.usefixtures("aws")
def test_code_rule_delivers_only_pushes_to_the_branch() -> None:
    events = [e for _, e, _ in PUSH_EVENTS]
    expected = [_key(e) for _, e, matches in PUSH_EVENTS if matches]
    assert sorted(delivered("CodePushedRule", events)) == sorted(expected)
