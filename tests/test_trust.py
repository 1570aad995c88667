"""The trust-policy helper (generator/iam/trust.py): statements by principal, then iam_eval.

Shared by `doctor --check-roles` (the trust read from each target account) and `validate` (the
rendered target-role template).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from generator.companions.target_role import PIPELINE_ACCOUNT, build_target_role
from generator.config import DEFAULT_TARGET_ROLE
from generator.contract import PROJECT_SESSION_TAG
from generator.iam.iam_eval import COMPLETE_PREFIXES, Decision
from generator.iam.resolve import Resolver
from generator.iam.trust import (
    TrustPrincipal,
    evaluate_trust,
    principal_matches,
    role_principal,
    session_tag_context,
    statements_for,
)
from generator.product.parameters import PER_SERVICE_ROLES
from tests.conftest import make_config

MANAGEMENT = "123456789012"
TARGET = "444455556666"
BUILD_ROLE = f"arn:aws:iam::{MANAGEMENT}:role/service-role/{PER_SERVICE_ROLES['build']}"
ROLE_ARN = f"arn:aws:iam::{TARGET}:role/{DEFAULT_TARGET_ROLE}"

PIPELINE = TrustPrincipal("AWS", BUILD_ROLE, {"aws:PrincipalArn": BUILD_ROLE, "aws:PrincipalAccount": MANAGEMENT})
SAGEMAKER_IN = TrustPrincipal(
    "Service",
    "sagemaker.amazonaws.com",
    {"aws:SourceAccount": "444455556666", "aws:SourceArn": "arn:aws:sagemaker:eu-west-1:444455556666:endpoint/x"},
)


def allow(principal: Any, **extra: Any) -> dict[str, Any]:
    return {"Effect": "Allow", "Principal": principal, "Action": "sts:AssumeRole", **extra}


@pytest.mark.parametrize(
    ("principal", "who", "named"),
    [
        ("*", PIPELINE, True),
        ({"AWS": "*"}, PIPELINE, True),
        ({"AWS": f"arn:aws:iam::{MANAGEMENT}:root"}, PIPELINE, True),
        ({"AWS": MANAGEMENT}, PIPELINE, True),  # IAM stores a bare account id as the root ARN; both forms occur
        ({"AWS": [f"arn:aws:iam::{MANAGEMENT}:role/other", BUILD_ROLE]}, PIPELINE, True),
        ({"AWS": f"arn:aws:iam::{MANAGEMENT}:role/other"}, PIPELINE, False),
        ({"AWS": "arn:aws:iam::999988887777:root"}, PIPELINE, False),
        ({"AWS": "AROAEXAMPLEEXAMPLE01"}, PIPELINE, False),  # a deleted role's unique id names nobody
        ({"Service": "sagemaker.amazonaws.com"}, PIPELINE, False),
        ({"Service": ["ec2.amazonaws.com", "sagemaker.amazonaws.com"]}, SAGEMAKER_IN, True),
        ({"Service": "ec2.amazonaws.com"}, SAGEMAKER_IN, False),
        ({"AWS": "*"}, SAGEMAKER_IN, False),
        ("*", SAGEMAKER_IN, True),
    ],
)
def test_principal_matches(principal: Any, who: TrustPrincipal, named: bool) -> None:
    assert principal_matches(principal, who) is named


def test_statements_for_keeps_the_principals_statements_as_resource_statements() -> None:
    policy = {
        "Statement": [
            allow({"Service": "sagemaker.amazonaws.com"}, Sid="SageMaker"),
            allow({"AWS": f"arn:aws:iam::{MANAGEMENT}:root"}, Sid="Account"),
            {"Sid": "NotMe", "Effect": "Deny", "NotPrincipal": {"AWS": BUILD_ROLE}, "Action": "sts:AssumeRole"},
            {"Sid": "AllButMe", "Effect": "Deny", "NotPrincipal": {"AWS": "arn:aws:iam::999988887777:root"},
             "Action": "sts:AssumeRole"},
        ]
    }  # fmt: skip
    kept = statements_for(policy, PIPELINE)
    assert [s["Sid"] for s in kept] == ["Account", "AllButMe"]
    assert all(s["Resource"] == "*" and "Principal" not in s and "NotPrincipal" not in s for s in kept)
    # a single statement (not a list) is valid IAM
    assert [s["Sid"] for s in statements_for({"Statement": policy["Statement"][0]}, SAGEMAKER_IN)] == ["SageMaker"]


@pytest.mark.parametrize(
    ("statements", "who", "decision"),
    [
        ([allow({"AWS": f"arn:aws:iam::{MANAGEMENT}:root"},
                Condition={"ArnEquals": {"aws:PrincipalArn": BUILD_ROLE}})], PIPELINE, Decision.ALLOW),
        ([allow({"AWS": f"arn:aws:iam::{MANAGEMENT}:root"},
                Condition={"ArnEquals": {"aws:PrincipalArn": f"arn:aws:iam::{MANAGEMENT}:role/x"}})],
         PIPELINE, Decision.IMPLICIT_DENY),
        ([allow({"AWS": BUILD_ROLE}, Action="sts:TagSession")], PIPELINE, Decision.IMPLICIT_DENY),
        ([allow({"AWS": BUILD_ROLE}, Action="sts:*")], PIPELINE, Decision.ALLOW),
        ([allow({"AWS": BUILD_ROLE}),
          {"Effect": "Deny", "Principal": "*", "Action": "sts:AssumeRole",
           "Condition": {"StringNotEquals": {"aws:PrincipalAccount": MANAGEMENT}}}], PIPELINE, Decision.ALLOW),
        ([allow({"AWS": BUILD_ROLE}),
          {"Effect": "Deny", "Principal": {"AWS": "*"}, "Action": "sts:AssumeRole"}], PIPELINE,
         Decision.EXPLICIT_DENY),
        ([allow({"AWS": BUILD_ROLE}, Condition={"StringEquals": {"sts:ExternalId": "x"}})], PIPELINE,
         Decision.CONDITIONAL),
        ([allow({"AWS": BUILD_ROLE}, Condition={"DateLessThan": {"aws:CurrentTime": "2030-01-01T00:00:00Z"}})],
         PIPELINE, Decision.CONDITIONAL),
        ([allow({"Service": "sagemaker.amazonaws.com"},
                Condition={"ArnLike": {"aws:SourceArn": "arn:aws:sagemaker:*:444455556666:*"}})],
         SAGEMAKER_IN, Decision.ALLOW),
        ([allow({"Service": "sagemaker.amazonaws.com"},
                Condition={"StringEquals": {"aws:SourceAccount": "999988887777"}})], SAGEMAKER_IN,
         Decision.IMPLICIT_DENY),
        ([allow({"AWS": f"arn:aws:iam::{MANAGEMENT}:root"})], SAGEMAKER_IN, Decision.IMPLICIT_DENY),
    ],
)  # fmt: skip
def test_evaluate_trust(statements: list[dict[str, Any]], who: TrustPrincipal, decision: Decision) -> None:
    result = evaluate_trust({"Version": "2012-10-17", "Statement": statements}, who, ROLE_ARN)
    assert result.decision is decision, result
    if decision is Decision.CONDITIONAL:
        assert result.unevaluated  # the condition is named, never silently passed


def test_role_principal_sets_the_keys_iam_sets_for_a_role_session() -> None:
    who = role_principal(BUILD_ROLE)
    assert (who.kind, who.value, who.account) == ("AWS", BUILD_ROLE, MANAGEMENT)
    assert who.context == {
        "aws:PrincipalArn": BUILD_ROLE,
        "aws:PrincipalAccount": MANAGEMENT,
        "aws:PrincipalType": "AssumedRole",
    }


def _rendered_trust(pipeline_account: str) -> dict[str, Any]:
    template = build_target_role(make_config(service_roles="per-service")).to_dict()
    resolver = Resolver(template, {PIPELINE_ACCOUNT: pipeline_account}, account=TARGET)
    trust: dict[str, Any] = resolver.resolve(template["Resources"]["TargetRole"]["Properties"])[
        "AssumeRolePolicyDocument"
    ]
    return trust


#: The project id a sample test names by its session tag (the project's test role carries it as its own tag).
PROJECT_ID = "iris-multi-01-p-abcdefghijkl"


def tagged_principal(principal: str, claimed: str | None = PROJECT_ID, own: str | None = None) -> TrustPrincipal:
    """`principal` assuming with the project session tag `claimed` (None: no tag) and its own role tag `own`
    (None: untagged), the request's tags known whole (tests/test_project_roles.py uses it too)."""
    who = role_principal(principal)
    tags = [(PROJECT_SESSION_TAG, claimed)] if claimed else []
    mine = [(PROJECT_SESSION_TAG, own)] if own else []
    context = session_tag_context(tags, mine) | {COMPLETE_PREFIXES: ("aws:RequestTag/", "aws:TagKeys")}
    return replace(who, context={**who.context, **context})


def test_rendered_trust_admits_the_pipelines_build_role_only() -> None:
    trust = _rendered_trust(MANAGEMENT)
    assert evaluate_trust(trust, tagged_principal(BUILD_ROLE), ROLE_ARN).decision is Decision.ALLOW
    assert evaluate_trust(trust, tagged_principal(BUILD_ROLE), ROLE_ARN, "sts:TagSession").allowed
    # the test must name a project (the target role's test grants are by the session tag)
    assert evaluate_trust(trust, tagged_principal(BUILD_ROLE, None), ROLE_ARN).decision is Decision.IMPLICIT_DENY
    other = f"arn:aws:iam::{MANAGEMENT}:role/service-role/AmazonSageMakerServiceCatalogProductsUseRole"
    assert evaluate_trust(trust, tagged_principal(other), ROLE_ARN).decision is Decision.IMPLICIT_DENY
    # the same role name in another account is another principal
    elsewhere = BUILD_ROLE.replace(MANAGEMENT, "999988887777")
    assert evaluate_trust(trust, tagged_principal(elsewhere), ROLE_ARN).decision is Decision.IMPLICIT_DENY


def test_session_tag_context_names_every_key_passed() -> None:
    """aws:TagKeys holds every key a request passes (one helper for the checks, doctor and the rehearsal): a
    second tag beside the project's fails a `ForAllValues:StringEquals` on the key, one tag passes it, none
    leaves the key absent."""
    from generator.iam.iam_eval import evaluate

    policy = {
        "trust": {
            "Statement": [
                {
                    "Effect": "Allow",
                    "Action": "sts:TagSession",
                    "Resource": "*",
                    "Condition": {"ForAllValues:StringEquals": {"aws:TagKeys": [PROJECT_SESSION_TAG]}},
                }
            ]
        }
    }
    one = session_tag_context([(PROJECT_SESSION_TAG, PROJECT_ID)], [(PROJECT_SESSION_TAG, PROJECT_ID)])
    assert one == {
        f"aws:RequestTag/{PROJECT_SESSION_TAG}": PROJECT_ID,
        "aws:TagKeys": (PROJECT_SESSION_TAG,),
        f"aws:PrincipalTag/{PROJECT_SESSION_TAG}": PROJECT_ID,
    }
    assert evaluate(policy, "sts:TagSession", ROLE_ARN, one).allowed
    two = session_tag_context([(PROJECT_SESSION_TAG, PROJECT_ID), ("team", "x")])
    assert two["aws:TagKeys"] == (PROJECT_SESSION_TAG, "team")
    assert not evaluate(policy, "sts:TagSession", ROLE_ARN, two).allowed
    assert "aws:TagKeys" not in session_tag_context([])
