"""Validation of a render output folder: cfn-lint (with our own rules) on every template in the
manifest, then S3's public-policy rules (generator/checks/s3_public.py), the IAM checks of
generator/checks/iam_check.py (launch role and run-time roles), the data checks (generator/checks/data_checks.py:
lifecycle and data capture), the release gates of generator/checks/gates.py, the region contract of
generator/checks/regions.py and the IAM hygiene rules of generator/checks/hygiene.py.

cfn-lint is imported here, never on the CLI's start-up path: `render --no-validate` stays fast.
"""

from __future__ import annotations

import functools
from dataclasses import asdict, fields, replace
from pathlib import Path
from typing import Any

from generator.checks.cache import ResultCache, cache_key, folder_digest, user_cache
from generator.checks.finding import Finding
from generator.manifest import Manifest, verify_manifest
from generator.progress import SILENT, Steps

RULES_DIR = Path(__file__).parent / "lint_rules"
NO_CACHE = ResultCache(None)


@functools.cache
def _rules(rules_dir: str) -> Any:
    """cfn-lint's rule set plus ours, built once per process: building it loads every rule module and
    hundreds of JSON schemas (about 0.8 s), and cfn-lint's own CLI reuses one set for all its templates
    (`Rules.run` initialises each rule for the template it checks)."""
    from cfnlint.config import ConfigMixIn
    from cfnlint.runner.cli import Runner

    return Runner(ConfigMixIn(**_config([], rules_dir))).rules


def _config(regions: list[str], rules_dir: str) -> dict[str, Any]:
    from cfnlint.api import ManualArgs

    config = ManualArgs(regions=regions, include_checks=["I"])
    if rules_dir:
        config["append_rules"] = [rules_dir]  # not declared in ManualArgs; see aws-facts.md
    return dict(config)


def run_cfn_lint(text: str, regions: list[str]) -> list[tuple[int, str, str]]:
    """(line, rule id, message) of every cfn-lint match of one template text, with our rules:
    errors, warnings and informational matches alike (the brief: zero of each); experimental rules
    stay off. Uses the process's one rule set (`_rules`)."""
    from cfnlint.config import ConfigMixIn
    from cfnlint.decode.decode import decode_str
    from cfnlint.runner.template.runner import run_template_by_data

    rules_dir = str(RULES_DIR) if any(RULES_DIR.glob("[!_]*.py")) else ""
    template, errors = decode_str(text)
    if errors:
        matches = errors
    elif template is None:
        matches = []
    else:
        matches = list(run_template_by_data(template, ConfigMixIn(**_config(regions, rules_dir)), _rules(rules_dir)))
    return sorted((m.linenumber, m.rule.id, m.message) for m in matches if m.rule.id[:1] in ("E", "W", "I"))


def lint_text(text: str, regions: list[str], name: str, cache: ResultCache = NO_CACHE) -> list[Finding]:
    """Lint one template's text (`run_cfn_lint`), through `cache`: the key is the text's bytes and
    the regions (generator/checks/cache.py adds the cfn-lint version and our checks' version)."""
    key = cache_key("cfn-lint", text, ",".join(regions))
    rows = cache.get(key)
    if rows is None or not _well_formed(rows, ("line", "rule", "message")):
        rows = [{"line": line, "rule": rule, "message": message} for line, rule, message in run_cfn_lint(text, regions)]
        cache.put(key, rows)
    return sorted(Finding(name, int(str(r["line"])), str(r["rule"]), str(r["message"])) for r in rows)


def _well_formed(rows: list[dict[str, object]], names: tuple[str, ...]) -> bool:
    """Cached rows with exactly the Finding fields `names`, `line` an int and the rest strings; anything
    else is a corrupt entry, to run the checks again for."""
    return all(
        set(row) == set(names)
        and all(isinstance(row[n], int) if n == "line" else isinstance(row[n], str) for n in names)
        for row in rows
    )


def validate_dir(folder: Path, steps: Steps = SILENT, cache: ResultCache | None = None) -> list[Finding]:
    """Lint every template listed in `folder`'s manifest, for the home region it is launched in,
    then check IAM (only when the templates lint clean: a malformed template has no IAM meaning).
    Results go through `cache` (default: the user's cache folder; generator/checks/cache.py); each distinct
    template text is linted once."""
    cache = user_cache() if cache is None else cache
    manifest: Manifest = verify_manifest(folder)
    findings: list[Finding] = []
    by_text: dict[str, list[Finding]] = {}
    templates = manifest.templates()
    for number, artifact in enumerate(templates, start=1):
        with steps.step(f"cfn-lint {number}/{len(templates)}: {artifact.path}"):
            text = (folder / artifact.path).read_text(encoding="utf-8")
            if text not in by_text:
                by_text[text] = lint_text(text, [manifest.home_region], artifact.path, cache)
            findings.extend(replace(f, path=artifact.path) for f in by_text[text])
    if any(f.rule.startswith("E") for f in findings):
        return findings
    with steps.step("IAM, resource-policy and data checks; release gates"):
        return findings + folder_checks(folder, manifest, cache)


def folder_checks(folder: Path, manifest: Manifest, cache: ResultCache = NO_CACHE) -> list[Finding]:
    """The checks that read the whole folder (S3 public policies, IAM, data checks, release gates),
    through `cache`: the key is every file's bytes in the folder (generator/checks/cache.py adds the versions)."""
    key = cache_key("folder-checks", folder_digest(folder))
    names = tuple(f.name for f in fields(Finding))
    rows = cache.get(key)
    if rows is not None and _well_formed(rows, names):
        return [Finding(**row) for row in rows]  # type: ignore[arg-type]
    found = _run_folder_checks(folder, manifest)
    cache.put(key, [asdict(f) for f in found])
    return found


def _run_folder_checks(folder: Path, manifest: Manifest) -> list[Finding]:
    from generator.checks.data_checks import data_findings
    from generator.checks.gates import check_folder as gate_findings
    from generator.checks.hygiene import check_folder as hygiene_findings
    from generator.checks.iam_check import check_folder
    from generator.checks.regions import check_folder as region_findings
    from generator.checks.s3_public import check_folder as public_policy_findings

    return (
        public_policy_findings(folder, manifest)
        + check_folder(folder, manifest)
        + data_findings(folder, manifest)
        + gate_findings(folder, manifest)
        + region_findings(folder, manifest)
        + hygiene_findings(folder, manifest)
    )
