"""The Service Catalog steps: portfolio, product (tagged for Studio), versions, association, constraint, principals.

`catalog_lookup` reads first and refuses an ambiguous or foreign catalog before anything is created;
each later step reads what exists and writes only what is missing. Versions carry the template's
sha256 in their description: that is how a later run knows the template changed.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from typing import Any

from generator import __version__
from generator.live.publish.errors import PublishError
from generator.live.publish.plan import VISIBILITY_TAG
from generator.live.publish.state import CREATED, UNCHANGED, UPDATED, Result, Run, paginate, tag_list, tag_map

PRODUCT_DESCRIPTION = "Multi account deployment project (mlops-gen): train in one account, deploy to staging and prod."
PORTFOLIO_DESCRIPTION = "SageMaker project templates published by mlops-gen."
#: Artifact descriptions carry the template's sha256: how a later run knows the template changed.
_SHA_IN_DESCRIPTION = re.compile(r"sha256:([0-9a-f]{64})")


def catalog_lookup(run: Run) -> Result:
    """Read-only: find both by name, and refuse a product another portfolio owns before creating anything."""
    sc = run.clients.servicecatalog
    name, product = run.opts.portfolio_name, run.opts.product_name
    found = _one_named(
        paginate(sc, "list_portfolios", "PortfolioDetails"),
        name,
        keys=("DisplayName", "Id"),
        plural="portfolios",
        fix="delete or rename the extra ones, or pass another --portfolio-name",
    )
    run.portfolio_id = found["Id"] if found else None
    summaries = (
        d["ProductViewSummary"]
        for d in paginate(sc, "search_products_as_admin", "ProductViewDetails", Filters={"FullTextSearch": [product]})
    )
    found = _one_named(
        summaries,
        product,
        keys=("Name", "ProductId"),
        plural="products",
        fix="delete the extra ones, or pass another --product-name",
    )
    run.product_id = found["ProductId"] if found else None
    if run.product_id:
        owners = _portfolios_of_product(run)
        if owners and all(p["Id"] != run.portfolio_id for p in owners):
            names = ", ".join(f"{p['DisplayName']!r} ({p['Id']})" for p in owners)
            raise PublishError(
                "catalog-lookup",
                f"product {product!r} ({run.product_id}) belongs to portfolio {names}, not {name!r}",
                f"publish with --portfolio-name {owners[0]['DisplayName']!r}, or choose another --product-name",
            )
    seen = [
        f"portfolio {run.portfolio_id}" if run.portfolio_id else "no portfolio",
        f"product {run.product_id}" if run.product_id else "no product",
    ]
    return UNCHANGED, ", ".join(seen)


def _one_named(
    items: Iterable[dict[str, Any]], name: str, *, keys: tuple[str, str], plural: str, fix: str
) -> dict[str, Any] | None:
    """The item named `name` (None if none): names are not unique in Service Catalog, so refuse two.

    `keys` are the item's name and id keys (the ids tell the user which ones to delete).
    """
    name_key, id_key = keys
    named = [item for item in items if item[name_key] == name]
    if len(named) > 1:
        ids = ", ".join(item[id_key] for item in named)
        raise PublishError("catalog-lookup", f"{len(named)} {plural} are named {name!r} ({ids})", fix)
    return named[0] if named else None


def _portfolios_of_product(run: Run) -> list[dict[str, Any]]:
    return list(
        paginate(
            run.clients.servicecatalog, "list_portfolios_for_product", "PortfolioDetails", ProductId=run.product_id
        )
    )


def portfolio(run: Run) -> Result:
    if run.portfolio_id:
        run.outputs["portfolio_id"] = run.portfolio_id
        return UNCHANGED, run.portfolio_id
    detail = run.clients.servicecatalog.create_portfolio(
        DisplayName=run.opts.portfolio_name,
        ProviderName=run.opts.product_owner,
        Description=PORTFOLIO_DESCRIPTION,
    )["PortfolioDetail"]
    run.portfolio_id = detail["Id"]
    run.outputs["portfolio_id"] = detail["Id"]
    return CREATED, detail["Id"]


def _artifact(run: Run, number: int) -> dict[str, Any]:
    sha = run.plan.release.template.sha256
    return {
        "Name": f"{number}.0",
        "Description": f"mlops-gen {__version__}, template sha256:{sha}",
        "Info": {"LoadTemplateFromURL": run.plan.template_url},
        "Type": "CLOUD_FORMATION_TEMPLATE",
    }


def product(run: Run) -> Result:
    if run.product_id:
        run.outputs["product_id"] = run.product_id
        return UNCHANGED, run.product_id
    response = run.clients.servicecatalog.create_product(
        Name=run.opts.product_name,
        Owner=run.opts.product_owner,
        Description=PRODUCT_DESCRIPTION,
        ProductType="CLOUD_FORMATION_TEMPLATE",
        Tags=tag_list(dict([VISIBILITY_TAG])),
        ProvisioningArtifactParameters=_artifact(run, 1),
    )
    run.product_id = response["ProductViewDetail"]["ProductViewSummary"]["ProductId"]
    run.product_created = True
    run.outputs["product_id"] = run.product_id
    artifact_id = response.get("ProvisioningArtifactDetail", {}).get("Id")
    if artifact_id:
        run.outputs["provisioning_artifact_id"] = artifact_id
    return CREATED, f"{run.product_id} with version 1.0"


def version(run: Run) -> Result:
    sc = run.clients.servicecatalog
    if run.product_created:
        return UNCHANGED, "version 1.0 was created with the product"
    details = sc.list_provisioning_artifacts(ProductId=run.product_id).get("ProvisioningArtifactDetails", [])
    active = [a for a in details if a.get("Active", True)]
    if active:
        newest = max(active, key=lambda a: a["CreatedTime"])
        match = _SHA_IN_DESCRIPTION.search(newest.get("Description", ""))
        if match and match.group(1) == run.plan.release.template.sha256:
            run.outputs["provisioning_artifact_id"] = newest["Id"]
            return UNCHANGED, f"newest version {newest.get('Name')} ({newest['Id']}) has this template"
    created = sc.create_provisioning_artifact(ProductId=run.product_id, Parameters=_artifact(run, len(details) + 1))[
        "ProvisioningArtifactDetail"
    ]
    run.outputs["provisioning_artifact_id"] = created["Id"]
    return CREATED, f"version {created.get('Name')} ({created['Id']})"


def association(run: Run) -> Result:
    if run.portfolio_id in {p["Id"] for p in _portfolios_of_product(run)}:
        return UNCHANGED, f"product {run.product_id} is in portfolio {run.portfolio_id}"
    run.clients.servicecatalog.associate_product_with_portfolio(ProductId=run.product_id, PortfolioId=run.portfolio_id)
    return CREATED, f"product {run.product_id} added to portfolio {run.portfolio_id}"


def launch_constraint(run: Run) -> Result:
    sc, role_arn = run.clients.servicecatalog, run.launch_role_arn
    wanted = json.dumps({"RoleArn": role_arn})
    launch = [
        c
        for c in paginate(
            sc,
            "list_constraints_for_portfolio",
            "ConstraintDetails",
            PortfolioId=run.portfolio_id,
            ProductId=run.product_id,
        )
        if c["Type"] == "LAUNCH"
    ]
    if not launch:
        created = sc.create_constraint(
            PortfolioId=run.portfolio_id,
            ProductId=run.product_id,
            Type="LAUNCH",
            Parameters=wanted,
            Description="Launch role (mlops-gen)",
        )["ConstraintDetail"]
        return CREATED, f"{created['ConstraintId']}: {role_arn}"
    constraint_id = launch[0]["ConstraintId"]
    current = json.loads(sc.describe_constraint(Id=constraint_id).get("ConstraintParameters") or "{}")
    if current.get("RoleArn") == role_arn:
        return UNCHANGED, f"{constraint_id}: {role_arn}"
    sc.update_constraint(Id=constraint_id, Parameters=wanted)
    was = current.get("RoleArn") or current.get("LocalRoleName") or "another role"
    return UPDATED, f"{constraint_id}: {was} -> {role_arn}"


def principals(run: Run) -> Result:
    sc = run.clients.servicecatalog
    present = {
        p["PrincipalARN"]
        for p in paginate(sc, "list_principals_for_portfolio", "Principals", PortfolioId=run.portfolio_id)
    }
    missing = [arn for arn in run.opts.principal_arns if arn not in present]
    for arn in missing:
        sc.associate_principal_with_portfolio(PortfolioId=run.portfolio_id, PrincipalARN=arn, PrincipalType="IAM")
    if missing:
        return CREATED, "added " + ", ".join(missing)
    if not present:
        return UNCHANGED, "no principal: Studio users see nothing until you pass --principal-arn <execution role>"
    return UNCHANGED, f"{len(present)} principal(s) already associated"


def visibility_tag(run: Run) -> Result:
    sc = run.clients.servicecatalog
    key, value = VISIBILITY_TAG
    tags = tag_map(sc.describe_product_as_admin(Id=run.product_id).get("Tags", []))
    if tags.get(key, "").lower() == value:
        return UNCHANGED, f"{key}={tags[key]}"
    sc.update_product(Id=run.product_id, AddTags=tag_list({key: value}))
    return UPDATED, f"{key}={value}"
