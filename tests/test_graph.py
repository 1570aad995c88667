"""`mlops-gen graph`: the Mermaid diagram drawn from a render output folder.

The diagrams are parsed back (every line must be a node, subgraph, edge or `end` in the forms
graph.py writes), so the assertions are about nodes and edges, not text snippets. The README's
diagram is checked against the default render; `--update-golden` rewrites it between its markers.
"""

from __future__ import annotations

import itertools
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from typer.testing import CliRunner

from generator.cli import app
from generator.graph import label, read_graph, to_markdown, to_mermaid
from generator.render import build_manifest, render_files, write_output
from tests.conftest import PROD_OU, STAGING_OU, make_config, rendered_files
from tests.edit import reseal

runner = CliRunner()
README = Path(__file__).resolve().parents[1] / "README.md"
START, END = "<!-- graph:start (mlops-gen graph, default render) -->", "<!-- graph:end -->"

_SHAPES = {"[(": "cylinder", "{{": "hexagon", "([": "stadium", "[/": "parallelogram", "[[": "subroutine", "[": "box"}
_NODE = re.compile(
    r'^(?P<id>[A-Z][A-Za-z0-9_]*)(?P<open>\[\(|\{\{|\(\[|\[/|\[\[|\[)"(?P<text>[^"]*)"(?P<close>\)\]|\}\}|\]\)|/\]|\]\]|\])$'
)
_SUBGRAPH = re.compile(r'^subgraph (?P<id>[A-Z][A-Za-z0-9_]*)\["(?P<text>[^"]*)"\]$')
_EDGE = re.compile(r'^(?P<src>[A-Z]\w*) (?P<arrow>-->|-\.->|==>)(?:\|"(?P<text>[^"]*)"\|)? (?P<dst>[A-Z]\w*)$')
_ENTITIES = {"#quot;": '"', "#lt;": "<", "#gt;": ">", "#amp;": "&", "#124;": "|", "#96;": "`", "#35;": "#"}


def unescape(text: str) -> str:
    text = text.replace("<br/>", "\n")
    return re.sub(r"#\w+;", lambda m: _ENTITIES[m.group(0)], text)


@dataclass
class Diagram:
    """A parsed flowchart: nodes (shape, text, parent subgraph), subgraphs in order, edges in order."""

    direction: str = ""
    nodes: dict[str, tuple[str, str, str]] = field(default_factory=dict)
    subgraphs: dict[str, tuple[str, str, list[str]]] = field(default_factory=dict)
    edges: list[tuple[str, str, str, str]] = field(default_factory=list)

    def by_text(self, first_line: str) -> str:
        """The id of the one node whose text starts with the line `first_line`."""
        found = [i for i, (_, text, _) in self.nodes.items() if text.split("\n")[0] == first_line]
        assert len(found) == 1, f"{first_line!r}: {found}"
        return found[0]

    def text(self, ident: str) -> str:
        return self.nodes[ident][1] if ident in self.nodes else self.subgraphs[ident][0]

    def edges_from(self, ident: str, arrow: str = "-->") -> list[tuple[str, str]]:
        return [(self.text(d), t) for s, a, t, d in self.edges if s == ident and a == arrow]

    def edges_to(self, ident: str, arrow: str = "-->") -> list[tuple[str, str]]:
        return [(self.text(s), t) for s, a, t, d in self.edges if d == ident and a == arrow]

    def stages(self) -> list[tuple[str, list[str]]]:
        """(title, first lines of its actions in order) for each stage subgraph inside PIPELINE."""
        return [
            (title, [self.nodes[c][1].split("\n")[0] for c in children])
            for ident, (title, parent, children) in self.subgraphs.items()
            if parent == "PIPELINE"
        ]


def parse(mermaid: str) -> Diagram:
    lines = mermaid.splitlines()
    diagram = Diagram(direction=lines[0])
    stack: list[str] = []
    for raw in lines[1:]:
        line = raw.strip()
        parent = stack[-1] if stack else ""
        if line == "end":
            stack.pop()
        elif m := _SUBGRAPH.match(line):
            diagram.subgraphs[m["id"]] = (unescape(m["text"]), parent, [])
            stack.append(m["id"])
        elif m := _EDGE.match(line):
            diagram.edges.append((m["src"], m["arrow"], unescape(m["text"] or ""), m["dst"]))
        elif m := _NODE.match(line):
            assert m["id"] not in diagram.nodes, f"node defined twice: {line}"
            diagram.nodes[m["id"]] = (_SHAPES[m["open"]], unescape(m["text"]), parent)
            if parent:
                diagram.subgraphs[parent][2].append(m["id"])
        else:
            pytest.fail(f"not a line graph.py writes: {raw!r}")
    assert not stack, "unclosed subgraph"
    known = set(diagram.nodes) | set(diagram.subgraphs)
    assert all(s in known and d in known for s, _, _, d in diagram.edges), "edge to an undefined node"
    return diagram


def render_into(folder: Path, fresh: bool = False, **overrides: object) -> Path:
    """A render written into `folder`; `fresh`: rendered anew, not shared (a test of determinism)."""
    cfg = make_config(**overrides)
    files = render_files(cfg) if fresh else rendered_files(cfg)
    write_output(files, build_manifest(cfg, files), folder, force=True)
    return folder


class _Renders(dict[str, Path]):
    """Render folders of the named configurations, each rendered the first time a test asks for it (once for
    the module): a test of the default render does not pay for the six others."""

    def __init__(self, factory: pytest.TempPathFactory) -> None:
        super().__init__()
        self.factory = factory

    def __missing__(self, name: str) -> Path:
        from tests.conftest import CONFIGS

        self[name] = render_into(self.factory.mktemp(name), **CONFIGS[name])
        return self[name]


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return _Renders(tmp_path_factory)


def diagram_of(folder: Path) -> Diagram:
    return parse(to_mermaid(read_graph(folder)))


# --- what the diagram shows -----------------------------------------------------------------------------------

STAGES = [
    ("Stage 1: Source", ["ModelDeploySource"]),
    ("Stage 2: Build", ["BuildDeploymentTemplates"]),
    ("Stage 3: DeployStaging", ["DeployResourcesStaging", "TestStaging", "ApproveDeployment"]),
    ("Stage 4: DeployProd", ["DeployResourcesProd"]),
]
PROJECT = "sagemaker-{project}-{project-id}"


def test_default_stages_actions_and_artifacts(rendered: dict[str, Path]) -> None:
    d = diagram_of(rendered["default"])
    assert d.direction == "flowchart TB"
    assert d.stages() == STAGES
    assert d.subgraphs["PIPELINE"][0] == f"CodePipeline {PROJECT}-modeldeploy\nV2, QUEUED, region eu-west-1"
    stage_ids = [i for i, (_, parent, _) in d.subgraphs.items() if parent == "PIPELINE"]
    assert [(s, d_) for s, a, _, d_ in d.edges if a == "==>"] == list(itertools.pairwise(stage_ids))

    source, build = d.by_text("ModelDeploySource"), d.by_text("BuildDeploymentTemplates")
    deploy_staging, test, approve = (d.by_text(n) for n in STAGES[2][1])
    deploy_prod = d.by_text("DeployResourcesProd")
    assert d.edges_from(source) == [("SourceArtifact", "")]
    assert d.edges_to(d.by_text("SourceArtifact")) == [("ModelDeploySource\nCodeCommit, branch main", "")]
    assert [t for t, _ in d.edges_from(d.by_text("SourceArtifact"))] == [
        f"BuildDeploymentTemplates\nCodeBuild project {PROJECT}-build",
        f"TestStaging\nCodeBuild project {PROJECT}-test",
    ]
    assert d.edges_from(build) == [("BuildArtifact", "")]
    assert [t.split("\n")[0] for t, _ in d.edges_from(d.by_text("BuildArtifact"))] == [
        "DeployResourcesStaging",
        "DeployResourcesProd",
    ]
    assert d.nodes[d.by_text("SourceArtifact")][0] == "parallelogram"
    assert d.nodes[d.by_text("SourceArtifact")][2] == "PIPELINE"  # artifacts live in the pipeline's store
    # Run order within DeployStaging: deploy, then test, then approve.
    then = [(s, d_) for s, a, _, d_ in d.edges if a == "-.->"]
    assert then == [(deploy_staging, test), (test, approve)]
    assert d.nodes[approve][:2] == ("stadium", "ApproveDeployment\nmanual approval")
    assert d.nodes[deploy_staging][1] == (
        f"DeployResourcesStaging\nStackSet {PROJECT}-deploy-staging\n"
        "failure tolerance 0%, max concurrency 100%, soft failure tolerance\nregions sequential"
    )  # the native action deploys its Regions in order: it has no RegionConcurrencyType
    assert d.edges_from(deploy_prod) == [(f"Organizational unit\n{PROD_OU}", "regions eu-west-1")]
    assert (f"Organizational unit\n{STAGING_OU}", "regions eu-west-1") in d.edges_from(deploy_staging)


def test_default_triggers(rendered: dict[str, Path]) -> None:
    d = diagram_of(rendered["default"])
    group = d.by_text("SageMaker model package group")
    assert d.nodes[group][:2] == ("cylinder", "SageMaker model package group\n{project}")
    assert d.edges_from(group) == [(f"EventBridge rule\n{PROJECT}-model", "ModelApprovalStatus = Approved or Rejected")]
    repository = d.by_text("CodeCommit repository")
    assert d.nodes[repository][1] == f"CodeCommit repository\n{PROJECT}-modeldeploy"
    assert d.edges_from(repository) == [
        (f"EventBridge rule\n{PROJECT}-code", "push to main"),
        ("ModelDeploySource\nCodeCommit, branch main", "branch main"),
    ]
    rules = [i for i, (shape, _, _) in d.nodes.items() if shape == "hexagon"]
    assert len(rules) == 2
    for rule in rules:
        assert [(s, a, t, d_) for s, a, t, d_ in d.edges if s == rule] == [(rule, "-->", "starts", "PIPELINE")]


@pytest.mark.slow  # renders a named configuration beyond default
def test_codeconnections_three_regions(rendered: dict[str, Path]) -> None:
    d = diagram_of(rendered["codeconnections-3-regions"])
    assert d.stages() == STAGES
    rules = [d.nodes[i][1] for i, (shape, _, _) in d.nodes.items() if shape == "hexagon"]
    assert rules == [f"EventBridge rule\n{PROJECT}-model"]  # the connection detects pushes itself
    repository = d.by_text("Repository acme/iris-deploy")
    assert d.nodes[repository][1] == "Repository acme/iris-deploy\nvia CodeConnections"
    assert d.edges_from(repository) == [
        ("ModelDeploySource\nCodeConnections, branch main", "branch main, pushes detected")
    ]
    regions = "regions eu-west-1, eu-central-1, us-east-1"
    assert d.edges_from(d.by_text("DeployResourcesStaging"))[-1] == (f"Organizational unit\n{STAGING_OU}", regions)
    assert d.edges_from(d.by_text("DeployResourcesProd")) == [(f"Organizational unit\n{PROD_OU}", regions)]
    # Where each region's artifacts come from: the home region's package, the build's copy elsewhere.
    bucket = "sagemaker-project-{project-id}-artifacts"
    assert d.subgraphs["REGIONS"][0] == "Model artifacts per deploy region"
    home = d.by_text("eu-west-1")
    assert d.nodes[home][1] == f"eu-west-1\nmodel package of the registry\nartifacts s3://{bucket}"
    for region in ("eu-central-1", "us-east-1"):
        copy = d.by_text(region)
        assert d.nodes[copy][1] == f"{region}\ncopy: s3://{bucket}-{region}\nimage from the {region} registry"
        assert d.edges_from(home, "-.->")[["eu-central-1", "us-east-1"].index(region)] == (
            d.nodes[copy][1],
            "copied from",
        )
    assert [e for e in d.edges_from(d.by_text("BuildDeploymentTemplates")) if "copies" in e[1]] == [
        (d.nodes[d.by_text(r)][1], "copies model.tar.gz on approval") for r in ("eu-central-1", "us-east-1")
    ]


def test_one_region_draws_no_region_sources(rendered: dict[str, Path]) -> None:
    assert "REGIONS" not in diagram_of(rendered["default"]).subgraphs


@pytest.mark.slow  # renders a named configuration beyond default
def test_custom_preferences_come_from_the_template(rendered: dict[str, Path]) -> None:
    d = diagram_of(rendered["custom-preferences"])
    staging = d.nodes[d.by_text("DeployResourcesStaging")][1].split("\n")[2:]
    prod = d.nodes[d.by_text("DeployResourcesProd")][1].split("\n")[2:]
    assert staging[:2] == ["failure tolerance 10%, max concurrency 25%, soft failure tolerance", "regions sequential"]
    assert prod[:2] == ["failure tolerance 0%, max concurrency 25%, soft failure tolerance", "regions sequential"]


def test_standard_launch_role_group_is_not_in_the_template(rendered: dict[str, Path]) -> None:
    d = diagram_of(rendered["standard-launch-role"])
    assert d.stages() == STAGES
    group = d.by_text("SageMaker model package group")
    assert d.nodes[group][1] == "SageMaker model package group\n{project}\n(not created by the product template)"
    assert d.edges_from(group) == [(f"EventBridge rule\n{PROJECT}-model", "ModelApprovalStatus = Approved or Rejected")]


# --- deployment topologies: api mode (CodeBuild running deploy.py) and self-managed -------------------------------


def _targets(d: Diagram) -> list[str]:
    return [text for shape, text, _ in d.nodes.values() if shape == "subroutine"]


@pytest.mark.slow  # renders whole configurations (about a second each)
def test_delegated_admin_draws_the_stack_sets_its_deploy_projects_deploy(rendered: dict[str, Path]) -> None:
    d = diagram_of(rendered["delegated-admin"])
    assert d.stages() == STAGES
    staging, prod = d.by_text("DeployResourcesStaging"), d.by_text("DeployResourcesProd")
    for ident, stage, ou in ((staging, "staging", STAGING_OU), (prod, "prod", PROD_OU)):
        assert d.nodes[ident][:2] == (
            "box",
            f"{'DeployResourcesStaging' if stage == 'staging' else 'DeployResourcesProd'}\n"
            f"StackSet {PROJECT}-deploy-{stage}\n"
            f"CodeBuild project {PROJECT}-{stage}-deploy, CloudFormation API\n"
            "CallAs DELEGATED_ADMIN (delegated administrator)\n"
            "failure tolerance 0%, max concurrency 100%, soft failure tolerance\n"
            "regions parallel, auto-deployment enabled",
        )
        # The whole OU, in both regions in the order given; deploy.py runs from the source with the build's files.
        assert d.edges_from(ident) == [(f"Organizational unit\n{ou}", "regions eu-west-1, us-east-1")]
        assert d.edges_to(ident) == [("SourceArtifact", ""), ("BuildArtifact", "")]
    assert _targets(d) == [f"Organizational unit\n{STAGING_OU}", f"Organizational unit\n{PROD_OU}"]
    # The staging test is a CodeBuild project too, but deploys nothing: still drawn as a plain project.
    assert d.nodes[d.by_text("TestStaging")][1] == f"TestStaging\nCodeBuild project {PROJECT}-test"
    assert d.edges_from(d.by_text("TestStaging")) == []


@pytest.mark.slow  # renders a named configuration beyond default
def test_account_filters_narrow_the_ou_to_the_listed_accounts(rendered: dict[str, Path]) -> None:
    d = diagram_of(rendered["account-filters"])
    staging, prod = d.by_text("DeployResourcesStaging"), d.by_text("DeployResourcesProd")
    assert d.nodes[staging][1].split("\n")[1:] == [
        f"StackSet {PROJECT}-deploy-staging",
        f"CodeBuild project {PROJECT}-staging-deploy, CloudFormation API",  # CallAs SELF: not restated
        "failure tolerance 0%, max concurrency 100%, soft failure tolerance",
        "regions sequential, auto-deployment disabled",
        "region order us-east-1, eu-west-1",
    ]
    assert d.nodes[prod][1].split("\n")[1] == f"StackSet {PROJECT}-deploy-prod"
    regions = "regions us-east-1, eu-west-1"
    assert d.edges_from(staging) == [(f"Organizational unit\n{STAGING_OU}", f"only accounts 111111111111\n{regions}")]
    assert d.edges_from(prod) == [
        (f"Organizational unit\n{PROD_OU}", f"only accounts 222222222222, 333333333333\n{regions}")
    ]
    # The accounts narrow the OU target (AccountFilterType INTERSECTION); they are not targets of their own.
    assert _targets(d) == [f"Organizational unit\n{STAGING_OU}", f"Organizational unit\n{PROD_OU}"]


@pytest.mark.slow  # renders a named configuration beyond default
def test_self_managed_deploys_to_the_listed_accounts(rendered: dict[str, Path]) -> None:
    d = diagram_of(rendered["self-managed"])
    staging, prod = d.by_text("DeployResourcesStaging"), d.by_text("DeployResourcesProd")
    assert d.nodes[staging][1] == (
        f"DeployResourcesStaging\nStackSet {PROJECT}-deploy-staging\n"
        "self-managed: administration role acme-stackset-admin, execution role acme-stackset-execution\n"
        "failure tolerance 0%, max concurrency 100%, soft failure tolerance\n"
        "regions sequential"  # no auto-deployment for self-managed; the native action deploys regions in order
    )
    assert d.edges_from(staging) == [("Account\n111111111111", "regions eu-west-1")]
    assert d.edges_from(prod) == [("Account\n222222222222", "regions eu-west-1")]
    assert d.edges_to(staging) == [("BuildArtifact", "")]  # the native action: no source checkout
    assert _targets(d) == ["Account\n111111111111", "Account\n222222222222"]  # no OU is a target


def test_api_mode_reads_the_deploy_project_environment(tmp_path: Path) -> None:
    """The diagram follows the rendered project's variables, and only those: other properties may use any intrinsic."""
    from tests.conftest import CONFIGS

    folder = render_into(tmp_path / "dist", format="json", **CONFIGS["account-filters"])
    product = folder / "product-template.json"
    template = json.loads(product.read_text(encoding="utf-8"))
    project = template["Resources"]["ModelDeployStagingDeployProject"]["Properties"]
    project["Description"] = {"Fn::FindInMap": ["NoSuchMap", "a", "b"]}  # not modelled by the resolver
    project["Environment"]["EnvironmentVariables"].append({"Name": "UNRELATED", "Value": {"Fn::ImportValue": "x"}})
    values = {v["Name"]: v for v in project["Environment"]["EnvironmentVariables"]}
    values["DEPLOY_ACCOUNT_FILTER_TYPE"]["Value"] = "NONE"  # deploy.py then ignores DEPLOY_ACCOUNT_IDS
    values["STACK_SET_CALL_AS"]["Value"] = "DELEGATED_ADMIN"
    values["REGION_CONCURRENCY_TYPE"]["Value"] = "PARALLEL"
    values["DEPLOY_OU_IDS"]["Value"] = "ou-ab12-33333333,ou-ab12-44444444"
    product.write_text(json.dumps(template), encoding="utf-8")
    reseal(folder)

    d = diagram_of(folder)
    staging = d.by_text("DeployResourcesStaging")
    assert d.nodes[staging][1].split("\n")[3:] == [
        "CallAs DELEGATED_ADMIN (delegated administrator)",
        "failure tolerance 0%, max concurrency 100%, soft failure tolerance",
        "regions parallel, auto-deployment disabled",  # parallel: no region order to show
    ]
    regions = "regions us-east-1, eu-west-1"
    assert d.edges_from(staging) == [
        ("Organizational unit\nou-ab12-33333333", regions),
        ("Organizational unit\nou-ab12-44444444", regions),
    ]
    prod = d.by_text("DeployResourcesProd")  # untouched
    assert d.edges_from(prod) == [
        (f"Organizational unit\n{PROD_OU}", f"only accounts 222222222222, 333333333333\n{regions}")
    ]


@pytest.mark.slow  # renders whole configurations (about a second each)
def test_topologies_are_deterministic(rendered: dict[str, Path], tmp_path: Path) -> None:
    from tests.conftest import CONFIGS

    for name in ("delegated-admin", "account-filters", "self-managed"):
        again = render_into(tmp_path / name, fresh=True, **CONFIGS[name])
        assert to_mermaid(read_graph(again)) == to_mermaid(read_graph(rendered[name]))


@pytest.mark.slow  # renders whole configurations (about a second each)
def test_json_render_draws_the_same(rendered: dict[str, Path], tmp_path: Path) -> None:
    folder = render_into(tmp_path / "json", format="json")
    assert to_markdown(read_graph(folder)) == to_markdown(read_graph(rendered["default"]))


@pytest.mark.slow  # renders afresh twice
def test_deterministic(rendered: dict[str, Path], tmp_path: Path) -> None:
    again = render_into(tmp_path / "again", fresh=True)
    first = to_markdown(read_graph(rendered["default"]))
    assert first == to_markdown(read_graph(rendered["default"])) == to_markdown(read_graph(again))


# --- escaping -----------------------------------------------------------------------------------------------


def test_label_escapes_mermaid_syntax() -> None:
    text = 'a "b" <c> & #1 | `d` {project}\nsecond line'
    assert label(text) == '"a #quot;b#quot; #lt;c#gt; #amp; #35;1 #124; #96;d#96; {project}<br/>second line"'
    assert unescape(label(text)[1:-1]) == text


# --- the command ------------------------------------------------------------------------------------------------


@pytest.mark.slow  # renders whole configurations (about a second each)
def test_cli_prints_markdown_and_writes_out(rendered: dict[str, Path], tmp_path: Path) -> None:
    folder = str(rendered["default"])
    printed = runner.invoke(app, ["graph", folder])
    assert printed.exit_code == 0, printed.output
    assert printed.stdout.startswith("```mermaid\nflowchart TB\n") and printed.stdout.endswith("\n```\n")
    assert printed.stdout == to_markdown(read_graph(rendered["default"]))

    out = tmp_path / "graph.md"
    written = runner.invoke(app, ["graph", folder, "--out", str(out)])
    assert written.exit_code == 0, written.output
    assert out.read_text(encoding="utf-8") == printed.stdout
    assert f"wrote {out}" in written.stdout

    bare = runner.invoke(app, ["graph", folder, "--format", "mermaid"])
    assert bare.exit_code == 0
    assert bare.stdout == to_mermaid(read_graph(rendered["default"]))
    parse(bare.stdout)


def test_cli_offers_no_svg_and_says_how_to_get_one(rendered: dict[str, Path]) -> None:
    help_text = runner.invoke(app, ["graph", "--help"], env={"COLUMNS": "200"})
    assert "svg" not in help_text.stdout.replace("graph.svg", "").lower()
    assert "mmdc -i - -o graph.svg" in " ".join(help_text.stdout.split()).replace("│ ", "").replace(" │", "")
    result = runner.invoke(app, ["graph", str(rendered["default"]), "--format", "svg"])
    assert result.exit_code == 2 and result.stdout == ""


def test_cli_out_unwritable(rendered: dict[str, Path], tmp_path: Path) -> None:
    result = runner.invoke(app, ["graph", str(rendered["default"]), "--out", str(tmp_path / "no" / "such" / "g.md")])
    assert result.exit_code == 2
    assert "--out: cannot write" in result.stderr


def _copy(folder: Path, target: Path) -> Path:
    target.mkdir()
    for path in folder.iterdir():
        (target / path.name).write_bytes(path.read_bytes())
    return target


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        ("no-folder", "has no manifest.json: render into it first"),
        ("no-manifest", "has no manifest.json: render into it first"),
        ("bad-json", "is not a mlops-gen manifest"),
        ("no-artifacts-key", "is not a mlops-gen manifest"),
        ("no-product", "lists no product-template: nothing to draw"),
        ("product-missing", "product-template.yaml is listed but missing"),
        ("product-garbage", "is not a readable template"),
        ("product-scalar", "is not a readable template"),
        ("product-not-a-template", "is not a CloudFormation template (no Resources)"),
        ("no-pipeline", "cannot be drawn: expected one AWS::CodePipeline::Pipeline, found 0"),
    ],
)
def test_cli_unusable_folder_exits_2(rendered: dict[str, Path], tmp_path: Path, damage: str, message: str) -> None:
    folder = tmp_path / "missing" if damage == "no-folder" else _copy(rendered["default"], tmp_path / "dist")
    manifest = folder / "manifest.json"
    product = folder / "product-template.yaml"
    if damage == "no-manifest":
        manifest.unlink()
    elif damage == "bad-json":
        manifest.write_text("{not json", encoding="utf-8")
    elif damage == "no-artifacts-key":
        manifest.write_text(json.dumps({"home_region": "eu-west-1"}), encoding="utf-8")
    elif damage == "no-product":
        data = json.loads(manifest.read_text(encoding="utf-8"))
        data["artifacts"] = [a for a in data["artifacts"] if a["kind"] != "product-template"]
        manifest.write_text(json.dumps(data), encoding="utf-8")
    elif damage == "product-missing":
        product.unlink()
    elif damage == "product-garbage":
        product.write_text("Resources: [unclosed\n  - : :\n", encoding="utf-8")
    elif damage == "product-scalar":
        product.write_text("just a string\n", encoding="utf-8")
    elif damage == "product-not-a-template":
        product.write_text("AWSTemplateFormatVersion: '2010-09-09'\n", encoding="utf-8")
    elif damage == "no-pipeline":
        text = product.read_text(encoding="utf-8")
        product.write_text(text.replace("Type: AWS::CodePipeline::Pipeline", "Type: AWS::SNS::Topic"), encoding="utf-8")
    if (damage.startswith("product-") and damage != "product-missing") or damage == "no-pipeline":
        reseal(folder)  # the damage itself must be what is refused, not the manifest's sha256
    result = runner.invoke(app, ["graph", str(folder)])
    assert result.exit_code == 2, result.output
    assert result.stderr.startswith("error: DIR: ")
    assert message in result.stderr
    assert "Traceback" not in result.output


# --- the README's diagram ---------------------------------------------------------------------------------------


def test_readme_diagram_is_the_default_render(rendered: dict[str, Path], update_golden: bool) -> None:
    """README.md shows what `mlops-gen graph` draws for the default render (`--update-golden` rewrites it)."""
    expected = to_markdown(read_graph(rendered["default"]))
    text = README.read_text(encoding="utf-8")
    assert text.count(START) == 1 and text.count(END) == 1, f"README.md needs one {START} ... {END} section"
    before, rest = text.split(START + "\n")
    current, after = rest.split(END)
    if update_golden and current != expected:
        README.write_text(before + START + "\n" + expected + END + after, encoding="utf-8")
        current = expected
    assert current == expected, "README.md's diagram is stale: run pytest tests/test_graph.py --update-golden"
