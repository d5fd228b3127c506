"""Rules on the environment's shared storage: its S3 buckets (with the public access block,
versioning, encryption and policy resources attached to each) and its KMS key.

Buckets and the key belong to no spec component: a finding points at the environment's
`security.kms_key` setting when that setting decides the outcome, else at the environment.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from mlinfra.diagnostics import SourceRange
from mlinfra.ir.graph import Concat, Ref, Resource
from mlinfra.policy.model import AuditContext, Finding, References, rule
from mlinfra.policy.rule_ids import RuleId
from mlinfra.policy.severity import Severity
from mlinfra.policy.values import as_tuple, fields, json_document

BUCKET = "aws.s3.Bucket"
PUBLIC_ACCESS_BLOCK = "aws.s3.BucketPublicAccessBlock"
VERSIONING = "aws.s3.BucketVersioning"
ENCRYPTION = "aws.s3.BucketServerSideEncryptionConfiguration"
BUCKET_POLICY = "aws.s3.BucketPolicy"
KMS_KEY = "aws.kms.Key"

PUBLIC_ACCESS_SETTINGS = (
    "block_public_acls",
    "block_public_policy",
    "ignore_public_acls",
    "restrict_public_buckets",
)
KMS_ALGORITHMS = ("aws:kms", "aws:kms:dsse")  # SSE-KMS and dual-layer SSE-KMS
# Only symmetric encryption keys rotate automatically; KMS refuses rotation for the others.
ROTATABLE_KEY_SPEC = "SYMMETRIC_DEFAULT"


def attached(ctx: AuditContext, bucket: Resource, type_name: str) -> list[Resource]:
    """The resources of `type_name` configuring `bucket`: those whose `bucket` is the
    bucket's own name, by Ref or written out."""
    name = bucket.properties.get("bucket")
    return [
        r
        for r in ctx.of_type(type_name)
        if _names_bucket(r.properties.get("bucket"), bucket.address, name)
    ]


def _names_bucket(value: Any, address: str, name: Any) -> bool:
    if isinstance(value, Ref):
        return value.address == address
    return value is not None and value == name


def environment_source(ctx: AuditContext, resource: Resource) -> SourceRange | None:
    # Lowering gives shared resources the range of the environment whose settings they
    # follow (a preview's base), which is where the fix goes.
    return resource.source if resource.source is not None else ctx.setting_at()


# --- buckets --------------------------------------------------------------------------------


@rule(
    RuleId.S3_PUBLIC_ACCESS_BLOCK,
    title="Buckets block all public access",
    severity=Severity.HIGH,
    packs=("baseline",),
    resource_types=(BUCKET,),
    rationale=(
        "The buckets hold training data, model artifacts and captured inference requests. "
        "S3 Block Public Access, with all four settings on, overrides any ACL or bucket "
        "policy that would make them public, so one mistaken grant cannot expose them."
    ),
    remediation=(
        "Nothing to write in mlinfra.yaml: mlinfra blocks all public access on every bucket "
        "it creates, so a finding here is a bug in mlinfra's lowering; report it."
    ),
    references=References(
        checkov=("CKV_AWS_53", "CKV_AWS_54", "CKV_AWS_55", "CKV_AWS_56", "CKV2_AWS_6"),
        aws_config=("s3-bucket-level-public-access-prohibited",),
        security_hub=("S3.8",),
    ),
)
def s3_public_access_block(resource: Resource, ctx: AuditContext) -> Iterator[Finding]:
    blocks = attached(ctx, resource, PUBLIC_ACCESS_BLOCK)
    source = environment_source(ctx, resource)
    if not blocks:
        message = f"{resource.address} has no public access block"
        yield ctx.finding(s3_public_access_block, resource, message, source)
        return
    for block in blocks:
        off = [s for s in PUBLIC_ACCESS_SETTINGS if block.properties.get(s) is not True]
        if off:
            message = f"the public access block of {resource.address} leaves {', '.join(off)} off"
            yield ctx.finding(s3_public_access_block, resource, message, source)


@rule(
    RuleId.S3_TLS_ONLY,
    title="Buckets refuse requests that do not use TLS",
    severity=Severity.MEDIUM,
    packs=("baseline",),
    resource_types=(BUCKET,),
    rationale=(
        "S3 accepts plain HTTP unless the bucket policy denies it. A statement denying every "
        "S3 action on the bucket and its objects when `aws:SecureTransport` is false keeps "
        "training data and models off unencrypted connections."
    ),
    remediation=(
        "Nothing to write in mlinfra.yaml: mlinfra gives every bucket it creates a policy "
        "denying requests without TLS, so a finding here is a bug in mlinfra's lowering; "
        "report it."
    ),
    references=References(
        aws_config=("s3-bucket-ssl-requests-only",),
        security_hub=("S3.5",),
    ),
)
def s3_tls_only(resource: Resource, ctx: AuditContext) -> Iterator[Finding]:
    policies = attached(ctx, resource, BUCKET_POLICY)
    statements = [s for p in policies for s in _statements(p.properties.get("policy"))]
    if not any(_denies_plain_http(s, resource) for s in statements):
        what = "its bucket policy does not deny" if policies else "it has no bucket policy to deny"
        message = (
            f"{resource.address} accepts requests without TLS: {what} "
            "s3:* on the bucket and its objects when aws:SecureTransport is false"
        )
        yield ctx.finding(s3_tls_only, resource, message, environment_source(ctx, resource))


def _statements(policy: Any) -> tuple[Mapping[str, Any], ...]:
    document = json_document(policy)
    return tuple(s for s in as_tuple(fields(document).get("Statement")) if isinstance(s, Mapping))


def _denies_plain_http(statement: Mapping[str, Any], bucket: Resource) -> bool:
    if statement.get("Effect") != "Deny" or not _everyone(statement.get("Principal")):
        return False
    if not any(str(a).lower() in ("*", "s3:*") for a in as_tuple(statement.get("Action"))):
        return False
    condition = fields(statement.get("Condition"))
    insecure = (
        fields(condition.get(operator)).get("aws:SecureTransport")
        for operator in ("Bool", "BoolIfExists")
    )
    if not any(str(v).lower() == "false" for value in insecure for v in as_tuple(value)):
        return False
    resources = as_tuple(statement.get("Resource"))
    return "*" in resources or (
        _is_bucket_arn(resources, bucket) and _is_bucket_arn(resources, bucket, "/*")
    )


def _everyone(principal: Any) -> bool:
    if principal == "*":
        return True
    return "*" in as_tuple(fields(principal).get("AWS"))


def _is_bucket_arn(resources: tuple[Any, ...], bucket: Resource, suffix: str = "") -> bool:
    """Whether `resources` name the bucket's ARN (with `suffix`: its objects), by Ref or
    written out."""
    arn = Ref(bucket.address, "arn")
    name = bucket.properties.get("bucket")
    for item in resources:
        if not suffix and item == arn:
            return True
        if suffix and item == Concat((arn, suffix)):
            return True
        if isinstance(item, str) and isinstance(name, str) and item.endswith(f":::{name}{suffix}"):
            return True
    return False


@rule(
    RuleId.S3_VERSIONING,
    title="Buckets keep every version of their objects",
    severity=Severity.LOW,
    packs=("baseline", "prod-readiness"),
    resource_types=(BUCKET,),
    rationale=(
        "Models, pipeline outputs and monitoring baselines are overwritten by later runs and "
        "can be deleted by mistake. Versioning keeps the earlier versions, so a deployment "
        "can be rolled back to the artifact it served and a deleted object recovered."
    ),
    remediation=(
        "Nothing to write in mlinfra.yaml: mlinfra turns versioning on for every bucket it "
        "creates, so a finding here is a bug in mlinfra's lowering; report it."
    ),
    references=References(
        checkov=("CKV_AWS_21",),
        aws_config=("s3-bucket-versioning-enabled",),
        security_hub=("S3.14",),
    ),
)
def s3_versioning(resource: Resource, ctx: AuditContext) -> Iterator[Finding]:
    statuses = [
        fields(v.properties.get("versioning_configuration")).get("status")
        for v in attached(ctx, resource, VERSIONING)
    ]
    if "Enabled" not in statuses:
        state = f"is {statuses[0]}" if statuses and statuses[0] else "is not configured"
        message = f"versioning of {resource.address} {state}"
        yield ctx.finding(s3_versioning, resource, message, environment_source(ctx, resource))


@rule(
    RuleId.S3_KMS_ENCRYPTION,
    title="Buckets encrypt objects with a KMS key by default",
    severity=Severity.MEDIUM,
    packs=("sagemaker-security",),
    resource_types=(BUCKET,),
    rationale=(
        "With S3-managed keys (SSE-S3) anyone allowed to read an object reads it decrypted. "
        "SSE-KMS adds the key policy as a second gate and logs every use of the key in "
        "CloudTrail, so access to training data and models is controlled and audited twice."
    ),
    remediation=(
        "Set `security.kms_key: create` (or the ARN of an existing key) for the environment, "
        "or under `defaults.security` for every environment: mlinfra then encrypts every "
        "bucket with it."
    ),
    references=References(
        checkov=("CKV_AWS_145",),
        aws_config=("s3-default-encryption-kms",),
        security_hub=("S3.17",),
    ),
)
def s3_kms_encryption(resource: Resource, ctx: AuditContext) -> Iterator[Finding]:
    algorithms = [
        fields(fields(r).get("apply_server_side_encryption_by_default")).get("sse_algorithm")
        for config in attached(ctx, resource, ENCRYPTION)
        for r in as_tuple(config.properties.get("rules"))
    ]
    if not any(a in KMS_ALGORITHMS for a in algorithms):
        used = ", ".join(str(a) for a in algorithms if a)
        message = (
            f"{resource.address} encrypts objects with {used}, not a KMS key"
            if used
            else f"{resource.address} has no default encryption with a KMS key"
        )
        yield ctx.finding(
            s3_kms_encryption, resource, message, ctx.setting_at("security", "kms_key")
        )


# --- the key --------------------------------------------------------------------------------


@rule(
    RuleId.KMS_KEY_ROTATION,
    title="KMS keys rotate their key material every year",
    severity=Severity.MEDIUM,
    packs=("baseline",),
    resource_types=(KMS_KEY,),
    rationale=(
        "Automatic rotation replaces the key material yearly while older material still "
        "decrypts what it encrypted, which limits how much data any one piece of material "
        "protects, at no operational cost. Only symmetric keys can rotate; others pass."
    ),
    remediation=(
        "Nothing to write in mlinfra.yaml: the key mlinfra creates (`security.kms_key: "
        "create`) always rotates, so a finding here is a bug in mlinfra's lowering; report "
        "it. A key given by ARN is not created by mlinfra and not checked here: turn on its "
        "rotation in KMS."
    ),
    references=References(
        checkov=("CKV_AWS_7",),
        aws_config=("cmk-backing-key-rotation-enabled",),
        security_hub=("KMS.4",),
    ),
)
def kms_key_rotation(resource: Resource, ctx: AuditContext) -> Iterator[Finding]:
    spec = resource.properties.get("customer_master_key_spec") or ROTATABLE_KEY_SPEC
    if spec == ROTATABLE_KEY_SPEC and resource.properties.get("enable_key_rotation") is not True:
        yield ctx.finding(
            kms_key_rotation,
            resource,
            f"{resource.address} does not rotate its key material",
            ctx.setting_at("security", "kms_key"),
        )
