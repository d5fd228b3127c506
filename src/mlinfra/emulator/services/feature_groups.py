"""SageMaker feature groups, created in the feature store runtime.

The control plane keeps each group's record (what Describe/List answer); the feature store
(`featurestore.store.FeatureStore`, made on first use: it loads pyarrow) keeps its features,
online records and offline files. The runtime speaks the Feature Store Runtime's error codes;
`feature_call` turns them into the control plane's.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from mlinfra.emulator.featurestore.definition import KEEP, FeatureGroupDefinition
from mlinfra.emulator.featurestore.errors import FeatureStoreError
from mlinfra.emulator.kit.arns import arn
from mlinfra.emulator.kit.errors import ApiError, invalid
from mlinfra.emulator.kit.records import Kind, Listing, output
from mlinfra.emulator.kit.times import ttl_seconds
from mlinfra.emulator.store import Store
from mlinfra.sagemaker import resources

GROUP = resources.FEATURE_GROUP.arn_kind


def feature_call(method: Callable[..., Any], *args: Any) -> Any:
    """A feature store call, its errors answered with the control plane's codes."""
    try:
        return method(*args)
    except FeatureStoreError as exc:
        code = getattr(exc, "code", "ValidationException")
        # The runtime speaks the runtime API's codes; the control plane's are different.
        code = {"ValidationError": "ValidationException"}.get(code, code)
        raise ApiError(code, getattr(exc, "message", str(exc))) from None


class FeatureGroups:
    """The feature group operations; `features` gives the feature store runtime."""

    OPERATIONS = (
        "CreateFeatureGroup", "DescribeFeatureGroup", "ListFeatureGroups", "UpdateFeatureGroup",
        "DeleteFeatureGroup",
    )  # fmt: skip
    KINDS = (Kind.of(resources.FEATURE_GROUP),)

    def __init__(self, store: Store, listing: Listing, features: Callable[[], Any]) -> None:
        self.store = store
        self.listing = listing
        self.features = features

    def create_feature_group(self, p: dict, region: str) -> dict:
        name = p["FeatureGroupName"]
        if self.store.get(GROUP, name):
            raise ApiError(
                "ResourceInUse",
                f"Resource Already Exists: FeatureGroup with name {name} already exists. "
                f"Choose a different name.\nInfo: Feature Group '{name}' already exists.",
            )
        features = {f["FeatureName"]: f["FeatureType"] for f in p["FeatureDefinitions"]}
        if len(features) != len(p["FeatureDefinitions"]):
            raise invalid("FeatureDefinitions names a feature more than once.")
        for role in ("RecordIdentifierFeatureName", "EventTimeFeatureName"):
            if p[role] not in features:
                raise invalid(f"{role} {p[role]} is not among the FeatureDefinitions.")
        online = p.get("OnlineStoreConfig") or {}
        definition = FeatureGroupDefinition(
            name=name,
            record_identifier=p["RecordIdentifierFeatureName"],
            event_time=p["EventTimeFeatureName"],
            features=features,
            online=bool(online.get("EnableOnlineStore", False)),
            online_ttl_seconds=ttl_seconds(online.get("TtlDuration")),
            offline=p.get("OfflineStoreConfig") is not None,
        )
        feature_call(self.features().create_group, definition)
        now = time.time()
        record = dict(
            p,
            FeatureGroupArn=arn(region, GROUP, name),
            CreationTime=now,
            LastModifiedTime=now,
            FeatureGroupStatus="Created",
        )
        if p.get("OfflineStoreConfig") is not None:
            record["OfflineStoreStatus"] = {"Status": "Active"}
            record["OfflineStoreConfig"] = _offline_store_config(p["OfflineStoreConfig"], name, now)
        self.store.put(GROUP, name, record, now)
        return {"FeatureGroupArn": record["FeatureGroupArn"]}

    def describe_feature_group(self, p: dict, region: str) -> dict:
        record = self.group(p["FeatureGroupName"])
        if p.get("NextToken"):
            # All of a group's features fit in one page (2,500, the most it may have).
            raise invalid("Invalid pagination token: DescribeFeatureGroup did not issue it.")
        # NextToken is a required member; AWS sends it empty when there is no next page.
        return output("DescribeFeatureGroup", {**record, "NextToken": ""})

    def update_feature_group(self, p: dict, region: str) -> dict:
        """Add features, change the online store's TTL (records already stored keep their
        expiry, as SageMaker documents), change the throughput settings."""
        record = self.group(p["FeatureGroupName"])
        name = record["FeatureGroupName"]
        store = self.features()
        additions = p.get("FeatureAdditions") or []
        added = {f["FeatureName"]: f["FeatureType"] for f in additions}
        if len(added) != len(additions):
            raise invalid("FeatureAdditions names a feature more than once.")
        online = dict(record.get("OnlineStoreConfig") or {})
        ttl: Any = KEEP
        update = p.get("OnlineStoreConfig") or {}
        if update and not online.get("EnableOnlineStore"):
            raise invalid(f"Feature group {name} has no online store to update.")
        if "TtlDuration" in update:
            duration = update["TtlDuration"] or {}
            if ("Unit" in duration) != ("Value" in duration):
                raise invalid("TtlDuration needs both Unit and Value, or neither to remove it.")
            # Without Unit and Value, the default TTL is removed, as AWS documents.
            ttl = ttl_seconds(duration)
        feature_call(store.update_group, name, added, ttl)
        record["FeatureDefinitions"] = [*record["FeatureDefinitions"], *additions]
        if ttl is not KEEP:
            online.pop("TtlDuration", None)
            if ttl is not None:
                online["TtlDuration"] = update["TtlDuration"]
        if update.get("StorageType"):
            online["StorageType"] = update["StorageType"]
        if online:
            record["OnlineStoreConfig"] = online
        throughput = p.get("ThroughputConfig")
        if throughput:
            # Capacity units belong to provisioned mode; on-demand has none.
            kept = record.get("ThroughputConfig") or {}
            if throughput.get("ThroughputMode", kept.get("ThroughputMode")) == "OnDemand":
                kept = {}
            record["ThroughputConfig"] = {**kept, **throughput}
        record.update(LastModifiedTime=time.time(), LastUpdateStatus={"Status": "Successful"})
        self.store.put(GROUP, name, record, record["CreationTime"])
        return {"FeatureGroupArn": record["FeatureGroupArn"]}

    def list_feature_groups(self, p: dict, region: str) -> dict:
        status = p.get("FeatureGroupStatusEquals")
        offline = p.get("OfflineStoreStatusEquals")
        return self.listing.list(
            "ListFeatureGroups",
            GROUP,
            p,
            "FeatureGroupName",
            keep=lambda r: (
                (status is None or r.get("FeatureGroupStatus") == status)
                and (
                    offline is None or (r.get("OfflineStoreStatus") or {}).get("Status") == offline
                )
            ),
        )

    def delete_feature_group(self, p: dict, region: str) -> None:
        record = self.group(p["FeatureGroupName"])
        feature_call(self.features().delete_group, record["FeatureGroupName"])
        self.store.delete(GROUP, record["FeatureGroupName"])

    def group(self, name_or_arn: str) -> dict:
        """A feature group's record by name or ARN; ResourceNotFound if there is none."""
        name = name_or_arn.rsplit("feature-group/", 1)[-1]
        record = self.store.get(GROUP, name)
        if record is None:
            raise ApiError(
                "ResourceNotFound", f"Resource Not Found: FeatureGroup {name} does not exist."
            )
        return record

    def event_time_of(self, group: str) -> str:
        """The name of a group's event-time feature."""
        return self.group(group)["EventTimeFeatureName"]

    def read_offline(self, group: str) -> Any:
        """A group's offline store as one pyarrow table."""
        return feature_call(self.features().read_offline, group)


def _offline_store_config(config: dict, name: str, created: float) -> dict:
    """The offline store's config as AWS describes it: unless Glue table creation is disabled,
    the table it creates, `<group>_<creation time>` in the `sagemaker_featurestore` database
    of the account's `AwsDataCatalog` (the emulator's offline store is its Parquet files)."""
    config = {"DisableGlueTableCreation": False, **config}
    if not config["DisableGlueTableCreation"] and "DataCatalogConfig" not in config:
        config["DataCatalogConfig"] = {
            "TableName": f"{name}_{int(created)}",
            "Catalog": "AwsDataCatalog",
            "Database": "sagemaker_featurestore",
        }
    return config
