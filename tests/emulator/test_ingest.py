"""The emulator's private ingest route: a CSV body loads into a feature group, all or nothing.

A real server on loopback (the `server` fixture); records are read back with boto3's
`sagemaker-featurestore-runtime` client, as a user's code would.
"""

from __future__ import annotations

import json
import urllib.error
from pathlib import Path

import pytest
from featurestore_client import create_group, get_record, offline_files

from mlinfra.emulator.access import Access

ROOT = Path(__file__).resolve().parents[2]
CUSTOMERS_CSV = ROOT / "examples" / "churn" / "data" / "customers.csv"
GROUP = "churn-local-customers"
HEADER = "customer_id,event_time,tenure_months,contract"
GOOD = [
    "C1,2024-12-01T10:00:00Z,12,one-year",
    "C2,2024-12-02T10:00:00Z,3,month-to-month",
]


def ingest(
    server, body: str | bytes, group: str = GROUP, source: str = "", content_type="text/csv"
) -> tuple[int, dict]:
    """POST to the ingest route as `mlinfra featurestore ingest` does: signed, text/csv."""
    query = f"?source={source}" if source else ""
    access = Access.for_server(server)
    request = access.request(
        "POST",
        f"/_mlinfra/feature-groups/{group}/ingest{query}",
        body.encode() if isinstance(body, str) else body,
        content_type,
    )
    try:
        with access.open(request, timeout=60) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def csv_text(*rows: str, header: str = HEADER) -> str:
    return "\n".join([header, *rows]) + "\n"


def test_a_good_csv_is_ingested_and_get_record_returns_its_records(server):
    create_group(server, GROUP)
    status, answer = ingest(server, csv_text(*GOOD))
    assert status == 200
    assert answer == {
        "FeatureGroupName": GROUP,
        "RecordCount": 2,
        "TargetStores": ["OnlineStore", "OfflineStore"],
        "ExpiredOnlineCount": 0,  # the group has no online TTL
        "OfflineAlreadyHeld": 0,
    }
    assert get_record(server, GROUP, "C1") == {
        "customer_id": "C1",
        "event_time": "2024-12-01T10:00:00Z",
        "tenure_months": "12",
        "contract": "one-year",
    }
    assert len(offline_files(server.state_dir)) == 2  # one per event date


def test_the_churn_csv_keeps_the_latest_record_per_customer(server):
    create_group(server, GROUP)
    status, answer = ingest(server, CUSTOMERS_CSV.read_bytes())
    assert (status, answer["RecordCount"]) == (200, 5150)
    lines = CUSTOMERS_CSV.read_text().splitlines()
    header = lines[0].split(",")
    latest: dict[str, list[str]] = {}
    for line in lines[1:]:
        row = line.split(",")
        if row[0] not in latest or row[1] >= latest[row[0]][1]:
            latest[row[0]] = row
    assert get_record(server, GROUP, "C002155") == dict(zip(header, latest["C002155"], strict=True))


@pytest.mark.parametrize(
    ("bad_row", "problem"),
    [
        ("C3,2024-12-03T10:00:00Z,twelve,one-year", "feature 'tenure_months': value 'twelve'"),
        (",2024-12-03T10:00:00Z,5,one-year", "missing required feature 'customer_id'"),
        ("C3,2024-12-03T10:00:00Z,5,one-year,extra", "has 5 columns, the header has 4"),
        ("C3,yesterday,5,one-year", "feature 'event_time': value 'yesterday'"),
    ],
    ids=["wrong-type", "missing-identifier", "extra-column", "bad-event-time"],
)
def test_one_bad_row_rejects_the_whole_csv_and_is_named(server, bad_row, problem):
    create_group(server, GROUP)
    status, answer = ingest(server, csv_text(GOOD[0], bad_row, GOOD[1]), source="day.csv")
    assert status == 400
    assert answer["__type"] == "ValidationError"
    assert answer["message"].startswith("day.csv: nothing was ingested: row 2 (line 3): ")
    assert problem in answer["message"]
    # The good rows of the same file were not written either, online or offline.
    assert get_record(server, GROUP, "C1") is None
    assert get_record(server, GROUP, "C2") is None
    assert offline_files(server.state_dir) == []


def test_a_column_that_is_not_a_feature_rejects_the_csv(server):
    create_group(server, GROUP)
    status, answer = ingest(
        server, csv_text("C1,2024-12-01T10:00:00Z,x", header="customer_id,event_time,colour")
    )
    assert (status, answer["__type"]) == (400, "ValidationError")
    assert "column 'colour' is not a feature of group" in answer["message"]
    assert "nothing was ingested" in answer["message"]


def test_an_older_event_time_does_not_overwrite_a_newer_record(server):
    create_group(server, GROUP)
    ingest(server, csv_text("C1,2024-12-05T10:00:00Z,20,two-year"))
    status, answer = ingest(server, csv_text("C1,2024-12-01T10:00:00Z,12,one-year"))
    assert (status, answer["RecordCount"]) == (200, 1)  # accepted: the offline store keeps history
    assert get_record(server, GROUP, "C1")["tenure_months"] == "20"
    ingest(server, csv_text("C1,2024-12-09T10:00:00Z,24,two-year"))
    assert get_record(server, GROUP, "C1")["tenure_months"] == "24"


def test_an_online_only_group_reports_only_the_online_store(server):
    create_group(server, GROUP, offline=False)
    status, answer = ingest(server, csv_text(*GOOD))
    assert (status, answer["TargetStores"]) == (200, ["OnlineStore"])
    assert offline_files(server.state_dir) == []


def test_a_missing_group_is_resource_not_found(server):
    status, answer = ingest(server, csv_text(*GOOD), group="ghost")
    assert (status, answer["__type"]) == (404, "ResourceNotFound")
    assert "'ghost'" in answer["message"]


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        (b"", "the CSV is empty"),
        (HEADER.encode() + b"\nC1,2024-12-01T10:00:00Z,1,\xff\n", "line 2 is not UTF-8 text"),
    ],
    ids=["empty", "not-utf8"],
)
def test_a_body_that_is_not_csv_text_is_refused(server, body, problem):
    create_group(server, GROUP)
    status, answer = ingest(server, body)
    assert (status, answer["__type"]) == (400, "ValidationError")
    assert "nothing was ingested" in answer["message"] and problem in answer["message"]


def test_a_byte_order_mark_is_not_part_of_the_first_column(server):
    create_group(server, GROUP)
    status, answer = ingest(server, "\ufeff" + csv_text(*GOOD))
    assert (status, answer["RecordCount"]) == (200, 2)


def test_text_that_is_not_csv_is_refused_naming_the_line(server):
    create_group(server, GROUP)
    huge_field = "C2," + "x" * 200_000  # beyond the csv module's field size limit
    status, answer = ingest(server, csv_text(GOOD[0], huge_field))
    assert (status, answer["__type"]) == (400, "ValidationError")
    assert "nothing was ingested: line 3 is not valid CSV" in answer["message"]
    assert get_record(server, GROUP, "C1") is None
