"""`mlops-gen publish --via service-catalog`: idempotency, a changed template, and each AWS problem.

moto 5.2.5 implements only part of Service Catalog (aws-facts.md): `create_portfolio`,
`list_portfolios` and `create_product` go to moto; the calls it lacks are answered by `CatalogModel`,
a `botocore.stub.Stubber` whose answers come from a small in-memory model instead of a queue. botocore
checks every request against the real input shapes (before any handler runs) and Stubber checks
every answer against the real output shapes, so a misspelt parameter or an invented field fails.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import boto3
import pytest
from botocore.awsrequest import AWSResponse
from botocore.exceptions import ParamValidationError
from botocore.stub import Stubber
from moto import mock_aws
from moto.s3.models import s3_backends
from moto.servicecatalog.models import servicecatalog_backends

from generator.config import DEFAULT_PORTFOLIO_NAME, DEFAULT_PRODUCT_NAME
from generator.live import publish as pub
from tests.test_publish import ACCOUNT, BUCKET, REGION, options, plan_for, render_into

ROLE_NAME = "sagemaker-mlops-gen-launch-role"
#: What render records and publish defaults to (one name from render to publish).
PORTFOLIO, PRODUCT = DEFAULT_PORTFOLIO_NAME, DEFAULT_PRODUCT_NAME
STUDIO_ROLE = f"arn:aws:iam::{ACCOUNT}:role/service-role/AmazonSageMaker-ExecutionRole-1"
OTHER_ROLE = f"arn:aws:iam::{ACCOUNT}:role/DataScientist"
WRITES = ("Create", "Associate", "Update", "Delete", "Put")
#: What moto 5.2.5 answers itself.
MOTO_OPERATIONS = frozenset({"CreatePortfolio", "ListPortfolios", "CreateProduct"})


def aware(moment: dt.datetime) -> dt.datetime:
    """moto keeps naive UTC times; botocore parses real answers into aware ones."""
    return moment.replace(tzinfo=dt.UTC) if moment.tzinfo is None else moment


class ApiError(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


class CatalogModel(Stubber):
    """Service Catalog for tests: moto where it can, a checked in-memory model for the rest."""

    PAGE_SIZE = 20

    def __init__(self, client: Any) -> None:
        super().__init__(client)
        self.calls: list[str] = []
        self.artifacts: dict[str, list[dict[str, Any]]] = {}
        self.portfolios_of: dict[str, list[str]] = {}
        self.constraints: dict[str, dict[str, Any]] = {}
        self.principals: dict[str, list[dict[str, str]]] = {}
        self.failures: dict[str, str] = {}  # operation -> error code, answered once
        client.meta.events.register_first("before-call.*.*", self._record)

    @property
    def moto(self) -> Any:
        return servicecatalog_backends[ACCOUNT][REGION]

    def _record(self, model: Any, **_: Any) -> None:
        self.calls.append(model.name)

    # Stubber's hooks: keep the request (already autofilled) and answer from the model.
    def _assert_expected_params(self, model: Any, params: Any, context: Any, **kwargs: Any) -> None:
        context["catalog_params"] = params

    def _get_response_handler(self, model: Any, params: Any, context: Any, **kwargs: Any) -> Any:
        if model.name in self.failures:
            code = self.failures.pop(model.name)
            body = {"Error": {"Code": code, "Message": f"not allowed: {model.name}"}, "ResponseMetadata": {}}
            return AWSResponse("https://servicecatalog", 400, {}, None), body
        if model.name in MOTO_OPERATIONS:
            return None
        handler = getattr(self, f"op_{model.name}")
        try:
            response = handler(**context["catalog_params"])
        except ApiError as exc:
            body = {"Error": {"Code": exc.code, "Message": str(exc)}, "ResponseMetadata": {}}
            return AWSResponse("https://servicecatalog", 400, {}, None), body
        self._validate_operation_response(model.name, response)
        return AWSResponse("https://servicecatalog", 200, {}, None), response

    # --- the model ------------------------------------------------------------------------------

    def _product(self, product_id: str) -> Any:
        product = self.moto.products.get(product_id)
        if product is None:
            raise ApiError("ResourceNotFoundException", f"Product {product_id} not found.")
        return product

    def _portfolio(self, portfolio_id: str) -> Any:
        portfolio = self.moto.portfolios.get(portfolio_id)
        if portfolio is None:
            raise ApiError("ResourceNotFoundException", f"Portfolio {portfolio_id} not found.")
        return portfolio

    def _view(self, product: Any) -> dict[str, Any]:
        summary = {
            "Id": f"prodview-{product.id[:12]}",
            "ProductId": product.id,
            "Name": product.name,
            "Owner": product.owner,
            "ShortDescription": product.description or "",
            "Type": product.product_type,
            "HasDefaultPath": False,
        }
        return {
            "ProductViewSummary": summary,
            "Status": "AVAILABLE",
            "ProductARN": product.arn,
            "CreatedTime": aware(product.created_time),
        }

    def _artifacts(self, product: Any) -> list[dict[str, Any]]:
        """The product's versions; the first is the one create_product (in moto) was given."""
        if product.id not in self.artifacts:
            self.artifacts[product.id] = []
            params = product.provisioning_artifact_parameters
            if params:
                self._add_artifact(product.id, params, aware(product.created_time))
        return self.artifacts[product.id]

    def _add_artifact(self, product_id: str, params: dict[str, Any], created: dt.datetime) -> dict[str, Any]:
        url = params["Info"]["LoadTemplateFromURL"]
        parsed = urlparse(url)
        bucket, key = parsed.netloc.split(".", 1)[0], parsed.path.lstrip("/")
        if key not in s3_backends[ACCOUNT]["aws"].buckets[bucket].keys:
            raise ApiError("InvalidParametersException", f"cannot load the template from {url}")
        artifact = {
            "Id": f"pa-{uuid.uuid4().hex[:13]}",
            "Name": params.get("Name", ""),
            "Description": params.get("Description", ""),
            "Type": params["Type"],
            "CreatedTime": created,
            "Active": True,
            "Guidance": "DEFAULT",
            "_url": url,
        }
        self.artifacts.setdefault(product_id, []).append(artifact)
        return artifact

    @staticmethod
    def _public(artifact: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in artifact.items() if not k.startswith("_")}

    def _page(self, items: list[Any], token: str | None, size: int | None) -> tuple[list[Any], str | None]:
        start = int(token or 0)
        end = start + (size or self.PAGE_SIZE)
        return items[start:end], (str(end) if end < len(items) else None)

    def _paged(self, key: str, items: list[Any], PageToken: str | None = None, PageSize: int | None = None) -> Any:
        page, token = self._page(items, PageToken, PageSize)
        return {key: page, **({"NextPageToken": token} if token else {})}

    def op_SearchProductsAsAdmin(self, Filters: dict[str, list[str]] | None = None, **kw: Any) -> Any:
        words = " ".join((Filters or {}).get("FullTextSearch", [])).lower().split()
        found = [p for p in self.moto.products.values() if all(w in p.name.lower() for w in words)]
        return self._paged(
            "ProductViewDetails", [self._view(p) for p in found], kw.get("PageToken"), kw.get("PageSize")
        )

    def op_DescribeProductAsAdmin(self, Id: str, **_: Any) -> Any:
        product = self._product(Id)
        return {
            "ProductViewDetail": self._view(product),
            "ProvisioningArtifactSummaries": [
                {k: a[k] for k in ("Id", "Name", "Description", "CreatedTime")} for a in self._artifacts(product)
            ],
            "Tags": self.moto._list_tags_for_resource(product.arn),
            "TagOptions": [],
            "Budgets": [],
        }

    def op_ListProvisioningArtifacts(self, ProductId: str, **_: Any) -> Any:
        return {"ProvisioningArtifactDetails": [self._public(a) for a in self._artifacts(self._product(ProductId))]}

    def op_CreateProvisioningArtifact(
        self, ProductId: str, Parameters: dict[str, Any], IdempotencyToken: str, **_: Any
    ) -> Any:
        self._artifacts(self._product(ProductId))
        artifact = self._add_artifact(ProductId, Parameters, dt.datetime.now(dt.UTC))
        return {"ProvisioningArtifactDetail": self._public(artifact), "Info": Parameters["Info"], "Status": "CREATING"}

    def op_ListPortfoliosForProduct(self, ProductId: str, **kw: Any) -> Any:
        self._product(ProductId)
        details = [self._portfolio(p).to_dict() for p in self.portfolios_of.get(ProductId, [])]
        return self._paged("PortfolioDetails", details, kw.get("PageToken"), kw.get("PageSize"))

    def op_AssociateProductWithPortfolio(self, ProductId: str, PortfolioId: str, **_: Any) -> Any:
        self._product(ProductId), self._portfolio(PortfolioId)
        owners = self.portfolios_of.setdefault(ProductId, [])
        if PortfolioId not in owners:
            owners.append(PortfolioId)
        return {}

    def _constraint_detail(self, c: dict[str, Any]) -> dict[str, Any]:
        return {k: c[k] for k in ("ConstraintId", "Type", "Description", "Owner", "ProductId", "PortfolioId")}

    def op_ListConstraintsForPortfolio(self, PortfolioId: str, ProductId: str | None = None, **kw: Any) -> Any:
        self._portfolio(PortfolioId)
        found = [
            self._constraint_detail(c)
            for c in self.constraints.values()
            if c["PortfolioId"] == PortfolioId and ProductId in (None, c["ProductId"])
        ]
        return self._paged("ConstraintDetails", found, kw.get("PageToken"), kw.get("PageSize"))

    def op_CreateConstraint(self, PortfolioId: str, ProductId: str, Parameters: str, Type: str, **kw: Any) -> Any:
        if PortfolioId not in self.portfolios_of.get(ProductId, []):
            raise ApiError("ResourceNotFoundException", "The product is not in the portfolio.")
        if Type == "LAUNCH" and any(
            c["Type"] == "LAUNCH" and c["PortfolioId"] == PortfolioId and c["ProductId"] == ProductId
            for c in self.constraints.values()
        ):
            raise ApiError("DuplicateResourceException", "A launch constraint already exists.")
        if set(json.loads(Parameters)) not in ({"RoleArn"}, {"LocalRoleName"}):
            raise ApiError("InvalidParametersException", "Specify either RoleArn or LocalRoleName.")
        constraint_id = f"cons-{uuid.uuid4().hex[:13]}"
        self.constraints[constraint_id] = {
            "ConstraintId": constraint_id,
            "Type": Type,
            "Description": kw.get("Description", ""),
            "Owner": ACCOUNT,
            "ProductId": ProductId,
            "PortfolioId": PortfolioId,
            "Parameters": Parameters,
        }
        return self.op_DescribeConstraint(constraint_id)

    def op_DescribeConstraint(self, Id: str, **_: Any) -> Any:
        if Id not in self.constraints:
            raise ApiError("ResourceNotFoundException", f"Constraint {Id} not found.")
        c = self.constraints[Id]
        return {
            "ConstraintDetail": self._constraint_detail(c),
            "ConstraintParameters": c["Parameters"],
            "Status": "AVAILABLE",
        }

    def op_UpdateConstraint(self, Id: str, Parameters: str | None = None, **_: Any) -> Any:
        self.op_DescribeConstraint(Id)
        if Parameters is not None:
            self.constraints[Id]["Parameters"] = Parameters
        return self.op_DescribeConstraint(Id)

    def op_ListPrincipalsForPortfolio(self, PortfolioId: str, **kw: Any) -> Any:
        self._portfolio(PortfolioId)
        return self._paged("Principals", self.principals.get(PortfolioId, []), kw.get("PageToken"), kw.get("PageSize"))

    def op_AssociatePrincipalWithPortfolio(
        self, PortfolioId: str, PrincipalARN: str, PrincipalType: str, **_: Any
    ) -> Any:
        self._portfolio(PortfolioId)
        principals = self.principals.setdefault(PortfolioId, [])
        if not any(p["PrincipalARN"] == PrincipalARN for p in principals):
            principals.append({"PrincipalARN": PrincipalARN, "PrincipalType": PrincipalType})
        return {}

    def op_UpdateProduct(self, Id: str, AddTags: list[dict[str, str]] | None = None, **_: Any) -> Any:
        product = self._product(Id)
        if AddTags:
            self.moto._tag_resource(product.arn, AddTags)
        return {"ProductViewDetail": self._view(product), "Tags": self.moto._list_tags_for_resource(product.arn)}

    # --- what tests read ------------------------------------------------------------------------

    def writes(self) -> list[str]:
        return [c for c in self.calls if c.startswith(WRITES)]

    def portfolio_named(self, name: str) -> Any:
        matches = [p for p in self.moto.portfolios.values() if p.display_name == name]
        assert len(matches) == 1, matches
        return matches[0]

    def product_named(self, name: str) -> Any:
        matches = [p for p in self.moto.products.values() if p.name == name]
        assert len(matches) == 1, matches
        return matches[0]

    def launch_roles(self, portfolio_id: str, product_id: str) -> list[str]:
        return [
            json.loads(c["Parameters"])["RoleArn"]
            for c in self.constraints.values()
            if (c["PortfolioId"], c["ProductId"], c["Type"]) == (portfolio_id, product_id, "LAUNCH")
        ]


@pytest.fixture
def world(monkeypatch: pytest.MonkeyPatch, moto_org: str) -> Iterator[tuple[pub.Clients, CatalogModel]]:
    """moto (S3, IAM, STS, part of Service Catalog) with the bucket and the generated launch role."""
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": REGION,
    }.items():
        monkeypatch.setenv(name, value)
    with mock_aws():
        clients = pub.make_clients(boto3.Session(), REGION)
        clients.organizations.create_organization(FeatureSet="ALL")
        clients.s3.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
        trust = {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Action": "sts:AssumeRole",
                    "Principal": {"Service": "servicecatalog.amazonaws.com"},
                }
            ],
        }
        clients.iam.create_role(RoleName=ROLE_NAME, AssumeRolePolicyDocument=json.dumps(trust))
        catalog = CatalogModel(clients.servicecatalog)
        with catalog:
            yield clients, catalog


@pytest.fixture(scope="module")
def v1(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return render_into(tmp_path_factory.mktemp("v1") / "dist")


@pytest.fixture(scope="module")
def v2(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return render_into(tmp_path_factory.mktemp("v2") / "dist", branch="release")


def catalog_plan(folder: Path, **changes: Any) -> pub.Plan:
    return plan_for(options(folder, **{"principal_arns": (STUDIO_ROLE,), **changes}))


def actions(report: pub.Report) -> dict[str, str]:
    return {o.step: o.action for o in report.outcomes}


# --- idempotency ---------------------------------------------------------------------------------


def test_first_run_builds_everything(world: tuple[pub.Clients, CatalogModel], v1: Path) -> None:
    clients, catalog = world
    plan = catalog_plan(v1)
    report = pub.apply(plan, clients)

    portfolio = catalog.portfolio_named(PORTFOLIO)
    product = catalog.product_named(PRODUCT)
    assert report.outputs["portfolio_id"] == portfolio.id and report.outputs["product_id"] == product.id
    assert catalog.portfolios_of[product.id] == [portfolio.id]
    role_arn = f"arn:aws:iam::{ACCOUNT}:role/{ROLE_NAME}"
    assert catalog.launch_roles(portfolio.id, product.id) == [role_arn]
    assert catalog.principals[portfolio.id] == [{"PrincipalARN": STUDIO_ROLE, "PrincipalType": "IAM"}]
    tags = {t["Key"]: t["Value"] for t in catalog.moto._list_tags_for_resource(product.arn)}
    assert tags == {"sagemaker:studio-visibility": "true"}
    (artifact,) = catalog.artifacts[product.id]
    assert artifact["_url"] == plan.template_url
    assert plan.release.template.sha256 in artifact["Description"]
    s3_tags = clients.s3.get_object_tagging(Bucket=BUCKET, Key=plan.template_key)["TagSet"]
    assert s3_tags == [{"Key": "servicecatalog:provisioning", "Value": "true"}]
    assert plan.release.seed_key is not None
    assert clients.s3.head_object(Bucket=BUCKET, Key=plan.release.seed_key)["ContentLength"] > 0
    assert actions(report)["portfolio"] == actions(report)["product"] == pub.CREATED


def test_second_run_changes_nothing(world: tuple[pub.Clients, CatalogModel], v1: Path) -> None:
    clients, catalog = world
    plan = catalog_plan(v1)
    pub.apply(plan, clients)
    catalog.calls.clear()
    puts: list[str] = []
    clients.s3.meta.events.register("before-call.s3.*", lambda model, **_: puts.append(model.name))

    again = pub.apply(plan, clients)

    assert not again.changed
    assert set(actions(again).values()) == {pub.UNCHANGED}
    assert catalog.writes() == []
    assert "HeadObject" in puts  # the recorder sees S3 calls, and none of them writes
    assert [name for name in puts if name.startswith("Put")] == []
    assert len(catalog.artifacts[catalog.product_named(PRODUCT).id]) == 1


def test_changed_template_adds_exactly_one_version(world: tuple[pub.Clients, CatalogModel], v1: Path, v2: Path) -> None:
    clients, catalog = world
    first = catalog_plan(v1)
    pub.apply(first, clients)
    catalog.calls.clear()

    second = catalog_plan(v2)
    report = pub.apply(second, clients)

    product = catalog.product_named(PRODUCT)
    versions = catalog.artifacts[product.id]
    assert len(versions) == 2
    assert [v["Name"] for v in versions] == ["1.0", "2.0"]
    assert versions[1]["_url"] == second.template_url != first.template_url
    assert catalog.writes() == ["CreateProvisioningArtifact"]
    assert actions(report)["version"] == pub.CREATED
    assert report.outputs["provisioning_artifact_id"] == versions[1]["Id"]
    # The old template is still where version 1.0 reads it.
    assert clients.s3.head_object(Bucket=BUCKET, Key=first.template_key)["ContentLength"] > 0
    # And the new one is now current: running again adds nothing.
    catalog.calls.clear()
    assert not pub.apply(second, clients).changed
    assert catalog.writes() == []


def test_going_back_to_an_old_template_makes_it_newest_again(
    world: tuple[pub.Clients, CatalogModel], v1: Path, v2: Path
) -> None:
    clients, catalog = world
    pub.apply(catalog_plan(v1), clients)
    pub.apply(catalog_plan(v2), clients)
    report = pub.apply(catalog_plan(v1), clients)
    assert actions(report)["version"] == pub.CREATED
    assert actions(report)["template"] == pub.UNCHANGED  # the object is already there
    assert len(catalog.artifacts[catalog.product_named(PRODUCT).id]) == 3


def test_drift_is_repaired(world: tuple[pub.Clients, CatalogModel], v1: Path) -> None:
    clients, catalog = world
    pub.apply(catalog_plan(v1), clients)
    product = catalog.product_named(PRODUCT)
    portfolio = catalog.portfolio_named(PORTFOLIO)
    catalog.moto.tagger.untag_resource_using_names(product.arn, ["sagemaker:studio-visibility"])
    (constraint_id,) = catalog.constraints
    catalog.constraints[constraint_id]["Parameters"] = json.dumps({"RoleArn": OTHER_ROLE})

    report = pub.apply(catalog_plan(v1, principal_arns=(STUDIO_ROLE, OTHER_ROLE)), clients)

    assert actions(report)["visibility-tag"] == pub.UPDATED
    assert actions(report)["launch-constraint"] == pub.UPDATED
    assert actions(report)["principals"] == pub.CREATED
    assert catalog.launch_roles(portfolio.id, product.id) == [f"arn:aws:iam::{ACCOUNT}:role/{ROLE_NAME}"]
    assert [p["PrincipalARN"] for p in catalog.principals[portfolio.id]] == [STUDIO_ROLE, OTHER_ROLE]
    assert {"Key": "sagemaker:studio-visibility", "Value": "true"} in catalog.moto._list_tags_for_resource(product.arn)


def test_launch_role_override_updates_the_constraint(world: tuple[pub.Clients, CatalogModel], v1: Path) -> None:
    clients, catalog = world
    pub.apply(catalog_plan(v1), clients)
    report = pub.apply(catalog_plan(v1, launch_role_arn=OTHER_ROLE), clients)
    assert actions(report)["launch-constraint"] == pub.UPDATED
    product = catalog.product_named(PRODUCT)
    portfolio = catalog.portfolio_named(PORTFOLIO)
    assert catalog.launch_roles(portfolio.id, product.id) == [OTHER_ROLE]


def test_standard_launch_role(world: tuple[pub.Clients, CatalogModel], tmp_path: Path) -> None:
    clients, catalog = world
    folder = render_into(tmp_path / "std", launch_role="standard", service_roles="use-role")
    with pytest.raises(pub.PublishError, match="enable SageMaker project templates"):
        pub.apply(catalog_plan(folder), clients)
    trust = {"Version": "2012-10-17", "Statement": []}
    clients.iam.create_role(
        RoleName="AmazonSageMakerServiceCatalogProductsLaunchRole",
        Path="/service-role/",
        AssumeRolePolicyDocument=json.dumps(trust),
    )
    pub.apply(catalog_plan(folder), clients)
    product = catalog.product_named(PRODUCT)
    portfolio = catalog.portfolio_named(PORTFOLIO)
    expected = f"arn:aws:iam::{ACCOUNT}:role/service-role/AmazonSageMakerServiceCatalogProductsLaunchRole"
    assert catalog.launch_roles(portfolio.id, product.id) == [expected]


def test_finds_the_product_among_many_pages(world: tuple[pub.Clients, CatalogModel], v1: Path) -> None:
    clients, catalog = world
    for n in range(45):  # similar names: full-text search returns them all, over three pages
        clients.servicecatalog.create_product(
            Name=f"{PRODUCT} copy {n}", Owner="someone", ProductType="CLOUD_FORMATION_TEMPLATE"
        )
    pub.apply(catalog_plan(v1), clients)
    catalog.calls.clear()
    assert not pub.apply(catalog_plan(v1), clients).changed
    assert catalog.calls.count("SearchProductsAsAdmin") == 3


# --- failures: one message, and re-running completes the job -----------------------------------------


def test_product_owned_by_another_portfolio(world: tuple[pub.Clients, CatalogModel], v1: Path) -> None:
    clients, catalog = world
    sc = clients.servicecatalog
    other = sc.create_portfolio(DisplayName="Team B templates", ProviderName="team-b")["PortfolioDetail"]["Id"]
    product = sc.create_product(Name=PRODUCT, Owner="team-b", ProductType="CLOUD_FORMATION_TEMPLATE")
    product_id = product["ProductViewDetail"]["ProductViewSummary"]["ProductId"]
    sc.associate_product_with_portfolio(ProductId=product_id, PortfolioId=other)
    catalog.calls.clear()

    with pytest.raises(pub.PublishError) as caught:
        pub.apply(catalog_plan(v1), clients)

    message = str(caught.value)
    assert caught.value.step == "catalog-lookup"
    assert "'Team B templates'" in message and repr(PORTFOLIO) in message
    assert "--portfolio-name 'Team B templates'" in message
    assert catalog.writes() == []  # stopped before creating a portfolio


def test_missing_generated_launch_role_says_how_to_deploy_it(world: tuple[pub.Clients, CatalogModel], v1: Path) -> None:
    clients, catalog = world
    clients.iam.delete_role(RoleName=ROLE_NAME)
    with pytest.raises(pub.PublishError) as caught:
        pub.apply(catalog_plan(v1), clients)
    assert caught.value.step == "launch-role"
    assert f"role {ROLE_NAME} does not exist in account {ACCOUNT}" in str(caught.value)
    assert "aws cloudformation deploy --template-file" in caught.value.fix
    assert "launch-role-template.yaml" in caught.value.fix and "CAPABILITY_NAMED_IAM" in caught.value.fix
    assert catalog.calls == []


def test_rerun_after_a_failure_completes_the_job(world: tuple[pub.Clients, CatalogModel], v1: Path) -> None:
    clients, catalog = world
    catalog.failures["AssociatePrincipalWithPortfolio"] = "AccessDeniedException"
    with pytest.raises(pub.PublishError, match="access denied to servicecatalog:AssociatePrincipalWithPortfolio"):
        pub.apply(catalog_plan(v1), clients)

    report = pub.apply(catalog_plan(v1), clients)

    assert actions(report)["principals"] == pub.CREATED
    assert {k: v for k, v in actions(report).items() if v != pub.UNCHANGED} == {"principals": pub.CREATED}
    portfolio = catalog.portfolio_named(PORTFOLIO)  # still exactly one
    catalog.product_named(PRODUCT)
    assert catalog.principals[portfolio.id][0]["PrincipalARN"] == STUDIO_ROLE


def test_two_portfolios_with_the_name_are_refused(world: tuple[pub.Clients, CatalogModel], v1: Path) -> None:
    clients, _ = world
    for _ in range(2):
        clients.servicecatalog.create_portfolio(DisplayName=PORTFOLIO, ProviderName="x")
    with pytest.raises(pub.PublishError, match="2 portfolios are named"):
        pub.apply(catalog_plan(v1), clients)


def test_model_rejects_an_invented_field(world: tuple[pub.Clients, CatalogModel]) -> None:
    """The model's own answers go through Stubber's check: a field the API lacks fails."""
    _, catalog = world
    with pytest.raises(ParamValidationError, match=r"Unknown parameter"):
        catalog._validate_operation_response("ListPrincipalsForPortfolio", {"Principals": [{"Arn": "x"}]})
