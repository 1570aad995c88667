"""The result cache of `validate` (generator/checks/cache.py) and the cfn-lint runner (generator/checks/validate.py):
a warm cache returns exactly what the checks find cold, without running them; a corrupt entry is
ignored and rewritten; any change to our sources changes the key; each distinct template text is
linted once with one rule set per process; `--no-cache` bypasses the cache; a warm `render` stays
off cfn-lint's and boto's imports."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

import pytest

import generator.checks.validate
from generator.checks.cache import ENV_DIR, ResultCache, cache_key, checks_version, default_dir, user_cache
from generator.checks.finding import Finding
from generator.checks.gates import ORDER_RULE
from generator.checks.validate import NO_CACHE, lint_text, run_cfn_lint, validate_dir
from generator.iam.resolve import load_template
from generator.render import build_manifest, render_files, write_output
from tests.conftest import STAGING_OU, make_config, rendered_files
from tests.edit import reseal
from tests.test_cli import BASE, imported_modules, invoke
from tests.test_gates import delete_the_approval

REGION = "eu-west-1"
#: Warning W2001 (a parameter nobody uses): a lint finding that does not stop the folder checks.
UNUSED_PARAMETER = "W2001"


def rendered(folder: Path) -> Path:
    cfg = make_config()
    files = rendered_files(cfg)
    write_output(files, build_manifest(cfg, files), folder, force=True)
    return folder


def broken(folder: Path) -> Path:
    """A render with a lint warning and a release-gate finding in its product template."""
    rendered(folder)
    path = folder / "product-template.yaml"
    template = load_template(path.read_text(encoding="utf-8"), path.name)
    delete_the_approval(template)
    template["Parameters"]["NobodyUsesMe"] = {"Type": "String", "Default": "x"}
    path.write_text(json.dumps(template, indent=1), encoding="utf-8")
    reseal(folder)
    return folder


def forbid(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make any real check run fail the test: what follows must come from the cache."""

    def ran(*_: object) -> None:
        raise AssertionError("a check ran although its result was cached")

    monkeypatch.setattr(generator.checks.validate, "run_cfn_lint", ran)
    monkeypatch.setattr(generator.checks.validate, "_run_folder_checks", ran)


@pytest.mark.slow  # validates whole renders (cfn-lint and every folder check)
def test_cold_and_warm_cache_give_the_same_findings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = broken(tmp_path / "dist")
    cache = ResultCache(tmp_path / "cache")
    cold = validate_dir(folder, cache=cache)
    rules = {f.rule for f in cold}
    assert UNUSED_PARAMETER in rules and ORDER_RULE in rules, sorted(rules)
    assert sorted((tmp_path / "cache").rglob("*.json"))  # written
    assert validate_dir(folder, cache=NO_CACHE) == cold  # the cache changed nothing
    for entry in (tmp_path / "cache").rglob("*.json"):  # every entry corrupt: ignored, checked, rewritten
        entry.write_text('{"key": "' + entry.stem + '", "rows": [{"line": "x"}]}', encoding="utf-8")
    assert validate_dir(folder, cache=cache) == cold
    forbid(monkeypatch)
    assert validate_dir(folder, cache=cache) == cold


@pytest.mark.slow  # validates whole renders (cfn-lint and every folder check)
def test_a_changed_file_misses_the_cache(tmp_path: Path) -> None:
    """The key is the content: editing a template after a warm run finds the new problem."""
    folder = rendered(tmp_path / "dist")
    cache = ResultCache(tmp_path / "cache")
    assert [f for f in validate_dir(folder, cache=cache) if f.blocks_render] == []
    broken(folder)
    assert ORDER_RULE in {f.rule for f in validate_dir(folder, cache=cache)}


def test_lint_findings_come_back_for_another_name(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    text = "Resources:\n  Bucket:\n    Type: AWS::S3::Bucket\n    Properties:\n      Nope: 1\n"
    cache = ResultCache(tmp_path)
    cold = lint_text(text, [REGION], "a.yaml", cache)
    assert [f.rule for f in cold] == ["E3002"] and cold[0].path == "a.yaml"
    forbid(monkeypatch)
    warm = lint_text(text, [REGION], "b.yaml", cache)
    assert warm == [Finding("b.yaml", f.line, f.rule, f.message) for f in cold]


@pytest.mark.parametrize(
    "content",
    [
        b"not json",
        b"\xff\xfe\x00",
        b'{"key": "another key", "rows": []}',
        b"[]",
        b'{"key": "KEY", "rows": {"line": 1}}',
        b'{"key": "KEY", "rows": [{"line": 1}]}',
        b'{"key": "KEY", "rows": [{"line": 1, "rule": "E3002"}]}',
        b'{"key": "KEY", "rows": [{"line": "one", "rule": "E3002", "message": "m"}]}',
        b'{"key": "KEY", "rows": [{"line": 1, "rule": null, "message": "m"}]}',
    ],
)
def test_a_corrupt_entry_is_ignored_and_rewritten(tmp_path: Path, content: bytes) -> None:
    text = "Resources:\n  Bucket:\n    Type: AWS::S3::Bucket\n    Properties:\n      Nope: 1\n"
    cache = ResultCache(tmp_path)
    fresh = lint_text(text, [REGION], "t.yaml", NO_CACHE)
    key = cache_key("cfn-lint", text, REGION)
    entry = tmp_path / key[:2] / f"{key}.json"
    entry.parent.mkdir(parents=True)
    entry.write_bytes(content.replace(b"KEY", key.encode()))
    assert lint_text(text, [REGION], "t.yaml", cache) == fresh
    assert json.loads(entry.read_text(encoding="utf-8"))["key"] == key  # rewritten


def test_the_key_covers_our_sources_and_data(tmp_path: Path) -> None:
    package = tmp_path / "generator"
    (package / "data").mkdir(parents=True)
    (package / "check.py").write_text("RULE = 1\n")
    (package / "data" / "table.json").write_text("{}")
    first = checks_version(package)
    (package / "__pycache__").mkdir()
    (package / "__pycache__" / "check.cpython-311.pyc").write_bytes(b"\0")
    checks_version.cache_clear()
    assert checks_version(package) == first  # bytecode is not source
    (package / "check.py").write_text("RULE = 2\n")
    checks_version.cache_clear()
    second = checks_version(package)
    assert second != first
    (package / "data" / "table.json").write_text('{"a": 1}')
    checks_version.cache_clear()
    assert checks_version(package) not in (first, second)
    checks_version.cache_clear()


def test_the_cache_folder_follows_the_environment(tmp_path: Path) -> None:
    assert default_dir({ENV_DIR: str(tmp_path), "XDG_CACHE_HOME": "/x"}) == tmp_path
    assert default_dir({"XDG_CACHE_HOME": str(tmp_path)}) == tmp_path / "mlops-gen"
    assert default_dir({}) == Path.home() / ".cache" / "mlops-gen"
    assert user_cache(enabled=False).folder is None


def test_the_tests_never_use_the_users_cache(tmp_path_factory: pytest.TempPathFactory, result_cache_dir: Path) -> None:
    """tests/conftest.py gives a test that asks for it its own empty cache: no other test's result hides its checks."""
    assert default_dir() == result_cache_dir
    assert default_dir().is_relative_to(tmp_path_factory.getbasetemp())
    assert not any(default_dir().rglob("*"))


def test_by_default_the_tests_share_one_throw_away_cache() -> None:
    """Without patches, tests validate through the run's one shared cache (each distinct input checked once
    per run), a temporary folder of the run's, never the user's."""
    from tests.conftest import SESSION_CACHE_ENV

    assert default_dir() == Path(os.environ[SESSION_CACHE_ENV])
    assert default_dir().name.startswith("mlops-gen-test-cache-")
    assert default_dir() != default_dir({k: v for k, v in os.environ.items() if k != ENV_DIR})


def test_a_test_that_patches_gets_its_own_empty_cache(monkeypatch: pytest.MonkeyPatch) -> None:
    """A patch can change what a check finds without changing the cache key: such a test never reads the
    shared cache."""
    from tests.conftest import SESSION_CACHE_ENV

    assert default_dir() != Path(os.environ[SESSION_CACHE_ENV])
    assert not any(default_dir().rglob("*"))


@pytest.mark.shared_cache("the test patches nothing a check reads")
def test_a_test_marked_shared_cache_keeps_the_runs_cache(monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.conftest import SESSION_CACHE_ENV

    assert default_dir() == Path(os.environ[SESSION_CACHE_ENV])


def test_each_distinct_template_text_is_linted_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    text = b"Parameters:\n  Unused:\n    Type: String\nResources:\n  T:\n    Type: AWS::SNS::Topic\n"
    folder = tmp_path / "two"
    folder.mkdir()
    artifacts = []
    for name in ("a.yaml", "b.yaml"):
        (folder / name).write_bytes(text)
        artifacts.append({"kind": "product-template", "path": name, "sha256": hashlib.sha256(text).hexdigest()})
    manifest = {"generator": "test", "home_region": REGION, "deploy_regions": [REGION], "artifacts": artifacts}
    (folder / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    calls: list[str] = []

    def counted(text: str, regions: list[str]) -> list[tuple[int, str, str]]:
        calls.append(text)
        return run_cfn_lint(text, regions)

    monkeypatch.setattr(generator.checks.validate, "run_cfn_lint", counted)
    findings = validate_dir(folder, cache=NO_CACHE)
    assert len(calls) == 1
    assert [(f.path, f.rule) for f in findings if f.rule == UNUSED_PARAMETER] == [
        ("a.yaml", UNUSED_PARAMETER),
        ("b.yaml", UNUSED_PARAMETER),
    ]


@pytest.mark.slow  # two renders
def test_a_render_parses_the_seed_endpoint_template_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """The endpoint template's resource types shape four role documents; parsing it each time (pure-Python
    YAML) was a third of a render's CPU (issue 15)."""
    import generator.iam.resolve
    from generator.product import pipeline_calls

    parsed: list[str] = []

    def counted(text: str, path: str = "template.yaml") -> dict:  # type: ignore[type-arg]
        parsed.append(path)
        return load_template(text, path)

    monkeypatch.setattr(generator.iam.resolve, "load_template", counted)
    pipeline_calls._types_of.cache_clear()
    render_files(make_config())
    render_files(make_config())
    assert parsed == ["endpoint-config-template.yml"]


@pytest.mark.slow  # two fresh cfn-lint rule sets
def test_one_rule_set_finds_what_a_fresh_cfn_lint_finds(tmp_path: Path) -> None:
    """The shared rule set (built once) gives cfn-lint's own `lint` results, template after template."""
    from cfnlint.api import ManualArgs, lint

    folder = broken(tmp_path / "dist")
    config = ManualArgs(regions=[REGION], include_checks=["I"])
    config["append_rules"] = [str(generator.checks.validate.RULES_DIR)]
    fresh: dict[str, list[tuple[int, str, str]]] = {}  # cfn-lint's own answer, once per text (it builds its rules anew)
    for name in ("product-template.yaml", "target-role-stackset.yaml", "product-template.yaml"):
        text = (folder / name).read_text(encoding="utf-8")
        if text not in fresh:
            fresh[text] = sorted((m.linenumber, m.rule.id, m.message) for m in lint(text, config=config))
        assert run_cfn_lint(text, [REGION]) == fresh[text]
    assert generator.checks.validate._rules.cache_info().misses <= 1


@pytest.mark.slow  # validates whole renders (cfn-lint and every folder check)
def test_cli_no_cache_writes_nothing(tmp_path: Path) -> None:
    folder = rendered(tmp_path / "dist")
    cache = tmp_path / "cache"
    assert invoke("validate", str(folder), "--no-cache", env={ENV_DIR: str(cache)}).exit_code == 0
    assert not cache.exists()
    assert invoke("validate", str(folder), env={ENV_DIR: str(cache)}).exit_code == 0
    assert any(cache.rglob("*.json"))


@pytest.mark.slow  # two validated renders in subprocesses
def test_a_warm_render_imports_neither_cfn_lint_nor_the_aws_sdk(tmp_path: Path, result_cache_dir: Path) -> None:
    """The start-up path of the default (validated) render once the cache holds its results: reading
    the cached findings must not pull in cfn-lint (about 1 s of imports and rule loading) or boto. Its own
    empty cache (`result_cache_dir`): the first render must really validate."""
    args = (*BASE, "--out", str(tmp_path / "dist"), "--force")
    cold = imported_modules(*args, cwd=tmp_path)
    assert "cfnlint" in cold  # the first render really validated
    warm = imported_modules(*args, cwd=tmp_path)
    assert "troposphere" in warm
    assert not warm & {"cfnlint", "boto3", "botocore", "moto"}, sorted(warm & {"cfnlint", "boto3", "botocore"})
    assert STAGING_OU in (tmp_path / "dist" / "manifest.json").read_text(encoding="utf-8")


@pytest.mark.slow  # a whole render's folder checks without the result cache
@pytest.mark.parametrize("name", ["default", "regulated"])
def test_the_folder_checks_decode_each_text_once_and_leave_it_unchanged(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    """The decoded templates are shared between the checks (generator/checks/decoded.py): each text is decoded
    once, and after every check ran, each shared template still equals a fresh decode (no check changed it)."""
    import cfnlint.decode

    from generator.checks.decoded import decode
    from tests.conftest import CONFIGS

    real = cfnlint.decode.decode_str
    calls: list[str] = []

    def spy(text: str) -> Any:
        calls.append(text)
        return real(text)

    monkeypatch.setattr(cfnlint.decode, "decode_str", spy)
    decode.cache_clear()
    cfg = make_config(**CONFIGS[name])
    files = rendered_files(cfg)
    folder = tmp_path / "dist"
    manifest = build_manifest(cfg, files)
    write_output(files, manifest, folder, force=True)
    generator.checks.validate._run_folder_checks(folder, manifest)
    assert len(calls) >= 5
    assert sorted(calls) == sorted(set(calls))  # once per distinct text
    for text in calls:
        assert decode(text)[0] == real(text)[0]
