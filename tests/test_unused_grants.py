"""IAM-UNUSED-STATEMENT: a statement of the generated launch role that no call of the launch uses.

The failing fixture re-introduces the dead seed grant (`*/mlops-gen/seedcode-modeldeploy.zip`, named before
the seed bundle's key became content-addressed); the passing ones are every rendered configuration.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from generator.checks.unused_grants import UNUSED_KIND, UNUSED_RULE, statement_is_used, unused_statements
from generator.cli import app
from generator.companions.launch_role import (
    SEED_KEY_PATTERN,
    build_launch_role_template,
    launch_calls,
    product_for_launch_role,
)
from generator.errors import ValidationFailed
from generator.iam.calls import Call
from generator.render import validation_step
from tests.conftest import CONFIGS, config_params, named_config
from tests.test_iam_check import edit_json, findings_of, render_to

#: The statement the launch role had before the fix (the seed key without its content hash).
DEAD_SEED_GRANT = {
    "Sid": "DeadSeedGrant",
    "Effect": "Allow",
    "Action": ["s3:GetObject"],
    "Resource": [{"Fn::Sub": "arn:${AWS::Partition}:s3:::*/mlops-gen/seedcode-modeldeploy.zip"}],
}


def add_statement(statement: dict[str, Any]) -> Any:
    def change(template: dict[str, Any]) -> None:
        template["Resources"]["LaunchRole"]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"].append(
            statement
        )

    return change


def unused_of(folder: Path) -> list[Any]:
    return [f for f in findings_of(folder) if f.rule == UNUSED_RULE]


GENERATED = sorted(n for n in CONFIGS if n != "standard-launch-role")


@pytest.mark.parametrize("name", config_params(GENERATED))
def test_every_generated_statement_is_used(tmp_path: Path, name: str) -> None:
    folder = render_to(tmp_path / "out", **CONFIGS[name])
    assert unused_of(folder) == []


@pytest.mark.slow  # validates whole renders (cfn-lint and every folder check)
def test_dead_seed_grant_is_reported_and_blocks_render(tmp_path: Path) -> None:
    folder = render_to(tmp_path / "out")
    edit_json(folder / "launch-role-template.json", add_statement(DEAD_SEED_GRANT))
    unused = unused_of(folder)
    assert len(unused) == 1
    finding = unused[0]
    assert finding.kind == UNUSED_KIND and finding.role == "sagemaker-mlops-gen-launch-role"
    assert finding.path == "launch-role-template.json" and finding.line > 0
    assert "statement DeadSeedGrant" in finding.message and "s3:GetObject" in finding.message
    assert finding.blocks_render
    with pytest.raises(ValidationFailed, match=UNUSED_RULE):
        validation_step(folder)
    result = CliRunner().invoke(app, ["validate", str(folder), "--json"])
    assert result.exit_code == 1
    assert any(f["rule"] == UNUSED_RULE for f in json.loads(result.stdout)["findings"])


def test_grant_for_any_bundle_version_is_used_by_the_rendered_seed_key(tmp_path: Path) -> None:
    """The launch role names every bundle version (the key is content-addressed), and the rendered key is one."""
    cfg = named_config("default")
    document = build_launch_role_template(cfg).to_dict()["Resources"]["LaunchRole"]["Properties"]["Policies"][0]
    resources = [r for s in document["PolicyDocument"]["Statement"] for r in s["Resource"]]
    assert {"Fn::Sub": f"arn:${{AWS::Partition}}:s3:::*/{SEED_KEY_PATTERN}"} in resources
    rendered_key = json.loads((render_to(tmp_path / "out") / "product-template.json").read_text())["Parameters"][
        "SeedCodeKey"
    ]["Default"]
    assert rendered_key != "mlops-gen/seedcode-modeldeploy.zip" and rendered_key.startswith("mlops-gen/seedcode/")
    calls = launch_calls(product_for_launch_role(cfg).to_dict(), cfg.region)
    assert any(c.action == "s3:GetObject" and c.resource.endswith("/seedcode-modeldeploy.zip") for c in calls)


def test_a_statement_is_used_only_by_a_call_it_allows_alone() -> None:
    get = {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::bucket/*"}
    assert statement_is_used(get, [Call("s3:GetObject", "arn:aws:s3:::bucket/key")])
    assert not statement_is_used(get, [Call("s3:GetObject", "arn:aws:s3:::other/key")])
    assert not statement_is_used(get, [Call("s3:PutObject", "arn:aws:s3:::bucket/key")])
    # An unevaluable condition: not provably dead, so used.
    tagged = {**get, "Condition": {"StringEquals": {"aws:ResourceTag/team": "ml"}}}
    assert statement_is_used(tagged, [Call("s3:GetObject", "arn:aws:s3:::bucket/key")])
    # A condition the call's known keys contradict: dead.
    assert not statement_is_used(
        tagged, [Call("s3:GetObject", "arn:aws:s3:::bucket/key", (("aws:ResourceTag/team", "x"),))]
    )


def test_deny_statements_are_not_grants() -> None:
    deny = {"Effect": "Deny", "Action": "s3:*", "Resource": "*"}
    unused = unused_statements({"p": {"Statement": [deny]}}, [])
    assert unused == []
    allow = {"Sid": "Dead", "Effect": "Allow", "Action": "s3:DeleteBucket", "Resource": "*"}
    found = unused_statements({"p": {"Statement": [deny, allow]}}, [Call("s3:GetObject", "*")])
    assert [(u.policy, u.sid, u.actions) for u in found] == [("p", "Dead", ("s3:DeleteBucket",))]


def test_dead_statement_in_a_prerequisites_policy_is_reported(tmp_path: Path) -> None:
    folder = render_to(tmp_path / "out")
    dead = {"Sid": "DeadStackSetGrant", "Effect": "Allow", "Action": ["cloudformation:DeleteStackSet"], "Resource": "*"}

    def add(template: dict[str, Any]) -> None:
        template["Resources"]["PipelineRolePolicy"]["Properties"]["PolicyDocument"]["Statement"].append(dead)

    edit_json(folder / "prerequisites-template.json", add)
    unused = unused_of(folder)
    assert [(f.path, f.role, f.action) for f in unused] == [
        (
            "prerequisites-template.json",
            "AmazonSageMakerServiceCatalogProductsCodePipelineRole",
            "cloudformation:DeleteStackSet",
        )
    ]
    assert "statement DeadStackSetGrant" in unused[0].message and unused[0].blocks_render


def test_api_mode_pipeline_role_gets_no_stack_set_grants(tmp_path: Path) -> None:
    """In api mode the deploy projects call the stack-set API, so the pipeline's role is not given it (it was
    dead there before this check)."""
    folder = render_to(tmp_path / "out", **CONFIGS["delegated-admin"])
    template = json.loads((folder / "prerequisites-template.json").read_text())
    statements = template["Resources"]["PipelineRolePolicy"]["Properties"]["PolicyDocument"]["Statement"]
    assert not any(a.startswith("cloudformation:") for s in statements for a in s["Action"])
    assert unused_of(folder) == []
