"""The environment-wide resources every component shares: the KMS key and the S3 buckets.

One key (when `security.kms_key: create`) and three buckets per environment: `artifacts`
(models, pipeline code and outputs), `capture` (endpoint data capture) and `monitoring`
(baselines and monitor reports). Each bucket is private, versioned, encrypted at rest and
reachable over TLS only.
"""

from __future__ import annotations

from types import MappingProxyType

from mlinfra.diagnostics import SourceRange
from mlinfra.ir.graph import Args, Call, Concat, Json, Ref, Resource
from mlinfra.ir.sagemaker.context import BUCKETS, KMS_KEY, LoweringContext
from mlinfra.sagemaker.arns import partition

# A protected environment gets KMS's longest grace period before a deleted key is gone, since
# losing the key loses every object encrypted with it; others the shortest.
PROTECTED_KEY_DELETION_DAYS = 30
KEY_DELETION_DAYS = 7


def lower_environment(ctx: LoweringContext) -> list[Resource]:
    resources = kms_key(ctx)
    for purpose in BUCKETS:
        resources.extend(bucket(ctx, purpose))
    return resources


# --- sources and tags -------------------------------------------------------------------------


def environment_range(ctx: LoweringContext) -> SourceRange:
    return ctx.spec.environment.key_range


def security_range(ctx: LoweringContext, key: str) -> SourceRange:
    """Where `security.<key>` was set: the environment's settings, else `defaults`."""
    return ctx.spec.security.range_of(key)


def environment_tags(ctx: LoweringContext, address: str) -> MappingProxyType:
    # Shared resources belong to no spec component; tagging them with their own address keeps
    # the three mlinfra tags on every resource, so cost and ownership reports need no gaps.
    return MappingProxyType({**ctx.tags(), "mlinfra:component": address})


# --- the key ----------------------------------------------------------------------------------


def kms_key(ctx: LoweringContext) -> list[Resource]:
    if ctx.spec.security.kms_key != "create":
        return []
    source = security_range(ctx, "kms_key")
    project, env = ctx.spec.project, ctx.spec.env
    key = ctx.resource(
        KMS_KEY,
        "aws.kms.Key",
        {
            "description": f"mlinfra {project} {env}: encrypts data at rest",
            "enable_key_rotation": True,
            "policy": Json(key_policy(ctx)),
            "deletion_window_in_days": (
                PROTECTED_KEY_DELETION_DAYS if ctx.spec.protect else KEY_DELETION_DAYS
            ),
            "tags": environment_tags(ctx, KMS_KEY),
        },
        source,
    )
    alias = ctx.resource(
        f"{KMS_KEY}/alias",
        "aws.kms.Alias",
        {"name": f"alias/mlinfra/{project}-{env}", "target_key_id": Ref(KMS_KEY, "key_id")},
        source,
    )
    return [key, alias]


def key_policy(ctx: LoweringContext) -> dict:
    """KMS's default policy (the account administers the key, IAM grants the rest, so roles
    need only their own least-privilege statements), plus what CloudWatch needs to publish
    alarms to the KMS-encrypted alert topics: without it, prod alerts would silently fail."""
    account = ctx.spec.account or Call("account_id", ())
    root = Concat((f"arn:{partition(ctx.spec.region)}:iam::", account, ":root"))
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "AccountAdministersTheKey",
                "Effect": "Allow",
                "Principal": {"AWS": root},
                "Action": "kms:*",
                "Resource": "*",
            },
            {
                "Sid": "CloudWatchAlarmsPublishToEncryptedTopics",
                "Effect": "Allow",
                "Principal": {"Service": "cloudwatch.amazonaws.com"},
                "Action": ["kms:Decrypt", "kms:GenerateDataKey*"],
                "Resource": "*",
            },
        ],
    }


# --- the buckets ------------------------------------------------------------------------------


def bucket(ctx: LoweringContext, purpose: str) -> list[Resource]:
    address = f"bucket.{purpose}"
    source = environment_range(ctx)
    name = ctx.bucket(purpose)
    main = ctx.resource(
        address,
        "aws.s3.Bucket",
        {
            "bucket": ctx.bucket_name(purpose),
            # Never empty a bucket to delete it: the data outlives the infrastructure.
            "force_destroy": False,
            "tags": environment_tags(ctx, address),
        },
        source,
    )
    public_access_block = ctx.resource(
        f"{address}/public-access-block",
        "aws.s3.BucketPublicAccessBlock",
        {
            "bucket": name,
            "block_public_acls": True,
            "block_public_policy": True,
            "ignore_public_acls": True,
            "restrict_public_buckets": True,
        },
        source,
    )
    versioning = ctx.resource(
        f"{address}/versioning",
        "aws.s3.BucketVersioning",
        {
            "bucket": name,
            "versioning_configuration": Args(
                "aws.s3.BucketVersioningVersioningConfigurationArgs", {"status": "Enabled"}
            ),
        },
        source,
    )
    encryption = ctx.resource(
        f"{address}/encryption",
        "aws.s3.BucketServerSideEncryptionConfiguration",
        {"bucket": name, "rules": [encryption_rule(ctx)]},
        security_range(ctx, "kms_key"),
    )
    policy = ctx.resource(
        f"{address}/policy",
        "aws.s3.BucketPolicy",
        {"bucket": name, "policy": Json(tls_only_policy(Ref(address, "arn")))},
        source,
        # S3 rejects a bucket policy written while the public access block is being changed
        # (OperationAborted), so the block goes first.
        depends_on=(public_access_block.address,),
    )
    return [main, public_access_block, versioning, encryption, policy]


def encryption_rule(ctx: LoweringContext) -> Args:
    key = ctx.kms_key
    if key is None:
        default = {"sse_algorithm": "AES256"}
        rule: dict = {}
    else:
        default = {"sse_algorithm": "aws:kms", "kms_master_key_id": key}
        # A bucket key cuts KMS requests (and their cost) by caching a data key per bucket;
        # it only means something for SSE-KMS.
        rule = {"bucket_key_enabled": True}
    by_default = Args(
        "aws.s3.BucketServerSideEncryptionConfigurationRuleApplyServerSideEncryptionByDefaultArgs",
        default,
    )
    return Args(
        "aws.s3.BucketServerSideEncryptionConfigurationRuleArgs",
        {"apply_server_side_encryption_by_default": by_default, **rule},
    )


def tls_only_policy(bucket_arn: Ref) -> dict:
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "DenyInsecureTransport",
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:*",
                "Resource": [bucket_arn, Concat((bucket_arn, "/*"))],
                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
            }
        ],
    }
