"""The model-quality monitor job on SageMaker: one run, as a Processing job runs it.

    python3 monitor-job.pyz quality --capture s3://<capture>/<endpoint>/
        --ground-truth s3://<bucket>/<labels>/ --reports s3://<monitoring>/monitors/<m>/reports/
        --until <the pipeline execution's start> --problem-type binary_classification
        --metric accuracy --window-seconds 86400 [--label-delay-seconds 3600]
        [--alert 97%] [--rollback 95%] --monitor <name> --endpoint <name>

It runs what the emulator's quality executions run (`quality.analyse_quality`, then
`rollback`), so a line and a rollback mean the same on both targets. A run:

1. finds the registry version the endpoint serves and the metric it was registered with
   (relative lines are shares of it): DescribeEndpoint, its configuration and model,
   DescribeModelPackage. An endpoint that serves an artifact, or cannot be described, is
   judged on absolute lines alone and never rolled back;
2. reads the predictions captured in (until - label delay - window, until - label delay]
   (the capture files of those hours, and one more: files are filed by the hour they were
   written) and the ground-truth files filed from the window's first hour on (labels arrive
   after their predictions, under SageMaker's `yyyy/mm/dd/hh/` layout of their arrival);
3. writes quality.json and constraint_violations.json (the crossed lines) under
   `<reports>/<until, as 20260101T120000Z>/`, with the job's KMS key;
4. below the rollback line, rejects the serving version (`rollback.roll_back`): the job's role
   may update versions of that one group, and the next `mlinfra apply` serves the previous
   approved version; the report's quality.json records what was done (`rollback_result`);
5. publishes `violations` (the alarm's metric, which alerts), `quality`, `labelled_predictions`
   and `rolled_back` to CloudWatch, then records the run in latest.json.

`--metrics-file` and local folders instead of `s3://` run the same code without AWS.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from pathlib import Path, PurePosixPath
from typing import Any

from mlinfra.monitoring import counted
from mlinfra.monitoring.analysis import VIOLATIONS_FILE
from mlinfra.monitoring.files import json_bytes
from mlinfra.monitoring.metrics import NAMESPACE, batches
from mlinfra.monitoring.processing import KMS_KEY_VARIABLE, iso, parse_time, run_command
from mlinfra.monitoring.quality import (
    QualitySettings,
    add_quality_arguments,
    analyse_quality,
    violations,
)
from mlinfra.monitoring.quality_metrics import QUALITY_FILE
from mlinfra.monitoring.rollback import (
    Call,
    boto3_call,
    registered_metric,
    roll_back,
    s3_reader,
    serving_package,
)
from mlinfra.monitoring.storage import Location, location

LATEST_FILE = "latest.json"
STATE_VERSION = 1
STAMP = "%Y%m%dT%H%M%SZ"
LATE_HOURS = 1
QUALITY_METRIC = "quality"
LABELLED = "labelled_predictions"
ROLLED_BACK = "rolled_back"


def run(arguments: argparse.Namespace, sagemaker: Call | None = None) -> str:
    """One run (see the module's docstring); its summary line. `sagemaker` stands in for a
    boto3 client's calls (tests, and runs with `--no-registry`)."""
    kms_key_id = arguments.kms_key_id or os.environ.get(KMS_KEY_VARIABLE) or None
    reports = location(arguments.reports, kms_key_id=kms_key_id)
    now = parse_time(arguments.until)
    settings = QualitySettings.of(arguments)
    read_report = None
    if sagemaker is None and not arguments.no_registry:
        import boto3

        sagemaker = boto3_call(boto3.client("sagemaker"))
        read_report = s3_reader(boto3.client("s3"))
    package = serving_package(sagemaker, arguments.endpoint) if sagemaker else None
    reference = registered_metric(package, settings.metric, read_report)
    settings = replace(settings, reference=reference)
    end = now - settings.label_delay
    start = end - settings.window
    with tempfile.TemporaryDirectory(prefix="mlinfra-quality-", dir=arguments.scratch) as scratch:
        work = Path(scratch)
        capture = fetch_hours(
            location(arguments.capture), start, end + timedelta(hours=LATE_HOURS), work / "c"
        )
        truth = fetch_hours(location(arguments.ground_truth), start, None, work / "g")
        result = analyse_quality(settings, capture, truth, now)
    document = dict(result.document)
    found = violations(document)
    if result.rollback and sagemaker is not None:
        document["rollback_result"] = roll_back(
            sagemaker,
            document,
            package,
            monitor=arguments.monitor,
            execution=arguments.execution or now.strftime(STAMP),
            endpoint=arguments.endpoint,
        )
    if package is not None:
        document["model_package"] = package.get("ModelPackageArn")
    stamp = now.strftime(STAMP)
    run_folder = reports.child(f"{stamp}/")
    run_folder.write(QUALITY_FILE, json_bytes(document))
    run_folder.write(VIOLATIONS_FILE, json_bytes({"violations": found}))
    rolled_back = bool((document.get("rollback_result") or {}).get("rolled_back"))
    data = metric_data(document, len(found), rolled_back, arguments, datetime.now(timezone.utc))
    if arguments.metrics_file is not None:
        arguments.metrics_file.write_bytes(
            json_bytes([{**d, "Timestamp": iso(d["Timestamp"])} for d in data])
        )
    else:
        import boto3

        cloudwatch = boto3.client("cloudwatch")
        for batch in batches(data):
            cloudwatch.put_metric_data(Namespace=arguments.metrics_namespace, MetricData=batch)
    latest = {
        "version": STATE_VERSION,
        "until": iso(now),
        "report": stamp,
        "violations": len(found),
        "value": document["value"],
    }
    reports.write(LATEST_FILE, json_bytes(latest))
    value = "no value" if document["value"] is None else f"{document['value']:.4g}"
    summary = (
        f"{settings.metric} {value} over {counted(document['labelled'], 'labelled prediction')}"
        f", {counted(len(found), 'violation')}, report {run_folder.uri()}"
    )
    if "rollback_result" in document:
        summary += f"; {document['rollback_result']['message']}"
    return summary


def fetch_hours(source: Location, since: datetime, until: datetime | None, folder: Path) -> Path:
    """Copy the JSON Lines files filed under `yyyy/mm/dd/hh/` from the hour of `since` to the
    hour of `until` (None: to the newest), below `source` or one folder below it (capture
    files are under the variant's name), into `folder`."""
    first = since.strftime("%Y/%m/%d/%H")
    last = until.strftime("%Y/%m/%d/%H") + "/~" if until is not None else None
    prefixes = [""] + [f"{name}/" for name in source.folders() if not name.isdigit()]
    for prefix in prefixes:
        files = source.child(prefix) if prefix else source
        for key in files.keys(start_after=first, until=last):
            if PurePosixPath(key).suffix == ".jsonl":
                files.download(key, folder / prefix / key)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def metric_data(
    document: dict, found: int, rolled_back: bool, arguments: argparse.Namespace, at: datetime
) -> list[dict[str, Any]]:
    """The run's MetricData: `violations` as the data-quality job publishes it (the alarm's
    metric), and the metric itself with its name as the `Metric` dimension."""
    common = [
        {"Name": "Monitor", "Value": arguments.monitor},
        {"Name": "Endpoint", "Value": arguments.endpoint},
    ]

    def datum(name: str, value: float, unit: str, extra: list | None = None) -> dict[str, Any]:
        return {
            "MetricName": name,
            "Dimensions": common + (extra or []),
            "Timestamp": at,
            "Value": float(value),
            "Unit": unit,
        }

    data = [
        datum("violations", found, "Count"),
        datum(LABELLED, document["labelled"], "Count"),
        datum(ROLLED_BACK, 1 if rolled_back else 0, "Count"),
    ]
    if document["value"] is not None:
        metric = [{"Name": "Metric", "Value": document["metric"]}]
        data.append(datum(QUALITY_METRIC, document["value"], "None", metric))
    return data


def parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="monitor-job.pyz quality")
    parser.add_argument("--capture", required=True, help="the endpoint's data-capture prefix")
    parser.add_argument("--ground-truth", required=True, help="the ground-truth labels' prefix")
    parser.add_argument("--reports", required=True, help="the monitor's reports prefix")
    parser.add_argument("--until", required=True, help="when the run started (ISO 8601)")
    add_quality_arguments(parser)
    parser.add_argument("--monitor", required=True, help="the Monitor metric dimension")
    parser.add_argument("--endpoint", required=True, help="the endpoint the monitor watches")
    parser.add_argument("--execution", help="the run's name in the rejection's reason")
    parser.add_argument("--metrics-namespace", default=NAMESPACE)
    parser.add_argument(
        "--metrics-file", type=Path, help="write the metric data here instead of CloudWatch"
    )
    parser.add_argument(
        "--no-registry", action="store_true", help="ask SageMaker nothing: no rollback"
    )
    parser.add_argument("--kms-key-id", help="the outputs' KMS key")
    parser.add_argument("--scratch", help="a folder for temporary files (else the system's)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """As `processing.main`: one summary line and 0, or one line on stderr and 1."""
    arguments = parser().parse_args(argv)
    return run_command("quality", lambda: run(arguments))


if __name__ == "__main__":
    sys.exit(main())
