"""BatchWriteRecord through real boto3: each entry written as PutRecord, failures listed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from featurestore_client import client, create_group, get_record

# Records are written as of now: a fixed date would expire under a TTL as the calendar moves on.
EVENT_TIME = datetime.now(UTC).replace(microsecond=0)


def record(customer: str, tenure: str = "12") -> list[dict]:
    values = {"customer_id": customer, "event_time": EVENT_TIME.strftime("%Y-%m-%dT%H:%M:%SZ"),
              "tenure_months": tenure, "monthly_charges": "70.5", "total_charges": "846.0",
              "contract": "month-to-month", "support_calls": "3", "churned": "0"}  # fmt: skip
    return [{"FeatureName": k, "ValueAsString": v} for k, v in values.items()]


def test_batch_write_record_writes_every_good_entry_and_lists_the_bad_ones(server):
    create_group(server, "customers")
    create_group(server, "others", offline=False)
    runtime = client(server, "sagemaker-featurestore-runtime")
    answer = runtime.batch_write_record(
        Entries=[
            {"FeatureGroupName": "customers", "Record": record("c1")},
            {"FeatureGroupName": "others", "Record": record("c2", tenure="7")},
            {"FeatureGroupName": "customers", "Record": record("c3", tenure="not a number")},
            {"FeatureGroupName": "missing", "Record": record("c4")},
        ]
    )
    assert get_record(server, "customers", "c1")["tenure_months"] == "12"
    assert get_record(server, "others", "c2")["tenure_months"] == "7"
    assert get_record(server, "customers", "c3") is None
    failed = [(e["Entry"]["Record"][0]["ValueAsString"], e["ErrorCode"]) for e in answer["Errors"]]
    assert [c for c, _ in failed] == ["c3", "c4"]
    assert all(code in ("ValidationError", "ResourceNotFound") for _, code in failed)
    assert all(e["ErrorMessage"] for e in answer["Errors"])
    assert answer["UnprocessedEntries"] == []


def test_an_entrys_ttl_wins_over_the_requests(server):
    create_group(server, "customers")
    runtime = client(server, "sagemaker-featurestore-runtime")
    answer = runtime.batch_write_record(
        TtlDuration={"Unit": "Days", "Value": 1},
        Entries=[
            {
                "FeatureGroupName": "customers",
                "Record": record("c1"),
                "TtlDuration": {"Unit": "Weeks", "Value": 1},
            }
        ],  # fmt: skip
    )
    assert answer["Errors"] == []
    got = runtime.get_record(FeatureGroupName="customers", RecordIdentifierValueAsString="c1",
                             ExpirationTimeResponse="Enabled")  # fmt: skip
    # A week after the event time (the entry's TTL), not a day (the request's).
    assert got["ExpiresAt"].startswith(
        (EVENT_TIME + timedelta(weeks=1)).strftime("%Y-%m-%dT%H:%M:%S")
    )
