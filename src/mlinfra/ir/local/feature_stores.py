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
    throughput_config,
    ttl_unit_value,
)
from mlinfra.spec.model import FeatureStore

OFFLINE_FOLDER = ".mlinfra/emulator/featurestore/offline"


def lower_feature_store(ctx: LoweringContext, component: FeatureStore) -> list[Resource]:
    name = ctx.name(component, "feature_group")
    request: dict[str, Any] = {
        "FeatureGroupName": name,
        "RecordIdentifierFeatureName": component.record_identifier,
        "EventTimeFeatureName": component.event_time,
        # The spec's order is the record's column order, so it is kept.
        "FeatureDefinitions": [
            {"FeatureName": feature, "FeatureType": FEATURE_TYPES[kind]}
            for feature, kind in component.features.items()
        ],
    }
    online = component.online
    if online.enabled:
        config: dict[str, Any] = {"EnableOnlineStore": True}
        if online.ttl:
            unit, value = ttl_unit_value(online.ttl)
            config["TtlDuration"] = {"Unit": unit, "Value": value}
        request["OnlineStoreConfig"] = config
    throughput = throughput_config(component)
    if throughput is not None:
        request["ThroughputConfig"] = throughput
    if component.offline.enabled:
        request["OfflineStoreConfig"] = {
            "S3StorageConfig": {"S3Uri": f"file:{OFFLINE_FOLDER}/{name}"},
            "TableFormat": TABLE_FORMATS[component.offline.format],
        }
    if component.description:
        request["Description"] = component.description
    request["Tags"] = tags(ctx, component)
    return [ctx.resource(component.address, FEATURE_GROUP, request, component.key_range)]
