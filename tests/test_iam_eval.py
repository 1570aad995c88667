"""Table of cases for the IAM evaluator (generator/iam_eval.py)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from generator.iam_eval import Decision, arn_matches, evaluate

ALLOW_S3 = {"Effect": "Allow", "Action": ["s3:GetObject", "s3:Put*"], "Resource": "arn:aws:s3:::sagemaker-*/*"}
DENY_DELETE = {"Effect": "Deny", "Action": "s3:DeleteObject", "Resource": "*"}
NOT_ACTION = {"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"}
NOT_RESOURCE = {"Effect": "Allow", "Action": "s3:GetObject", "NotResource": "arn:aws:s3:::secret-*/*"}
TAG_CONDITION = {
    "Effect": "Allow",
    "Action": "s3:GetObject",
    "Resource": "*",
    "Condition": {"StringEquals": {"s3:ExistingObjectTag/servicecatalog:provisioning": "true"}},
}
PASSED_TO = {
    "Effect": "Allow",
    "Action": "iam:PassRole",
    "Resource": "arn:aws:iam::*:role/service-role/AmazonSageMakerServiceCatalog*",
    "Condition": {"StringEquals": {"iam:PassedToService": ["codepipeline.amazonaws.com", "events.amazonaws.com"]}},
}
IF_EXISTS = {
    "Effect": "Allow",
    "Action": "cloudformation:CreateStack",
    "Resource": "arn:aws:cloudformation:*:*:stack/SC-*",
    "Condition": {"ArnLikeIfExists": {"cloudformation:RoleArn": ["arn:aws:sts::*:assumed-role/AmazonSageMaker*"]}},
}
TAG_KEYS_ALL = {
    "Effect": "Allow",
    "Action": "lambda:TagResource",
    "Resource": "*",
    "Condition": {"ForAllValues:StringLike": {"aws:TagKeys": ["sagemaker:*"]}},
}
CONDITIONAL_DENY = {
    "Effect": "Deny",
    "Action": "s3:*",
    "Resource": "*",
    "Condition": {"Bool": {"aws:SecureTransport": "false"}},
}
NULL_CONDITION = {
    "Effect": "Allow",
    "Action": "cloudformation:TagResource",
    "Resource": "*",
    "Condition": {"Null": {"aws:ResourceTag/sagemaker:project-name": "false"}},
}
UNKNOWN_OPERATOR = {
    "Effect": "Allow",
    "Action": "s3:GetObject",
    "Resource": "*",
    "Condition": {"DateLessThan": {"aws:CurrentTime": "2030-01-01T00:00:00Z"}},
}

CASES: list[tuple[str, list[dict[str, Any]], str, str, dict[str, Any], Decision]] = [
    ("exact allow", [ALLOW_S3], "s3:GetObject", "arn:aws:s3:::sagemaker-x/key", {}, Decision.ALLOW),
    ("action wildcard", [ALLOW_S3], "s3:PutObject", "arn:aws:s3:::sagemaker-x/a/b", {}, Decision.ALLOW),
    ("action case-insensitive", [ALLOW_S3], "S3:getobject", "arn:aws:s3:::sagemaker-x/k", {}, Decision.ALLOW),
    ("resource miss", [ALLOW_S3], "s3:GetObject", "arn:aws:s3:::other/key", {}, Decision.IMPLICIT_DENY),
    ("bucket arn not object", [ALLOW_S3], "s3:PutObject", "arn:aws:s3:::sagemaker-x", {}, Decision.IMPLICIT_DENY),
    ("action miss", [ALLOW_S3], "s3:DeleteObject", "arn:aws:s3:::sagemaker-x/k", {}, Decision.IMPLICIT_DENY),
    ("deny wins", [NOT_ACTION, DENY_DELETE], "s3:DeleteObject", "arn:aws:s3:::b/k", {}, Decision.EXPLICIT_DENY),
    ("NotAction allows others", [NOT_ACTION], "sagemaker:CreateModel", "*", {}, Decision.ALLOW),
    ("NotAction excludes", [NOT_ACTION], "iam:CreateRole", "arn:aws:iam::1:role/x", {}, Decision.IMPLICIT_DENY),
    ("NotResource allows others", [NOT_RESOURCE], "s3:GetObject", "arn:aws:s3:::public/k", {}, Decision.ALLOW),
    ("NotResource excludes", [NOT_RESOURCE], "s3:GetObject", "arn:aws:s3:::secret-1/k", {}, Decision.IMPLICIT_DENY),
    ("condition unknown", [TAG_CONDITION], "s3:GetObject", "arn:aws:s3:::b/k", {}, Decision.CONDITIONAL),
    (
        "condition met",
        [TAG_CONDITION],
        "s3:GetObject",
        "arn:aws:s3:::b/k",
        {"s3:ExistingObjectTag/servicecatalog:provisioning": "true"},
        Decision.ALLOW,
    ),
    (
        "condition not met",
        [TAG_CONDITION],
        "s3:GetObject",
        "arn:aws:s3:::b/k",
        {"s3:ExistingObjectTag/servicecatalog:provisioning": "false"},
        Decision.IMPLICIT_DENY,
    ),
    (
        "passrole to listed service",
        [PASSED_TO],
        "iam:PassRole",
        "arn:aws:iam::123456789012:role/service-role/AmazonSageMakerServiceCatalogProductsCodePipelineRole",
        {"iam:PassedToService": "codepipeline.amazonaws.com"},
        Decision.ALLOW,
    ),
    (
        "passrole to other service",
        [PASSED_TO],
        "iam:PassRole",
        "arn:aws:iam::123456789012:role/service-role/AmazonSageMakerServiceCatalogProductsCodePipelineRole",
        {"iam:PassedToService": "lambda.amazonaws.com"},
        Decision.IMPLICIT_DENY,
    ),
    (
        "passrole wrong path",
        [PASSED_TO],
        "iam:PassRole",
        "arn:aws:iam::123456789012:role/AmazonSageMakerServiceCatalogProductsCodePipelineRole",
        {"iam:PassedToService": "codepipeline.amazonaws.com"},
        Decision.IMPLICIT_DENY,
    ),
    (
        "IfExists absent key",
        [IF_EXISTS],
        "cloudformation:CreateStack",
        "arn:aws:cloudformation:eu-west-1:1:stack/SC-1-pp/abc",
        {},
        Decision.ALLOW,
    ),
    (
        "IfExists present mismatch",
        [IF_EXISTS],
        "cloudformation:CreateStack",
        "arn:aws:cloudformation:eu-west-1:1:stack/SC-1-pp/abc",
        {"cloudformation:RoleArn": "arn:aws:iam::1:role/Other"},
        Decision.IMPLICIT_DENY,
    ),
    (
        "ForAllValues all match",
        [TAG_KEYS_ALL],
        "lambda:TagResource",
        "*",
        {"aws:TagKeys": ["sagemaker:project-name", "sagemaker:project-id"]},
        Decision.ALLOW,
    ),
    (
        "ForAllValues one misses",
        [TAG_KEYS_ALL],
        "lambda:TagResource",
        "*",
        {"aws:TagKeys": ["sagemaker:project-name", "team"]},
        Decision.IMPLICIT_DENY,
    ),
    (
        "conditional deny undecided",
        [NOT_ACTION, CONDITIONAL_DENY],
        "s3:GetObject",
        "arn:aws:s3:::b/k",
        {},
        Decision.CONDITIONAL,
    ),
    (
        "conditional deny not met",
        [NOT_ACTION, CONDITIONAL_DENY],
        "s3:GetObject",
        "arn:aws:s3:::b/k",
        {"aws:SecureTransport": "true"},
        Decision.ALLOW,
    ),
    (
        "conditional deny met",
        [NOT_ACTION, CONDITIONAL_DENY],
        "s3:GetObject",
        "arn:aws:s3:::b/k",
        {"aws:SecureTransport": "false"},
        Decision.EXPLICIT_DENY,
    ),
    (
        "Null false with key",
        [NULL_CONDITION],
        "cloudformation:TagResource",
        "*",
        {"aws:ResourceTag/sagemaker:project-name": "p"},
        Decision.ALLOW,
    ),
    ("Null false without key", [NULL_CONDITION], "cloudformation:TagResource", "*", {}, Decision.IMPLICIT_DENY),
    ("unknown operator is reported", [UNKNOWN_OPERATOR], "s3:GetObject", "arn:aws:s3:::b/k", {}, Decision.CONDITIONAL),
    ("no policies", [], "s3:GetObject", "arn:aws:s3:::b/k", {}, Decision.IMPLICIT_DENY),
]


@pytest.mark.parametrize(
    ("name", "statements", "action", "resource", "context", "expected"), CASES, ids=[c[0] for c in CASES]
)
def test_evaluate(
    name: str, statements: list[dict[str, Any]], action: str, resource: str, context: dict[str, Any], expected: Decision
) -> None:
    policies = {f"p{i}": {"Version": "2012-10-17", "Statement": [s]} for i, s in enumerate(statements)}
    result = evaluate(policies, action, resource, context)
    assert result.decision is expected, result
    if expected is Decision.CONDITIONAL:
        assert result.unevaluated, "a conditional decision must name the condition it could not evaluate"


@pytest.mark.parametrize(
    ("pattern", "arn", "expected"),
    [
        ("arn:aws:codebuild:*:*:project/sagemaker-*", "arn:aws:codebuild:eu-west-1:1:project/sagemaker-a-b", True),
        ("arn:aws:codebuild:*:*:project/sagemaker-*", "arn:aws:codebuild:eu-west-1:1:project/other", False),
        ("arn:aws:codepipeline:*:*:sagemaker-*", "arn:aws:codepipeline:eu-west-1:1:sagemaker-p", True),
        # A wildcard in the region field does not swallow the account field.
        ("arn:aws:s3:*:123:x", "arn:aws:s3:eu:1:2:x", False),
        ("arn:aws:iam::*:role/service-role/Amazon*", "arn:aws:iam::1:role/service-role/AmazonX", True),
        ("arn:aws:sagemaker:*:*:model-package/*", "arn:aws:sagemaker:eu-west-1:1:model-package/g/1", True),
        ("arn:aws:sagemaker:*:*:model-package/*", "arn:aws:sagemaker:eu-west-1:1:model-package-group/g", False),
        ("arn:aws:s3:::sagemaker-?", "arn:aws:s3:::sagemaker-a", True),
        ("arn:aws:s3:::sagemaker-?", "arn:aws:s3:::sagemaker-ab", False),
        ("arn:aws:s3:::sagemaker-[ab]", "arn:aws:s3:::sagemaker-a", False),
    ],
)
def test_arn_matches(pattern: str, arn: str, expected: bool) -> None:
    assert arn_matches(pattern, arn) is expected


def test_standard_launch_policy_facts() -> None:
    """Facts shared/reference/iam/README.md states about the standard launch role, checked with the evaluator
    on the copy we ship (tests/test_launch_role.py checks the copy equals the reference)."""
    policy_file = Path(__file__).resolve().parents[1] / "generator/data/standard-launch-role-policy.json"
    policies = {"standard": json.loads(policy_file.read_text())}
    bucket = "arn:aws:s3:::sagemaker-project-p-abc-artifacts"
    assert evaluate(policies, "s3:CreateBucket", bucket).allowed
    assert evaluate(policies, "s3:PutEncryptionConfiguration", bucket).allowed
    assert not evaluate(policies, "s3:PutBucketVersioning", bucket).allowed
    assert not evaluate(policies, "s3:PutLifecycleConfiguration", bucket).allowed
    assert not evaluate(policies, "s3:CreateBucket", "arn:aws:s3:::team-bucket").allowed
    group = "arn:aws:sagemaker:eu-west-1:123456789012:model-package-group/iris"
    assert evaluate(policies, "sagemaker:CreateModelPackageGroup", group).decision is Decision.IMPLICIT_DENY
    assert not evaluate(policies, "sns:CreateTopic", "arn:aws:sns:eu-west-1:123456789012:sagemaker-t").allowed
    assert not evaluate(policies, "kms:CreateKey", "*").allowed
    assert not evaluate(policies, "iam:CreateRole", "arn:aws:iam::123456789012:role/sagemaker-x").allowed
    pipeline = "arn:aws:codepipeline:eu-west-1:123456789012:sagemaker-iris-p-1-modeldeploy"
    assert evaluate(policies, "codepipeline:CreatePipeline", pipeline).allowed
