"""Helpers of the ingest tests: boto3 clients of a running emulator and a customers group."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mlinfra.emulator.access import Access

FEATURES = {
    "customer_id": "String",
    "event_time": "String",
    "tenure_months": "Integral",
    "monthly_charges": "Fractional",
    "total_charges": "Fractional",
    "contract": "String",
    "support_calls": "Integral",
    "churned": "Integral",
}


def client(emulator: Any, service: str):
    """A boto3 client of a running emulator: an `EmulatorServer`, or an `Access` to one."""
    return Access.for_server(emulator).client(service)


def create_group(
    url: Any, name: str, offline: bool = True, ttl_days: int | None = None, online: bool = True
) -> None:
    """CreateFeatureGroup of the churn example's customers features."""
    params = {
        "FeatureGroupName": name,
        "RecordIdentifierFeatureName": "customer_id",
        "EventTimeFeatureName": "event_time",
        "FeatureDefinitions": [{"FeatureName": k, "FeatureType": v} for k, v in FEATURES.items()],
    }
    if online:
        config: dict = {"EnableOnlineStore": True}
        if ttl_days is not None:
            config["TtlDuration"] = {"Unit": "Days", "Value": ttl_days}
        params["OnlineStoreConfig"] = config
    if offline:
        params["OfflineStoreConfig"] = {"S3StorageConfig": {"S3Uri": "s3://bucket/features"}}
        params["RoleArn"] = "arn:aws:iam::123456789012:role/features"
    client(url, "sagemaker").create_feature_group(**params)


def get_record(url: Any, group: str, identifier: str) -> dict[str, str] | None:
    """The record's features by name, or None when GetRecord finds none."""
    response = client(url, "sagemaker-featurestore-runtime").get_record(
        FeatureGroupName=group, RecordIdentifierValueAsString=identifier
    )
    if "Record" not in response:
        return None
    return {f["FeatureName"]: f["ValueAsString"] for f in response["Record"]}


def offline_files(state_dir: Path) -> list[Path]:
    """The Parquet files of the emulator's offline store."""
    return sorted(state_dir.joinpath("featurestore", "offline").rglob("*.parquet"))
