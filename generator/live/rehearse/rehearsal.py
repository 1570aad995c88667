"""Play a render's whole multi-account life on the local AWS; see `rehearse`.

One module over 400 lines: the scenario's script, step after step from the organisation to the last endpoint; its
steps share one local AWS and one report and read in order as the lifecycle does.
"""

from __future__ import annotations

import tempfile
import time
import traceback
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from generator.checks import gates
from generator.iam.resolve import SAMPLE_PROJECT_ID, SAMPLE_PROJECT_NAME
from generator.live.rehearse import (
    authorize,
    endpoints,
    execution,
    fidelity,
    network,
    organization,
    scenario,
    scientist,
)
from generator.live.rehearse import regions as region_rules
from generator.live.rehearse.actions import RUNNERS, Decide, Execution, deployed_stack_sets, resolve_variables
from generator.live.rehearse.launch import Project, launch, launch_parameters, stage_of_stack_sets
from generator.live.rehearse.organization import Organisation
from generator.live.rehearse.pipeline import Pipeline, triggered
from generator.live.rehearse.rendered import Rendered, load_rendered
from generator.live.rehearse.report import CHECKED, FAILED, REJECTED, Recorder, Report, StepFailed, Timeline
from generator.live.rehearse.roles import ProductRoles
from generator.live.rehearse.server import LocalAws, local_aws
from generator.naming import Stage

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
    #: Every stage config asks for `"network": "vpc"`; every target account publishes its network (network.py).
    vpc: bool = False
    #: As `vpc`, but one staging account publishes no network: its stack instance must fail.
    break_network: bool = False
    project_name: str = SAMPLE_PROJECT_NAME
    project_id: str = SAMPLE_PROJECT_ID
    #: After the first project reached prod, launch a second project and prove it cannot reach the first
    #: (generator/live/rehearse/isolation.py; needs --service-roles project).
    second_project: bool = False
    #: Run `validate` first and refuse a folder with findings. The CLI always does; tests of the call-time
    #: authorization turn it off, since validate would refuse the policy they break before anything runs.
    validate_first: bool = True

    def scenarios(self) -> list[str]:
        """The scenarios the options choose (a valid set of options chooses at most one)."""
        return scenario.chosen(
            {
                "reject": self.approval == "reject",
                "fail-test": self.fail_test,
                "break-account": self.break_account,
                "break-network": self.break_network,
                "no-approved-model": self.no_approved_model,
                "second-approval": self.second_approval,
                "reject-live": self.reject_live,
            }
        )

    def conflict(self) -> str:
        """Why these options cannot be rehearsed together ("" when they can)."""
        chosen = self.scenarios()
        if len(chosen) > 1:
            flags = " and ".join(scenario.FLAGS[name] for name in chosen)
            return f"{flags} are different scenarios: give at most one of them"
        return ""


#: Validate findings by (folder, manifest text): the manifest's sha256s pin every file, so the same
#: manifest in the same folder (verified before this is asked) means the same findings.
_VALIDATED: dict[tuple[str, str], list[Any]] = {}


def _validate(folder: Path) -> list[Any]:
    from generator.checks.validate import validate_dir
    from generator.manifest import MANIFEST

    key = (str(folder.resolve()), (folder / MANIFEST).read_text(encoding="utf-8"))
    if key not in _VALIDATED:
        _VALIDATED[key] = validate_dir(folder)
    return _VALIDATED[key]


def rehearse(folder: Path, options: Options, timeline: Timeline, decide: Decide | None = None) -> Report:
    """Rehearse the render in `folder`; the report says what happened, what the scenario expected, and
    whether the two agree (`as_expected`, the exit code's verdict).

    The folder's manifest is verified first (exit 2 when a file does not match it), then `validate`
    runs: a folder with a finding that `render` would refuse is refused, nothing is played (AWS would
    refuse it too); the kinds render accepts are the report's warnings."""
    rendered = load_rendered(folder)
    report = Report(str(folder), options.project_name, options.project_id, asdict(options))
    chosen = options.scenarios()
    expected = scenario.expectation(chosen[0] if chosen else "approve")
    report.scenario, report.expected = expected.scenario, expected.describe()
    report.fidelity = [*fidelity.NOTES, *region_rules.NOTES, *network.NOTES]
    started = time.perf_counter()
    found = _validate(folder) if options.validate_first else []
    # What render refuses, rehearse refuses; the kinds render accepts (they concern things outside the
    # rendered files: a SageMaker-provided role's policy, a condition on a tag) are warnings.
    findings = [f for f in found if f.blocks_render]
    report.warnings += [f"validate: {f.path}:{f.line}: {f.rule} {f.message}" for f in found if not f.blocks_render]
    if findings:
        report.findings = [f.as_dict() for f in findings]
        report.cause = f"validate: {len(findings)} finding(s); fix them (mlops-gen validate {folder}), then rehearse"
        report.actual = "not played: the folder has validate findings"
        report.duration_s = round(time.perf_counter() - started, 3)
        return report
    answers: list[bool] = []
    if options.approval != "prompt":
        decide = _fixed_decision(options.approval)
    elif decide is None:
        raise ValueError("approval 'prompt' needs a decide function")
    else:
        decide = _recording(decide, answers)
    world: list[_World] = []
    crashed = False
    authorizer = authorize.Authorizer(target_role=organization.target_role_name(rendered.target_role))
    try:
        with (
            tempfile.TemporaryDirectory(prefix="mlops-gen-rehearse-") as tmp,
            local_aws(rendered.region) as aws,
            fidelity.aws_behaviour(),
            region_rules.region_behaviour(),
            authorize.enforcing(authorizer),
            execution.authorizing_models(authorizer),
            network.resolving_per_instance(),
        ):
            _play(aws, rendered, options, Recorder(report, timeline), decide, Path(tmp), world, authorizer)
    except StepFailed:
        pass  # the failed step recorded the cause
    except Exception as exc:  # a bug or an unexpected AWS answer: still a report that says where
        crashed = True
        if not report.cause:
            report.cause = f"{type(exc).__name__}: {exc}"
        report.warnings.append("".join(traceback.format_exception(exc)[-3:]))
    finally:
        close = getattr(timeline, "close", None)
        if close is not None:
            close()
    report.duration_s = round(time.perf_counter() - started, 3)
    report.authorization = {
        "allowed": authorizer.allowed,
        "denied": [asdict(call) for call in authorizer.denied],
    }
    report.fidelity += [*authorizer.underived, *authorizer.unchecked, *authorize.NOT_CHECKED]
    if answers and not all(answers) and not chosen:  # asked, and the approver rejected: that is the scenario
        expected = scenario.expectation("reject")
        report.scenario, report.expected = expected.scenario, expected.describe()
    _judge(report, expected, world[0] if world else None)
    report.as_expected = report.as_expected and not crashed  # a crash is never the expected outcome
    if options.second_project:  # asked to prove isolation: every attempt must have gone as expected
        isolated = bool(report.isolation) and all(a["as_expected"] for a in report.isolation)
        report.as_expected = report.as_expected and isolated
    return report


def _recording(decide: Decide, answers: list[bool]) -> Decide:
    """`decide`, remembering each answer (a prompted rejection makes the scenario a rejection)."""

    def recorded(action: Any, custom_data: str) -> bool:
        answer = decide(action, custom_data)
        answers.append(answer)
        return answer

    return recorded


def _judge(report: Report, expected: scenario.Expectation, world: _World | None) -> None:
    """The actual outcome, where the pipeline stopped, and the verdict."""
    if world is not None and world.stopped_at:
        report.stopped_at = world.stopped_at
    elif report.cause and not report.stopped_at:
        failed = next((s for s in report.steps if s.result in (FAILED, REJECTED)), None)
        report.stopped_at = (failed.stage if failed else "rehearsal").lower().replace(" ", "-")
    if not report.actual:
        report.actual = "not verified: the rehearsal stopped before the endpoints were checked"
    report.as_expected = scenario.verdict(expected, report.actual, report.stopped_at) and not report.cross_stage
    if not report.reached_prod and not report.cause:
        report.cause = "the model did not reach prod"


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
    authorizer: authorize.Authorizer
    roles: ProductRoles
    #: Where the first pipeline run that stopped stopped (see scenario.STOPS); "" while none has.
    stopped_at: str = ""
    #: The newest version every stage should serve when the scenario expects a rollback.
    rolled_back_to: str = ""


def _play(
    aws: LocalAws,
    rendered: Rendered,
    options: Options,
    rec: Recorder,
    decide: Decide,
    work: Path,
    out: list[_World],
    authorizer: authorize.Authorizer,
) -> None:
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
    bundle = rendered.seed_bundle
    if options.vpc or options.break_network:
        _publish_networks(aws, rendered, org, rec, options.break_network)
        bundle = network.vpc_bundle(bundle)  # the data scientists' stage configs ask for "network": "vpc"
    with rec.step(0, "Setup", "Launch project", "CloudFormation") as step:
        parameters = launch_parameters(rendered.product, org, options.project_name, options.project_id)
        project, rec.report.launch = launch(aws, rendered.product, parameters, bundle)
        step.detail = (
            f"created {len(project.created)} resource(s) ({', '.join(sorted(project.created))}); "
            f"read {len(project.modelled)} from the template ({', '.join(project.modelled)})"
        )
    world = _World(
        aws, rendered, org, project, rec, options, decide, work, authorizer, ProductRoles(rendered, authorizer, org)
    )
    out.append(world)
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
            if options.second_project:
                _second_project(world)
    finally:
        _verify(world, approved[-1] if approved else "")


def _second_project(world: _World) -> None:
    """Another project of the same product may not reach this one (generator/live/rehearse/isolation.py)."""
    from generator.live.rehearse import isolation

    with world.rec.step(0, "Isolation", "Second project", "CloudFormation") as step:
        attempts = isolation.try_to_reach(world, world.project)
        world.rec.report.isolation = isolation.summary(attempts)
        wrong = [a for a in attempts if not a.as_expected]
        step.detail = (
            f"project {isolation.SECOND_PROJECT_NAME} ({isolation.SECOND_PROJECT_ID}): "
            f"{sum(a.outcome == 'denied' for a in attempts)} of its calls on this project refused, "
            "its own assume allowed"
        )
        if wrong:
            raise StepFailed(
                "isolation: "
                + "; ".join(f"{a.role} {a.call} on {a.resource}: {a.outcome}, expected {a.expected}" for a in wrong)
            )


def _publish_networks(aws: LocalAws, rendered: Rendered, org: Organisation, rec: Recorder, broken: bool) -> None:
    """What the platform team does per account before models run in VPCs (README, Regulated environments);
    with `broken`, the last staging account is left out (its stack instance must fail)."""
    with rec.step(0, "Setup", "Publish account networks", "ssm") as step:
        accounts = sorted(a for stage in Stage for a in org.accounts[stage])
        left_out = sorted(org.accounts[Stage.STAGING])[-1] if broken else ""
        for account in accounts:
            if account != left_out:
                session = aws.assume(account, organization.ACCESS_ROLE)
                for region in rendered.manifest.deploy_regions:
                    network.publish(aws, session, account, region)
        step.accounts = [a for a in accounts if a != left_out]
        step.detail = "a VPC, subnets and a security group in SSM in every staging and prod account" + (
            f", except staging account {left_out}" if left_out else ""
        )


def _data_scientist(world: _World, run: int) -> tuple[str, str]:
    outputs = world.project.outputs()
    group, bucket = outputs.get(GROUP_OUTPUT), outputs.get(BUCKET_OUTPUT)
    if not group or not bucket:
        raise StepFailed(f"the product has no {GROUP_OUTPUT} / {BUCKET_OUTPUT} output to register a model with")
    with world.rec.step(run, "Data scientist", f"Register iris model v{run}", "sagemaker") as step:
        created = scientist.registration_creates_group(world.aws, group, _builds_create_group(world.project))
        arn = scientist.register(world.aws, group, bucket, run)
        step.detail = arn + (f" (group {group} created by the registration: {created})" if created else "")
        world.rec.report.model_packages.append({"arn": arn, "version": run})
    status = "Rejected" if world.options.no_approved_model else "Approved"
    verb = "Reject" if status == "Rejected" else "Approve"
    with world.rec.step(run, "Data scientist", f"{verb} model v{run}", "sagemaker") as step:
        scientist.set_status(world.aws, arn, status)
        step.detail = f"ModelApprovalStatus {status}"
        world.rec.report.model_packages[-1]["status"] = status
    return arn, status


def _builds_create_group(project: Project) -> bool:
    """Does the product say its group is created outside CloudFormation (a build project with
    CREATE_MODEL_PACKAGE_GROUP=true, as rendered for the standard launch role)?"""
    from generator.contract import Env

    return any(
        str(v.get("Name")) == Env.CREATE_MODEL_PACKAGE_GROUP and str(v.get("Value")).lower() == "true"
        for props in project.resources("AWS::CodeBuild::Project").values()
        for v in props.get("Environment", {}).get("EnvironmentVariables", [])
    )


def _reject_live(world: _World, approved: list[str]) -> None:
    """Run 3: the data scientist rejects the live v2; the pipeline must roll every endpoint back to v1."""
    live = approved.pop()
    world.rolled_back_to = approved[-1]
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
        _rule_target_calls(world, matches[0][0], matches[0][1])
        step.detail = f"rule {matches[0][0].name} matched (ModelApprovalStatus {status}): starts {matches[0][1].name}"
        return matches[0][1]


def _rule_target_calls(world: _World, rule: Any, pipeline: Pipeline) -> None:
    """EventBridge starts the pipeline as the target's role: codepipeline:StartPipelineExecution on it
    (https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-use-identity-based.html)."""
    before = len(world.authorizer.denied)
    for target, role in rule.roles:
        if target == pipeline.arn:
            identity = world.roles.identity(role, f"rule {rule.name}'s target role")
            world.authorizer.check(identity, "codepipeline:StartPipelineExecution", pipeline.arn)
    denied = world.authorizer.denials_since(before)
    if denied:
        raise StepFailed(f"rule {rule.name} cannot start the pipeline: " + "; ".join(c.describe() for c in denied))


def _service_calls(world: _World, ex: Execution, action: Any) -> None:
    """What CodePipeline itself calls as the pipeline's role for an action the rehearsal plays without those
    calls (starting a build, reading the repository, publishing the approval's notification), from the
    documented table (generator/checks/runtime_iam.py PROVIDERS) filled with this action's resolved configuration.
    Stack-set actions are not listed here: their calls go to the local AWS as the pipeline's role."""
    from generator.checks.runtime_iam import BY_PROVIDER

    entry = BY_PROVIDER.get((action.category, action.provider))
    if entry is None or action.provider == "CloudFormationStackSet":
        return
    resolver = world.project.resolver
    values = {"Partition": resolver.partition, "Region": resolver.region, "Account": resolver.account}
    values.update({f"Config:{k}": v for k, v in action.configuration.items()})
    if "ConnectionArn" in action.configuration:
        values["ConnectionService"] = action.configuration["ConnectionArn"].split(":")[2]
    identity = world.roles.identity(ex.pipeline_role, "pipeline role")
    for grant in entry.grants:
        if grant.when is not None and (
            grant.when not in action.configuration
            or (grant.equals is not None and action.configuration[grant.when] != grant.equals)
        ):
            continue
        resource = "*" if grant.resource == "*" else _placeholders(grant.resource, values)
        for name in grant.actions:
            world.authorizer.check(identity, _placeholders(name, values), resource)


def _placeholders(text: str, values: dict[str, str]) -> str:
    import re

    return re.sub(r"\{([^}]+)\}", lambda m: values[m.group(1)], text)


def _pipeline_role(project: Project, pipeline: Pipeline) -> str:
    from generator.live.rehearse.roles import role_arn

    found = project.named("AWS::CodePipeline::Pipeline", pipeline.name)
    return role_arn(str(found[1].get("RoleArn", ""))) if found else ""


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
        world.roles,
        _pipeline_role(world.project, pipeline),
    )
    pending = pipeline.actions()
    for action in pipeline.actions():
        pending.remove(action)
        runner = RUNNERS.get((action.category, action.provider))
        before = len(world.authorizer.denied)
        try:
            with world.rec.step(run, action.stage, action.name, action.provider) as step:
                if runner is None:
                    raise StepFailed(f"{action.category}/{action.provider} actions are not rehearsed")
                resolved = resolve_variables(action, ex)
                _service_calls(world, ex, resolved)
                try:
                    if not world.authorizer.denials_since(before):
                        runner(resolved, ex, step)
                except Exception as exc:
                    _raise_denied(world, before, getattr(exc, "log", None) or step.log)
                    raise
                _raise_denied(world, before, step.log)
                world.rec.report.approvals += [{"run": run, **a} for a in ex.approvals]
                ex.approvals.clear()
        except StepFailed:
            world.stopped_at = world.stopped_at or _kind(world, pipeline, action.name)
            _skip(world.rec, run, pending, f"{action.stage} / {action.name} failed")
            raise
        if step.result == REJECTED:
            world.stopped_at = world.stopped_at or "approval"
            _skip(world.rec, run, pending, f"{action.name} was rejected")
            return False
    return True


def _raise_denied(world: _World, before: int, log: list[str]) -> None:
    """Fail the step when a call made as a role of the product was denied since `before` (even if the
    script went on): the message names role, action and resource."""
    denied = world.authorizer.denials_since(before)
    if denied:
        said = "; ".join(dict.fromkeys(call.describe() for call in denied))
        raise StepFailed(f"AccessDenied: {said}", log)


def _kind(world: _World, pipeline: Pipeline, name: str) -> str:
    """What an action of the pipeline is: build, staging-deploy, staging-test, approval, prod-deploy, source."""
    project = world.project
    props = project.resources("AWS::CodePipeline::Pipeline")
    logical = next((lid for lid in props if project.resolver.physical_name(lid) == pipeline.name), None)
    if logical is None:
        return "pipeline"
    actions = gates.pipeline_actions(project.resolver, project.template["Resources"][logical].get("Properties", {}))
    targets = gates.stage_targets(project.template, project.resolver.values)
    for deployment in gates.deployments(actions, targets):
        if deployment.action.name == name:
            return "prod-deploy" if Stage.PROD in deployment.stages else "staging-deploy"
    action = next((a for a in actions if a.name == name), None)
    if action is None:
        return "pipeline"
    if gates.is_staging_test(action):
        return "staging-test"
    if action.category == "Approval":
        return "approval"
    return action.category.lower()


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
    """Which package each account's endpoints serve; the actual outcome the verdict compares.

    After a failure the step still looks (the verdict needs it) but is recorded as `checked`, never as
    succeeded."""
    failed_before = any(s.result == FAILED for s in world.rec.report.steps)
    with world.rec.step(0, "Verify", "Endpoints", "sagemaker") as step:
        report = world.rec.report
        regions = world.rendered.manifest.deploy_regions
        reads = endpoints.Reads()  # each model described once for both readings below
        served = {
            stage.value: {a: endpoints.served(world.aws, a, regions, reads) for a in world.org.accounts[stage]}
            for stage in Stage
        }
        report.served = served
        report.regions = endpoints.region_sources(
            world.aws, sorted(a for stage in Stage for a in world.org.targets[stage]), regions, reads
        )
        report.cross_stage = _cross_stage(world) + _misplaced_endpoints(world, served)
        # Only the stage's targets (the listed accounts, else the whole OU) may serve anything.
        strays = [a for stage in Stage for a, found in served[stage.value].items()
                  if found and a not in world.org.targets[stage]]  # fmt: skip
        prod = {a: v for a, v in served[Stage.PROD.value].items() if a in world.org.targets[Stage.PROD]}
        newest = world.rolled_back_to or approved
        report.reached_prod = bool(approved) and _all_serve(prod, newest, regions) and not strays
        untouched = not any(by_region for by_region in served[Stage.PROD.value].values())
        targets = {a: v for stage in Stage for a, v in served[stage.value].items() if a in world.org.targets[stage]}
        if world.rolled_back_to and _all_serve(targets, world.rolled_back_to, regions) and not strays:
            report.actual = scenario.ROLLED_BACK
        elif report.reached_prod and not world.rolled_back_to:
            report.actual = scenario.PROD_GETS_NEW_VERSION
        elif untouched:
            report.actual = scenario.PROD_UNTOUCHED
        else:
            serving = sum(1 for by_region in prod.values() if _all_serve({"": by_region}, newest, regions))
            report.actual = f"{serving} of {len(prod)} prod account(s) serve {newest or 'an approved model'}"
        step.accounts = sorted(prod)
        step.regions = list(regions)
        problems = []
        if strays:
            problems.append(f"account(s) {', '.join(sorted(strays))} serve endpoints but are no stack-set target")
        problems += report.cross_stage
        step.detail = "; ".join([report.actual, *problems])
        if problems:
            step.result = FAILED
        elif failed_before:
            step.result = CHECKED


def _all_serve(accounts: dict[str, dict[str, dict[str, str]]], package: str, regions: tuple[str, ...]) -> bool:
    """Does every account serve `package` in every region (and at least one account is given)?"""
    return (
        bool(package)
        and len(accounts) > 0
        and all(package in by_region.get(r, {}).values() for by_region in accounts.values() for r in regions)
    )


def _misplaced_endpoints(world: _World, served: dict[str, dict[str, dict[str, dict[str, str]]]]) -> list[str]:
    """Endpoints named as one stage's endpoint (the projects' `<STAGE>_ENDPOINT_NAME`) in the other stage's
    accounts: whatever deployed them, they serve the wrong stage there."""
    from generator.contract import Env

    names: dict[str, Stage] = {}
    for props in world.project.resources("AWS::CodeBuild::Project").values():
        for variable in props.get("Environment", {}).get("EnvironmentVariables", []):
            for stage in Stage:
                if variable.get("Name") == Env.endpoint(stage):
                    names[str(variable.get("Value"))] = stage
    found = []
    for stage in Stage:
        for account, by_region in sorted(served[stage.value].items()):
            for region, endpoints_there in sorted(by_region.items()):
                for endpoint in sorted(endpoints_there):
                    other = names.get(endpoint)
                    if other is not None and other is not stage:
                        found.append(f"{other.value} endpoint {endpoint} in {stage.value} account {account} ({region})")
    return found


def _cross_stage(world: _World) -> list[str]:
    """Endpoints of one stage in an account of the other stage: a stage's stack set with an instance outside
    its stage's OUs (read from the stack sets the rendered pipeline deploys)."""
    cfn = world.aws.client("cloudformation")
    stage_of_account = {a: stage for stage in Stage for a in world.org.accounts[stage]}
    found = []
    for name, stages in sorted(stage_of_stack_sets(world.project).items()):
        try:
            pages = list(cfn.get_paginator("list_stack_instances").paginate(StackSetName=name))
        except cfn.exceptions.StackSetNotFoundException:
            continue
        for instance in (i for page in pages for i in page["Summaries"]):
            there = stage_of_account.get(instance["Account"])
            if there is not None and there not in stages:
                found.append(
                    f"stack set {name} ({'/'.join(sorted(s.value for s in stages))}) has an endpoint in "
                    f"{there.value} account {instance['Account']} ({instance['Region']})"
                )
    return found
