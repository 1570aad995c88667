"""Table of cases for the IAM evaluator (generator/iam/iam_eval.py)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from generator.iam.iam_eval import (
    Decision,
    Result,
    action_matches,
    arn_condition_matches,
    arn_matches,
    evaluate,
    evaluate_all,
    wildcard_match,
)

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
    "Condition": {"StringRoughly": {"aws:CurrentTime": "2030-01-01T00:00:00Z"}},
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
    (
        "unknown operator is reported",
        [UNKNOWN_OPERATOR],
        "s3:GetObject",
        "arn:aws:s3:::b/k",
        {"aws:CurrentTime": "2026-01-01T00:00:00Z"},
        Decision.CONDITIONAL,
    ),
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


# --- condition operators, one family at a time --------------------------------------------------------------------
# https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html


def _decide(operator: str, pattern: Any, context: dict[str, Any]) -> Decision:
    statement = {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*", "Condition": {operator: {"k": pattern}}}
    return evaluate({"p": {"Statement": [statement]}}, "s3:GetObject", "arn:aws:s3:::b/k", context).decision


A, D, C = Decision.ALLOW, Decision.IMPLICIT_DENY, Decision.CONDITIONAL

OPERATOR_CASES: list[tuple[str, Any, Any, Decision]] = [
    # String: exact, case-sensitive; IgnoreCase; Like with * and ? (case-sensitive)
    ("StringEquals", "Abc", "Abc", A),
    ("StringEquals", "Abc", "abc", D),
    ("StringEquals", ["x", "Abc"], "Abc", A),
    ("StringNotEquals", "Abc", "abc", A),
    ("StringNotEquals", "Abc", "Abc", D),
    ("StringNotEquals", ["a", "b"], "b", D),
    ("StringEqualsIgnoreCase", "Abc", "aBC", A),
    ("StringEqualsIgnoreCase", "Abc", "abd", D),
    ("StringNotEqualsIgnoreCase", "Abc", "aBC", D),
    ("StringNotEqualsIgnoreCase", "Abc", "abd", A),
    ("StringLike", "sage*-?", "sagemaker-1", A),
    ("StringLike", "sage*-?", "sagemaker-12", D),
    ("StringLike", "Sage*", "sagemaker", D),
    ("StringLike", "a.b", "axb", D),
    ("StringNotLike", "sage*", "other", A),
    ("StringNotLike", "sage*", "sagemaker", D),
    # Numeric: the request value compared with the policy value
    ("NumericEquals", "10", "10", A),
    ("NumericEquals", "10", "10.0", A),
    ("NumericEquals", "10", "11", D),
    ("NumericNotEquals", "10", "11", A),
    ("NumericNotEquals", "10", "10", D),
    ("NumericLessThan", "10", "9", A),
    ("NumericLessThan", "10", "10", D),
    ("NumericLessThanEquals", "10", "10", A),
    ("NumericLessThanEquals", "10", "11", D),
    ("NumericGreaterThan", "10", "11", A),
    ("NumericGreaterThan", "10", "10", D),
    ("NumericGreaterThanEquals", "10", "10", A),
    ("NumericGreaterThanEquals", "10", "9", D),
    ("NumericEquals", "ten", "10", C),
    ("NumericEquals", "10", "ten", C),
    # Date: ISO 8601 or epoch seconds, time zones honoured
    ("DateEquals", "2026-01-01T00:00:00Z", "2026-01-01T01:00:00+01:00", A),
    ("DateEquals", "2026-01-01T00:00:00Z", "1767225600", A),
    ("DateEquals", "2026-01-01", "2026-01-01T00:00:00Z", A),
    ("DateEquals", "2026-01-01T00:00:00Z", "2026-01-01T00:00:01Z", D),
    ("DateNotEquals", "2026-01-01T00:00:00Z", "2026-01-01T00:00:01Z", A),
    ("DateNotEquals", "2026-01-01T00:00:00Z", "2026-01-01T00:00:00Z", D),
    ("DateLessThan", "2026-01-01T00:00:00Z", "2025-12-31T23:59:59Z", A),
    ("DateLessThan", "2026-01-01T00:00:00Z", "2026-01-01T00:00:00Z", D),
    ("DateLessThanEquals", "2026-01-01T00:00:00Z", "2026-01-01T00:00:00Z", A),
    ("DateLessThanEquals", "2026-01-01T00:00:00Z", "2026-01-01T00:00:01Z", D),
    ("DateGreaterThan", "2026-01-01T00:00:00Z", "2026-01-01T00:00:01Z", A),
    ("DateGreaterThan", "2026-01-01T00:00:00Z", "2026-01-01T00:00:00Z", D),
    ("DateGreaterThanEquals", "2026-01-01T00:00:00Z", "2026-01-01T00:00:00Z", A),
    ("DateGreaterThanEquals", "2026-01-01T00:00:00Z", "2025-12-31T23:59:59Z", D),
    ("DateEquals", "soon", "2026-01-01T00:00:00Z", C),
    ("DateEquals", "2026-01-01T00:00:00Z", "99999999999999999999", C),
    # Bool: "true"/"false", case-insensitive
    ("Bool", "true", "True", A),
    ("Bool", "true", "false", D),
    ("Bool", True, "true", A),
    # Binary: base-64 in the policy
    ("BinaryEquals", "QmluYXJ5VmFsdWU=", "BinaryValue", A),
    ("BinaryEquals", "QmluYXJ5VmFsdWU=", "OtherValue", D),
    ("BinaryEquals", "not base64!", "BinaryValue", C),
    ("BinaryEquals", "QmluYXJ5 VmFsdWU=", "BinaryValue", C),
    # IP address: an address or a CIDR range, IPv4 and IPv6
    ("IpAddress", "203.0.113.0/24", "203.0.113.7", A),
    ("IpAddress", "203.0.113.0/24", "198.51.100.7", D),
    ("IpAddress", "203.0.113.7", "203.0.113.7", A),
    ("IpAddress", "203.0.113.7/24", "203.0.113.9", A),
    ("IpAddress", "2001:db8::/32", "2001:db8::1", A),
    ("IpAddress", ["198.51.100.0/24", "203.0.113.0/24"], "203.0.113.7", A),
    ("NotIpAddress", "203.0.113.0/24", "198.51.100.7", A),
    ("NotIpAddress", "203.0.113.0/24", "203.0.113.7", D),
    ("IpAddress", "203.0.113.0/24", "not-an-ip", C),
    # ARN: ArnEquals and ArnLike behave identically; six fields, each matched alone, case-sensitive
    ("ArnLike", "arn:aws:iam::*:role/sagemaker-*", "arn:aws:iam::123:role/sagemaker-x", A),
    ("ArnEquals", "arn:aws:iam::*:role/sagemaker-*", "arn:aws:iam::123:role/sagemaker-x", A),
    ("ArnEquals", "arn:aws:iam::123:role/x", "arn:aws:iam::123:role/x", A),
    ("ArnEquals", "arn:aws:iam::123:role/x", "arn:aws:iam::123:role/X", D),
    ("ArnLike", "arn:aws:iam::*:role/x", "arn:aws:iam::123:role/y", D),
    ("ArnLike", "arn:aws:sns:*:topic", "arn:aws:sns:us-east-1:123456789012:topic", D),
    ("ArnLike", "arn:aws:sns:*:*:topic", "not-an-arn", D),
    ("ArnLike", "arn:aws:logs:*:*:log-group:g:*", "arn:aws:logs:eu-west-1:1:log-group:g:log-stream:s", A),
    ("ArnLike", "arn:aws:logs:*:*:log-group:g:*", "arn:aws:logs:eu-west-1:1:log-group:h:log-stream:s", D),
    ("ArnNotEquals", "arn:aws:iam::*:role/x", "arn:aws:iam::123:role/y", A),
    ("ArnNotEquals", "arn:aws:iam::*:role/x", "arn:aws:iam::123:role/x", D),
    ("ArnNotLike", "arn:aws:iam::*:role/x*", "arn:aws:iam::123:role/y", A),
    ("ArnNotLike", "arn:aws:iam::*:role/x*", "arn:aws:iam::123:role/xy", D),
    # Multi-valued keys without a set operator: any value may match
    ("StringEquals", "b", ["a", "b"], A),
    ("StringEquals", "c", ["a", "b"], D),
    # Set operators
    ("ForAnyValue:StringEquals", ["a", "z"], ["a", "b"], A),
    ("ForAnyValue:StringEquals", ["y", "z"], ["a", "b"], D),
    ("ForAnyValue:StringEquals", ["a"], [], D),
    ("ForAllValues:StringEquals", ["a", "b", "c"], ["a", "b"], A),
    ("ForAllValues:StringEquals", ["a"], ["a", "b"], D),
    ("ForAllValues:StringEquals", ["a"], [], A),
    ("ForAllValues:StringNotLike", ["x*"], ["a", "b"], A),
    ("ForAllValues:StringNotLike", ["x*"], ["a", "xb"], D),
    ("ForAnyValue:StringNotEquals", ["a"], ["a", "b"], A),
    ("ForAnyValue:StringNotEquals", ["a"], ["a", "a"], D),
    ("ForAllValues:NumericLessThan", "10", ["1", "ten"], C),
    ("ForAllValues:NumericLessThan", "10", ["11", "ten"], D),
    ("ForAnyValue:NumericLessThan", "10", ["1", "ten"], A),
    ("ForAnyValue:NumericLessThan", "10", ["11", "ten"], C),
    ("ForSomeValues:StringEquals", "a", ["a"], C),
    # IfExists: a missing key passes, a present one is compared
    ("StringEqualsIfExists", "a", "a", A),
    ("StringEqualsIfExists", "a", "b", D),
    ("NumericLessThanIfExists", "10", "11", D),
]


@pytest.mark.parametrize(
    ("operator", "pattern", "value", "expected"),
    OPERATOR_CASES,
    ids=[f"{c[0]}-{i}" for i, c in enumerate(OPERATOR_CASES)],
)
def test_condition_operator(operator: str, pattern: Any, value: Any, expected: Decision) -> None:
    assert _decide(operator, pattern, {"k": value}) is expected


@pytest.mark.parametrize(
    ("operator", "expected"),
    [
        ("StringEquals", C),  # not supplied: cannot be decided, never assumed
        ("StringNotEquals", C),
        ("ForAllValues:StringEquals", C),
        ("StringEqualsIfExists", A),
        ("ArnLikeIfExists", A),
        ("NumericLessThanIfExists", A),
        ("Unknown", C),
    ],
)
def test_a_key_missing_from_the_context(operator: str, expected: Decision) -> None:
    assert _decide(operator, "a", {}) is expected


@pytest.mark.parametrize(
    ("pattern", "context", "expected"),
    [
        ("true", {}, A),
        ("true", {"k": "v"}, D),
        ("false", {"k": "v"}, A),
        ("false", {}, D),
        ("True", {}, A),
        ("false", {"K": "v"}, A),
    ],
)
def test_null(pattern: str, context: dict[str, Any], expected: Decision) -> None:
    assert _decide("Null", pattern, context) is expected


def test_condition_key_names_are_case_insensitive() -> None:
    """ "Condition key names are not case-sensitive" (reference_policies_elements_condition.html)."""
    assert _decide("StringEquals", "v", {"K": "v"}) is A
    assert _decide("StringEquals", "v", {"K": "w"}) is D
    assert _decide("Bool", "false", {"AWS:SecureTransport": "false", "k": "false"}) is A
    # ... but the values stay case-sensitive
    assert _decide("StringEquals", "v", {"K": "V"}) is D


def test_every_condition_must_hold_and_any_value_may() -> None:
    statement = {
        "Effect": "Allow",
        "Action": "s3:GetObject",
        "Resource": "*",
        "Condition": {"StringEquals": {"a": ["1", "2"], "b": "3"}, "Bool": {"c": "true"}},
    }
    policies = {"p": {"Statement": [statement]}}

    def decision(context: dict[str, str]) -> Decision:
        return evaluate(policies, "s3:GetObject", "arn:aws:s3:::b/k", context).decision

    assert decision({"a": "2", "b": "3", "c": "true"}) is A
    assert decision({"a": "1", "b": "3", "c": "false"}) is D
    assert decision({"a": "1", "b": "4", "c": "true"}) is D
    assert decision({"a": "9", "b": "3", "c": "true"}) is D
    result = evaluate(policies, "s3:GetObject", "arn:aws:s3:::b/k", {"a": "1"})
    assert result.decision is C and result.unevaluated == ("StringEquals b ['3']", "Bool c ['true']")
    assert result.statements == ("p:0",)
    # A decidable condition that fails settles it, whatever could not be decided.
    assert decision({"a": "9"}) is D


# --- statements: elements, effects, lists ------------------------------------------------------------------


def _one(statement: dict[str, Any], action: str = "s3:GetObject", resource: str = "arn:aws:s3:::b/k") -> Result:
    return evaluate({"p": {"Statement": statement}}, action, resource)


@pytest.mark.parametrize(
    ("statement", "action", "resource", "expected"),
    [
        ({"Effect": "Allow", "Action": "s3:GetObject"}, "s3:GetObject", "arn:aws:s3:::b/k", D),
        ({"Effect": "Deny", "Action": "s3:GetObject"}, "s3:GetObject", "arn:aws:s3:::b/k", D),
        ({"Effect": "Allow", "Resource": "*"}, "s3:GetObject", "arn:aws:s3:::b/k", D),
        ({"Action": "s3:GetObject", "Resource": "*"}, "s3:GetObject", "arn:aws:s3:::b/k", D),
        ({"Effect": "allow", "Action": "s3:GetObject", "Resource": "*"}, "s3:GetObject", "arn:aws:s3:::b/k", D),
        ({"Effect": "Allow", "Action": "s3:*", "Resource": "*"}, "s3:PutObject", "arn:aws:s3:::b/k", A),
        ({"Effect": "Allow", "Action": "*", "Resource": "*"}, "iam:CreateRole", "arn:aws:iam::1:role/r", A),
        ({"Effect": "Allow", "Action": "s3:Get*", "Resource": "*"}, "s3:PutObject", "arn:aws:s3:::b/k", D),
        ({"Effect": "Allow", "Action": "s3:Get?bject", "Resource": "*"}, "s3:GetObject", "arn:aws:s3:::b/k", A),
        (
            {"Effect": "Allow", "NotAction": ["iam:*", "s3:Delete*"], "Resource": "*"},
            "s3:DeleteBucket",
            "arn:aws:s3:::b",
            D,
        ),
        (
            {"Effect": "Allow", "NotAction": ["iam:*", "s3:Delete*"], "Resource": "*"},
            "iam:PassRole",
            "arn:aws:iam::1:role/r",
            D,
        ),
        (
            {"Effect": "Allow", "NotAction": ["iam:*", "s3:Delete*"], "Resource": "*"},
            "s3:GetObject",
            "arn:aws:s3:::b/k",
            A,
        ),
        (
            {"Effect": "Allow", "Action": "s3:*", "NotResource": ["arn:aws:s3:::a/*", "arn:aws:s3:::c/*"]},
            "s3:GetObject",
            "arn:aws:s3:::c/k",
            D,
        ),
        (
            {"Effect": "Allow", "Action": "s3:*", "NotResource": ["arn:aws:s3:::a/*", "arn:aws:s3:::c/*"]},
            "s3:GetObject",
            "arn:aws:s3:::a/k",
            D,
        ),
        (
            {"Effect": "Allow", "Action": "s3:*", "NotResource": ["arn:aws:s3:::a/*", "arn:aws:s3:::c/*"]},
            "s3:GetObject",
            "arn:aws:s3:::b/k",
            A,
        ),
        (
            {"Effect": "Deny", "NotAction": "s3:GetObject", "NotResource": "arn:aws:s3:::b/*"},
            "s3:PutObject",
            "arn:aws:s3:::c/k",
            Decision.EXPLICIT_DENY,
        ),
        (
            {"Effect": "Allow", "Action": ["s3:PutObject", "s3:GetObject"], "Resource": ["arn:aws:s3:::x/*", "*"]},
            "s3:GetObject",
            "arn:aws:s3:::b/k",
            A,
        ),
    ],
)
def test_statement_elements(statement: dict[str, Any], action: str, resource: str, expected: Decision) -> None:
    assert _one(statement, action, resource).decision is expected


def test_every_statement_of_a_policy_is_read() -> None:
    """A statement that does not apply, or has no valid Effect, does not hide the ones after it."""
    other = {"Effect": "Allow", "Action": "iam:*", "Resource": "*"}
    invalid = {"Effect": "Permit", "Action": "s3:*", "Resource": "*"}
    allow = {"Effect": "Allow", "Action": "s3:*", "Resource": "*"}
    assert _one([other, allow]).statements == ("p:1",)
    assert _one([invalid, allow]).statements == ("p:1",)
    failing = {**allow, "Condition": {"Bool": {"aws:SecureTransport": "true"}}}
    context = {"aws:SecureTransport": "false"}
    result = evaluate({"p": {"Statement": [failing, allow]}}, "s3:GetObject", "arn:aws:s3:::b/k", context)
    assert result.statements == ("p:1",)


def test_a_statement_may_stand_alone_or_in_a_list() -> None:
    statement = {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*", "Sid": "One"}
    assert _one(statement).statements == ("p:One",)
    assert _one([statement]).statements == ("p:One",)
    assert evaluate({"p": {}}, "s3:GetObject", "*").decision is D


def test_allows_are_all_named_and_a_deny_names_itself() -> None:
    allow = {"Effect": "Allow", "Action": "s3:*", "Resource": "*"}
    deny = {"Effect": "Deny", "Action": "s3:GetObject", "Resource": "*", "Sid": "NoReads"}
    both = evaluate([("a", {"Statement": [allow, allow]}), ("b", {"Statement": [allow]})], "s3:GetObject", "*")
    assert both.decision is A and both.statements == ("a:0", "a:1", "b:0") and both.unevaluated == ()
    denied = evaluate({"a": {"Statement": [allow]}, "b": {"Statement": [deny, allow]}}, "s3:GetObject", "*")
    assert denied == Result(Decision.EXPLICIT_DENY, ("b:NoReads",))
    assert not denied.allowed and both.allowed


def test_conditional_allows_and_denies_name_their_statements_and_conditions() -> None:
    tagged = {"StringEquals": {"aws:ResourceTag/team": "ml"}}
    maybe_allow = {"Effect": "Allow", "Action": "s3:*", "Resource": "*", "Condition": tagged, "Sid": "Tagged"}
    maybe_deny = {"Effect": "Deny", "Action": "s3:*", "Resource": "*", "Condition": tagged, "Sid": "NotTagged"}
    allow = {"Effect": "Allow", "Action": "s3:*", "Resource": "*", "Sid": "All"}
    only_maybe = evaluate({"p": {"Statement": [maybe_allow]}}, "s3:GetObject", "*")
    assert only_maybe == Result(C, ("p:Tagged",), ("StringEquals aws:ResourceTag/team ['ml']",))
    # An allow without conditions beats a conditional allow ...
    assert evaluate({"p": {"Statement": [maybe_allow, allow]}}, "s3:GetObject", "*") == Result(A, ("p:All",))
    # ... but a deny that might apply leaves it undecided, naming the deny.
    undecided = evaluate({"p": {"Statement": [allow, maybe_deny]}}, "s3:GetObject", "*")
    assert undecided == Result(C, ("p:NotTagged",), ("StringEquals aws:ResourceTag/team ['ml']",))
    # A deny whose condition is known false does not apply.
    no = evaluate({"p": {"Statement": [allow, maybe_deny]}}, "s3:GetObject", "*", {"aws:ResourceTag/team": "x"})
    assert no.decision is A


# --- several resources per call ---------------------------------------------------------------------------------


def test_evaluate_all_needs_every_resource() -> None:
    policy = {
        "p": {
            "Statement": [
                {"Effect": "Allow", "Action": "cloudformation:*", "Resource": "arn:aws:cloudformation:*:*:stackset/*"},
                {
                    "Effect": "Allow",
                    "Action": "cloudformation:*",
                    "Resource": "arn:aws:cloudformation:*:*:type/resource/AWS-S3-*",
                    "Condition": {"StringEquals": {"aws:ResourceTag/x": "y"}},
                },
                {
                    "Effect": "Deny",
                    "Action": "cloudformation:*",
                    "Resource": "arn:aws:cloudformation:*:*:stackset-target/*/ou-bad",
                },
            ]
        }
    }
    stack_set = "arn:aws:cloudformation:eu-west-1:1:stackset/s:1"
    s3_type = "arn:aws:cloudformation:eu-west-1::type/resource/AWS-S3-Bucket"
    action = "cloudformation:CreateStackInstances"
    assert evaluate_all(policy, action, [stack_set]) == Result(A, ("p:0",))
    assert evaluate_all(policy, action, [stack_set, stack_set]) == Result(A, ("p:0",))
    assert (
        evaluate_all(
            policy, action, [stack_set, "arn:aws:cloudformation:eu-west-1:1:type/resource/AWS-SNS-Topic"]
        ).decision
        is D
    )
    conditional = evaluate_all(policy, action, [stack_set, s3_type])
    assert conditional == Result(C, ("p:0", "p:1"), ("StringEquals aws:ResourceTag/x ['y']",))
    denied = evaluate_all(
        list(policy.items()), action, [s3_type, "arn:aws:cloudformation:eu-west-1:1:stackset-target/s:1/ou-bad", "x"]
    )
    assert denied == Result(Decision.EXPLICIT_DENY, ("p:2",))
    assert evaluate_all(policy, action, [s3_type, "arn:aws:s3:::b"]).decision is D
    assert evaluate_all(policy, action, []).decision is D
    tagged = evaluate_all(policy, action, [stack_set, s3_type], {"aws:ResourceTag/x": "y"})
    assert tagged == Result(A, ("p:0", "p:1"))


# --- matching primitives ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("pattern", "value", "ignore_case", "expected"),
    [
        ("a*c", "abbbc", False, True),
        ("a*c", "ac", False, True),
        ("a?c", "ac", False, False),
        ("a?c", "abc", False, True),
        ("a.c", "abc", False, False),
        ("a+c", "aac", False, False),
        ("a*", "a\nb", False, True),
        ("A*", "abc", False, False),
        ("A*", "abc", True, True),
        ("abc", "xabcx", False, False),
        ("abc", "abcx", False, False),
        ("abc", "xabc", False, False),
        ("abc", "abc\n", False, False),
        ("a(b)", "a(b)", False, True),
    ],
)
def test_wildcard_match(pattern: str, value: str, ignore_case: bool, expected: bool) -> None:
    assert wildcard_match(pattern, value, ignore_case) is expected


def test_actions_compare_case_insensitively_and_whole() -> None:
    assert action_matches("S3:GET*", "s3:GetObject")
    assert not action_matches("s3:Get", "s3:GetObject")
    assert not action_matches("s3:GetObject", "s3:GetObjectAcl")
    assert not action_matches("s3:GetObject", "xs3:GetObject")


@pytest.mark.parametrize(
    ("pattern", "arn", "expected"),
    [
        # ARNs match case-sensitively in every field (the Resource element's IAM names are case sensitive;
        # ARN operators are "Case-sensitive matching of the ARN").
        ("arn:aws:iam::123:role/Deploy", "arn:aws:iam::123:role/deploy", False),
        ("arn:aws:s3:::Bucket", "arn:aws:s3:::bucket", False),
        ("arn:aws:S3:::bucket", "arn:aws:s3:::bucket", False),
        ("arn:AWS:s3:::bucket", "arn:aws:s3:::bucket", False),
        ("arn:aws:sns:EU-WEST-1:123:t", "arn:aws:sns:eu-west-1:123:t", False),
        ("arn:aws:sns:eu-west-1:123:t", "arn:aws:sns:eu-west-1:123:t", True),
        ("ARN:aws:sns:eu-west-1:123:t", "arn:aws:sns:eu-west-1:123:t", False),
        # The resource field runs to the end, colons included.
        (
            "arn:aws:logs:*:*:log-group:/aws/codebuild/p:*",
            "arn:aws:logs:eu:1:log-group:/aws/codebuild/p:log-stream:x",
            True,
        ),
        (
            "arn:aws:logs:*:*:log-group:/aws/codebuild/p",
            "arn:aws:logs:eu:1:log-group:/aws/codebuild/p:log-stream:x",
            False,
        ),
        # Each of the first five fields is matched alone: a '*' there does not reach the next field.
        ("arn:aws:sns:*:123:t", "arn:aws:sns:eu-west-1:999:t", False),
        ("arn:*:sns:eu-west-1:123:t", "arn:aws-cn:sns:eu-west-1:123:t", True),
        ("arn:aws:sns:eu-?est-1:123:t", "arn:aws:sns:eu-west-1:123:t", True),
        ("arn:aws:sns:eu-?est-1:123:t", "arn:aws:sns:eu-wwest-1:123:t", False),
        # "If the * wildcard is the last character of a resource ARN segment, it can expand to match beyond
        # the colon boundaries"; any other * or ? stays within its segment.
        ("arn:aws:sns:*", "arn:aws:sns:eu-west-1:123:t", True),
        ("arn:aws:sns:*:*:t", "arn:aws:sns:eu-west-1:1:2:t", True),
        ("arn:aws:sns:eu-*:t", "arn:aws:sns:eu-west-1:123:t", True),
        ("arn:aws:sns:*-1:123:t", "arn:aws:sns:eu:x-1:123:t", False),
        ("arn:aws:sns:e?:123:t", "arn:aws:sns:e::123:t", False),
        ("arn:aws:sns:eu-west-1:12?:t", "arn:aws:sns:eu-west-1:123:t", True),
        ("arn:aws:s3:::b/*", "arn:aws:s3:::b/a:b/c", True),
        ("arn:aws:sns:*west*:123:t", "arn:aws:sns:eu-west-1:123:t", True),
        ("arn:aws:sns:*west*:123:t", "arn:aws:sns:eu-east-1:123:t", False),
        # the resource field is one: a * anywhere in it crosses the colons of the resource id
        ("arn:aws:logs:*:*:log-group:a*b:c", "arn:aws:logs:eu-west-1:1:log-group:a:x:b:c", True),
        ("arn:aws:s3:::b/?", "arn:aws:s3:::b/:", True),
        ("arn:aws:s3:::b/k.x", "arn:aws:s3:::b/kyx", False),
        ("arn:aws:s3:::b/[k]", "arn:aws:s3:::b/k", False),
        ("arn:aws:s3:::b", "arn:aws:s3:::b\n", False),
        ("arn.aws:s3:::b", "arnXaws:s3:::b", False),
        ("arn:aws:sqs:*", "arn:aws:sns:eu-west-1:123:t", False),
        ("*", "anything", True),
        ("*", "", True),
        ("arn:aws:s3:::b", "b", False),
        ("b*", "bucket", True),
    ],
)
def test_arn_matching_rules(pattern: str, arn: str, expected: bool) -> None:
    assert arn_matches(pattern, arn) is expected


@pytest.mark.parametrize(
    ("pattern", "value", "expected"),
    [
        ("arn:aws:iam::*:role/x", "arn:aws:iam::1:role/x", True),
        ("arn:aws:iam::*:role/x", "arn:aws:iam::1:role/X", False),
        ("arn:aws:iam:*", "arn:aws:iam::1:role/x", False),
        ("*", "arn:aws:iam::1:role/x", False),
        ("arn:aws:iam::1:role/x", "role/x", False),
        ("arn:aws:iam::1:role/*", "arn:aws:iam::1:role/a:b", True),
        ("arn:aws:iam:*:1:role/x", "arn:aws:iam::1:role/x", True),
    ],
)
def test_arn_condition_matching(pattern: str, value: str, expected: bool) -> None:
    assert arn_condition_matches(pattern, value) is expected
