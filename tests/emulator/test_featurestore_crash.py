"""A feature store write is all or nothing across a crash, and loading the same records twice
appends nothing twice.

Each crash is real: a child process loads a CSV and is killed (SIGKILL) at one point of the
write, between staging the offline files and dropping the note of them; the test then opens
the store again, as a restarted emulator does, and checks that the online and offline stores
agree and nothing is left staged.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from mlinfra.emulator.featurestore.definition import FeatureGroupDefinition
from mlinfra.emulator.featurestore.store import FeatureStore

GROUP = FeatureGroupDefinition(
    name="customers",
    record_identifier="customer_id",
    event_time="event_time",
    features={"customer_id": "String", "event_time": "String", "calls": "Integral"},
)
DATES = ("2024-12-01", "2024-12-02", "2024-12-03", "2024-12-04")
ROWS = [
    f"c{n},{DATES[n % len(DATES)]}T10:00:{n % 60:02d}Z,{n}" for n in range(40)
]  # four event dates: four offline files per load
CSV = "customer_id,event_time,calls\n" + "\n".join(ROWS) + "\n"

# Runs in the child: load CSV into the store at ROOT, killing itself at POINT.
CHILD = textwrap.dedent(
    """
    import os, signal, sys
    from pathlib import Path
    from mlinfra.emulator.featurestore import offline
    from mlinfra.emulator.featurestore.store import FeatureStore

    root, point, count = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3])
    calls = {"n": 0}

    def die_after(real, limit):
        def hooked(*args, **kwargs):
            if calls["n"] == limit:
                os.kill(os.getpid(), signal.SIGKILL)
            calls["n"] += 1
            return real(*args, **kwargs)
        return hooked

    if point == "staging":  # after `count` offline files are written
        offline.pq.write_table = die_after(offline.pq.write_table, count)
    elif point == "staged":  # after every file is staged, before the commit
        real_stage = offline.stage
        def stage(*args):
            real_stage(*args)
            os.kill(os.getpid(), signal.SIGKILL)
        offline.stage = stage
    elif point == "renaming":  # after the commit and `count` renames
        os.replace = die_after(os.replace, count)
    elif point == "noted":  # after every rename, before the note of them is dropped
        real = offline.publish
        def publish(staged):
            real(staged)
            os.kill(os.getpid(), signal.SIGKILL)
        offline.publish = publish
    with FeatureStore(root) as fs:
        fs.ingest_csv("customers", root.parent / "customers.csv")
    sys.exit(3)  # not reached: the hook kills the process first
    """
)


def load_and_crash(root: Path, point: str, count: int = 0) -> None:
    child = subprocess.run(
        [sys.executable, "-c", CHILD, str(root), point, str(count)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert child.returncode == -9, child.stderr  # killed where the hook said


def online_ids(fs: FeatureStore) -> set[str]:
    return {f"c{n}" for n in range(len(ROWS)) if fs.get_record("customers", f"c{n}")}


def offline_ids(fs: FeatureStore) -> list[str]:
    return sorted(fs.read_offline("customers").column("customer_id").to_pylist())


def staged_files(root: Path) -> list[Path]:
    return sorted(root.rglob(".part-*.tmp"))


@pytest.fixture
def root(tmp_path: Path) -> Path:
    (tmp_path / "customers.csv").write_text(CSV)
    with FeatureStore(tmp_path / "fs") as fs:
        fs.create_group(GROUP)
    return tmp_path / "fs"


@pytest.mark.parametrize(("point", "count"), [("staging", 0), ("staging", 2), ("staged", 0)])
def test_a_crash_before_the_commit_leaves_neither_store_changed(root, point, count):
    load_and_crash(root, point, count)
    with FeatureStore(root) as fs:
        assert online_ids(fs) == set()
        assert offline_ids(fs) == []
    assert staged_files(root) == []


@pytest.mark.parametrize(
    ("point", "count"), [("renaming", 0), ("renaming", 1), ("renaming", 3), ("noted", 0)]
)
def test_a_crash_after_the_commit_is_finished_when_the_store_opens_again(root, point, count):
    load_and_crash(root, point, count)
    with FeatureStore(root) as fs:
        everyone = {f"c{n}" for n in range(len(ROWS))}
        assert online_ids(fs) == everyone
        assert offline_ids(fs) == sorted(everyone)
    assert staged_files(root) == []


def test_a_crashed_load_loaded_again_leaves_one_offline_row_per_record(root):
    load_and_crash(root, "renaming", 2)
    with FeatureStore(root) as fs:
        fs.ingest_csv("customers", root.parent / "customers.csv")
        assert offline_ids(fs) == sorted(f"c{n}" for n in range(len(ROWS)))


def test_loading_the_same_csv_twice_appends_nothing_the_second_time(root):
    with FeatureStore(root) as fs:
        first = fs.ingest_csv("customers", root.parent / "customers.csv")
        files = sorted(root.rglob("part-*.parquet"))
        again = fs.ingest_csv("customers", root.parent / "customers.csv")
        assert first.records == again.records == len(ROWS)
        assert offline_ids(fs) == sorted(f"c{n}" for n in range(len(ROWS)))
        assert sorted(root.rglob("part-*.parquet")) == files


def test_a_record_loaded_again_with_other_values_is_appended_and_wins_online(root):
    with FeatureStore(root) as fs:
        fs.ingest_csv("customers", root.parent / "customers.csv")
        changed = CSV.replace("c7,2024-12-04T10:00:07Z,7", "c7,2024-12-04T10:00:07Z,70")
        (root.parent / "changed.csv").write_text(changed)
        fs.ingest_csv("customers", root.parent / "changed.csv")
        table = fs.read_offline("customers").to_pylist()
        assert len(table) == len(ROWS) + 1  # only the changed record is written again
        assert [r["calls"] for r in table if r["customer_id"] == "c7"] == [7, 70]
        online = {v["FeatureName"]: v["ValueAsString"] for v in fs.get_record("customers", "c7")}
        assert online["calls"] == "70"


def test_a_record_put_then_loaded_is_in_the_offline_store_once(root):
    with FeatureStore(root) as fs:
        row = ROWS[5].split(",")
        fs.put_record(
            "customers",
            [
                {"FeatureName": name, "ValueAsString": value}
                for name, value in zip(("customer_id", "event_time", "calls"), row, strict=True)
            ],
        )
        fs.ingest_csv("customers", root.parent / "customers.csv")
        assert offline_ids(fs).count("c5") == 1


def test_a_deleted_group_created_again_accepts_the_same_records(root):
    with FeatureStore(root) as fs:
        fs.ingest_csv("customers", root.parent / "customers.csv")
        fs.delete_group("customers")
        fs.create_group(GROUP)
        fs.ingest_csv("customers", root.parent / "customers.csv")
        assert len(offline_ids(fs)) == len(ROWS)


def test_a_restarted_emulator_finishes_the_interrupted_write_before_any_request(tmp_path):
    from mlinfra.emulator.control import ControlPlane

    state = tmp_path / "state"
    (state / "customers.csv").parent.mkdir(parents=True)
    (state / "customers.csv").write_text(CSV)
    with FeatureStore(state / "featurestore") as fs:
        fs.create_group(GROUP)
    load_and_crash(state / "featurestore", "renaming", 1)
    assert staged_files(state)  # the crash left files staged
    control = ControlPlane(tmp_path, state)
    try:
        assert staged_files(state) == []
        published = sorted((state / "featurestore" / "offline").rglob("part-*.parquet"))
        assert len(published) == len(DATES)
    finally:
        control.close()
