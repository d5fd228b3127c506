"""Feature stores: the `CreateFeatureGroup` request a spec feature store becomes.

The online store keeps the latest record per identifier (for `ttl` at most, when one is
set); the offline store appends every record where the target says (a prefix of the
artifacts bucket on AWS, a folder in the emulator), as a Glue (parquet) or Iceberg table.
"""

from __future__ import annotations

from typing import Any

from mlinfra.ir.requests.tags import tags
from mlinfra.ir.sagemaker.context import LoweringContext
from mlinfra.spec.model import FeatureStore
from mlinfra.spec.values import parse_duration

FEATURE_TYPES = {"string": "String", "integral": "Integral", "fractional": "Fractional"}
THROUGHPUT_MODES = {"on-demand": "OnDemand", "provisioned": "Provisioned"}
TABLE_FORMATS = {"parquet": "Glue", "iceberg": "Iceberg"}
# SageMaker's TtlDuration units, largest first: a TTL is written in the largest whole one.
TTL_UNITS = (("Weeks", 7 * 86400), ("Days", 86400), ("Hours", 3600), ("Minutes", 60))


def ttl_unit_value(text: str) -> tuple[str, int]:
    """A duration in the largest whole unit SageMaker accepts: 30d is 30 Days, 2w 2 Weeks."""
    seconds = int(parse_duration(text).total_seconds())
    return next(
        ((unit, seconds // size) for unit, size in TTL_UNITS if seconds % size == 0),
        ("Seconds", seconds),
    )


def online_store_config(component: FeatureStore) -> dict[str, Any] | None:
    online = component.online
    if not online.enabled:
        return None
    config: dict[str, Any] = {"EnableOnlineStore": True}
    if online.ttl:
        unit, value = ttl_unit_value(online.ttl)
        config["TtlDuration"] = {"Unit": unit, "Value": value}
    return config


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


def create_feature_group(
    ctx: LoweringContext, component: FeatureStore, offline_uri: Any
) -> dict[str, Any]:
    """`CreateFeatureGroup`'s request, its offline store (if on) at `offline_uri`."""
    request: dict[str, Any] = {
        "FeatureGroupName": ctx.name(component, "feature_group"),
        "RecordIdentifierFeatureName": component.record_identifier,
        "EventTimeFeatureName": component.event_time,
        # The spec's order is the record's column order, so it is kept.
        "FeatureDefinitions": [
            {"FeatureName": feature, "FeatureType": FEATURE_TYPES[kind]}
            for feature, kind in component.features.items()
        ],
    }
    online = online_store_config(component)
    if online is not None:
        request["OnlineStoreConfig"] = online
    throughput = throughput_config(component)
    if throughput is not None:
        request["ThroughputConfig"] = throughput
    if component.offline.enabled:
        request["OfflineStoreConfig"] = {
            "S3StorageConfig": {"S3Uri": offline_uri},
            "TableFormat": TABLE_FORMATS[component.offline.format],
        }
    if component.description:
        request["Description"] = component.description
    request["Tags"] = tags(ctx, component)
    return request
