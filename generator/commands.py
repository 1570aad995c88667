"""What each `mlops-gen` command does once its options are parsed: generator/cli.py declares them and calls these.

A command here takes plain values (the CLI's flags, already typed), does the work through the modules of the
wings, prints its result (`say`: plain lines, or JSON with `--json`), and returns the exit code of a result
that is not a success (1). Errors are raised (`MlopsGenError`), never printed here: the CLI's one error
boundary (`cli.guarded`) prints them and chooses the exit code. Heavy imports (troposphere, cfn-lint, boto3,
rich, moto) stay inside the functions, so `--help` and `render --no-validate` start fast.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import typer

from generator.config import build_config, find_config_file, read_config_file
from generator.errors import InputError


def say(*parts: str | tuple[str, str], err: bool = False) -> None:
    """Print one line made of plain parts and (text, colour) parts.

    Plain `typer.echo`, not rich: nothing in a message (user input, paths, messages quoting regex
    patterns like `[a-z-]`) is read as markup, colours are dropped when the output is not a
    terminal, and `render` does not pay rich's import (see benchmarks/README.md).
    """
    line = "".join(p if isinstance(p, str) else typer.style(p[0], fg=p[1], bold=p[1] == "red") for p in parts)
    typer.echo(line, err=err)


def shorten(text: str, most: int = 200) -> str:
    """One line of at most `most` characters: long inputs are cut in the middle, not dumped."""
    text = " ".join(text.split())
    return text if len(text) <= most else text[: most // 2 - 2] + " ... " + text[-(most // 2 - 3) :]


def check_endpoint_url(url: str | None) -> None:
    """`--endpoint-url` must be an http(s) URL with a host: botocore's own refusal is a traceback."""
    if url is None:
        return
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InputError("--endpoint-url", f"must be an http:// or https:// URL with a host; got {shorten(url, 80)!r}")


def interactive() -> bool:
    """Can the approval be asked? (stdin is a terminal)."""
    return sys.stdin.isatty()


def config_values(config: Path | None) -> dict[str, Any]:
    """The values of `--config`, or of ./mlops-gen.toml when present (flags win over both: config.layer)."""
    path = find_config_file(config, Path.cwd())
    return read_config_file(path) if path else {}


def render(
    flags: Mapping[str, Any],
    config: Path | None,
    out_dir: Path,
    force: bool,
    validate: bool,
    use_cache: bool,
    as_json: bool,
) -> None:
    """`render`: the configuration, every rendered file and the manifest, written atomically (and validated)."""
    cfg = build_config(flags, config_values(config))

    from generator.progress import Steps
    from generator.render import build_manifest, check_out_dir, render_files, validation_step, write_output

    check_out_dir(Path(os.path.abspath(out_dir)), force)  # before any work: a folder in the way costs nothing
    steps = Steps()
    with steps.step("rendering the product, its seed bundle and companion templates"):
        files = render_files(cfg)
        manifest = build_manifest(cfg, files)
    check = (lambda folder: validation_step(folder, steps, use_cache)) if validate else None
    write_output(files, manifest, out_dir, force, check)
    if as_json:
        sys.stdout.write(manifest.to_json())
        return
    for artifact in manifest.artifacts:
        say(("wrote", "green"), f" {out_dir / artifact.path}  ({artifact.kind})")
    checked = "validated" if validate else "not validated (--no-validate)"
    say(f"{len(manifest.artifacts)} artifacts in {out_dir}, {checked}; manifest: {out_dir / 'manifest.json'}")
    if cfg.org_id is None:
        say(
            ("note", "yellow"),
            ": no --org-id, so the product's OrganizationId parameter has no default and Studio users would have "
            "to type it; publish refuses it. `mlops-gen doctor` prints your organisation's id: render again with it.",
        )


def validate(folder: Path, use_cache: bool, as_json: bool) -> int:
    """`validate`: every check over a render folder; 1 when there are findings."""
    from generator.checks.cache import user_cache
    from generator.checks.validate import validate_dir
    from generator.progress import Steps

    findings = validate_dir(folder, Steps(), user_cache(use_cache))
    if as_json:
        sys.stdout.write(json.dumps({"findings": [f.as_dict() for f in findings]}, indent=2) + "\n")
    else:
        for f in findings:
            say((f.rule, "red"), f" {f.path}:{f.line} {f.message}")
        say(("no findings", "green") if not findings else (f"{len(findings)} finding(s)", "red"))
    return 1 if findings else 0


@dataclass(frozen=True)
class PublishFlags:
    """`publish`'s options as the CLI parsed them."""

    folder: Path
    bucket: str | None
    via: str
    prefix: str
    portfolio_name: str | None
    product_name: str | None
    product_owner: str
    principal_arn: list[str] | None
    launch_role_arn: str | None
    domain_id: str | None
    dry_run: bool
    as_json: bool
    endpoint_url: str | None
    profile: str | None
    region: str | None


def publish(flags: PublishFlags) -> None:
    """`publish`: upload and register the render so Studio offers it (or, with --dry-run, print the plan)."""
    folder, bucket, via, prefix = flags.folder, flags.bucket, flags.via, flags.prefix
    portfolio_name, product_name, product_owner = flags.portfolio_name, flags.product_name, flags.product_owner
    principal_arn, launch_role_arn, domain_id = flags.principal_arn, flags.launch_role_arn, flags.domain_id
    dry_run, as_json, endpoint_url, profile, region = (
        flags.dry_run,
        flags.as_json,
        flags.endpoint_url,
        flags.profile,
        flags.region,
    )
    from generator.live import publish as pub
    from generator.manifest import verify_manifest

    check_endpoint_url(endpoint_url)
    manifest = verify_manifest(folder)
    values, notes = pub.from_render(
        manifest.settings,
        {
            "bucket": bucket,
            "portfolio-name": portfolio_name,
            "product-name": product_name,
            "principal-arn": principal_arn or None,  # typer gives [] when absent: let the render speak
        },
        pub.parse_via(via),
    )
    for note in notes:
        say(("note", "yellow"), f" {note}", err=True)
    progress = None if dry_run else pub.RichProgress()
    try:
        opts = pub.PublishOptions(
            folder=folder,
            bucket=values["bucket"],
            via=pub.parse_via(via),
            prefix=prefix,
            portfolio_name=values["portfolio-name"],
            product_name=values["product-name"],
            product_owner=product_owner,
            principal_arns=values["principal-arn"],
            launch_role_arn=launch_role_arn,
            domain_id=domain_id,
        )
        pub.check_options(opts)
        release = pub.load_release(folder, opts.bucket)
        plan = pub.build_plan(opts, release, pub.resolve_region(region, release))
        if dry_run:
            report = pub.dry_run(plan)
        else:
            import boto3
            from botocore.exceptions import ProfileNotFound

            try:
                session = boto3.Session(profile_name=profile)
            except ProfileNotFound:
                raise InputError("--profile", f"no AWS profile named {profile!r}") from None
            report = pub.apply(plan, pub.make_clients(session, plan.region, endpoint_url), progress)
    finally:
        if progress:
            progress.stop()
    if as_json:
        sys.stdout.write(json.dumps(report.as_dict(), indent=2) + "\n")
        return
    if dry_run:
        for outcome in report.outcomes:
            say(("plan", "cyan"), f" {outcome.step}: {outcome.detail}")
        say(f"{len(report.outcomes)} steps; nothing was called (--dry-run)")
        return
    say(("changed", "green") if report.changed else ("no change", "green"), f": published {folder} via {via}")


def doctor(
    flags: Mapping[str, Any],
    config: Path | None,
    endpoint_url: str | None,
    profile: str | None,
    as_json: bool,
    rendered: Path | None = None,
) -> int:
    """`doctor`: the preflight checks against the live organisation; 1 when one fails."""
    check_endpoint_url(endpoint_url)
    from generator.live import doctor as doc

    options = doc.doctor_options(flags, {**config_values(config), **doc.rendered_settings(rendered)})
    results = doc.run_checks(options, *doc.session_clients(options, profile, endpoint_url))
    if as_json:
        sys.stdout.write(json.dumps(doc.report(results), indent=2) + "\n")
    else:
        from rich.console import Console

        # Piped or redirected: no 80-column wrapping, so the fix commands in the table stay copy-pasteable.
        Console(width=None if sys.stdout.isatty() else 4000).print(doc.results_table(results))
        failed = [r.name for r in results if not r.ok]
        say(("all checks passed", "green") if not failed else (f"{len(failed)} failed: {', '.join(failed)}", "red"))
        warned = [r.name for r in results if r.ok and r.warning]
        if warned:
            say((f"{len(warned)} warning(s): {', '.join(warned)}", "yellow"))
    return 0 if all(r.ok for r in results) else 1


def destroy(
    project_name: str,
    project_id: str,
    flags: Mapping[str, Any],
    config: Path | None,
    yes: bool,
    as_json: bool,
    endpoint_url: str | None,
    profile: str | None,
) -> int:
    """`destroy`: the project's stack sets and regional buckets (a dry run without `yes`); 1 when one fails."""
    check_endpoint_url(endpoint_url)
    from generator.live import destroy as des
    from generator.progress import Steps

    options, home = des.destroy_options(project_name, project_id, flags, config_values(config))
    cfn = des.session_client(home, profile, endpoint_url)
    steps = Steps()
    with steps.step("reading the project's stack sets and their instances"):
        plans = des.plan(cfn, options)
    if yes:
        with steps.step(f"deleting {sum(len(p.instances) for p in plans)} stack instance(s), then the stack sets"):
            report = des.apply(cfn, options, plans)
    else:
        report = des.dry_run(options, plans)
    from generator.live import regional_buckets  # the build's per-region copies (seed regions.py): not in any stack

    s3_for = regional_buckets.s3_factory(profile, endpoint_url)
    buckets = regional_buckets.regional_buckets(s3_for(home), options.name_prefix, project_name, project_id)
    removed = regional_buckets.after_instances(s3_for, buckets, yes, instances_failed=bool(report.failed))
    report.removed, report.failed = report.removed + removed.removed, report.failed + removed.failed
    if as_json:
        sys.stdout.write(json.dumps(report.as_dict(), indent=2) + "\n")
    else:
        verb = "removed" if yes else "would remove"
        for line in report.removed:
            say((verb, "green"), f" {line}")
        for line in report.absent:
            say(("absent", "cyan"), f" {line} (nothing to remove)")
        for line in report.failed:
            say(("FAILED", "red"), f" {line}")
        if not yes:
            say("dry run: nothing was deleted; pass --yes to delete")
    return 1 if report.failed else 0


def graph(folder: Path, out: Path | None, markdown: bool) -> None:
    """`graph`: the Mermaid diagram of a render folder, on stdout or into `out`."""
    from generator import graph as drawing

    project = drawing.read_graph(folder)
    text = drawing.to_markdown(project) if markdown else drawing.to_mermaid(project)
    if out is None:
        sys.stdout.write(text)
        return
    try:
        out.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise InputError("--out", f"cannot write {out}: {exc.strerror or exc}") from None
    say(("wrote", "green"), f" {out}")


@dataclass(frozen=True)
class Scenario:
    """`rehearse`'s scenario flags as the CLI parsed them."""

    accounts_per_ou: int
    approve: bool
    reject: bool
    fail_test: bool
    break_account: bool
    no_approved_model: bool
    second_approval: bool
    reject_live: bool
    second_project: bool = False
    vpc: bool = False
    break_network: bool = False


def rehearse(folder: Path, scenario: Scenario, report_file: Path | None, as_json: bool) -> int:
    """`rehearse`: the whole lifecycle on the embedded local AWS; 1 when the outcome is not the expected one."""
    from generator.live.rehearse import Options
    from generator.live.rehearse import rehearse as play
    from generator.live.rehearse.report import PlainTimeline, RichTimeline
    from generator.live.rehearse.server import check_moto

    if scenario.approve and scenario.reject:
        raise InputError("--approve/--reject", "--approve and --reject contradict each other: give one of them")
    if report_file is not None and (report_file.is_dir() or not report_file.parent.is_dir()):
        where = "is a folder" if report_file.is_dir() else f"its folder {report_file.parent} is not a folder"
        raise InputError("--report", f"cannot write the report to {report_file}: {where}")
    if as_json and not (scenario.approve or scenario.reject):
        scenario = replace(scenario, approve=True)  # nothing may be asked on a terminal whose stdout is the report
    approval = "approve" if scenario.approve else "reject" if scenario.reject else "prompt"
    options = Options(
        accounts_per_ou=scenario.accounts_per_ou,
        approval=approval,
        fail_test=scenario.fail_test,
        break_account=scenario.break_account,
        no_approved_model=scenario.no_approved_model,
        second_approval=scenario.second_approval,
        reject_live=scenario.reject_live,
        second_project=scenario.second_project,
        vpc=scenario.vpc,
        break_network=scenario.break_network,
    )
    if options.conflict():
        raise InputError("scenario flags", options.conflict())
    if approval == "prompt" and not interactive():
        raise InputError(
            "--approve/--reject",
            "stdin is not a terminal, so the manual approval cannot be asked: give --approve or --reject",
        )
    check_moto()

    timeline = RichTimeline() if sys.stderr.isatty() else PlainTimeline()

    def ask(action: Any, custom_data: str) -> bool:
        pause = getattr(timeline, "pause", None)
        if pause is not None:
            pause()
        say(("approval", "cyan"), f" {action.stage} / {action.name}: {custom_data}", err=True)
        return bool(typer.confirm("Approve?", default=True, err=True))

    report = play(folder, options, timeline, ask)
    text = report.to_json()
    if report_file is not None:
        try:
            report_file.write_text(text, encoding="utf-8")
        except OSError as exc:
            raise InputError("--report", f"cannot write the report to {report_file}: {exc.strerror or exc}") from None
    for finding in report.findings:
        say(f"{finding['path']}:{finding['line']}: ", (str(finding["rule"]), "red"), f" {finding['message']}", err=True)
    verdict = f"{report.scenario}: expected {report.expected}; actual {report.actual}" + (
        f" (stopped at {report.stopped_at})" if report.stopped_at else ""
    )
    if as_json:
        sys.stdout.write(text)
    elif report.as_expected:
        say(("as expected", "green"), f" {verdict}, in {report.duration_s:.1f} s")
    else:
        say(("not as expected:", "red"), f" {verdict}; cause: {report.cause}")
    return 0 if report.as_expected else 1
