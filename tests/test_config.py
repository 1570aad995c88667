"""Config validation: every bad input is an `InputError` naming the flag (or file key) and the rule.

Table-driven: each row is flag-style overrides of a valid config, the flag the error must name,
and a fragment of the rule it must state.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from generator.config import (
    RENDER_OPTIONS,
    RenderConfig,
    Source,
    build_config,
    find_config_file,
    known_regions,
    layer,
    read_config_file,
)
from generator.errors import InputError
from generator.naming import Names
from tests.cfn_resolve import Resolver, product_template
from tests.conftest import CONNECTION_ARN, PROD_OU, STAGING_OU, make_config, rendered_files

CODECONNECTIONS = {"source": "codeconnections", "connection-arn": CONNECTION_ARN, "repository": "acme/iris-deploy"}
#: 25 characters: the artifact bucket (`<prefix>project-<id>-artifacts`, limit 63) then just fits, and
#: the staging endpoint (`<prefix><name>-<id>-staging`, limit 63) leaves 9 for the project name.
PREFIX_LONGEST = "sagemaker-" + "a" * 14 + "-"
#: 26 characters: the artifact bucket no longer fits, whatever the project name.
PREFIX_TOO_LONG_FOR_BUCKET = "sagemaker-" + "a" * 15 + "-"
#: 34 characters: the endpoint name alone leaves nothing either.
PREFIX_TOO_LONG = "sagemaker-" + "a" * 23 + "-"


def _flags(**overrides: Any) -> dict[str, Any]:
    flags: dict[str, Any] = {"staging-ou": STAGING_OU, "prod-ou": PROD_OU, "region": "eu-west-1"}
    flags.update(overrides)
    return flags


BAD_INPUT: list[tuple[str, dict[str, Any], str, str]] = [
    # id, overrides, flag named, rule fragment
    ("ou-no-prefix", {"staging-ou": "ab12-11111111"}, "--staging-ou", "organizational unit id"),
    ("ou-root-part-short", {"staging-ou": "ou-ab1-11111111"}, "--staging-ou", "organizational unit id"),
    ("ou-root-part-long", {"prod-ou": "ou-" + "a" * 33 + "-22222222"}, "--prod-ou", "organizational unit id"),
    ("ou-second-part-short", {"prod-ou": "ou-ab12-2222222"}, "--prod-ou", "organizational unit id"),
    ("ou-second-part-long", {"prod-ou": "ou-ab12-" + "2" * 33}, "--prod-ou", "organizational unit id"),
    ("ou-uppercase", {"staging-ou": "ou-AB12-11111111"}, "--staging-ou", "organizational unit id"),
    ("ou-missing", {"prod-ou": None}, "--prod-ou", "required"),
    ("same-ou", {"prod-ou": STAGING_OU}, "--prod-ou", "must differ from --staging-ou"),
    ("unknown-home-region", {"region": "eu-west-9"}, "--region", "unknown AWS region 'eu-west-9'"),
    ("region-typo", {"region": "euwest1"}, "--region", "unknown AWS region"),
    ("unknown-deploy-region", {"deploy-regions": "eu-west-1,mars-north-1"}, "--deploy-regions", "'mars-north-1'"),
    ("duplicate-deploy-region", {"deploy-regions": "eu-west-1,eu-west-1"}, "--deploy-regions", "twice"),
    (
        "opt-in-deploy-region",
        {"deploy-regions": "eu-west-1,me-central-1"},
        "--deploy-regions",
        "me-central-1 is an opt-in region",
    ),
    ("opt-in-home-region", {"region": "af-south-1"}, "--deploy-regions", "af-south-1 is an opt-in region"),
    ("opt-in-flag-not-bool", {"opt-in-regions-enabled": "yes"}, "--opt-in-regions-enabled", "true or false"),
    ("max-concurrent-0", {"max-concurrent-percentage": 0}, "--max-concurrent-percentage", "from 1 to 100"),
    ("max-concurrent-101", {"max-concurrent-percentage": 101}, "--max-concurrent-percentage", "from 1 to 100"),
    ("tolerance-minus-1", {"failure-tolerance-percentage": -1}, "--failure-tolerance-percentage", "from 0 to 100"),
    ("tolerance-101", {"failure-tolerance-percentage": 101}, "--failure-tolerance-percentage", "from 0 to 100"),
    ("tolerance-bool", {"failure-tolerance-percentage": True}, "--failure-tolerance-percentage", "whole number"),
    (
        "codeconnections-without-arn",
        {**CODECONNECTIONS, "connection-arn": None},
        "--connection-arn",
        "required with --source codeconnections",
    ),
    (
        "codeconnections-without-repository",
        {**CODECONNECTIONS, "repository": None},
        "--repository",
        "required with --source codeconnections",
    ),
    ("codeconnections-bad-arn", {**CODECONNECTIONS, "connection-arn": "arn:aws:s3:::x"}, "--connection-arn", "ARN"),
    ("codeconnections-bad-repository", {**CODECONNECTIONS, "repository": "iris"}, "--repository", "owner/name"),
    ("connection-arn-with-codecommit", {"connection-arn": CONNECTION_ARN}, "--connection-arn", "codeconnections"),
    ("repository-with-codecommit", {"repository": "acme/iris"}, "--repository", "codeconnections"),
    ("unknown-source", {"source": "github"}, "--source", "one of codecommit, codeconnections"),
    ("prefix-not-sagemaker", {"name-prefix": "acme-"}, "--name-prefix", "must start with 'sagemaker-'"),
    ("prefix-uppercase", {"name-prefix": "sagemaker-Acme-"}, "--name-prefix", "must start with 'sagemaker-'"),
    ("prefix-no-dash", {"name-prefix": "sagemaker-acme"}, "--name-prefix", "must start with 'sagemaker-'"),
    ("prefix-too-long", {"name-prefix": PREFIX_TOO_LONG}, "--name-prefix", "is too long"),
    ("prefix-too-long-for-bucket", {"name-prefix": PREFIX_TOO_LONG_FOR_BUCKET}, "--name-prefix", "artifact_bucket"),
    ("role-with-space", {"target-role-name": "my role"}, "--target-role-name", "IAM role name"),
    ("role-too-long", {"target-role-name": "r" * 65}, "--target-role-name", "IAM role name"),
    ("role-slash", {"target-role-name": "path/role"}, "--target-role-name", "IAM role name"),
    ("branch-dotdot", {"branch": "release..1"}, "--branch", "git branch name"),
    ("branch-leading-dash", {"branch": "-main"}, "--branch", "git branch name"),
    ("branch-space", {"branch": "my branch"}, "--branch", "git branch name"),
    ("branch-empty", {"branch": ""}, "--branch", "git branch name"),
    ("seed-bucket-uppercase", {"seed-bucket": "Seed"}, "--seed-bucket", "S3 bucket name"),
    ("unknown-format", {"format": "xml"}, "--format", "one of yaml, json"),
    ("org-id-uppercase", {"org-id": "o-A1B2C3D4E5"}, "--org-id", "AWS Organizations id"),
    ("org-id-short", {"org-id": "o-a1b2c3"}, "--org-id", "AWS Organizations id"),
    ("org-id-no-prefix", {"org-id": "a1b2c3d4e5f6"}, "--org-id", "AWS Organizations id"),
    ("org-id-wildcard", {"org-id": "o-*"}, "--org-id", "AWS Organizations id"),
    # Deployment topologies (issue 7).
    ("unknown-stackset-admin", {"stackset-admin": "root"}, "--stackset-admin", "one of management, delegated"),
    ("unknown-permission-model", {"permission-model": "managed"}, "--permission-model", "one of service-managed"),
    ("account-11-digits", {"staging-accounts": "11111111111"}, "--staging-accounts", "12-digit AWS account ids"),
    ("account-13-digits", {"prod-accounts": "2222222222222"}, "--prod-accounts", "12-digit AWS account ids"),
    ("account-letters", {"prod-accounts": "22222222222a"}, "--prod-accounts", "12-digit AWS account ids"),
    ("account-twice", {"staging-accounts": "111111111111,111111111111"}, "--staging-accounts", "twice"),
    ("accounts-empty", {"staging-accounts": " , "}, "--staging-accounts", "lists no account id"),
    (
        "account-in-both-stages",
        {"staging-accounts": "111111111111", "prod-accounts": "111111111111"},
        "--prod-accounts",
        "also a staging account",
    ),
    (
        "filter-without-ou",
        {"staging-ou": None, "staging-accounts": "111111111111"},
        "--staging-accounts",
        "needs --staging-ou",
    ),
    (
        "self-managed-without-accounts",
        {"permission-model": "self-managed"},
        "--staging-accounts",
        "required with --permission-model self-managed",
    ),
    (
        "self-managed-without-prod-accounts",
        {"permission-model": "self-managed", "staging-accounts": "111111111111"},
        "--prod-accounts",
        "required with --permission-model self-managed",
    ),
    (
        "self-managed-delegated",
        {
            "permission-model": "self-managed",
            "stackset-admin": "delegated",
            "staging-accounts": "111111111111",
            "prod-accounts": "222222222222",
        },
        "--stackset-admin",
        "only applies to --permission-model service-managed",
    ),
    (
        "admin-role-service-managed",
        {"administration-role-arn": "arn:aws:iam::123456789012:role/Admin"},
        "--administration-role-arn",
        "only applies with --permission-model self-managed",
    ),
    ("execution-role-service-managed", {"execution-role-name": "Exec"}, "--execution-role-name", "only applies with"),
    (
        "admin-role-not-an-arn",
        {
            "permission-model": "self-managed",
            "staging-accounts": "111111111111",
            "prod-accounts": "222222222222",
            "administration-role-arn": "Admin",
        },
        "--administration-role-arn",
        "IAM role ARN",
    ),
]


@pytest.mark.parametrize(("overrides", "flag", "rule"), [row[1:] for row in BAD_INPUT], ids=[r[0] for r in BAD_INPUT])
def test_bad_input_names_flag_and_rule(overrides: dict[str, Any], flag: str, rule: str) -> None:
    with pytest.raises(InputError) as caught:
        build_config(_flags(**overrides), {}, environ={})
    assert caught.value.flag == flag
    assert rule in caught.value.rule
    assert str(caught.value).startswith(f"{flag}: ")


GOOD_INPUT: list[tuple[str, dict[str, Any]]] = [
    ("defaults", {}),
    ("ou-longest-parts", {"staging-ou": "ou-" + "a" * 32 + "-" + "1" * 32}),
    ("max-concurrent-1", {"max-concurrent-percentage": 1}),
    ("max-concurrent-100", {"max-concurrent-percentage": 100}),
    ("tolerance-0", {"failure-tolerance-percentage": 0}),
    ("tolerance-100", {"failure-tolerance-percentage": 100}),
    ("codeconnections", CODECONNECTIONS),
    (
        "codestar-connections-arn",
        {**CODECONNECTIONS, "connection-arn": CONNECTION_ARN.replace("codeconnections", "codestar-connections")},
    ),
    ("prefix-longest", {"name-prefix": PREFIX_LONGEST}),
    ("branch-with-slash", {"branch": "release/2026.11"}),
    ("deploy-regions-with-spaces", {"deploy-regions": "eu-west-1, us-east-1"}),
    ("deploy-regions-list", {"deploy-regions": ["eu-west-1", "ap-southeast-2"]}),
    ("opt-in-regions-enabled", {"deploy-regions": "eu-west-1,me-central-1", "opt-in-regions-enabled": True}),
    ("delegated", {"stackset-admin": "delegated"}),
    ("filters-one-stage", {"prod-accounts": "222222222222"}),
    ("filters-toml-list", {"staging-accounts": ["111111111111", "333333333333"]}),
    (
        "self-managed",
        {
            "permission-model": "self-managed",
            "staging-accounts": "111111111111",
            "prod-accounts": "222222222222",
            "execution-role-name": "Exec",
        },
    ),
]


def test_topology_values_reach_the_config() -> None:
    cfg = make_config(**{"permission-model": "self-managed", "staging-accounts": "111111111111, 333333333333",
                         "prod-accounts": "222222222222"})  # fmt: skip
    assert cfg.staging_accounts == ("111111111111", "333333333333") and cfg.prod_accounts == ("222222222222",)
    assert cfg.execution_role_name == "AWSCloudFormationStackSetExecutionRole"
    assert cfg.administration_role_arn is None and not cfg.filters_accounts
    assert make_config(**{"prod-accounts": "222222222222"}).filters_accounts


@pytest.mark.parametrize("overrides", [row[1] for row in GOOD_INPUT], ids=[row[0] for row in GOOD_INPUT])
def test_good_input_is_accepted(overrides: dict[str, Any]) -> None:
    cfg = build_config(_flags(**overrides), {}, environ={})
    assert isinstance(cfg, RenderConfig)


def test_longest_prefix_leaves_nine_characters() -> None:
    assert make_config(name_prefix=PREFIX_LONGEST).names.max_project_name_length() == 9


def test_config_values_are_typed() -> None:
    cfg = build_config(_flags(**CODECONNECTIONS, **{"deploy-regions": "eu-west-1, us-east-1"}), {}, environ={})
    assert cfg.source is Source.CODECONNECTIONS
    assert cfg.deploy_regions == ("eu-west-1", "us-east-1")
    assert cfg.connection_arn == CONNECTION_ARN
    assert cfg.repository == "acme/iris-deploy"


def test_regions_come_from_botocore_endpoint_data() -> None:
    regions = known_regions()
    assert {"eu-west-1", "us-east-1", "ap-southeast-2", "cn-north-1", "us-gov-west-1"} <= regions
    assert "eu-west-9" not in regions


# --- home region fallback -------------------------------------------------------------------------------------

REGION_FALLBACK: list[tuple[str, str | None, dict[str, str], str]] = [
    ("flag-wins", "eu-central-1", {"AWS_REGION": "us-east-1", "AWS_DEFAULT_REGION": "us-west-2"}, "eu-central-1"),
    ("aws-region", None, {"AWS_REGION": "us-east-1", "AWS_DEFAULT_REGION": "us-west-2"}, "us-east-1"),
    ("aws-default-region", None, {"AWS_DEFAULT_REGION": "us-west-2"}, "us-west-2"),
    ("empty-aws-region-falls-through", None, {"AWS_REGION": "", "AWS_DEFAULT_REGION": "us-west-2"}, "us-west-2"),
]


@pytest.mark.parametrize(
    ("flag", "environ", "expected"), [r[1:] for r in REGION_FALLBACK], ids=[r[0] for r in REGION_FALLBACK]
)
def test_region_fallback(flag: str | None, environ: dict[str, str], expected: str) -> None:
    cfg = build_config(_flags(region=flag), {}, environ=environ)
    assert cfg.region == expected
    assert cfg.deploy_regions == (expected,)


def test_no_region_anywhere_names_flag_and_env_vars() -> None:
    with pytest.raises(InputError) as caught:
        build_config(_flags(region=None), {}, environ={"HOME": "/root"})
    assert caught.value.flag == "--region"
    assert "AWS_REGION" in caught.value.rule and "AWS_DEFAULT_REGION" in caught.value.rule


@pytest.mark.parametrize("variable", ["AWS_REGION", "AWS_DEFAULT_REGION"])
def test_unknown_region_from_env_names_the_variable(variable: str) -> None:
    with pytest.raises(InputError) as caught:
        build_config(_flags(region=None), {}, environ={variable: "moon-1"})
    assert variable in caught.value.flag
    assert "unknown AWS region 'moon-1'" in caught.value.rule


def test_build_config_reads_os_environ_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AWS_REGION", raising=False)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "ap-northeast-1")
    assert build_config(_flags(region=None)).region == "ap-northeast-1"
    assert "AWS_REGION" not in os.environ


# --- TOML layering --------------------------------------------------------------------------------------------


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "mlops-gen.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_file_value_is_used(tmp_path: Path) -> None:
    path = _write(tmp_path, 'branch = "release"\nmax-concurrent-percentage = 50\ndeploy-regions = ["eu-west-1"]\n')
    cfg = build_config(_flags(), read_config_file(path), environ={})
    assert cfg.branch == "release"
    assert cfg.preferences.max_concurrent_percentage == 50


def test_flag_wins_over_file(tmp_path: Path) -> None:
    path = _write(tmp_path, 'branch = "release"\nmax-concurrent-percentage = 50\n')
    cfg = build_config(_flags(branch="hotfix", **{"max-concurrent-percentage": 75}), read_config_file(path), {})
    assert cfg.branch == "hotfix"
    assert cfg.preferences.max_concurrent_percentage == 75


def test_file_region_wins_over_environment(tmp_path: Path) -> None:
    path = _write(tmp_path, 'region = "eu-north-1"\n')
    cfg = build_config(_flags(region=None), read_config_file(path), environ={"AWS_REGION": "us-east-1"})
    assert cfg.region == "eu-north-1"


def test_file_can_hold_every_option(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        f'staging-ou = "{STAGING_OU}"\nprod-ou = "{PROD_OU}"\nregion = "eu-west-1"\n'
        f'source = "codeconnections"\nconnection-arn = "{CONNECTION_ARN}"\nrepository = "acme/iris"\n',
    )
    cfg = build_config({}, read_config_file(path), environ={})
    assert (cfg.staging_ou, cfg.prod_ou, cfg.source) == (STAGING_OU, PROD_OU, Source.CODECONNECTIONS)


def test_unknown_file_key_is_rejected_by_name(tmp_path: Path) -> None:
    path = _write(tmp_path, 'brnach = "main"\n')
    with pytest.raises(InputError) as caught:
        read_config_file(path)
    assert caught.value.flag.startswith("--config")
    assert "brnach" in caught.value.rule


FILE_BAD_VALUES: list[tuple[str, str, str, str]] = [
    ("percentage", "max-concurrent-percentage = 0\n", "max-concurrent-percentage", "from 1 to 100"),
    ("percentage-as-string", 'failure-tolerance-percentage = "10"\n', "failure-tolerance-percentage", "whole number"),
    ("region", 'region = "eu-west-9"\n', "region", "unknown AWS region"),
    ("deploy-regions", 'deploy-regions = ["eu-west-1", "nowhere-1"]\n', "deploy-regions", "nowhere-1"),
    ("branch", 'branch = "a..b"\n', "branch", "git branch name"),
    ("branch-not-string", "branch = 3\n", "branch", "must be a string"),
    ("prefix", 'name-prefix = "acme-"\n', "name-prefix", "sagemaker-"),
    ("same-ou", f'prod-ou = "{STAGING_OU}"\n', "prod-ou", "must differ"),
]


@pytest.mark.parametrize(("text", "key", "rule"), [r[1:] for r in FILE_BAD_VALUES], ids=[r[0] for r in FILE_BAD_VALUES])
def test_bad_file_value_names_the_file_key(tmp_path: Path, text: str, key: str, rule: str) -> None:
    path = _write(tmp_path, text)
    flags = _flags()
    flags.pop(key, None)
    with pytest.raises(InputError) as caught:
        build_config(flags, read_config_file(path), environ={})
    assert caught.value.flag.startswith(f"--{key}")
    assert f"{key} in the config file" in caught.value.flag
    assert rule in caught.value.rule


def test_invalid_toml_names_the_file(tmp_path: Path) -> None:
    path = _write(tmp_path, "branch = \n")
    with pytest.raises(InputError) as caught:
        read_config_file(path)
    assert str(path) in caught.value.flag
    assert "not valid TOML" in caught.value.rule


def test_missing_config_file(tmp_path: Path) -> None:
    with pytest.raises(InputError) as caught:
        read_config_file(tmp_path / "nope.toml")
    assert caught.value.flag == "--config"
    assert "does not exist" in caught.value.rule


def test_config_file_discovery(tmp_path: Path) -> None:
    assert find_config_file(None, tmp_path) is None
    found = _write(tmp_path, "")
    assert find_config_file(None, tmp_path) == found
    explicit = tmp_path / "other.toml"
    assert find_config_file(explicit, tmp_path) == explicit


def test_layer_records_origin() -> None:
    values, origin = layer({"branch": "dev"}, {"region": "eu-west-1"})
    assert values["branch"] == "dev" and origin["branch"] == "--branch"
    assert values["region"] == "eu-west-1" and origin["region"] == "--region (region in the config file)"
    assert values["source"] == RENDER_OPTIONS["source"] and origin["source"] == "--source"


# --- the project-name limit, computed from the rendered names -------------------------------------------------

#: AWS name limits by where the name appears in the rendered product (independent of generator/naming.py).
RESOURCE_NAME_LIMITS = {
    ("AWS::S3::Bucket", "BucketName"): 63,  # S3 bucket naming rules
    ("AWS::SageMaker::ModelPackageGroup", "ModelPackageGroupName"): 63,  # CreateModelPackageGroup
    ("AWS::CodeCommit::Repository", "RepositoryName"): 100,  # CodeCommit quotas
    ("AWS::CodeBuild::Project", "Name"): 255,  # CodeBuild quotas
    ("AWS::CodePipeline::Pipeline", "Name"): 100,  # CodePipeline quotas
    ("AWS::Events::Rule", "Name"): 64,  # PutRule
}
STACK_SET_NAME_LIMIT = 128  # CreateStackSet
ENDPOINT_NAME_LIMIT = 63  # CreateEndpoint
LONGEST_PROJECT_ID = "p-" + "x" * 18  # DescribeProject: ProjectId is at most 20 characters


def rendered_names(template: dict[str, Any], project_name: str) -> list[tuple[str, str, int]]:
    """(where, name, limit) of every physical name in the rendered product, for one project name."""
    resolver = Resolver(template, {"SageMakerProjectName": project_name, "SageMakerProjectId": LONGEST_PROJECT_ID})
    names: list[tuple[str, str, int]] = []
    for logical, resource in template["Resources"].items():
        props = resource.get("Properties", {})
        for (kind, prop), limit in RESOURCE_NAME_LIMITS.items():
            if resource["Type"] == kind and prop in props:
                names.append((f"{logical}.{prop}", resolver.resolve(props[prop]), limit))
        if resource["Type"] == "AWS::CodePipeline::Pipeline":
            for stage in props["Stages"]:
                for action in stage["Actions"]:
                    if "StackSetName" in action.get("Configuration", {}):
                        name = resolver.resolve(action["Configuration"]["StackSetName"])
                        names.append((f"{action['Name']}.StackSetName", name, STACK_SET_NAME_LIMIT))
        if resource["Type"] == "AWS::CodeBuild::Project":
            for variable in props["Environment"]["EnvironmentVariables"]:
                if variable["Name"].endswith("_ENDPOINT_NAME"):
                    name = resolver.resolve(variable["Value"])
                    names.append((f"{logical}.{variable['Name']}", name, ENDPOINT_NAME_LIMIT))
    return names


def longest_fitting_project_name(template: dict[str, Any]) -> int:
    longest = 0
    for length in range(1, 33):  # CreateProject: ProjectName is at most 32 characters
        if all(len(name) <= limit for _, name, limit in rendered_names(template, "n" * length)):
            longest = length
    return longest


@pytest.mark.parametrize(
    "overrides",
    [{}, CODECONNECTIONS, {"name-prefix": "sagemaker-acme-platform-"}, {"name-prefix": PREFIX_LONGEST}],
    ids=["default", "codeconnections", "longer-prefix", "longest-prefix"],
)
@pytest.mark.slow  # renders whole configurations (about a second each)
def test_max_project_name_length_matches_rendered_names(overrides: dict[str, Any]) -> None:
    cfg = make_config(**overrides)
    template = product_template(rendered_files(cfg))
    where = [w for w, _, _ in rendered_names(template, "n")]
    assert any("StackSetName" in w for w in where) and any("ENDPOINT_NAME" in w for w in where), where
    longest = longest_fitting_project_name(template)
    assert Names(cfg.name_prefix).max_project_name_length() == longest
    assert template["Parameters"]["SageMakerProjectName"]["MaxLength"] == longest


def test_org_id_is_optional_and_read_from_flag_or_file(tmp_path: Path) -> None:
    assert make_config(org_id=None).org_id is None
    assert make_config(org_id="o-bbbbbbbbbb").org_id == "o-bbbbbbbbbb"
    (tmp_path / "mlops-gen.toml").write_text('org-id = "o-abcdefghij0123456789"\n')
    file_values = read_config_file(tmp_path / "mlops-gen.toml")
    flags = {"staging-ou": "ou-ab12-11111111", "prod-ou": "ou-ab12-22222222", "region": "eu-west-1"}
    assert build_config(flags, file_values, environ={}).org_id == "o-abcdefghij0123456789"
    (tmp_path / "mlops-gen.toml").write_text('org-id = "o-bad"\n')
    with pytest.raises(InputError, match=r"--org-id \(org-id in the config file\)"):
        build_config(flags, read_config_file(tmp_path / "mlops-gen.toml"), environ={})
