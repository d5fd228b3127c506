"""UpdateFeatureGroup in the emulator, driven by boto3 over HTTP: features are added, the
online store's TTL and the throughput change in place, and records already stored keep what
they had, as SageMaker documents."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime

import pytest
from botocore.exceptions import ClientError
from featurestore_client import client, create_group, get_record

from mlinfra.emulator.server import EmulatorServer

GROUP = "customers"


def put(url: str, **values: str) -> None:
    client(url, "sagemaker-featurestore-runtime").put_record(
        FeatureGroupName=GROUP,
        Record=[{"FeatureName": k, "ValueAsString": v} for k, v in values.items()],
    )


def expires_at(url: str, identifier: str) -> datetime | None:
    found = client(url, "sagemaker-featurestore-runtime").get_record(
        FeatureGroupName=GROUP,
        RecordIdentifierValueAsString=identifier,
        ExpirationTimeResponse="Enabled",
    )
    return datetime.fromisoformat(found["ExpiresAt"]) if "ExpiresAt" in found else None


def now_text(offset: float = 0) -> str:
    return datetime.fromtimestamp(time.time() + offset, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def code(excinfo) -> str:
    return excinfo.value.response["Error"]["Code"]


@pytest.fixture
def sm(server):
    create_group(server, GROUP, ttl_days=30)
    return client(server, "sagemaker")


def test_an_added_feature_is_absent_from_records_stored_before(server, sm):
    put(server, customer_id="C1", event_time=now_text(), tenure_months="3")
    sm.update_feature_group(
        FeatureGroupName=GROUP,
        FeatureAdditions=[{"FeatureName": "region", "FeatureType": "String"}],
    )
    described = sm.describe_feature_group(FeatureGroupName=GROUP)
    assert described["FeatureDefinitions"][-1] == {"FeatureName": "region", "FeatureType": "String"}
    assert described["LastUpdateStatus"] == {"Status": "Successful"}
    assert "region" not in get_record(server, GROUP, "C1")
    put(server, customer_id="C2", event_time=now_text(), region="eu")
    assert get_record(server, GROUP, "C2")["region"] == "eu"
    offline = server.control.feature_store().read_offline(GROUP).to_pylist()
    assert [(r["customer_id"], r["region"]) for r in offline] == [("C1", None), ("C2", "eu")]


def test_a_new_ttl_applies_to_records_written_after_it(server, sm):
    put(server, customer_id="C1", event_time=now_text())
    before = expires_at(server, "C1")
    sm.update_feature_group(
        FeatureGroupName=GROUP, OnlineStoreConfig={"TtlDuration": {"Unit": "Days", "Value": 2}}
    )
    assert expires_at(server, "C1") == before  # stored before the update: as it was
    put(server, customer_id="C2", event_time=now_text())
    later = expires_at(server, "C2")
    assert 1.9 * 86400 < (later - datetime.now(UTC)).total_seconds() <= 2 * 86400
    online = sm.describe_feature_group(FeatureGroupName=GROUP)["OnlineStoreConfig"]
    assert online == {"EnableOnlineStore": True, "TtlDuration": {"Unit": "Days", "Value": 2}}


def test_a_ttl_without_unit_and_value_is_removed(server, sm):
    sm.update_feature_group(FeatureGroupName=GROUP, OnlineStoreConfig={"TtlDuration": {}})
    put(server, customer_id="C1", event_time=now_text())
    assert expires_at(server, "C1") is None
    online = sm.describe_feature_group(FeatureGroupName=GROUP)["OnlineStoreConfig"]
    assert "TtlDuration" not in online


def test_the_throughput_changes_and_on_demand_drops_the_capacity(sm):
    provisioned = {
        "ThroughputMode": "Provisioned",
        "ProvisionedReadCapacityUnits": 10,
        "ProvisionedWriteCapacityUnits": 5,
    }
    sm.update_feature_group(FeatureGroupName=GROUP, ThroughputConfig=provisioned)
    assert sm.describe_feature_group(FeatureGroupName=GROUP)["ThroughputConfig"] == provisioned
    sm.update_feature_group(FeatureGroupName=GROUP, ThroughputConfig={"ThroughputMode": "OnDemand"})
    described = sm.describe_feature_group(FeatureGroupName=GROUP)
    assert described["ThroughputConfig"] == {"ThroughputMode": "OnDemand"}


def test_an_existing_feature_cannot_be_added_again(sm):
    with pytest.raises(ClientError) as excinfo:
        sm.update_feature_group(
            FeatureGroupName=GROUP,
            FeatureAdditions=[{"FeatureName": "tenure_months", "FeatureType": "String"}],
        )
    assert code(excinfo) == "ValidationException"
    assert "tenure_months" in excinfo.value.response["Error"]["Message"]
    kinds = {
        f["FeatureName"]: f["FeatureType"]
        for f in sm.describe_feature_group(FeatureGroupName=GROUP)["FeatureDefinitions"]
    }
    assert kinds["tenure_months"] == "Integral"


def test_an_unknown_group_is_resource_not_found(sm):
    with pytest.raises(ClientError) as excinfo:
        sm.update_feature_group(FeatureGroupName="missing", ThroughputConfig={})
    assert code(excinfo) == "ResourceNotFound"


def test_a_ttl_needs_an_online_store(server, sm):
    create_group(server, "history", online=False)
    with pytest.raises(ClientError) as excinfo:
        sm.update_feature_group(
            FeatureGroupName="history",
            OnlineStoreConfig={"TtlDuration": {"Unit": "Days", "Value": 1}},
        )
    assert code(excinfo) == "ValidationException"


def test_the_update_survives_a_restart(server, sm, tmp_path):
    sm.update_feature_group(
        FeatureGroupName=GROUP,
        FeatureAdditions=[{"FeatureName": "region", "FeatureType": "String"}],
    )
    server.shutdown()
    server.server_close()
    again = EmulatorServer(tmp_path, tmp_path / ".mlinfra" / "emulator", 0)
    thread = threading.Thread(target=again.serve_forever, daemon=True)
    thread.start()
    try:
        put(again, customer_id="C9", event_time=now_text(), region="us")
        assert get_record(again, GROUP, "C9")["region"] == "us"
    finally:
        again.shutdown()
        again.server_close()
        thread.join(5)
