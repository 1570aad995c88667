"""Stack tags: SageMaker tags every project's stack, CloudFormation propagates the tags to every taggable
resource, so the launch role needs each type's tagging actions even where the template sets no `Tags`.

The generated launch role grants them (a role without one is an IAM-LAUNCH-ROLE finding); the standard
role's gaps are accepted one by one in generator/companions/launch_role.py, and these tests keep that list exact.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from generator.checks.iam_check import generated_launch_policies
from generator.companions.launch_role import (
    STANDARD_ACCEPTED_GAPS,
    build_launch_role_template,
    evaluate_requirement,
    missing_permissions,
    standard_policy,
)
from generator.iam.iam_table import BY_TYPE, STACK_TAGS, required_permissions
from generator.iam.schemas import Operation, tagging_permissions
from generator.product.compose import build_product
from tests.conftest import CONFIGS, config_params, named_config
from tests.test_iam_check import edit_json, findings_of, render_to

LAUNCH_ROLE = "sagemaker-mlops-gen-launch-role"


def product(name: str) -> dict[str, Any]:
    return build_product(named_config(name)).to_dict()


@pytest.mark.parametrize("name", config_params(n for n in CONFIGS if n != "standard-launch-role"))
def test_generated_role_grants_every_tagging_action_of_every_taggable_resource(name: str) -> None:
    template = product(name)
    cfg = named_config(name)
    _, policies = generated_launch_policies(build_launch_role_template(cfg).to_dict(), cfg.region)
    tagged = [r for r in required_permissions(template) if r.why == STACK_TAGS]
    assert tagged, "no taggable resource?"
    for req in tagged:
        assert evaluate_requirement(policies, req, cfg.region).allowed, req
    # Every taggable type of the product is covered, with the schema's actions.
    types = {r["Type"] for r in template["Resources"].values()}
    for rtype in types:
        wanted = set(tagging_permissions(rtype))
        got = {r.action for r in tagged if r.resource_type == rtype}
        assert got == wanted, rtype


def test_resources_without_tags_property_still_need_tagging() -> None:
    template = product("default")
    pipeline = template["Resources"]["ModelDeployPipeline"]
    assert "Tags" not in pipeline["Properties"]
    needed = {(r.action, r.operation) for r in required_permissions(template) if r.logical_id == "ModelDeployPipeline"}
    assert ("codepipeline:TagResource", Operation.CREATE) in needed
    assert ("codepipeline:UntagResource", Operation.UPDATE) in needed


@pytest.mark.parametrize(
    ("action", "logical_id"),
    [
        ("codepipeline:TagResource", "ModelDeployPipeline"),
        ("codecommit:TagResource", "ModelDeployRepository"),
        ("events:TagResource", "ModelApprovedRule"),
        ("s3:PutBucketTagging", "ArtifactBucket"),
        ("sagemaker:AddTags", "ModelPackageGroup"),
    ],
)
@pytest.mark.slow  # renders whole configurations (about a second each)
def test_launch_role_without_a_tagging_action_is_a_finding(tmp_path: Path, action: str, logical_id: str) -> None:
    folder = render_to(tmp_path / "out")
    assert [f for f in findings_of(folder) if f.rule == "IAM-LAUNCH-ROLE"] == []  # the passing fixture

    def remove(template: dict[str, Any]) -> None:
        document = template["Resources"]["LaunchRole"]["Properties"]["Policies"][0]["PolicyDocument"]
        for statement in document["Statement"]:
            statement["Action"] = [a for a in statement["Action"] if a != action]

    edit_json(folder / "launch-role-template.json", remove)
    launch = [f for f in findings_of(folder) if f.rule == "IAM-LAUNCH-ROLE"]
    hit = [f for f in launch if f.action == action and f.logical_id == logical_id]
    assert hit, launch
    assert hit[0].kind == "missing" and hit[0].role == LAUNCH_ROLE and "(create/update)" in hit[0].message


def test_standard_role_lacks_exactly_the_accepted_tagging_gaps() -> None:
    """What the standard role lacks for stack tags, each accepted with its reason (none more, none stale)."""
    template = product("standard-launch-role")
    lacking = {
        (r.resource_type, r.action, r.operation)
        for r in missing_permissions(template, standard_policy())
        if r.why == STACK_TAGS
    }
    accepted = {key for key in STANDARD_ACCEPTED_GAPS if key[1] in {a for e in BY_TYPE for a in tagging_permissions(e)}}
    assert lacking == accepted
    assert lacking  # the standard role lacks some: s3:TagResource, events:TagResource and the untag actions
