"""`mlinfra apply` changes a local feature store in place where SageMaker would (a new TTL,
an added feature), keeping every record; what it cannot change in place, the plan says loses
data. Each test's apply starts a real detached emulator beside its spec; the fixture stops it.
"""

from __future__ import annotations

from datetime import UTC, datetime

from shop import client, mlinfra, shop_spec

from mlinfra.emulator.access import Access

GROUP = "shop-local-customers"
FEATURES = "{customer_id: string, event_time: string, spend: fractional}"


def now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def put(url: str, **values: str) -> None:
    client(url, "sagemaker-featurestore-runtime").put_record(
        FeatureGroupName=GROUP,
        Record=[{"FeatureName": k, "ValueAsString": v} for k, v in values.items()],
    )


def get(url: str, identifier: str) -> dict[str, str]:
    found = client(url, "sagemaker-featurestore-runtime").get_record(
        FeatureGroupName=GROUP, RecordIdentifierValueAsString=identifier
    )
    return {f["FeatureName"]: f["ValueAsString"] for f in found.get("Record", [])}


def test_a_new_ttl_feature_and_throughput_are_applied_in_place_keeping_every_record(spec_file):
    env = ("--env", "local", "-f", str(spec_file))
    assert mlinfra("apply", *env, "--auto-approve")[0] == 0
    url = Access.for_spec(spec_file)
    put(url, customer_id="C1", event_time=now(), spend="12.5")

    changed = FEATURES.replace("}", ", region: string}")
    throughput = "ttl: 7d, throughput: {mode: provisioned, read_units: 4, write_units: 2}"
    spec_file.write_text(shop_spec().replace(FEATURES, changed).replace("ttl: 30d", throughput))
    code, out = mlinfra("plan", *env)
    assert code == 0, out
    assert "~ feature_store.customers" in out and "loses data" not in out
    code, out = mlinfra("apply", *env, "--auto-approve")
    assert code == 0, out

    assert get(url, "C1")["spend"] == "12.5"  # kept, without the new feature
    assert "region" not in get(url, "C1")
    described = client(url).describe_feature_group(FeatureGroupName=GROUP)
    assert described["OnlineStoreConfig"]["TtlDuration"] == {"Unit": "Weeks", "Value": 1}
    assert described["FeatureDefinitions"][-1]["FeatureName"] == "region"
    assert described["ThroughputConfig"] == {
        "ThroughputMode": "Provisioned",
        "ProvisionedReadCapacityUnits": 4,
        "ProvisionedWriteCapacityUnits": 2,
    }
    put(url, customer_id="C2", event_time=now(), region="eu")
    assert get(url, "C2")["region"] == "eu"
    assert mlinfra("plan", *env, "--detailed-exitcode")[0] == 0
    code, out = mlinfra("refresh", *env)
    assert code == 0 and "No drift" in out, out


def test_a_removed_feature_is_a_replacement_the_plan_says_loses_data(spec_file):
    env = ("--env", "local", "-f", str(spec_file))
    assert mlinfra("apply", *env, "--auto-approve")[0] == 0
    spec_file.write_text(shop_spec().replace(", spend: fractional", ""))
    code, out = mlinfra("plan", *env)
    assert code == 0, out
    assert "-/+ feature_store.customers" in out
    assert "1 of them deletes data" in out
    assert "loses data: every record of the online store" in out
