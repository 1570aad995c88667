"""CodeBuild in a VPC of the pipeline's account (`--build-vpc-id`, `--build-subnets`, `--build-security-groups`).

Every CodeBuild project gets the VpcConfig; the project's build and test roles get what CodeBuild documents
for builds in a VPC, and `validate`'s run-time IAM check models those calls, so a role missing one is caught.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from generator import build_network
from generator.checks.iam_check import check_folder
from generator.errors import InputError
from generator.manifest import read_manifest
from generator.render import build_manifest, render_files, write_output
from tests.conftest import make_config

VPC = {
    "build-vpc-id": "vpc-0a1b2c3d4e5f67890",
    "build-subnets": "subnet-0a1b2c3d4e5f67890,subnet-0a1b2c3d4e5f67891",
    "build-security-groups": "sg-0a1b2c3d4e5f67890",
}


def test_options_reach_the_config_and_its_settings() -> None:
    cfg = make_config(**VPC)
    assert cfg.build_vpc_id == "vpc-0a1b2c3d4e5f67890"
    assert cfg.build_subnets == ("subnet-0a1b2c3d4e5f67890", "subnet-0a1b2c3d4e5f67891")
    assert cfg.settings()["build-security-groups"] == ["sg-0a1b2c3d4e5f67890"]
    assert make_config().build_vpc_id is None and make_config().settings()["build-subnets"] == []


@pytest.mark.parametrize(
    ("overrides", "flag", "message"),
    [
        ({"build-security-groups": None}, "--build-security-groups", "is needed with --build-vpc-id"),
        ({"build-vpc-id": None}, "--build-vpc-id", "is needed with --build-subnets"),
        ({"build-vpc-id": "vpc-12"}, "--build-vpc-id", "is not a VPC id"),
        ({"build-subnets": "subnet-0a1b2c3d4e5f67890,sub-1"}, "--build-subnets", "'sub-1' is not subnet id"),
        ({"build-security-groups": ",".join(f"sg-0a1b2c3d4e5f6789{i}" for i in range(6))},
         "--build-security-groups", "must name 1 to 5 security group ids"),
        ({"service-roles": "per-service"}, "--build-vpc-id", "needs --service-roles project"),
        ({"service-roles": "use-role"}, "--build-vpc-id", "needs --service-roles project"),
    ],
)  # fmt: skip
def test_bad_build_network_options_are_refused(overrides: dict[str, Any], flag: str, message: str) -> None:
    with pytest.raises(InputError) as caught:
        make_config(**{**VPC, **overrides})
    assert caught.value.flag == flag and message in str(caught.value)


def _projects(cfg: Any) -> dict[str, Any]:
    from tests.cfn_resolve import product_template

    template = product_template(render_files(cfg))
    return {k: r for k, r in template["Resources"].items() if r["Type"] == "AWS::CodeBuild::Project"}


@pytest.mark.parametrize("stackset_admin", ["management", "delegated"])  # delegated: the deploy projects too
@pytest.mark.slow  # renders whole configurations (about a second each)
def test_every_codebuild_project_runs_in_the_vpc(stackset_admin: str) -> None:
    projects = _projects(make_config(**VPC, **{"stackset-admin": stackset_admin}))
    assert len(projects) == (2 if stackset_admin == "management" else 4)
    for resource in projects.values():
        assert resource["Properties"]["VpcConfig"] == {
            "VpcId": "vpc-0a1b2c3d4e5f67890",
            "Subnets": ["subnet-0a1b2c3d4e5f67890", "subnet-0a1b2c3d4e5f67891"],
            "SecurityGroupIds": ["sg-0a1b2c3d4e5f67890"],
        }
    assert all("VpcConfig" not in r["Properties"] for r in _projects(make_config()).values())


def _iam_findings(tmp_path: Path, cfg: Any) -> list[Any]:
    files = render_files(cfg)
    out = tmp_path / "dist"
    write_output(files, build_manifest(cfg, files), out, force=True)
    return check_folder(out, read_manifest(out))


@pytest.mark.slow  # validates whole renders (cfn-lint and every folder check)
def test_the_project_roles_allow_what_codebuild_calls_in_the_vpc(tmp_path: Path) -> None:
    findings = [f for f in _iam_findings(tmp_path, make_config(**VPC)) if f.blocks_render]
    assert findings == []


@pytest.mark.slow  # validates whole renders (cfn-lint and every folder check)
def test_a_role_missing_the_attach_permission_is_caught(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The failing fixture: CodeBuild's CreateNetworkInterfacePermission dropped from the roles."""
    original = build_network.role_statements
    monkeypatch.setattr(
        build_network,
        "role_statements",
        lambda cfg: [s for s in original(cfg) if s["Sid"] != "BuildVpcAttachPermission"],
    )
    findings = [f for f in _iam_findings(tmp_path, make_config(**VPC)) if f.blocks_render]
    assert findings and all("ec2:CreateNetworkInterfacePermission" in f.message for f in findings), findings
    assert {"build", "test"} <= {word for f in findings for word in ("build", "test") if f"-{word}" in f.message}
