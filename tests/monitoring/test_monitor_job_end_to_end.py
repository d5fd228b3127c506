"""The monitor job end to end, as SageMaker runs it: its archive in a clean interpreter (no
mlinfra installed, an import guard), against S3 and CloudWatch.

moto stands in for AWS (it cannot be reached from the build machines), as a server on
loopback that the job's boto3 reaches through AWS_ENDPOINT_URL. The captured requests are
SageMaker data-capture files; the same files, in a folder, go through the local monitor (the
emulator's `python -m mlinfra.monitoring.job` subprocesses), and both must report the same
violations and the same drift.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from capture_events import capture_event

from mlinfra.emulator.services.monitors import jobs
from mlinfra.monitoring.bundle import ARCHIVE_NAME, job_archive

HERE = Path(__file__).parent
CHURN_CSV = HERE.parents[1] / "examples" / "churn" / "data" / "baseline.csv"
GUARD = HERE / "guarded_job.py"
REGION = "us-east-1"
ENDPOINT = "churn-dev-churn-api"
MONITOR = "churn-dev-churn-drift"
CAPTURE_BUCKET = "churn-dev-capture"
MONITORING_BUCKET = "churn-dev-monitoring"
# The endpoint's DestinationS3Uri is s3://<capture>/<endpoint>; SageMaker adds /<endpoint>.
CAPTURE = f"{ENDPOINT}/{ENDPOINT}/"
DATASET_KEY = "monitors/churn-drift/baseline/0123456789abcdef/baseline.csv"
RESULTS = f"s3://{MONITORING_BUCKET}/monitors/churn-drift/baseline-results/v1/"
REPORTS = f"s3://{MONITORING_BUCKET}/monitors/churn-drift/reports/"
# The pipeline started at 12:20: the window ends at 12:00 and, on a first run of a two-hourly
# schedule, opens at 10:00.
STARTED = "2026-01-01T12:20:07.512Z"
SINCE = datetime(2026, 1, 1, 10, tzinfo=UTC)
UNTIL = datetime(2026, 1, 1, 12, tzinfo=UTC)


def _records() -> list[tuple[datetime, str, str]]:
    """(inferenceTime, hour folder, CSV request) of every captured request.

    The requests inside the window are the baseline's rows with monthly charges up by 45, most
    contracts two-year and every eighth support_calls missing: drift and missing values.
    Around them, requests the window must leave out: before it, at its opening (exclusive),
    after it. One file of the next hour holds requests of the window's last minute.
    """
    rows = CHURN_CSV.read_text().splitlines()[1:401]
    found = []
    for i, row in enumerate(rows):
        tenure, charges, total, contract, calls, _prediction = row.split(",")
        charges = f"{float(charges) + 45:.2f}"
        contract = "two-year" if i % 5 else contract
        calls = "" if i % 8 == 0 else calls
        moment = SINCE + timedelta(seconds=17 * (i + 1))  # 10:00:17 .. 11:53:20
        found.append(
            (moment, moment.strftime("%H"), ",".join([tenure, charges, total, contract, calls]))
        )
    found.append((UNTIL, "12", "12,50.0,600.0,one-year,1"))  # at the end: inside
    found.append((UNTIL - timedelta(seconds=5), "12", "13,51.0,610.0,one-year,1"))  # late file
    outside = "99,999.0,99999.0,never-seen,99"
    found.append((SINCE, "10", outside))  # at the opening: outside
    found.append((SINCE - timedelta(minutes=30), "09", outside))
    found.append((UNTIL + timedelta(minutes=10), "12", outside))
    return found


def _capture_files() -> dict[str, str]:
    """Capture file contents by key below the endpoint's capture prefix."""
    files: dict[str, list[str]] = {}
    for moment, hour, data in _records():
        key = f"AllTraffic/2026/01/01/{hour}/capture-{hour}.jsonl"
        time = moment.isoformat().replace("+00:00", "Z")
        files.setdefault(key, []).append(capture_event(data, time=time))
    return {key: "\n".join(lines) + "\n" for key, lines in files.items()}


def _put_account(clients) -> str:
    """Buckets, the capture, the baseline data set and a KMS key; the key's ARN."""
    s3 = clients["s3"]
    for bucket in (CAPTURE_BUCKET, MONITORING_BUCKET):
        s3.create_bucket(Bucket=bucket)
    for key, text in _capture_files().items():
        s3.put_object(Bucket=CAPTURE_BUCKET, Key=f"{CAPTURE}{key}", Body=text.encode())
    s3.put_object(Bucket=MONITORING_BUCKET, Key=DATASET_KEY, Body=CHURN_CSV.read_bytes())
    return clients["kms"].create_key(Description="monitoring")["KeyMetadata"]["Arn"]


def _run_archive(tmp_path: Path, environment: dict, until: str = STARTED):
    archive = tmp_path / ARCHIVE_NAME
    archive.write_bytes(job_archive())
    arguments = [
        "--capture", f"s3://{CAPTURE_BUCKET}/{CAPTURE}",
        "--baseline-dataset", f"s3://{MONITORING_BUCKET}/{DATASET_KEY}",
        "--baseline-results", RESULTS,
        "--reports", REPORTS,
        "--until", until,
        "--period-hours", "2",
        "--drift-psi", "0.2",
        "--missing-percent", "5",
        "--monitor", MONITOR,
        "--endpoint", ENDPOINT,
    ]  # fmt: skip
    return subprocess.run(
        [sys.executable, "-I", str(GUARD), str(archive), *arguments],
        env={"PATH": os.environ.get("PATH", ""), **environment},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def _local_monitor(tmp_path: Path) -> Path:
    """The same files through the emulator's jobs: baseline, then the analysis of the window."""
    capture = tmp_path / "capture" / ENDPOINT
    for key, text in _capture_files().items():
        (capture / key).parent.mkdir(parents=True, exist_ok=True)
        (capture / key).write_text(text)
    baseline, report = tmp_path / "local-baseline", tmp_path / "local-report"
    jobs.baseline(CHURN_CSV, baseline, tmp_path, "0.2", "5")
    arguments = ["analyse", "--baseline", str(baseline), "--capture", str(capture)]
    arguments += ["--features-from-baseline", "--output", str(report)]
    arguments += ["--since", SINCE.isoformat(), "--until", UNTIL.isoformat()]
    jobs.Job(arguments, tmp_path).run(120)
    return report


def _s3_json(s3, uri: str, name: str) -> dict:
    bucket, _, prefix = uri.removeprefix("s3://").partition("/")
    return json.loads(s3.get_object(Bucket=bucket, Key=prefix + name)["Body"].read())


def _metric(cloudwatch, name: str, feature: str | None = None) -> float:
    dimensions = [{"Name": "Monitor", "Value": MONITOR}, {"Name": "Endpoint", "Value": ENDPOINT}]
    if feature:
        dimensions.append({"Name": "Feature", "Value": feature})
    found = cloudwatch.get_metric_statistics(
        Namespace="mlinfra/Monitoring",
        MetricName=name,
        Dimensions=dimensions,
        StartTime=datetime.now(UTC) - timedelta(hours=1),
        EndTime=datetime.now(UTC) + timedelta(hours=1),
        Period=60,
        Statistics=["Maximum"],
    )["Datapoints"]
    assert len(found) == 1, f"{name} {feature}: {found}"
    return found[0]["Maximum"]


def test_the_monitor_job_reports_what_the_local_monitor_reports(tmp_path: Path, aws):
    key_arn = _put_account(aws)
    environment = {**aws["environment"], "MLINFRA_OUTPUT_KMS_KEY_ID": key_arn}

    done = _run_archive(tmp_path, environment)

    assert done.returncode == 0, done.stderr
    assert "402 records from 2026-01-01T10:00:00Z to 2026-01-01T12:00:00Z" in done.stdout
    report = f"{REPORTS}20260101T120000Z/"
    local = _local_monitor(tmp_path)
    violations = _s3_json(aws["s3"], report, "constraint_violations.json")
    assert violations == json.loads((local / "constraint_violations.json").read_text())
    checks = {(v["feature_name"], v["constraint_check_type"]) for v in violations["violations"]}
    assert {
        ("monthly_charges", "baseline_drift_check"),
        ("contract", "baseline_drift_check"),
        ("support_calls", "completeness_check"),
    } <= checks
    drift = _s3_json(aws["s3"], report, "drift.json")
    assert drift == json.loads((local / "drift.json").read_text())
    assert _s3_json(aws["s3"], report, "statistics.json") == json.loads(
        (local / "statistics.json").read_text()
    )


def test_reports_and_baseline_are_written_with_the_kms_key(tmp_path: Path, aws):
    key_arn = _put_account(aws)
    environment = {**aws["environment"], "MLINFRA_OUTPUT_KMS_KEY_ID": key_arn}

    assert _run_archive(tmp_path, environment).returncode == 0

    s3 = aws["s3"]
    keys = [
        f"monitors/churn-drift/reports/20260101T120000Z/{name}"
        for name in ("statistics.json", "constraint_violations.json", "drift.json")
    ]
    keys += [
        f"monitors/churn-drift/baseline-results/v1/{name}"
        for name in ("statistics.json", "constraints.json", "source.json")
    ]
    keys.append("monitors/churn-drift/reports/latest.json")
    for key in keys:
        head = s3.head_object(Bucket=MONITORING_BUCKET, Key=key)
        assert head["ServerSideEncryption"] == "aws:kms", key
        assert head["SSEKMSKeyId"] == key_arn, key


def test_metrics_reach_cloudwatch_per_feature_and_per_run(tmp_path: Path, aws):
    _put_account(aws)

    assert _run_archive(tmp_path, aws["environment"]).returncode == 0

    drift = _s3_json(aws["s3"], f"{REPORTS}20260101T120000Z/", "drift.json")
    cloudwatch = aws["cloudwatch"]
    assert _metric(cloudwatch, "violations") == drift["violations"] > 0
    assert _metric(cloudwatch, "records") == 402
    for feature in drift["features"]:
        assert _metric(cloudwatch, "psi", feature["name"]) == pytest.approx(feature["psi"])
        assert _metric(cloudwatch, "missing_percent", feature["name"]) == pytest.approx(
            feature["missing_percent"]
        )
        assert _metric(cloudwatch, "drifted", feature["name"]) == float(feature["drifted"])


def test_the_next_run_opens_its_window_where_the_last_one_closed(tmp_path: Path, aws):
    _put_account(aws)
    assert _run_archive(tmp_path, aws["environment"]).returncode == 0
    late = UNTIL + timedelta(minutes=30)
    aws["s3"].put_object(
        Bucket=CAPTURE_BUCKET,
        Key=f"{CAPTURE}AllTraffic/2026/01/01/12/later.jsonl",
        Body=capture_event("20,70.0,1400.0,one-year,1", time=late.isoformat()).encode(),
    )

    # Six hours on (runs failed or were skipped in between): everything since 12:00.
    done = _run_archive(tmp_path, aws["environment"], until="2026-01-01T18:20:00Z")

    assert done.returncode == 0, done.stderr
    # The two requests after 12:00 (one at 12:10 already captured, one at 12:30): nothing twice.
    assert "2 records from 2026-01-01T12:00:00Z to 2026-01-01T18:00:00Z" in done.stdout
    latest = _s3_json(aws["s3"], REPORTS, "latest.json")
    assert latest["until"] == "2026-01-01T18:00:00Z"
    assert latest["report"] == "20260101T180000Z"


def test_a_run_without_its_baseline_data_set_fails_in_one_line(tmp_path: Path, aws):
    _put_account(aws)
    aws["s3"].delete_object(Bucket=MONITORING_BUCKET, Key=DATASET_KEY)

    done = _run_archive(tmp_path, aws["environment"])

    assert done.returncode == 1
    assert done.stderr.strip() == (
        f"monitor: baseline data set not found: s3://{MONITORING_BUCKET}/{DATASET_KEY}"
    )
