"""Feature stores: a feature group in the emulator's feature store.

The emulator keeps the online store in SQLite and appends the offline store as Parquet
partitioned by event date, under `.mlinfra/emulator/featurestore/` beside the spec, whatever
location the request names; the request names that folder so `describe_feature_group` tells
the truth. There is no role and no key: nothing leaves the machine.
"""

from __future__ import annotations

from typing import Any

from mlinfra.ir.graph import Resource
from mlinfra.ir.local.api import FEATURE_GROUP, tags
from mlinfra.ir.sagemaker.context import LoweringContext
from mlinfra.ir.sagemaker.feature_stores import (
    FEATURE_TYPES,
    TABLE_FORMATS,
    offline_enabled,
    throughput_config,
    ttl_unit_value,
)
from mlinfra.spec.model import Component

OFFLINE_FOLDER = ".mlinfra/emulator/featurestore/offline"


def lower_feature_store(ctx: LoweringContext, component: Component) -> list[Resource]:
    name = ctx.name(component, "feature_group")
    request: dict[str, Any] = {
        "FeatureGroupName": name,
        "RecordIdentifierFeatureName": component["record_identifier"],
        "EventTimeFeatureName": component["event_time"],
        # The spec's order is the record's column order, so it is kept.
        "FeatureDefinitions": [
            {"FeatureName": feature, "FeatureType": FEATURE_TYPES[kind]}
            for feature, kind in component["features"].items()
        ],
    }
    online = component.get("online") or {}
    if online.get("enabled", True):
        config: dict[str, Any] = {"EnableOnlineStore": True}
        if online.get("ttl"):
            unit, value = ttl_unit_value(online["ttl"])
            config["TtlDuration"] = {"Unit": unit, "Value": value}
        request["OnlineStoreConfig"] = config
    throughput = throughput_config(component)
    if throughput is not None:
        request["ThroughputConfig"] = throughput
    if offline_enabled(component):
        fmt = (component.get("offline") or {}).get("format", "parquet")
        request["OfflineStoreConfig"] = {
            "S3StorageConfig": {"S3Uri": f"file:{OFFLINE_FOLDER}/{name}"},
            "TableFormat": TABLE_FORMATS[fmt],
        }
    if component.get("description"):
        request["Description"] = component["description"]
    request["Tags"] = tags(ctx, component)
    return [ctx.resource(component.address, FEATURE_GROUP, request, component.source)]
