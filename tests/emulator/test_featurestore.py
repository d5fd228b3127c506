"""The emulator's feature store behaves as SageMaker Feature Store Runtime does."""

from __future__ import annotations

import itertools
import threading
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from mlinfra.emulator.featurestore.definition import FeatureGroupDefinition
from mlinfra.emulator.featurestore.errors import FeatureStoreError
from mlinfra.emulator.featurestore.store import FeatureStore

REPO = Path(__file__).resolve().parents[2]
CHURN = REPO / "examples" / "churn"
CUSTOMERS_CSV = CHURN / "data" / "customers.csv"

PROFILE = FeatureGroupDefinition(
    name="profile",
    record_identifier="user_id",
    event_time="event_time",
    features={
        "user_id": "String",
        "event_time": "String",
        "age": "Integral",
        "score": "Fractional",
    },
    online=True,
    online_ttl_seconds=None,
    offline=True,
)
DAY = 86_400
T0 = 1_733_097_600.0  # 2024-12-02T00:00:00Z


class Clock:
    def __init__(self, now: float = T0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def customers_definition() -> FeatureGroupDefinition:
    """The `customers` feature store exactly as examples/churn/mlinfra.yaml declares it."""
    spec = yaml.safe_load((CHURN / "mlinfra.yaml").read_text())["feature_stores"]["customers"]
    kinds = {"string": "String", "integral": "Integral", "fractional": "Fractional"}
    assert spec["online"]["ttl"] == "30d"
    return FeatureGroupDefinition(
        name="customers",
        record_identifier=spec["record_identifier"],
        event_time=spec["event_time"],
        features={name: kinds[kind] for name, kind in spec["features"].items()},
        online=spec["online"]["enabled"],
        online_ttl_seconds=30 * DAY,
        offline=spec["offline"]["enabled"],
    )


def record(user_id: str, event_time: str, age: int = 30, score: float | None = 0.5):
    values = {"user_id": user_id, "event_time": event_time, "age": str(age)}
    if score is not None:
        values["score"] = repr(score)
    return [{"FeatureName": k, "ValueAsString": v} for k, v in values.items()]


def as_dict(values) -> dict[str, str]:
    return {v["FeatureName"]: v["ValueAsString"] for v in values}


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def store(tmp_path: Path, clock: Clock):
    with FeatureStore(tmp_path / "fs", clock=clock) as fs:
        fs.create_group(PROFILE)
        yield fs


def offline_rows(fs: FeatureStore, group: str = "profile") -> list[dict]:
    return fs.read_offline(group).to_pylist()


# -- groups ------------------------------------------------------------------------------


def test_groups_are_created_described_listed_and_deleted(store):
    assert [g.name for g in store.list_groups()] == ["profile"]
    assert store.describe_group("profile").definition == PROFILE
    store.delete_group("profile")
    assert store.list_groups() == []
    with pytest.raises(FeatureStoreError) as raised:
        store.describe_group("profile")
    assert raised.value.code == "ResourceNotFound"


def test_creating_an_existing_group_is_resource_in_use(store):
    with pytest.raises(FeatureStoreError) as raised:
        store.create_group(PROFILE)
    assert (raised.value.code, raised.value.status) == ("ResourceInUse", 400)


def test_a_definition_whose_event_time_is_not_a_feature_is_refused(store):
    bad = FeatureGroupDefinition("other", "user_id", "ts", {"user_id": "String"}, True, None, True)
    with pytest.raises(FeatureStoreError, match="event time feature 'ts'"):
        store.create_group(bad)


def test_a_recreated_group_starts_empty(store):
    store.put_record("profile", record("u1", "2024-12-01T00:00:00Z"))
    store.delete_group("profile")
    store.create_group(PROFILE)
    assert store.get_record("profile", "u1") is None
    assert offline_rows(store) == []


# -- put and get ---------------------------------------------------------------------------


def test_put_then_get_returns_the_record(store):
    store.put_record("profile", record("u1", "2024-12-01T10:00:00Z", age=41, score=0.25))
    assert store.get_record("profile", "u1") == [
        {"FeatureName": "user_id", "ValueAsString": "u1"},
        {"FeatureName": "event_time", "ValueAsString": "2024-12-01T10:00:00Z"},
        {"FeatureName": "age", "ValueAsString": "41"},
        {"FeatureName": "score", "ValueAsString": "0.25"},
    ]


def test_get_filters_by_feature_names(store):
    store.put_record("profile", record("u1", "2024-12-01T10:00:00Z", age=41))
    assert store.get_record("profile", "u1", ["age"]) == [
        {"FeatureName": "age", "ValueAsString": "41"}
    ]


def test_get_of_an_unknown_identifier_is_none(store):
    assert store.get_record("profile", "nobody") is None
    assert store.get_record_response("profile", "nobody") == {}


def test_get_from_an_unknown_group_is_resource_not_found_404(store):
    with pytest.raises(FeatureStoreError) as raised:
        store.get_record("missing", "u1")
    assert (raised.value.code, raised.value.status) == ("ResourceNotFound", 404)


def test_put_to_an_unknown_group_is_a_validation_error_as_in_aws(store):
    with pytest.raises(FeatureStoreError) as raised:
        store.put_record("missing", record("u1", "2024-12-01T10:00:00Z"))
    assert raised.value.code == "ValidationError"
    assert "Resource Not Found" in raised.value.message


def test_an_older_event_time_does_not_overwrite_online_but_lands_offline(store):
    store.put_record("profile", record("u1", "2024-12-02T00:00:00Z", age=2))
    store.put_record("profile", record("u1", "2024-12-01T00:00:00Z", age=1))
    assert as_dict(store.get_record("profile", "u1"))["age"] == "2"
    assert sorted(row["age"] for row in offline_rows(store)) == [1, 2]


def test_an_equal_event_time_overwrites(store):
    store.put_record("profile", record("u1", "2024-12-02T00:00:00Z", age=1))
    store.put_record("profile", record("u1", "2024-12-02T00:00:00Z", age=2))
    assert as_dict(store.get_record("profile", "u1"))["age"] == "2"


def test_fractional_event_times_are_unix_seconds(tmp_path):
    definition = FeatureGroupDefinition(
        "clicks",
        "id",
        "ts",
        {"id": "Integral", "ts": "Fractional", "n": "Integral"},
        True,
        None,
        True,
    )
    with FeatureStore(tmp_path) as fs:
        fs.create_group(definition)
        fs.put_record(
            "clicks",
            [
                {"FeatureName": "id", "ValueAsString": "7"},
                {"FeatureName": "ts", "ValueAsString": "1733097600.5"},
            ],
        )
        assert as_dict(fs.get_record("clicks", "7")) == {"id": "7", "ts": "1733097600.5"}
        assert fs.read_offline("clicks").column("event_date").to_pylist() == ["2024-12-02"]


# -- validation ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("values", "named"),
    [
        ({"user_id": "u1", "event_time": "2024-12-01T00:00:00Z", "age": "forty"}, "'age'"),
        ({"user_id": "u1", "event_time": "2024-12-01T00:00:00Z", "age": "1.5"}, "'age'"),
        ({"user_id": "u1", "event_time": "2024-12-01T00:00:00Z", "age": str(2**63)}, "'age'"),
        ({"user_id": "u1", "event_time": "2024-12-01T00:00:00Z", "score": "inf"}, "'score'"),
        ({"user_id": "u1", "event_time": "2024-12-01 00:00:00"}, "'event_time'"),
        ({"user_id": "u1", "event_time": "2024-02-30T00:00:00Z"}, "'event_time'"),
        ({"user_id": "u1", "event_time": "2024-12-01T00:00:00Z", "colour": "red"}, "'colour'"),
        ({"event_time": "2024-12-01T00:00:00Z"}, "'user_id'"),
        ({"user_id": "u1"}, "'event_time'"),
    ],
)
def test_an_invalid_record_names_the_feature_and_writes_nothing(store, values, named):
    bad = [{"FeatureName": k, "ValueAsString": v} for k, v in values.items()]
    with pytest.raises(FeatureStoreError) as raised:
        store.put_record("profile", bad)
    assert raised.value.code == "ValidationError"
    assert raised.value.status == 400
    assert named in raised.value.message
    if "age" in values or "score" in values:
        assert repr(values.get("age", values.get("score"))) in raised.value.message
    assert store.get_record("profile", "u1") is None
    assert offline_rows(store) == []


def test_event_times_with_milliseconds_are_accepted(store):
    store.put_record("profile", record("u1", "2024-12-01T00:00:00.123Z"))
    assert store.get_record("profile", "u1") is not None


# -- TTL ---------------------------------------------------------------------------------------


def test_records_expire_after_the_group_ttl(tmp_path, clock):
    ttl_group = FeatureGroupDefinition(
        "ttl", "user_id", "event_time", dict(PROFILE.features), True, 3600, False
    )
    with FeatureStore(tmp_path, clock=clock) as fs:
        fs.create_group(ttl_group)
        clock.now = T0
        fs.put_record("ttl", record("u1", "2024-12-02T00:00:00Z"))  # event time == T0
        response = fs.get_record_response("ttl", "u1", expiration_time_response=True)
        assert response["ExpiresAt"] == "2024-12-02T01:00:00.000Z"
        clock.now = T0 + 3599
        assert fs.get_record("ttl", "u1") is not None
        clock.now = T0 + 3600
        assert fs.get_record("ttl", "u1") is None
        # The expired record is gone, so even an older event time is accepted afterwards.
        fs.put_record("ttl", record("u1", "2024-12-01T23:59:00Z"), ttl_seconds=DAY)
        assert fs.get_record("ttl", "u1") is not None


def test_a_per_record_ttl_overrides_the_group_ttl(tmp_path, clock):
    ttl_group = FeatureGroupDefinition(
        "ttl", "user_id", "event_time", dict(PROFILE.features), True, 3600, False
    )
    with FeatureStore(tmp_path, clock=clock) as fs:
        fs.create_group(ttl_group)
        fs.put_record("ttl", record("long", "2024-12-02T00:00:00Z"), ttl_seconds=7200)
        fs.put_record("ttl", record("short", "2024-12-02T00:00:00Z"), ttl_seconds=60)
        clock.now = T0 + 3700
        assert fs.get_record("ttl", "long") is not None
        assert fs.get_record("ttl", "short") is None


# -- delete ------------------------------------------------------------------------------------


def test_soft_delete_hides_the_record_and_marks_it_deleted_offline(store):
    store.put_record("profile", record("u1", "2024-12-01T00:00:00Z"))
    store.delete_record("profile", "u1", "2024-12-02T00:00:00Z")
    assert store.get_record("profile", "u1") is None
    marker = offline_rows(store)[-1]
    assert marker["is_deleted"] is True
    assert (marker["user_id"], marker["event_time"]) == ("u1", "2024-12-02T00:00:00Z")
    assert (marker["age"], marker["score"]) == (None, None)


def test_soft_delete_keeps_its_event_time_so_older_puts_stay_hidden(store):
    store.put_record("profile", record("u1", "2024-12-01T00:00:00Z"))
    store.delete_record("profile", "u1", "2024-12-03T00:00:00Z")
    store.put_record("profile", record("u1", "2024-12-02T00:00:00Z"))
    assert store.get_record("profile", "u1") is None
    store.put_record("profile", record("u1", "2024-12-04T00:00:00Z"))
    assert store.get_record("profile", "u1") is not None


def test_an_older_soft_delete_is_ignored_online_but_marked_offline(store):
    store.put_record("profile", record("u1", "2024-12-02T00:00:00Z"))
    store.delete_record("profile", "u1", "2024-12-01T00:00:00Z")
    assert store.get_record("profile", "u1") is not None
    assert sorted((row["event_time"], row["is_deleted"]) for row in offline_rows(store)) == [
        ("2024-12-01T00:00:00Z", True),
        ("2024-12-02T00:00:00Z", False),
    ]


def test_hard_delete_removes_the_record_so_older_puts_come_back(store):
    store.put_record("profile", record("u1", "2024-12-02T00:00:00Z"))
    store.delete_record("profile", "u1", "2024-12-03T00:00:00Z", "HardDelete")
    assert store.get_record("profile", "u1") is None
    assert offline_rows(store)[-1]["is_deleted"] is True
    store.put_record("profile", record("u1", "2024-12-01T00:00:00Z"))
    assert store.get_record("profile", "u1") is not None


def test_an_older_hard_delete_fails_and_writes_no_marker(store):
    store.put_record("profile", record("u1", "2024-12-02T00:00:00Z"))
    with pytest.raises(FeatureStoreError) as raised:
        store.delete_record("profile", "u1", "2024-12-01T00:00:00Z", "HardDelete")
    assert raised.value.code == "ValidationError"
    assert store.get_record("profile", "u1") is not None
    assert [row["is_deleted"] for row in offline_rows(store)] == [False]


# -- batch get ---------------------------------------------------------------------------------


def test_batch_get_reports_unknown_groups_as_errors_and_skips_missing_ids(store):
    store.put_record("profile", record("u1", "2024-12-01T00:00:00Z", age=1))
    store.put_record("profile", record("u2", "2024-12-01T00:00:00Z", age=2))
    response = store.batch_get_record(
        [
            {"FeatureGroupName": "profile", "RecordIdentifiersValueAsString": ["u1", "nope", "u2"]},
            {
                "FeatureGroupName": "profile",
                "RecordIdentifiersValueAsString": ["u2"],
                "FeatureNames": ["age"],
            },
            {"FeatureGroupName": "ghost", "RecordIdentifiersValueAsString": ["u1"]},
        ]
    )
    assert [
        (r["RecordIdentifierValueAsString"], as_dict(r["Record"])["age"])
        for r in response["Records"]
    ] == [("u1", "1"), ("u2", "2"), ("u2", "2")]
    assert response["Records"][2]["Record"] == [{"FeatureName": "age", "ValueAsString": "2"}]
    assert [
        (e["FeatureGroupName"], e["RecordIdentifierValueAsString"], e["ErrorCode"])
        for e in response["Errors"]
    ] == [("ghost", "u1", "ResourceNotFound")]
    assert response["UnprocessedIdentifiers"] == []


# -- CSV ingest --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("now", "expired"),
    [(T0, 0), (1_795_305_600.0, 5000)],  # 2024-12-02, and 2026-11-22: 30 days are long gone
)
def test_ingest_counts_the_customers_already_past_the_online_ttl(tmp_path, now, expired):
    with FeatureStore(tmp_path, clock=Clock(now)) as fs:
        fs.create_group(customers_definition())
        ingested = fs.ingest_csv("customers", CUSTOMERS_CSV)
        assert (ingested.records, ingested.expired) == (5150, expired)


def test_the_churn_csv_ingests_keeping_the_latest_record_per_customer(tmp_path):
    with FeatureStore(tmp_path, clock=Clock(T0)) as fs:
        fs.create_group(customers_definition())
        assert fs.ingest_csv("customers", CUSTOMERS_CSV).records == 5150
        connection = fs._connection()
        assert connection.execute("SELECT count(*) FROM online_records").fetchone() == (5000,)
        # The online record of each customer is the CSV row with its greatest event time.
        latest: dict[str, list[str]] = {}
        lines = CUSTOMERS_CSV.read_text().splitlines()
        header = lines[0].split(",")
        for line in lines[1:]:
            row = line.split(",")
            if row[0] not in latest or row[1] >= latest[row[0]][1]:
                latest[row[0]] = row
        for customer_id in ("C000001", "C002155", "C004999"):
            assert as_dict(fs.get_record("customers", customer_id)) == {
                name: value
                for name, value in zip(header, latest[customer_id], strict=True)
                if value
            }
        assert fs.read_offline("customers").num_rows == 5150


def test_an_ingest_with_one_bad_row_names_it_and_writes_nothing(tmp_path):
    lines = CUSTOMERS_CSV.read_text().splitlines()
    fields = lines[101].split(",")
    fields[2] = "twelve"  # tenure_months of data row 101
    lines[101] = ",".join(fields)
    bad_csv = tmp_path / "bad.csv"
    bad_csv.write_text("\n".join(lines) + "\n")
    with FeatureStore(tmp_path / "fs") as fs:
        fs.create_group(customers_definition())
        with pytest.raises(FeatureStoreError) as raised:
            fs.ingest_csv("customers", bad_csv)
        assert "row 101" in raised.value.message
        assert "'tenure_months'" in raised.value.message and "'twelve'" in raised.value.message
        assert fs._connection().execute("SELECT count(*) FROM online_records").fetchone() == (0,)
        assert not any(path.is_file() for path in (tmp_path / "fs").joinpath("offline").rglob("*"))


def test_offline_parquet_is_partitioned_by_event_date_and_reads_back(store, tmp_path):
    store.put_record("profile", record("u1", "2024-12-01T10:00:00Z", age=1, score=0.5))
    store.put_record("profile", record("u2", "2024-12-01T23:59:59Z", age=2, score=None))
    store.put_record("profile", record("u1", "2024-12-02T00:00:00Z", age=3, score=1.5))
    root = tmp_path / "fs" / "offline" / "profile"
    files = sorted(root.glob("event_date=*/part-*.parquet"))
    assert sorted({f.parent.name for f in files}) == [
        "event_date=2024-12-01",
        "event_date=2024-12-02",
    ]
    rows = [
        {k: v for k, v in row.items() if k in PROFILE.features}
        for f in files
        for row in pq.read_table(f).to_pylist()
    ]
    assert sorted(rows, key=lambda r: r["event_time"]) == [
        {"user_id": "u1", "event_time": "2024-12-01T10:00:00Z", "age": 1, "score": 0.5},
        {"user_id": "u2", "event_time": "2024-12-01T23:59:59Z", "age": 2, "score": None},
        {"user_id": "u1", "event_time": "2024-12-02T00:00:00Z", "age": 3, "score": 1.5},
    ]
    schema = pq.read_schema(files[0])
    assert str(schema.field("write_time").type) == "timestamp[ms, tz=UTC]"
    assert str(schema.field("api_invocation_time").type) == "timestamp[ms, tz=UTC]"
    assert str(schema.field("is_deleted").type) == "bool"


# -- durability and concurrency ------------------------------------------------------------------


def test_a_new_store_on_the_same_root_sees_everything(tmp_path):
    with FeatureStore(tmp_path) as fs:
        fs.create_group(PROFILE)
        fs.put_record("profile", record("u1", "2024-12-01T00:00:00Z", age=9))
    with FeatureStore(tmp_path) as reopened:
        assert reopened.describe_group("profile").definition == PROFILE
        assert as_dict(reopened.get_record("profile", "u1"))["age"] == "9"
        assert offline_rows(reopened)[0]["age"] == 9


def test_eight_threads_can_put_and_get_at_once(tmp_path):
    online_only = FeatureGroupDefinition(
        "profile", "user_id", "event_time", dict(PROFILE.features), True, None, False
    )
    with FeatureStore(tmp_path) as fs:
        fs.create_group(online_only)
        failures: list[BaseException] = []

        def work(thread: int) -> None:
            try:
                for i in range(150):
                    user = f"t{thread}-{i % 20}"
                    fs.put_record(
                        "profile", record(user, f"2024-12-01T00:{i // 60:02d}:{i % 60:02d}Z", age=i)
                    )
                    got = fs.get_record("profile", user)
                    assert got is not None and int(as_dict(got)["age"]) >= i
            except BaseException as error:  # reported to the main thread below
                failures.append(error)

        threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert failures == []
        for thread in range(8):
            for user in range(20):
                last = max(i for i in range(150) if i % 20 == user)
                assert as_dict(fs.get_record("profile", f"t{thread}-{user}"))["age"] == str(last)


# -- the ordering rule, for any sequence of puts ----------------------------------------------

_IDS = itertools.count()


@pytest.fixture(scope="module")
def online_store(tmp_path_factory):
    online_only = FeatureGroupDefinition(
        "profile", "user_id", "event_time", dict(PROFILE.features), True, None, False
    )
    with FeatureStore(tmp_path_factory.mktemp("hypothesis")) as fs:
        fs.create_group(online_only)
        yield fs


@settings(max_examples=150, deadline=None)
@given(puts=st.lists(st.integers(min_value=0, max_value=30), min_size=1, max_size=15))
def test_the_online_record_is_the_put_with_the_greatest_event_time(online_store, puts):
    user = f"user-{next(_IDS)}"
    for position, second in enumerate(puts):
        online_store.put_record(
            "profile", record(user, f"2024-12-01T00:00:{second:02d}Z", age=position)
        )
    # Ties go to the later write: the last position holding the greatest event time.
    winner = max(range(len(puts)), key=lambda position: (puts[position], position))
    assert as_dict(online_store.get_record("profile", user))["age"] == str(winner)
