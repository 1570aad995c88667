"""`mlops-gen graph`: a Mermaid diagram of a rendered project, read back from the rendered files.

The diagram is drawn from `manifest.json` and the product template, never from the render options:
it shows what a launch of *that* template wires (rules, stages, actions, artifacts, target OUs and
regions), so it cannot describe a template that was not rendered. Names are resolved for a sample
launch whose project name and id are shown as `{project}` and `{project-id}`.

A deploy action is drawn as the stack set it deploys in either deploy mode (see generator/product/stacksets.py):
the native `CloudFormationStackSet` action from its configuration, the api mode's CodeBuild action from
its project's environment (what deploy/deploy.py reads), so both show the stack set, its preferences and
an edge to the OUs or accounts it reaches.

Mermaid only: mermaid.js measures text in a browser, and no offline renderer on PyPI is both
browserless and well kept (mermaidx, mmdr, merm are young 0.x releases), so `--format` offers no SVG;
GitHub renders the Markdown output as it is, and mermaid-cli draws the bare `--format mermaid` output.

One module over 400 lines: reading the rendered files back into a project and drawing it are one pipeline whose
intermediate types only it uses; the Markdown and Mermaid outputs share every node.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from generator.contract import Env
from generator.errors import InputError
from generator.manifest import Manifest, verify_manifest

PROJECT_NAME = "{project}"
PROJECT_ID = "{project-id}"
PRODUCT_KIND = "product-template"
#: Resource types the diagram reads.
_DRAWN = frozenset({"AWS::CodePipeline::Pipeline", "AWS::Events::Rule", "AWS::SageMaker::ModelPackageGroup"})
_PROJECT = "AWS::CodeBuild::Project"
#: The deploy projects' variables the diagram reads (a project with STACK_SET_NAME runs deploy/deploy.py).
_DEPLOY_ENV = frozenset(
    {
        Env.STACK_SET_NAME,
        Env.CALL_AS,
        Env.TARGET_OUS,
        Env.TARGET_ACCOUNTS,
        Env.ACCOUNT_FILTER,
        Env.AUTO_DEPLOYMENT,
        Env.DEPLOY_REGIONS,
        Env.FAILURE_TOLERANCE,
        Env.MAX_CONCURRENT,
        Env.REGION_CONCURRENCY,
        Env.ARTIFACT_BUCKET,
    }
)
#: deploy.py's variables as the native action's configuration keys, so both modes are described alike.
_API_PREFERENCES = {
    Env.FAILURE_TOLERANCE: "FailureTolerancePercentage",
    Env.MAX_CONCURRENT: "MaxConcurrentPercentage",
    Env.REGION_CONCURRENCY: "RegionConcurrencyType",
}
#: How `DeploymentTargets.AccountFilterType` narrows the OUs to the listed accounts (NONE: it does not).
_ACCOUNT_FILTERS = {"INTERSECTION": "only accounts", "DIFFERENCE": "except accounts", "UNION": "and accounts"}

_PROVIDER_NAMES = {"CodeStarSourceConnection": "CodeConnections", "CloudFormationStackSet": "CloudFormation StackSet"}


# --- what the diagram shows ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Action:
    """One pipeline action, with the facts the diagram shows about it."""

    name: str
    category: str
    provider: str
    run_order: int
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    details: tuple[str, ...]
    #: Where the action reads its code from (Source actions): (repository label, edge label).
    origin: tuple[str, str] | None = None
    #: StackSet deployment targets (OU or account ids) and regions.
    targets: tuple[str, ...] = ()
    regions: tuple[str, ...] = ()
    #: How the OU targets are narrowed to listed accounts (api mode), e.g. "only accounts 111111111111".
    account_filter: str = ""


@dataclass(frozen=True)
class Stage:
    name: str
    actions: tuple[Action, ...]


@dataclass(frozen=True)
class Trigger:
    """An EventBridge rule that starts the pipeline: what it listens to, and for what."""

    logical_id: str
    rule_name: str
    origin: str
    condition: str


@dataclass(frozen=True)
class RegionSource:
    """Where one deploy region's models read their artifacts and image (seedcode regions.py)."""

    region: str
    text: str
    #: True when the build copies the artifacts there (a region other than the home region).
    copied: bool


@dataclass(frozen=True)
class ProjectGraph:
    pipeline_name: str
    pipeline_details: str
    stages: tuple[Stage, ...]
    triggers: tuple[Trigger, ...]
    #: Only with deploy regions beyond the home region: where each region's artifacts come from.
    regions: tuple[RegionSource, ...] = ()


# --- reading the rendered files -----------------------------------------------------------------------------


def read_graph(folder: Path) -> ProjectGraph:
    """The graph of the render in `folder`; anything missing or unreadable is a user error (exit 2)."""
    import yaml

    from generator.iam.resolve import Resolver, UnresolvableError, load_template

    manifest: Manifest = verify_manifest(folder)
    try:
        path = manifest.path_of(PRODUCT_KIND)
    except KeyError:
        raise InputError("DIR", f"{folder / 'manifest.json'} lists no {PRODUCT_KIND}: nothing to draw") from None
    try:
        template = load_template((folder / path).read_text(encoding="utf-8"), path)
    except OSError as exc:
        raise InputError("DIR", f"cannot read {folder / path}: {exc.strerror or exc}") from None
    except (ValueError, yaml.YAMLError) as exc:  # JSON or YAML syntax
        raise InputError("DIR", f"{folder / path} is not a readable template: {exc}") from None
    if not isinstance(template.get("Resources"), dict):
        raise InputError("DIR", f"{folder / path} is not a CloudFormation template (no Resources)")
    resolver = Resolver(template, sample_parameters(template), region=manifest.home_region)
    try:
        # Only what the diagram shows is resolved: an unmodelled intrinsic elsewhere must not stop it.
        resources = resolver.resolve(_drawn(template["Resources"]))
        graph = build_graph(resources, manifest.home_region)
        return replace(graph, regions=region_sources(resources, manifest.home_region, manifest.deploy_regions))
    except (UnresolvableError, KeyError, TypeError, ValueError) as exc:
        raise InputError("DIR", f"{folder / path} cannot be drawn: {exc!s}") from None


def _drawn(resources: Mapping[str, Any]) -> dict[str, Any]:
    """The resources the diagram reads; CodeBuild projects only as their name and the deploy variables
    (plain text ones), so an unmodelled intrinsic in a buildspec or another variable cannot stop it."""
    drawn: dict[str, Any] = {}
    for logical_id, resource in resources.items():
        if not isinstance(resource, dict):
            continue
        if resource.get("Type") in _DRAWN:
            drawn[logical_id] = resource
        elif resource.get("Type") == _PROJECT:
            props = resource.get("Properties", {})
            variables = [
                v
                for v in props.get("Environment", {}).get("EnvironmentVariables", [])
                if v.get("Name") in _DEPLOY_ENV and v.get("Type", "PLAINTEXT") == "PLAINTEXT"
            ]
            kept = {"Name": props["Name"]} if "Name" in props else {}
            kept["Environment"] = {"EnvironmentVariables": variables}
            drawn[logical_id] = {"Type": _PROJECT, "Properties": kept}
    return drawn


def sample_parameters(template: Mapping[str, Any]) -> dict[str, str]:
    """`{project}` and `{project-id}` for the project, `{Name}` for any other parameter without a default."""
    values = {name: f"{{{name}}}" for name, spec in template.get("Parameters", {}).items() if "Default" not in spec}
    values.update({"SageMakerProjectName": PROJECT_NAME, "SageMakerProjectId": PROJECT_ID})
    return values


def build_graph(resources: Mapping[str, Any], home_region: str) -> ProjectGraph:
    """The graph of resolved `resources` (every intrinsic already replaced by its value)."""
    pipelines = [(k, r) for k, r in resources.items() if r.get("Type") == "AWS::CodePipeline::Pipeline"]
    if len(pipelines) != 1:
        raise ValueError(f"expected one AWS::CodePipeline::Pipeline, found {len(pipelines)}")
    _, pipeline = pipelines[0]
    props = pipeline["Properties"]
    name = str(props["Name"])
    details = f"{props.get('PipelineType', 'V1')}, {props.get('ExecutionMode', 'SUPERSEDED')}, region {home_region}"
    projects = _deploy_projects(resources)
    stages = tuple(Stage(str(stage["Name"]), _actions(stage.get("Actions", []), projects)) for stage in props["Stages"])
    return ProjectGraph(name, details, stages, _triggers(resources, name))


def region_sources(resources: Mapping[str, Any], home: str, regions: tuple[str, ...]) -> tuple[RegionSource, ...]:
    """Each deploy region's artifact source, when some region is not the home region (else nothing to show):
    the home region serves the model package (artifacts in the artifact bucket); every other region a copy the
    build makes in `<artifact bucket>-<region>`, with the image from that region's registry."""
    if all(region == home for region in regions):
        return ()
    buckets = [
        str(v["Value"])
        for r in resources.values()
        if r.get("Type") == _PROJECT
        for v in r.get("Properties", {}).get("Environment", {}).get("EnvironmentVariables", [])
        if v.get("Name") == Env.ARTIFACT_BUCKET
    ]
    bucket = buckets[0] if buckets else "{artifact bucket}"
    found = []
    for region in regions:
        if region == home:
            found.append(
                RegionSource(region, f"{region}\nmodel package of the registry\nartifacts s3://{bucket}", False)
            )
        else:
            text = f"{region}\ncopy: s3://{bucket}-{region}\nimage from the {region} registry"
            found.append(RegionSource(region, text, True))
    return tuple(found)


def _deploy_projects(resources: Mapping[str, Any]) -> dict[str, dict[str, str]]:
    """Project name -> environment of each CodeBuild project that deploys a stack set (deploy mode "api")."""
    found = {}
    for logical_id, resource in resources.items():
        if resource.get("Type") != _PROJECT:
            continue
        props = resource.get("Properties", {})
        variables = props.get("Environment", {}).get("EnvironmentVariables", [])
        env = {str(v["Name"]): str(v.get("Value", "")) for v in variables}
        if Env.STACK_SET_NAME in env:
            found[str(props.get("Name", logical_id))] = env
    return found


def _actions(actions: list[Mapping[str, Any]], projects: Mapping[str, Mapping[str, str]]) -> tuple[Action, ...]:
    """A stage's actions in run order (template order among actions that run together)."""
    ordered = sorted(enumerate(actions), key=lambda item: (int(item[1].get("RunOrder", 1)), item[0]))
    return tuple(_action(a, projects) for _, a in ordered)


def _action(action: Mapping[str, Any], projects: Mapping[str, Mapping[str, str]]) -> Action:
    type_id = action["ActionTypeId"]
    category, provider = str(type_id["Category"]), str(type_id["Provider"])
    config: Mapping[str, Any] = action.get("Configuration", {})
    base = Action(
        name=str(action["Name"]),
        category=category,
        provider=provider,
        run_order=int(action.get("RunOrder", 1)),
        inputs=tuple(str(a["Name"]) for a in action.get("InputArtifacts", [])),
        outputs=tuple(str(a["Name"]) for a in action.get("OutputArtifacts", [])),
        details=(f"{category}: {_PROVIDER_NAMES.get(provider, provider)}",),
    )
    branch = config.get("BranchName", "")
    if provider == "CodeCommit":
        repository = f"CodeCommit repository\n{config['RepositoryName']}"
        return replace(base, details=(f"CodeCommit, branch {branch}",), origin=(repository, f"branch {branch}"))
    if provider == "CodeStarSourceConnection":
        repository = f"Repository {config['FullRepositoryId']}\nvia CodeConnections"
        detect = "pushes detected" if str(config.get("DetectChanges", "true")).lower() == "true" else "no push trigger"
        return replace(
            base, details=(f"CodeConnections, branch {branch}",), origin=(repository, f"branch {branch}, {detect}")
        )
    if provider == "CodeBuild":
        project = str(config["ProjectName"])
        if project in projects:
            return _api_deploy_action(base, project, projects[project])
        return replace(base, details=(f"CodeBuild project {project}",))
    if provider == "Manual":
        return replace(base, details=("manual approval",))
    if provider == "CloudFormationStackSet":
        return replace(
            base,
            details=(
                f"StackSet {config['StackSetName']}",
                *_self_managed(config),
                *_stack_set_preferences(config, native=True),
            ),
            targets=_split(config.get("DeploymentTargets", "")),
            regions=_split(config.get("Regions", "")),
        )
    return base


def _api_deploy_action(base: Action, project: str, env: Mapping[str, str]) -> Action:
    """A CodeBuild action running deploy/deploy.py, drawn as the stack set its project's environment names.

    deploy.py sends the listed accounts only with a filter type other than NONE, so only then are they shown."""
    details = [f"StackSet {env[Env.STACK_SET_NAME]}", f"CodeBuild project {project}, CloudFormation API"]
    if env.get(Env.CALL_AS) == "DELEGATED_ADMIN":  # SELF is the API's default: not restated
        details.append("CallAs DELEGATED_ADMIN (delegated administrator)")
    config = {key: env[name] for name, key in _API_PREFERENCES.items() if name in env}
    if Env.MAX_CONCURRENT in env:  # deploy.py always sends it (seedcode/modeldeploy/deploy/deploy.py)
        from generator.product.stacksets import CONCURRENCY_MODE

        config["ConcurrencyMode"] = CONCURRENCY_MODE
    if Env.AUTO_DEPLOYMENT in env:
        config["OrganizationsAutoDeployment"] = "Enabled" if env[Env.AUTO_DEPLOYMENT].lower() == "true" else "Disabled"
    config["Regions"] = env.get(Env.DEPLOY_REGIONS, "")
    filter_type = env.get(Env.ACCOUNT_FILTER, "NONE").upper()
    accounts = _split(env.get(Env.TARGET_ACCOUNTS, ""))
    narrowed = ""
    if filter_type != "NONE" and accounts:
        narrowed = f"{_ACCOUNT_FILTERS.get(filter_type, filter_type + ' accounts')} {', '.join(accounts)}"
    return replace(
        base,
        details=(*details, *_stack_set_preferences(config)),
        targets=_split(env.get(Env.TARGET_OUS, "")),
        regions=_split(config["Regions"]),
        account_filter=narrowed,
    )


def _self_managed(config: Mapping[str, Any]) -> tuple[str, ...]:
    """The roles of a SELF_MANAGED stack set (by name: the administration role's ARN is the pipeline account's)."""
    if str(config.get("PermissionModel", "")).upper() != "SELF_MANAGED":
        return ()
    admin = str(config.get("AdministrationRoleArn", "")).rsplit("/", 1)[-1] or "default"
    execution = config.get("ExecutionRoleName", "default")
    return (f"self-managed: administration role {admin}, execution role {execution}",)


def _stack_set_preferences(config: Mapping[str, Any], native: bool = False) -> tuple[str, ...]:
    """The operation preferences the action sets (only those it sets: AWS's defaults are not restated).

    The concurrency shown is the one StackSets gives, not only the one asked for: under
    STRICT_FAILURE_TOLERANCE (the default ConcurrencyMode) it is at most the failure tolerance + 1, so
    with a tolerance of 0 one account at a time (StackSetOperationPreferences, E9101 flags it).
    Regions deployed one after another go in the order listed, so that order is shown; in parallel it
    is moot. The native action (`native`) has no RegionConcurrencyType: it deploys its Regions in order.
    """
    percentages = [
        f"{text} {config[key]}%"
        for key, text in (
            ("FailureTolerancePercentage", "failure tolerance"),
            ("MaxConcurrentPercentage", "max concurrency"),
        )
        if key in config
    ]
    concurrency = _concurrency(config)
    region_mode = str(config.get("RegionConcurrencyType", "SEQUENTIAL" if native else "")).upper()
    modes = [f"regions {region_mode.lower()}"] if region_mode else []
    if "OrganizationsAutoDeployment" in config:
        modes.append(f"auto-deployment {str(config['OrganizationsAutoDeployment']).lower()}")
    regions = _split(config.get("Regions", ""))
    ordered = region_mode == "SEQUENTIAL" and len(regions) > 1
    order = [f"region order {', '.join(regions)}"] if ordered else []
    return tuple(", ".join(group) for group in (percentages + concurrency, modes, order) if group)


def _concurrency(config: Mapping[str, Any]) -> list[str]:
    """How many accounts at a time StackSets really deploys to, when the configuration says it."""
    if "MaxConcurrentPercentage" not in config:
        return []
    mode = str(config.get("ConcurrencyMode", "STRICT_FAILURE_TOLERANCE")).upper()
    if mode == "SOFT_FAILURE_TOLERANCE":
        return ["soft failure tolerance"]
    tolerance = str(config.get("FailureTolerancePercentage", "0")).strip()
    if tolerance == "0":
        return ["strict failure tolerance: one account at a time"]
    return ["strict failure tolerance: tolerated failures + 1 accounts at a time"]


def _split(value: Any) -> tuple[str, ...]:
    """A comma-separated configuration value (or a list) as a tuple of stripped items."""
    items = value if isinstance(value, list) else str(value).split(",")
    return tuple(str(i).strip() for i in items if str(i).strip())


def _triggers(resources: Mapping[str, Any], pipeline_name: str) -> tuple[Trigger, ...]:
    """EventBridge rules with a target that is this pipeline, by logical id."""
    found = []
    for logical_id in sorted(resources):
        resource = resources[logical_id]
        if resource.get("Type") != "AWS::Events::Rule":
            continue
        props = resource.get("Properties", {})
        targets = [str(t.get("Arn", "")) for t in props.get("Targets", [])]
        if not any(arn.startswith("arn:") and arn.endswith(f":{pipeline_name}") for arn in targets):
            continue
        origin, condition = _pattern_summary(props.get("EventPattern", {}), _group_names(resources))
        found.append(Trigger(logical_id, str(props.get("Name", logical_id)), origin, condition))
    return tuple(found)


def _group_names(resources: Mapping[str, Any]) -> set[str]:
    """Names of the model package groups the template itself creates."""
    return {
        str(r.get("Properties", {}).get("ModelPackageGroupName"))
        for r in resources.values()
        if r.get("Type") == "AWS::SageMaker::ModelPackageGroup"
    }


def _pattern_summary(pattern: Mapping[str, Any], created_groups: set[str]) -> tuple[str, str]:
    """(what the rule listens to, the condition it filters on) for the patterns mlops-gen writes."""
    detail: Mapping[str, Any] = pattern.get("detail", {})
    sources = ", ".join(map(str, pattern.get("source", [])))
    if sources == "aws.sagemaker" and "ModelPackageGroupName" in detail:
        groups = [str(g) for g in detail["ModelPackageGroupName"]]
        # --launch-role standard: the launch role may not create the group, so the template does not either.
        where = "" if set(groups) <= created_groups else "\n(not created by the product template)"
        rest = {k: v for k, v in detail.items() if k != "ModelPackageGroupName"}
        return f"SageMaker model package group\n{', '.join(groups)}{where}", _conditions(rest) or "any state change"
    if sources == "aws.codecommit":
        names = ", ".join(str(arn).rsplit(":", 1)[-1] for arn in pattern.get("resources", []))
        branches = ", ".join(map(str, detail.get("referenceName", []))) or "any branch"
        return f"CodeCommit repository\n{names}", f"push to {branches}"
    kinds = ", ".join(map(str, pattern.get("detail-type", [])))
    return f"events from {sources}" + (f"\n{kinds}" if kinds else ""), _conditions(detail) or "any event"


def _conditions(detail: Mapping[str, Any]) -> str:
    return ", ".join(f"{key} = {' or '.join(map(str, values))}" for key, values in detail.items())


# --- writing Mermaid ----------------------------------------------------------------------------------------

#: Characters Mermaid reads as syntax inside a quoted label, as Mermaid entity codes (`#name;`/`#code;`).
_ESCAPES = {"#": "#35;", '"': "#quot;", "<": "#lt;", ">": "#gt;", "&": "#amp;", "|": "#124;", "`": "#96;"}


def label(text: str) -> str:
    """`text` as a quoted Mermaid label: syntax characters as entity codes, newlines as `<br/>`."""
    escaped = "".join(_ESCAPES.get(c, c) for c in text)
    return '"' + "<br/>".join(escaped.splitlines()) + '"'


def node_id(prefix: str, name: str) -> str:
    """A Mermaid node id: letters, digits and `_` only (ids starting with a capital never clash with `end`)."""
    return f"{prefix}_{re.sub(r'[^A-Za-z0-9]', '_', name)}"


class _Writer:
    """Mermaid lines, with each node defined once at its first use."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.edges: list[str] = []
        self.nodes: dict[str, str] = {}
        self.sources: dict[str, str] = {}

    def node(self, ident: str, shape: str, text: str, indent: int = 1) -> str:
        if ident not in self.nodes:
            opening, closing = shape.split(" ")
            self.nodes[ident] = text
            self.lines.append("    " * indent + f"{ident}{opening}{label(text)}{closing}")
        return ident

    def source(self, text: str) -> str:
        """A node outside the pipeline (model group, repository) numbered by first use: one node per label."""
        ident = self.sources.setdefault(text, f"SOURCE_{len(self.sources) + 1}")
        return self.node(ident, REPOSITORY, text)

    def edge(self, source: str, target: str, text: str = "", arrow: str = "-->") -> None:
        self.edges.append(f"    {source} {arrow}" + (f"|{label(text)}|" if text else "") + f" {target}")


#: Node shapes (opening and closing, space-separated).
REPOSITORY = "[( )]"
RULE = "{{ }}"
STEP = "[ ]"
APPROVAL = "([ ])"
ARTIFACT = "[/ /]"
TARGET = "[[ ]]"


def to_mermaid(graph: ProjectGraph) -> str:
    """The flowchart, deterministic: template order for stages and actions, logical-id order for rules."""
    w = _Writer()
    w.lines.append("flowchart TB")
    for trigger in graph.triggers:
        origin = w.source(trigger.origin)
        rule = w.node(node_id("RULE", trigger.logical_id), RULE, f"EventBridge rule\n{trigger.rule_name}")
        w.edge(origin, rule, trigger.condition)
        w.edge(rule, "PIPELINE", "starts")
    title = f"CodePipeline {graph.pipeline_name}\n{graph.pipeline_details}"
    w.lines.append(f"    subgraph PIPELINE[{label(title)}]")
    ids: dict[tuple[int, int], str] = {}
    for s, stage in enumerate(graph.stages, start=1):
        w.lines.append(f"        subgraph STAGE_{s}[{label(f'Stage {s}: {stage.name}')}]")
        for a, action in enumerate(stage.actions, start=1):
            text = "\n".join((action.name, *action.details))
            shape = APPROVAL if action.provider == "Manual" else STEP
            ids[(s, a)] = w.node(f"ACTION_{s}_{a}", shape, text, indent=3)
        w.lines.append("        end")
    for artifact in _artifacts(graph):  # in the pipeline's artifact store, so drawn inside the pipeline
        w.node(node_id("ARTIFACT", artifact), ARTIFACT, artifact, indent=2)
    w.lines.append("    end")
    for s in range(2, len(graph.stages) + 1):
        w.edge(f"STAGE_{s - 1}", f"STAGE_{s}", arrow="==>")
    for s, stage in enumerate(graph.stages, start=1):
        _stage_edges(w, stage, [ids[(s, a)] for a in range(1, len(stage.actions) + 1)])
    _region_sources(w, graph)
    return "\n".join(w.lines + w.edges) + "\n"


def _region_sources(w: _Writer, graph: ProjectGraph) -> None:
    """Where each deploy region's artifacts come from: the home region's, and the build's copy elsewhere."""
    if not graph.regions:
        return
    w.lines.append(f"    subgraph REGIONS[{label('Model artifacts per deploy region')}]")
    ids = {
        source.region: w.node(node_id("REGION", source.region), ARTIFACT, source.text, indent=2)
        for source in graph.regions
    }
    w.lines.append("    end")
    home = next((source.region for source in graph.regions if not source.copied), None)
    builds = [
        f"ACTION_{s}_{a}"
        for s, stage in enumerate(graph.stages, start=1)
        for a, action in enumerate(stage.actions, start=1)
        if action.category == "Build" and action.outputs
    ]
    for source in graph.regions:
        if source.copied:
            for build in builds:
                w.edge(build, ids[source.region], "copies model.tar.gz on approval")
            if home is not None:
                w.edge(ids[home], ids[source.region], "copied from", arrow="-.->")


def _artifacts(graph: ProjectGraph) -> list[str]:
    """Every artifact name, in order of first appearance (outputs before inputs of each action)."""
    names = [n for stage in graph.stages for action in stage.actions for n in (*action.outputs, *action.inputs)]
    return list(dict.fromkeys(names))


def _stage_edges(w: _Writer, stage: Stage, ids: list[str]) -> None:
    """Run order within the stage, artifacts, where the source comes from and where StackSets deploy."""
    for earlier, later in _run_order_pairs(stage.actions, ids):
        w.edge(earlier, later, "then", arrow="-.->")
    for action, ident in zip(stage.actions, ids, strict=True):
        if action.origin is not None:
            repository, condition = action.origin
            w.edge(w.source(repository), ident, condition)
        for artifact in action.inputs:
            w.edge(w.node(node_id("ARTIFACT", artifact), ARTIFACT, artifact), ident)
        for artifact in action.outputs:
            w.edge(ident, w.node(node_id("ARTIFACT", artifact), ARTIFACT, artifact))
        regions = "regions " + ", ".join(action.regions)
        for target in action.targets:
            kind = "Organizational unit" if target.startswith("ou-") or target.startswith("r-") else "Account"
            target_id = w.node(node_id("TARGET", target), TARGET, f"{kind}\n{target}")
            w.edge(ident, target_id, f"{action.account_filter}\n{regions}" if action.account_filter else regions)


def _run_order_pairs(actions: Iterable[Action], ids: list[str]) -> list[tuple[str, str]]:
    """Each action of one run order to each action of the next run order of the same stage."""
    groups: dict[int, list[str]] = {}
    for action, ident in zip(actions, ids, strict=True):
        groups.setdefault(action.run_order, []).append(ident)
    orders = sorted(groups)
    return [(a, b) for first, second in itertools.pairwise(orders) for a in groups[first] for b in groups[second]]


def to_markdown(graph: ProjectGraph) -> str:
    """The diagram in a fenced ```mermaid block, which GitHub (and most Markdown viewers) draw."""
    return f"```mermaid\n{to_mermaid(graph)}```\n"
