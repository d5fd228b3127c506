"""Rules on feature stores: how each SageMaker Feature Group's online and offline stores are
encrypted at rest. A store that is not enabled has nothing to encrypt and passes."""

from __future__ import annotations

from collections.abc import Iterator

from mlinfra.ir.graph import Resource
from mlinfra.policy.model import AuditContext, Finding, References, rule
from mlinfra.policy.rule_ids import RuleId
from mlinfra.policy.severity import Severity
from mlinfra.policy.values import fields

FEATURE_GROUP = "aws.sagemaker.FeatureGroup"
# The in-memory tier of the online store takes no KMS key (AWS encrypts it itself), so
# only the standard tier is judged.
IN_MEMORY = "InMemory"


@rule(
    RuleId.FEATURE_STORE_ONLINE_KMS,
    title="Feature stores encrypt their online store with a KMS key",
    severity=Severity.MEDIUM,
    packs=("sagemaker-security",),
    resource_types=(FEATURE_GROUP,),
    rationale=(
        "The online store keeps the latest record of every entity (customer profiles, say) "
        "for serving. Without a KMS key of the environment's it is encrypted with a key AWS "
        "manages, whose key policy you cannot restrict to the roles that should read it."
    ),
    remediation=(
        "Set `security.kms_key: create` (or the ARN of an existing key) for the environment, "
        "or under `defaults.security` for every environment."
    ),
    references=References(
        aws_config=("sagemaker-featuregroup-online-store-encryption",),
        security_hub=("SageMaker.18",),
    ),
)
def feature_store_online_kms(resource: Resource, ctx: AuditContext) -> Iterator[Finding]:
    online = fields(resource.properties.get("online_store_config"))
    if not online.get("enable_online_store") or online.get("storage_type") == IN_MEMORY:
        return
    if fields(online.get("security_config")).get("kms_key_id") is None:
        yield ctx.finding(
            feature_store_online_kms,
            resource,
            f"the online store of {resource.component} is not encrypted with a KMS key",
            ctx.setting_at("security", "kms_key"),
        )


@rule(
    RuleId.FEATURE_STORE_OFFLINE_KMS,
    title="Feature stores encrypt their offline store with a KMS key",
    severity=Severity.MEDIUM,
    packs=("sagemaker-security",),
    resource_types=(FEATURE_GROUP,),
    rationale=(
        "The offline store appends every record ever ingested to S3: the full history of "
        "the features, often personal data. Without a KMS key SageMaker writes it with the "
        "bucket's default encryption only, which no key policy may restrict."
    ),
    remediation=(
        "Set `security.kms_key: create` (or the ARN of an existing key) for the environment, "
        "or under `defaults.security` for every environment."
    ),
    references=References(
        aws_config=("sagemaker-featuregroup-encryption-at-rest",),
        security_hub=("SageMaker.17",),
    ),
)
def feature_store_offline_kms(resource: Resource, ctx: AuditContext) -> Iterator[Finding]:
    offline = fields(resource.properties.get("offline_store_config"))
    if not offline:
        return
    if fields(offline.get("s3_storage_config")).get("kms_key_id") is None:
        yield ctx.finding(
            feature_store_offline_kms,
            resource,
            f"the offline store of {resource.component} is not encrypted with a KMS key",
            ctx.setting_at("security", "kms_key"),
        )
