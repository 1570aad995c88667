"""Approval notifications: an SNS topic (KMS-encrypted) that tells the approvers by email.

Rendered only with `--approver-email`: without an address there is nobody to tell, and the standard
launch role could not create a KMS key or an SNS topic anyway (generator/companions/launch_role.py refuses
that combination, naming the permission, from generator/iam/iam_table.py's entries for the two types).

Who publishes: CodePipeline publishes the approval notification *as the pipeline's service role*
(CodePipeline User Guide, "Grant Amazon SNS permissions to a CodePipeline service role"), so that
role needs `sns:Publish` on the topic and, the topic being encrypted, `kms:GenerateDataKey*` and
`kms:Decrypt` on its key (SNS server-side encryption: the publisher's permissions). The
SageMaker-provided pipeline role has none of these: the prerequisites template adds them
(generator/companions/prerequisites.py), scoped to this account's `<prefix>*` topics and to keys used through
SNS only. No topic policy is needed for a same-account role (and a `codepipeline.amazonaws.com`
service-principal statement would grant something CodePipeline never uses); the key policy keeps
the default statement that lets IAM policies of the account grant use of the key.
"""

from __future__ import annotations

from troposphere import GetAtt, Ref, Sub, Template
from troposphere.kms import Alias, Key
from troposphere.sns import SubscriptionResource, Topic

from generator.config import RenderConfig
from generator.product.kms import launched_key_policy, owner_tags


def add_approval_key(template: Template, cfg: RenderConfig) -> Key:
    """The customer managed key of the approval topic (rotated yearly) and its alias."""
    key = template.add_resource(
        Key(
            "ApprovalTopicKey",
            Description=Sub(f"Encrypts the approval notifications of {cfg.names.pipeline.pattern}"),
            EnableKeyRotation=True,
            KeyPolicy=launched_key_policy(
                cfg
            ),  # the launch role administers it by this policy (generator/product/kms.py)
            Tags=owner_tags(cfg),
            # Stated, not defaulted (cfn-lint I3011): the key only encrypts notifications in flight, so
            # deleting the project schedules its deletion (a 30-day window), like every other project resource.
            DeletionPolicy="Delete",
            UpdateReplacePolicy="Delete",
        )
    )
    template.add_resource(
        Alias("ApprovalTopicKeyAlias", AliasName=Sub(cfg.names.approval_key_alias.pattern), TargetKeyId=Ref(key))
    )
    return key


def add_approval_topic(template: Template, cfg: RenderConfig) -> Topic | None:
    """The topic the manual approval publishes to, with one email subscription per approver (or None)."""
    if not cfg.approver_emails:
        return None
    key = add_approval_key(template, cfg)
    topic = template.add_resource(
        Topic(
            "ApprovalTopic",
            TopicName=Sub(cfg.names.approval_topic.pattern),
            DisplayName="Model deployment approval",
            KmsMasterKeyId=GetAtt(key, "Arn"),
        )
    )
    for number, email in enumerate(cfg.approver_emails, start=1):
        # Each address receives a confirmation email first; SNS delivers nothing until it is confirmed.
        template.add_resource(
            SubscriptionResource(f"ApproverSubscription{number}", TopicArn=Ref(topic), Protocol="email", Endpoint=email)
        )
    return topic
