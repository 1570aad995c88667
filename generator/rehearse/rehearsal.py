"""Play a render's whole multi-account life on the local AWS; see `rehearse`."""

from __future__ import annotations

import tempfile
import time
import traceback
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from generator.naming import Stage
from generator.rehearse import endpoints, fidelity, organization, scientist
from generator.rehearse.actions import RUNNERS, Decide, Execution, deployed_stack_sets, resolve_variables
from generator.rehearse.launch import Project, launch, launch_parameters
from generator.rehearse.organization import Organisation
from generator.rehearse.pipeline import Pipeline, triggered
from generator.rehearse.rendered import Rendered, load_rendered
from generator.rehearse.report import FAILED, REJECTED, Recorder, Report, StepFailed, Timeline
from generator.rehearse.server import LocalAws, local_aws
from generator.resolve import SAMPLE_PROJECT_ID, SAMPLE_PROJECT_NAME

#: Product output naming the model package group data scientists register into.
GROUP_OUTPUT = "ModelPackageGroupName"
BUCKET_OUTPUT = "ArtifactBucketName"


@dataclass(frozen=True)
class Options:
    """What to rehearse; the defaults play the happy path once."""

    accounts_per_ou: int = 2
    approval: str = "approve"  # approve | reject | prompt (then `decide` asks)
    fail_test: bool = False
    break_account: bool = False
    no_approved_model: bool = False
    second_approval: bool = False
    #: Approve v1 and v2 (each deployed), then reject v2: the rule starts the pipeline again and the
    #: build redeploys v1, the newest version still Approved (a rollback from the registry).
    reject_live: bool = False
    project_name: str = SAMPLE_PROJECT_NAME
    project_id: str = SAMPLE_PROJECT_ID


def rehearse(folder: Path, options: Options, timeline: Timeline, decide: Decide | None = None) -> Report:
    """Rehearse the render in `folder`; the report says whether prod got the model and, if not, why."""
    rendered = load_rendered(folder)
    report = Report(str(folder), options.project_name, options.project_id, asdict(options))
    report.fidelity = list(fidelity.NOTES)
    report.warnings = [f"{path} was edited after the render (its sha256 differs from the manifest)"
                       for path in rendered.edited]  # fmt: skip
    if options.approval != "prompt":
        decide = _fixed_decision(options.approval)
    elif decide is None:
        raise ValueError("approval 'prompt' needs a decide function")
    started = time.perf_counter()
    try:
        with (
            tempfile.TemporaryDirectory(prefix="mlops-gen-rehearse-") as tmp,
            local_aws(rendered.region) as aws,
            fidelity.aws_behaviour(),
        ):
            _play(aws, rendered, options, Recorder(report, timeline), decide, Path(tmp))
    except StepFailed:
        pass  # the failed step recorded the cause
    except Exception as exc:  # a bug or an unexpected AWS answer: still a report that says where
        if not report.cause:
            report.cause = f"{type(exc).__name__}: {exc}"
        report.warnings.append("".join(traceback.format_exception(exc)[-3:]))
    report.duration_s = round(time.perf_counter() - started, 3)
    if not report.reached_prod and not report.cause:
        report.cause = "the model did not reach prod"
    return report


def _fixed_decision(approval: str) -> Decide:
    if approval not in ("approve", "reject"):
        raise ValueError(f"approval must be approve, reject or prompt, not {approval!r}")
    return lambda action, custom_data: approval == "approve"


@dataclass
class _World:
    aws: LocalAws
    rendered: Rendered
    org: Organisation
    project: Project
    rec: Recorder
    options: Options
    decide: Decide
    work: Path


def _play(aws: LocalAws, rendered: Rendered, options: Options, rec: Recorder, decide: Decide, work: Path) -> None:
    with rec.step(0, "Setup", "Organisation", "organizations") as step:
        org = organization.build_organisation(aws, rendered.product, options.accounts_per_ou)
        rec.report.organisation = org.as_dict()
        step.accounts = sorted(a for members in org.accounts.values() for a in members)
        step.detail = ", ".join(f"{s.value} OU {org.ou[s]} (rendered {org.rendered_ou[s]})" for s in org.ou)
    with rec.step(0, "Setup", "Target role stack set", "CloudFormationStackSet") as step:
        role = organization.target_role_name(rendered.target_role)
        name, step.accounts = organization.deploy_target_role(aws, rendered.target_role_stack_set, org)
        missing = [a for a in step.accounts if not organization.check_role(aws, a, role)]
        if missing:
            raise StepFailed(f"stack set {name} did not create role {role} in {', '.join(missing)}")
        step.detail = f"{name}: role {role} in every staging and prod account"
    if options.break_account:
        with rec.step(0, "Setup", "Break a staging account", "iam") as step:
            account = sorted(org.accounts[Stage.STAGING])[-1]
            organization.break_account(aws, account, role)
            step.accounts = [account]
            step.detail = f"deleted role {role} in account {account} ({org.accounts[Stage.STAGING][account]})"
    with rec.step(0, "Setup", "Launch project", "CloudFormation") as step:
        parameters = launch_parameters(rendered.product, org, options.project_name, options.project_id)
        project, rec.report.launch = launch(aws, rendered.product, parameters, rendered.seed_bundle)
        step.detail = (
            f"created {len(project.created)} resource(s) ({', '.join(sorted(project.created))}); "
            f"read {len(project.modelled)} from the template ({', '.join(project.modelled)})"
        )
    world = _World(aws, rendered, org, project, rec, options, decide, work)
    versions = 2 if options.second_approval or options.reject_live else 1
    approved: list[str] = []
    try:
        for run in range(1, versions + 1):
            arn, status = _data_scientist(world, run)
            if status == "Approved":
                approved.append(arn)
            pipeline = _trigger(world, run, arn)
            if not _run_pipeline(world, run, pipeline):
                break
            if run == 2:
                _check_updated_in_place(world, pipeline)
        else:
            if options.reject_live and len(approved) == 2:
                _reject_live(world, approved)
    finally:
        _verify(world, approved[-1] if approved else "")


def _data_scientist(world: _World, run: int) -> tuple[str, str]:
    outputs = world.project.outputs()
    group, bucket = outputs.get(GROUP_OUTPUT), outputs.get(BUCKET_OUTPUT)
    if not group or not bucket:
        raise StepFailed(f"the product has no {GROUP_OUTPUT} / {BUCKET_OUTPUT} output to register a model with")
    with world.rec.step(run, "Data scientist", f"Register iris model v{run}", "sagemaker") as step:
        created = scientist.ensure_group(world.aws, group)
        arn = scientist.register(world.aws, group, bucket, run)
        step.detail = arn + (f" (created group {group}: the product does not create it)" if created else "")
        world.rec.report.model_packages.append({"arn": arn, "version": run})
    status = "Rejected" if world.options.no_approved_model else "Approved"
    verb = "Reject" if status == "Rejected" else "Approve"
    with world.rec.step(run, "Data scientist", f"{verb} model v{run}", "sagemaker") as step:
        scientist.set_status(world.aws, arn, status)
        step.detail = f"ModelApprovalStatus {status}"
        world.rec.report.model_packages[-1]["status"] = status
    return arn, status


def _reject_live(world: _World, approved: list[str]) -> None:
    """Run 3: the data scientist rejects the live v2; the pipeline must roll every endpoint back to v1."""
    live = approved.pop()
    with world.rec.step(3, "Data scientist", "Reject live model v2", "sagemaker") as step:
        scientist.set_status(world.aws, live, "Rejected")
        step.detail = f"ModelApprovalStatus Rejected on {live}, which every staging and prod endpoint serves"
        world.rec.report.model_packages[-1]["status"] = "Rejected"
    pipeline = _trigger(world, 3, live)
    _run_pipeline(world, 3, pipeline)


def _trigger(world: _World, run: int, arn: str) -> Pipeline:
    with world.rec.step(run, "EventBridge", "Model package state change", "events") as step:
        event = scientist.state_change_event(world.aws, arn)
        matches = triggered(world.project, event)
        status = event["detail"].get("ModelApprovalStatus")
        if not matches:
            raise StepFailed(
                f"the event for {arn} (ModelApprovalStatus {status}) matches no rule that starts a pipeline: "
                "the pipeline did not start"
            )
        pipelines = {p.arn: p for _, p in matches}
        if len(pipelines) != 1:
            raise StepFailed(f"the event starts {len(pipelines)} pipelines: {', '.join(pipelines)}")
        step.detail = f"rule {matches[0][0].name} matched (ModelApprovalStatus {status}): starts {matches[0][1].name}"
        return matches[0][1]


def _run_pipeline(world: _World, run: int, pipeline: Pipeline) -> bool:
    """Every action in order; False when an approval was rejected. A failure raises StepFailed."""
    ex = Execution(
        world.aws,
        world.project,
        world.org,
        pipeline,
        world.work / f"run-{run}",
        world.rendered.seed_bundle,
        world.decide,
        lambda instances: endpoints.queue_answers(world.aws, instances, world.options.fail_test),
    )
    pending = pipeline.actions()
    for action in pipeline.actions():
        pending.remove(action)
        runner = RUNNERS.get((action.category, action.provider))
        try:
            with world.rec.step(run, action.stage, action.name, action.provider) as step:
                if runner is None:
                    raise StepFailed(f"{action.category}/{action.provider} actions are not rehearsed")
                runner(resolve_variables(action, ex), ex, step)
                world.rec.report.approvals += [{"run": run, **a} for a in ex.approvals]
                ex.approvals.clear()
        except StepFailed:
            _skip(world.rec, run, pending, f"{action.stage} / {action.name} failed")
            raise
        if step.result == REJECTED:
            _skip(world.rec, run, pending, f"{action.name} was rejected")
            return False
    return True


def _skip(rec: Recorder, run: int, actions: list[Any], why: str) -> None:
    for action in actions:
        rec.skipped(run, action.stage, action.name, action.provider, f"not started: {why}")


def _check_updated_in_place(world: _World, pipeline: Pipeline) -> None:
    """A second deployment updates the stack sets the first one created; it creates none."""
    with world.rec.step(2, "Verify", "Stack sets updated in place", "cloudformation") as step:
        cfn = world.aws.client("cloudformation")
        names = deployed_stack_sets(world.project, pipeline)
        for name in names:
            sets = [s for s in cfn.list_stack_sets(Status="ACTIVE")["Summaries"] if s["StackSetName"] == name]
            actions = [o["Action"] for o in cfn.list_stack_set_operations(StackSetName=name)["Summaries"]]
            if len(sets) != 1 or "UPDATE" not in actions:
                raise StepFailed(f"stack set {name}: {len(sets)} active, operations {actions}; expected one, updated")
        step.detail = f"{len(names)} stack set(s), each created once and updated once"


def _verify(world: _World, approved: str) -> None:
    """Which package each account's endpoints serve; prod got the model iff every prod target serves it."""
    with world.rec.step(0, "Verify", "Endpoints", "sagemaker") as step:
        regions = world.rendered.manifest.deploy_regions
        served = {
            stage.value: {a: endpoints.served(world.aws, a, regions) for a in world.org.accounts[stage]}
            for stage in Stage
        }
        world.rec.report.served = served
        # Only the stage's targets (the listed accounts, else the whole OU) may serve anything.
        strays = [a for stage in Stage for a, found in served[stage.value].items()
                  if found and a not in world.org.targets[stage]]  # fmt: skip
        prod = {a: v for a, v in served[Stage.PROD.value].items() if a in world.org.targets[Stage.PROD]}
        serving = [
            a for a, by_region in prod.items()
            if all(approved and approved in by_region.get(r, {}).values() for r in regions)
        ]  # fmt: skip
        step.accounts = sorted(prod)
        step.regions = list(regions)
        world.rec.report.reached_prod = bool(approved) and len(serving) == len(prod) > 0 and not strays
        untouched = not any(by_region for by_region in prod.values())
        if strays:
            step.result = FAILED
            step.detail = f"account(s) {', '.join(sorted(strays))} serve endpoints but are no stack-set target"
        elif world.rec.report.reached_prod:
            step.detail = f"every prod account serves {approved} in {', '.join(regions)}"
        elif untouched:
            step.detail = "prod untouched: no endpoint in any prod account"
        else:
            step.result = FAILED
            step.detail = f"{len(serving)} of {len(prod)} prod account(s) serve {approved or 'an approved model'}"
