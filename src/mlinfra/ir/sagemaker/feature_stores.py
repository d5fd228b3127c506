"""Feature stores: the SageMaker Feature Group a spec feature store becomes, and its role.

The online store keeps the latest record per identifier (for `ttl` at most, when one is set);
the offline store appends every record to S3 under the artifacts bucket, at
`s3://<artifacts>/feature-store/<store>`, with a Glue (parquet) or Iceberg table over it.
Pipelines read that prefix as a processing or training input, so the address is shared
through `offline_store_uri`.

The role is the one SageMaker uses to write the offline store: it may write only under the
store's own prefix, use the environment's key, and update the store's table in the
`sagemaker_featurestore` Glue database (where SageMaker creates it).
"""

from __future__ import annotations

from mlinfra.ir.graph import Concat, Resource
from mlinfra.ir.requests.feature_stores import create_feature_group
from mlinfra.ir.sagemaker import fields, iam
from mlinfra.ir.sagemaker.arns import arn
from mlinfra.ir.sagemaker.context import LoweringContext
from mlinfra.ir.sagemaker.translate import translate
from mlinfra.spec.model import FeatureStore

# Where SageMaker creates offline-store tables when Glue table creation is on.
GLUE_DATABASE = "sagemaker_featurestore"


def lower_feature_store(ctx: LoweringContext, component: FeatureStore) -> list[Resource]:
    resources: list[Resource] = []
    request = create_feature_group(ctx, component, offline_store_uri(ctx, component.name))
    key = ctx.kms_key
    if key is not None and "OnlineStoreConfig" in request:
        request["OnlineStoreConfig"]["SecurityConfig"] = {"KmsKeyId": key}
    depends_on: tuple[str, ...] = ()
    offline = request.get("OfflineStoreConfig")
    if offline is not None:
        if key is not None:
            offline["S3StorageConfig"]["KmsKeyId"] = key
        # The table is what makes the offline store queryable (Athena, Spark).
        offline["DisableGlueTableCreation"] = False
        # Only the offline store acts with a role: an online-only group needs none.
        role, role_arn = iam.execution_role(ctx, component, role_statements(ctx, component))
        resources.extend(role)
        request["RoleArn"] = role_arn
        # SageMaker checks the role can write the offline store when the group is created.
        depends_on = (f"{component.address}/role-policy",)
    resources.append(
        ctx.resource(
            component.address,
            fields.FEATURE_GROUP.type,
            translate(fields.FEATURE_GROUP, request),
            component.key_range,
            depends_on=depends_on,
        )
    )
    return resources


def offline_store_uri(ctx: LoweringContext, store: str) -> Concat:
    """`s3://<artifacts>/feature-store/<store>`: where the offline store of `store` lives."""
    return ctx.s3_uri("artifacts", "feature-store", store)


# --- the role ---------------------------------------------------------------------------------


def role_statements(ctx: LoweringContext, component: FeatureStore) -> list[dict]:
    """Write the store's own prefix, use the key, update the store's Glue table: no more.

    The permissions of AWS's AmazonSageMakerFeatureStoreAccess, narrowed from "every bucket
    named *sagemaker*" to this store's prefix in the artifacts bucket.
    """
    prefix = Concat((ctx.bucket("artifacts", "arn"), f"/feature-store/{component.name}/*"))
    statements = [
        iam.statement(["s3:GetBucketAcl"], [ctx.bucket("artifacts", "arn")], "OfflineBucket"),
        # GetObject reads the manifests SageMaker keeps in the store's metadata folder.
        iam.statement(
            ["s3:GetObject", "s3:PutObject", "s3:PutObjectAcl"], [prefix], "OfflineStore"
        ),
        # SageMaker names the table itself (group name and creation time), so the database
        # is as far as the table can be narrowed.
        iam.statement(
            ["glue:GetTable", "glue:UpdateTable"],
            [
                arn(ctx, "glue", "catalog"),
                arn(ctx, "glue", f"database/{GLUE_DATABASE}"),
                arn(ctx, "glue", f"table/{GLUE_DATABASE}/*"),
            ],
            "OfflineTable",
        ),
    ]
    if ctx.kms_key is not None:
        statements.append(
            iam.statement(
                ["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey"],
                [ctx.kms_key],
                iam.USE_KMS_KEY,
            )
        )
    return statements
