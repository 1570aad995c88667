"""What the CloudFormation resource schemas say a type's handlers call: the source generator/iam/iam_table.py
derives its grants from.

A type's schema (`aws cloudformation describe-type`; here the copy the pinned cfn-lint bundles) lists under
`handlers.<create|read|update|delete>.permissions` the actions each handler calls, and under
`tagging.permissions` the tagging actions. https://docs.aws.amazon.com/cloudformation-cli/latest/userguide/resource-type-schema.html
"""

from __future__ import annotations

import importlib.util
import json
from collections import defaultdict
from collections.abc import Mapping
from enum import StrEnum
from functools import cache
from pathlib import Path
from typing import Any


class Operation(StrEnum):
    """A CloudFormation handler: which stack (or drift/import) operation makes the call."""

    CREATE = "create"
    UPDATE = "update"
    DELETE = "delete"
    READ = "read"


C, U, D, R = Operation.CREATE, Operation.UPDATE, Operation.DELETE, Operation.READ
CU = (C, U)

#: The CloudFormation resource schemas as the pinned cfn-lint bundles them (found without importing cfn-lint).
_SCHEMAS = Path(importlib.util.find_spec("cfnlint").submodule_search_locations[0]) / "data" / "schemas"  # type: ignore[union-attr,index]
#: API names a schema lists that are not IAM actions, and the action that authorizes each (the S3 API reference,
#: each operation's "Permissions": e.g. DeleteBucketCors "you must have permission to perform the s3:PutBucketCORS
#: action"; PutObjectLockConfiguration is authorized by s3:PutBucketObjectLockConfiguration, the service
#: authorization reference's name for it).
NOT_IAM_ACTIONS: Mapping[str, str] = {
    "s3:DeleteBucketTagging": "s3:PutBucketTagging",
    "s3:DeleteBucketCors": "s3:PutBucketCORS",
    "s3:DeleteBucketEncryption": "s3:PutEncryptionConfiguration",
    "s3:DeleteBucketLifecycle": "s3:PutLifecycleConfiguration",
    "s3:DeleteBucketReplication": "s3:PutReplicationConfiguration",
    "s3:PutBucketReplication": "s3:PutReplicationConfiguration",
    "s3:DeleteBucketAnalyticsConfiguration": "s3:PutAnalyticsConfiguration",
    "s3:DeleteBucketMetricsConfiguration": "s3:PutMetricsConfiguration",
    "s3:PutObjectLockConfiguration": "s3:PutBucketObjectLockConfiguration",
}


@cache
def resource_schema(type_name: str) -> Mapping[str, Any]:
    """The type's resource schema (the copy the pinned cfn-lint bundles)."""
    index = json.loads((_SCHEMAS / "providers" / "us-east-1.json").read_text(encoding="utf-8"))
    schema: Mapping[str, Any] = json.loads(
        (_SCHEMAS / "resources" / f"{index[type_name]}.json").read_text(encoding="utf-8")
    )
    return schema


def tagging_permissions(type_name: str) -> tuple[str, ...]:
    """The IAM actions of the type schema's `tagging.permissions` (none for a type that is not taggable)."""
    tagging = resource_schema(type_name).get("tagging") or {}
    if not tagging.get("taggable", False):
        return ()
    actions = (NOT_IAM_ACTIONS.get(p, p) for p in tagging.get("permissions", []))
    return tuple(sorted(set(actions)))


def tag_operations(action: str) -> tuple[Operation, ...]:
    """Which handler calls a tagging action: tag on create and update, untag on update, list/get on read.

    Every taggable resource needs them, whether or not the template sets `Tags`: a SageMaker project's stack is
    tagged (`sagemaker:project-name`, `sagemaker:project-id`) and CloudFormation propagates stack tags to every
    resource that supports tags. https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/resource-tagging.html
    """
    name = action.split(":", 1)[1]
    if name.startswith(("Untag", "Delete")):
        return (U,)
    if name.startswith(("List", "Get")):
        return (R,)
    return CU


@cache
def schema_operations(type_name: str) -> Mapping[str, frozenset[Operation]]:
    """IAM action -> the operations that call it, by the type's schema: its handlers' permissions (API names read as
    the action that authorizes them), and its tagging permissions on the operations `tag_operations` gives.
    Empty for a type whose schema has no handlers."""
    schema = resource_schema(type_name)
    found: dict[str, set[Operation]] = defaultdict(set)
    for operation in Operation:
        for name in (schema.get("handlers") or {}).get(operation.value, {}).get("permissions", []):
            found[NOT_IAM_ACTIONS.get(name, name)].add(operation)
    if found:
        for action in tagging_permissions(type_name):
            found[action].update(tag_operations(action))
    return {action: frozenset(ops) for action, ops in found.items()}
