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

from typing import Any

from mlinfra.ir.graph import Args, Concat, Resource
from mlinfra.ir.sagemaker import iam
from mlinfra.ir.sagemaker.arns import arn
from mlinfra.ir.sagemaker.context import LoweringContext
from mlinfra.spec.model import FeatureStore
from mlinfra.spec.values import parse_duration

FEATURE_TYPES = {"string": "String", "integral": "Integral", "fractional": "Fractional"}
THROUGHPUT_MODES = {"on-demand": "OnDemand", "provisioned": "Provisioned"}
# SageMaker's ThroughputConfig fields -> pulumi_aws's FeatureGroupThroughputConfigArgs.
THROUGHPUT_ARGS = {
    "ThroughputMode": "throughput_mode",
    "ProvisionedReadCapacityUnits": "provisioned_read_capacity_units",
    "ProvisionedWriteCapacityUnits": "provisioned_write_capacity_units",
}
TABLE_FORMATS = {"parquet": "Glue", "iceberg": "Iceberg"}
# SageMaker's TtlDuration units, largest first: a TTL is written in the largest whole one.
TTL_UNITS = (("Weeks", 7 * 86400), ("Days", 86400), ("Hours", 3600), ("Minutes", 60))
# Where SageMaker creates offline-store tables when Glue table creation is on.
GLUE_DATABASE = "sagemaker_featurestore"


def lower_feature_store(ctx: LoweringContext, component: FeatureStore) -> list[Resource]:
    resources: list[Resource] = []
    properties: dict[str, Any] = {
        "feature_group_name": ctx.name(component, "feature_group"),
        "record_identifier_feature_name": component.record_identifier,
        "event_time_feature_name": component.event_time,
        "feature_definitions": feature_definitions(component),
    }
    online = online_store_config(ctx, component)
    if online is not None:
        properties["online_store_config"] = online
    throughput = throughput_config(component)
    if throughput is not None:
        properties["throughput_config"] = Args(
            "aws.sagemaker.FeatureGroupThroughputConfigArgs",
            {THROUGHPUT_ARGS[field]: value for field, value in throughput.items()},
        )
    depends_on: tuple[str, ...] = ()
    if component.offline.enabled:
        # Only the offline store acts with a role: an online-only group needs none.
        role, role_arn = iam.execution_role(ctx, component, role_statements(ctx, component))
        resources.extend(role)
        properties["offline_store_config"] = offline_store_config(ctx, component)
        properties["role_arn"] = role_arn
        # SageMaker checks the role can write the offline store when the group is created.
        depends_on = (f"{component.address}/role-policy",)
    if component.description:
        properties["description"] = component.description
    properties["tags"] = ctx.tags(component)
    resources.append(
        ctx.resource(
            component.address,
            "aws.sagemaker.FeatureGroup",
            properties,
            component.key_range,
            depends_on=depends_on,
        )
    )
    return resources


# --- the feature group ------------------------------------------------------------------------


def offline_store_uri(ctx: LoweringContext, store: str) -> Concat:
    """`s3://<artifacts>/feature-store/<store>`: where the offline store of `store` lives."""
    return ctx.s3_uri("artifacts", "feature-store", store)


def feature_definitions(component: FeatureStore) -> list[Args]:
    # The spec's order is the record's column order, so it is kept.
    return [
        Args(
            "aws.sagemaker.FeatureGroupFeatureDefinitionArgs",
            {"feature_name": name, "feature_type": FEATURE_TYPES[kind]},
        )
        for name, kind in component.features.items()
    ]


def ttl_unit_value(text: str) -> tuple[str, int]:
    """A duration in the largest whole unit SageMaker accepts: 30d is 30 Days, 2w 2 Weeks."""
    seconds = int(parse_duration(text).total_seconds())
    return next(
        ((unit, seconds // size) for unit, size in TTL_UNITS if seconds % size == 0),
        ("Seconds", seconds),
    )


def ttl_duration(text: str) -> Args:
    unit, value = ttl_unit_value(text)
    return Args(
        "aws.sagemaker.FeatureGroupOnlineStoreConfigTtlDurationArgs", {"unit": unit, "value": value}
    )


def online_store_config(ctx: LoweringContext, component: FeatureStore) -> Args | None:
    online = component.online
    if not online.enabled:
        return None
    fields: dict[str, Any] = {"enable_online_store": True}
    if ctx.kms_key is not None:
        fields["security_config"] = Args(
            "aws.sagemaker.FeatureGroupOnlineStoreConfigSecurityConfigArgs",
            {"kms_key_id": ctx.kms_key},
        )
    if online.ttl:
        fields["ttl_duration"] = ttl_duration(online.ttl)
    return Args("aws.sagemaker.FeatureGroupOnlineStoreConfigArgs", fields)


def throughput_config(component: FeatureStore) -> dict[str, Any] | None:
    """The online store's `throughput`, as SageMaker's ThroughputConfig (None: not set, so
    SageMaker's default, on demand)."""
    throughput = component.online.throughput
    if throughput is None:
        return None
    config: dict[str, Any] = {"ThroughputMode": THROUGHPUT_MODES[throughput.mode]}
    if throughput.read_units is not None:
        config["ProvisionedReadCapacityUnits"] = throughput.read_units
    if throughput.write_units is not None:
        config["ProvisionedWriteCapacityUnits"] = throughput.write_units
    return config


def offline_store_config(ctx: LoweringContext, component: FeatureStore) -> Args:
    storage: dict[str, Any] = {"s3_uri": offline_store_uri(ctx, component.name)}
    if ctx.kms_key is not None:
        storage["kms_key_id"] = ctx.kms_key
    fmt = component.offline.format
    return Args(
        "aws.sagemaker.FeatureGroupOfflineStoreConfigArgs",
        {
            "s3_storage_config": Args(
                "aws.sagemaker.FeatureGroupOfflineStoreConfigS3StorageConfigArgs", storage
            ),
            "table_format": TABLE_FORMATS[fmt],
            # The table is what makes the offline store queryable (Athena, Spark).
            "disable_glue_table_creation": False,
        },
    )


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
