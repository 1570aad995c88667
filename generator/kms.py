"""The product's customer managed keys: the tag that scopes the launch role's key administration.

Every `AWS::KMS::Key` the product creates carries the tag `OWNER_TAG_KEY` (generator/iam_table.py)
whose value is the generated launch role's name. The launch role's key actions are generated from
generator/iam_table.py with `aws:RequestTag/<key>` on kms:CreateKey (and the kms:TagResource that
CreateKey's Tags need) and `aws:ResourceTag/<key>` on every key-scoped action, so the role administers
only keys it created for a product of this prefix, not every key of the account and region
(issue 13, point 4). The service authorization reference lists those condition keys
(https://docs.aws.amazon.com/service-authorization/latest/reference/list_awskeymanagementservice.html):
aws:RequestTag/${TagKey} on CreateKey and TagResource, aws:ResourceTag/${TagKey} on the `key` resource type.
"""

from __future__ import annotations

from troposphere import Tags

from generator.config import RenderConfig
from generator.iam_table import OWNER_TAG_KEY
from generator.naming import launch_role_name


def owner_tag_value(cfg: RenderConfig) -> str:
    """The owner tag's value: the launch role that creates (and alone may administer) the product's keys."""
    return launch_role_name(cfg.name_prefix)


def owner_tags(cfg: RenderConfig) -> Tags:
    """The tags every key of the product carries (a literal value: IAM compares it with a fixed string)."""
    return Tags({OWNER_TAG_KEY: owner_tag_value(cfg)})
