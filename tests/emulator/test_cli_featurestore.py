"""`mlinfra featurestore ingest NAME --env local`: a spec's CSV into the running emulator.

The emulator is real: the `server` fixture's in-process server, announced in the spec folder's
run file as `mlinfra emulator start` does, so the CLI finds it the way it finds a detached one;
one test runs the whole thing as a user does, with detached processes.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from featurestore_client import client, create_group, get_record, offline_files

from mlinfra.cli.main import cli
from mlinfra.emulator import credentials, process
from mlinfra.emulator.access import Access

SPEC = """\
version: 1
project: shop
environments:
  local:
    target: local
  dev:
    target: sagemaker
    account: "111111111111"
feature_stores:
  customers:
    record_identifier: customer_id
    event_time: event_time
    features:
      customer_id: string
      event_time: string
      tenure_months: integral
      contract: string
    online:
      enabled: true
    offline:
      enabled: true
    source: data/customers.csv
  orders:
    record_identifier: order_id
    event_time: event_time
    features:
      order_id: string
      event_time: string
"""
GROUP = "shop-local-customers"  # {project}-{env}-{component}
CSV = """\
customer_id,event_time,tenure_months,contract
C1,2024-12-01T10:00:00Z,12,one-year
C2,2024-12-02T10:00:00Z,3,month-to-month
C1,2024-11-01T10:00:00Z,11,one-year
"""


def run(*args: str) -> Result:
    result = CliRunner().invoke(cli, list(args))
    # Exits are SystemExit; anything else escaped the command (CliRunner keeps the exception).
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    assert "Traceback" not in result.output
    return result


@pytest.fixture()
def spec(tmp_path: Path) -> Path:
    """A spec in the `server` fixture's root folder, with the customers CSV its source names."""
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "customers.csv").write_text(CSV)
    path = tmp_path / "mlinfra.yaml"
    path.write_text(SPEC)
    return path


@pytest.fixture()
def emulator(server, spec: Path):
    """The `server` fixture, running for `spec`'s folder with the customers group created."""
    state_dir = process.state_dir_of(spec)
    assert server.state_dir == state_dir
    status = process.Status(
        url=server.url,
        pid=os.getpid(),
        port=server.port,
        state_dir=str(state_dir),
        log_file=str(state_dir / process.LOG_FILE),
        started_at="2026-01-01T00:00:00+00:00",
    )
    process.write_run_file(state_dir, status)
    create_group(server, GROUP)
    yield server
    (state_dir / process.RUN_FILE).unlink(missing_ok=True)


def ingest(spec: Path, *args: str) -> Result:
    return run("featurestore", "ingest", "customers", "--env", "local", "-f", str(spec), *args)


def test_ingest_loads_the_spec_source_and_says_how_many_records_went_where(emulator, spec):
    result = ingest(spec)
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith(f"ingested 3 records into {GROUP} (online, offline) in "), (
        result.output
    )
    assert result.stdout.rstrip().endswith(" ms")
    # The older C1 row came last in the file and did not replace the newer one online.
    assert get_record(emulator, GROUP, "C1") == {
        "customer_id": "C1",
        "event_time": "2024-12-01T10:00:00Z",
        "tenure_months": "12",
        "contract": "one-year",
    }


def test_ingesting_the_same_csv_again_appends_nothing_offline_and_says_so(emulator, spec):
    assert ingest(spec).exit_code == 0
    files = offline_files(emulator.state_dir)
    again = ingest(spec)
    assert again.exit_code == 0, again.output
    assert "ingested 3 records" in again.stdout
    assert "3 of them were in the offline store already" in again.stdout
    assert offline_files(emulator.state_dir) == files


def test_ingest_warns_when_records_are_past_the_online_ttl_on_arrival(emulator, spec):
    # The group again, with a 30-day online TTL: the CSV's 2024 records are long expired.
    client(emulator, "sagemaker").delete_feature_group(FeatureGroupName=GROUP)
    create_group(emulator, GROUP, ttl_days=30)
    spec.write_text(
        SPEC.replace("      enabled: true\n", "      enabled: true\n      ttl: 30d\n", 1)
    )
    result = ingest(spec)
    assert result.exit_code == 0, result.output
    assert "ingested 3 records" in result.stdout
    assert (
        "warning: for 2 identifier(s), the latest record is older than the online store's "
        "ttl (30d)" in result.stderr
    )
    assert get_record(emulator, GROUP, "C1") is None  # expired, as in SageMaker


def test_ingest_without_a_ttl_does_not_warn(emulator, spec):
    result = ingest(spec)
    assert result.exit_code == 0 and "warning" not in result.output


def test_ingest_reads_source_from_the_option_relative_to_the_working_directory(
    emulator, spec, tmp_path, monkeypatch
):
    (tmp_path / "other.csv").write_text("customer_id,event_time\nC9,2024-12-09T10:00:00Z\n")
    monkeypatch.chdir(tmp_path)
    result = ingest(spec, "--source", "other.csv")
    assert result.exit_code == 0, result.output
    assert "ingested 1 records" in result.stdout
    assert get_record(emulator, GROUP, "C9") is not None
    assert get_record(emulator, GROUP, "C1") is None  # the spec's source was not read


def test_a_csv_with_one_bad_row_ingests_nothing_and_names_the_row(emulator, spec, tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text(CSV.replace("C2,2024-12-02T10:00:00Z,3,", "C2,2024-12-02T10:00:00Z,three,"))
    result = ingest(spec, "--source", str(bad))
    assert result.exit_code == 1
    assert "nothing was ingested: row 2 (line 3): feature 'tenure_months'" in result.stderr
    assert f"{bad}:" in result.stderr
    assert get_record(emulator, GROUP, "C1") is None
    assert offline_files(emulator.state_dir) == []


def test_a_feature_group_missing_from_the_emulator_says_how_it_is_created(emulator, spec):
    spec.write_text(SPEC.replace("project: shop", "project: store"))
    result = ingest(spec)
    assert result.exit_code == 1
    assert "feature group store-local-customers does not exist in the emulator" in result.stderr
    assert "mlinfra apply --env local" in result.stderr and "CreateFeatureGroup" in result.stderr


@pytest.mark.parametrize(
    ("name", "env", "messages"),
    [
        (
            "custmers",
            "local",
            [
                "has no feature store 'custmers' (it has: customers, orders)",
                "did you mean 'customers'?",
            ],
        ),
        ("customers", "lokal", ["has no environment 'lokal'", "did you mean 'local'?"]),
        (
            "customers",
            "dev",
            ["environment 'dev' has target 'sagemaker'", "works with the local emulator only"],
        ),
        ("orders", "local", ["feature store 'orders' has no `source:`", "--source FILE"]),
    ],
    ids=["unknown-store", "unknown-env", "sagemaker-env", "no-source"],
)
def test_a_store_or_environment_it_cannot_load_is_refused_saying_why(spec, name, env, messages):
    result = run("featurestore", "ingest", name, "--env", env, "-f", str(spec))
    assert result.exit_code == 1
    for message in messages:
        assert message in result.stderr


def test_no_running_emulator_says_to_start_one(spec):
    result = ingest(spec)
    assert result.exit_code == 1
    assert "no emulator is running for" in result.stderr
    assert "mlinfra emulator start" in result.stderr


def test_a_missing_source_file_is_named(spec, tmp_path):
    (tmp_path / "data" / "customers.csv").unlink()
    result = ingest(spec)
    assert result.exit_code == 1
    assert f"source file {tmp_path / 'data' / 'customers.csv'} does not exist" in result.stderr


def test_an_invalid_spec_prints_its_diagnostics(spec):
    spec.write_text(SPEC.replace("record_identifier: order_id", "record_identifier: nope"))
    result = ingest(spec)
    assert result.exit_code == 1
    assert "error[" in result.output and "invalid (" in result.output


def test_an_emulator_that_stopped_answering_is_reported(spec, tmp_path):
    # A run file whose process is this one, holding the folder's lock (so it counts as
    # running), but whose port is closed.
    state_dir = process.state_dir_of(spec)
    state_dir.mkdir(parents=True)
    lock = process.hold_lock(state_dir)
    credentials.load_or_create(state_dir)  # made when it started, as an emulator does
    status = process.Status("http://127.0.0.1:9", os.getpid(), 9, str(state_dir), "", "")
    process.write_run_file(state_dir, status)
    try:
        result = ingest(spec)
    finally:
        lock.close()
    assert result.exit_code == 1
    assert "cannot reach the emulator at http://127.0.0.1:9" in result.stderr


def test_ingest_as_a_user_runs_it_with_a_detached_emulator(spec):
    def mlinfra(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "mlinfra.cli.main", *args, "-f", str(spec)],
            capture_output=True,
            text=True,
            timeout=120,
        )

    started = mlinfra("emulator", "start")
    assert started.returncode == 0, started.stderr
    try:
        access = Access.for_spec(spec)
        assert access.url == started.stdout.strip()
        create_group(access, GROUP)
        result = mlinfra("featurestore", "ingest", "customers", "--env", "local")
        assert result.returncode == 0, result.stderr
        assert f"ingested 3 records into {GROUP} (online, offline)" in result.stdout
        assert get_record(access, GROUP, "C2")["contract"] == "month-to-month"
    finally:
        mlinfra("emulator", "stop")
