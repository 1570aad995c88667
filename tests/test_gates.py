"""Release gates (generator/checks/gates.py) on rendered products: the real renders pass, each way of
breaking the staging -> test -> approval -> prod chain is a finding, and `validate` reports it."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from generator.checks.gates import DISTINCT_RULE, ORDER_RULE, TEST_INPUT_RULE, Position, check_folder, check_template
from generator.iam.resolve import load_template
from generator.manifest import verify_manifest
from generator.render import build_manifest, write_output
from tests.conftest import CONFIGS, make_config, rendered_files
from tests.edit import reseal

Template = dict[str, Any]


def rendered(name: str) -> Template:
    (product,) = [f for f in rendered_files(make_config(**CONFIGS[name])) if f.kind == "product-template"]
    return load_template(product.content.decode(), product.path)


def stages(template: Template) -> list[dict[str, Any]]:
    stages: list[dict[str, Any]] = template["Resources"]["ModelDeployPipeline"]["Properties"]["Stages"]
    return stages


def action(template: Template, name: str) -> dict[str, Any]:
    return next(a for s in stages(template) for a in s["Actions"] if a["Name"] == name)


def rules(template: Template) -> list[tuple[str, str]]:
    return [(gate.rule, gate.message) for _, gate in check_template(template, "eu-west-1")]


@pytest.mark.parametrize("name", sorted(CONFIGS))
@pytest.mark.slow  # renders whole configurations (about a second each)
def test_every_real_render_passes(name: str) -> None:
    assert rules(rendered(name)) == []


def move_prod_before_the_test(template: Template) -> None:
    staging = next(s for s in stages(template) if s["Name"] == "DeployStaging")
    prod = next(s for s in stages(template) if s["Name"] == "DeployProd")
    deploy = prod["Actions"].pop()
    deploy["RunOrder"] = 2  # beside the test: parallel, so not after it
    staging["Actions"].append(deploy)
    stages(template).remove(prod)


def delete_the_approval(template: Template) -> None:
    staging = next(s for s in stages(template) if s["Name"] == "DeployStaging")
    staging["Actions"] = [a for a in staging["Actions"] if a["Name"] != "ApproveDeployment"]


def point_prod_at_the_staging_ou(template: Template) -> None:
    staging_ou = {"Ref": "OrganizationalUnitStagingId"}
    action(template, "DeployResourcesProd")["Configuration"]["DeploymentTargets"] = staging_ou


def reuse_the_staging_stack_set(template: Template) -> None:
    staging = action(template, "DeployResourcesStaging")["Configuration"]["StackSetName"]
    action(template, "DeployResourcesProd")["Configuration"]["StackSetName"] = copy.deepcopy(staging)


def read_a_build_of_its_own(template: Template) -> None:
    """The test reads an artifact no staging deployment consumed (a rebuilt source)."""
    build = copy.deepcopy(action(template, "BuildDeploymentTemplates"))
    build["Name"], build["OutputArtifacts"], build["Namespace"] = "Rebuild", [{"Name": "Rebuilt"}], "Rebuilt"
    staging = next(s for s in stages(template) if s["Name"] == "DeployStaging")
    build["RunOrder"] = 1
    staging["Actions"].append(build)
    action(template, "TestStaging")["InputArtifacts"] = [{"Name": "Rebuilt"}]


BREAKS: dict[str, tuple[Callable[[Template], None], str, str]] = {
    "prod-before-test": (move_prod_before_the_test, ORDER_RULE, "no test of the staging endpoints runs after"),
    "approval-deleted": (delete_the_approval, ORDER_RULE, "no manual approval runs after the staging test"),
    "prod-at-staging-ou": (point_prod_at_the_staging_ou, DISTINCT_RULE, "no action deploys to the prod targets"),
    "stack-set-reused": (reuse_the_staging_stack_set, DISTINCT_RULE, "is deployed by DeployStaging/Deploy"),
    "test-reads-other-build": (read_a_build_of_its_own, TEST_INPUT_RULE, "has input(s) Rebuilt"),
}


@pytest.mark.parametrize("name", sorted(BREAKS))
def test_each_broken_gate_is_a_finding(name: str) -> None:
    template = rendered("default")
    edit, rule, words = BREAKS[name]
    edit(template)
    found = rules(template)
    assert any(r == rule and words in m for r, m in found), found


@pytest.mark.slow  # renders whole configurations (about a second each)
def test_api_mode_deployments_are_gated_too() -> None:
    """Deploy mode "api": the deployments are CodeBuild actions; deleting the approval is still caught."""
    template = rendered("delegated-admin")
    delete_the_approval(template)
    assert [r for r, _ in rules(template)] == [ORDER_RULE]


def test_parallel_actions_do_not_precede_each_other() -> None:
    assert Position(1, 1).precedes(Position(1, 2)) and Position(1, 9).precedes(Position(2, 1))
    assert not Position(1, 2).precedes(Position(1, 2)) and not Position(2, 1).precedes(Position(1, 3))


@pytest.mark.slow  # validates whole renders (cfn-lint and every folder check)
def test_validate_reports_the_gate_in_the_folder(tmp_path: Path) -> None:
    """The check runs on the rendered file (edited by hand): validate_dir lists it, and it blocks render."""
    from generator.checks.validate import validate_dir

    cfg = make_config()
    files = rendered_files(cfg)
    out = tmp_path / "dist"
    write_output(files, build_manifest(cfg, files), out, force=True)
    assert check_folder(out, verify_manifest(out)) == []
    path = out / "product-template.yaml"
    template = load_template(path.read_text(), path.name)
    delete_the_approval(template)
    path.write_text(json.dumps(template, indent=1))
    reseal(out)
    findings = [f for f in validate_dir(out) if f.rule.startswith("GATE-")]
    assert [f.rule for f in findings] == [ORDER_RULE]
    assert findings[0].path == "product-template.yaml" and findings[0].blocks_render
    assert "DeployProd/DeployResourcesProd deploys to prod" in findings[0].message
    assert "https://docs.aws.amazon.com/codepipeline/latest/userguide/approvals.html" in findings[0].message
