"""The monitor job on SageMaker: one run of a monitor, as a Processing job runs it.

    python3 monitor-job.pyz --capture s3://<capture>/<endpoint>/
        --baseline-dataset s3://<monitoring>/monitors/<m>/baseline/<hash>/baseline.csv
        --baseline-results s3://<monitoring>/monitors/<m>/baseline-results/<hash>/
        --reports s3://<monitoring>/monitors/<m>/reports/
        --until <the pipeline execution's start> --period-hours 24
        --drift-psi 0.2 --missing-percent 5 --monitor <name> --endpoint <name>

It runs the analysis the emulator runs (`analysis`, `baseline`, `capture`), so a threshold
and a violation mean the same on both targets. A run:

1. makes the baseline (statistics.json, constraints.json) from the baseline data set when
   `--baseline-results` does not hold it yet, or holds it for another version of the data set
   (its `source.json` records the data set's ETag): the first run of a monitor makes it, and
   no run waits on a baselining job that nobody starts;
2. takes its window: it ends at `--until` floored to the hour (monitor schedules run on the
   hour; the pipeline starts a little later, once capture files of the last minutes are
   written) and starts where the last completed run's window ended (`latest.json` in the
   reports), or one schedule period earlier for the first run. So, as in the emulator, no
   request is analysed twice, and a failed run's requests are analysed by the next one;
3. reads the capture files of the window's hours (SageMaker writes them under
   `<variant>/yyyy/mm/dd/hh/`, by the hour they were written, so one hour more is read) and
   keeps the requests whose inferenceTime is in the window, and their responses' predictions
   when the baseline has a `prediction` column (prediction drift; else the summary says once
   that predictions were not analysed);
4. writes statistics.json, constraint_violations.json and drift.json under
   `<reports>/<until, as 20260101T120000Z>/`, SSE-KMS with the key in
   `MLINFRA_OUTPUT_KMS_KEY_ID` (the step's environment names it, where audits read it);
5. publishes its metrics (`metrics`) to CloudWatch, then records the window in latest.json.

Locations may be local folders instead of `s3://` prefixes, and `--metrics-file` writes the
metric data to a file instead of CloudWatch: the same code path, run without AWS (benchmarks).

A run that could not happen (no baseline data set, no records in the window, access denied)
prints one line on stderr and exits 1, as `job` does; SageMaker shows it as the failure.
Only modules of the monitoring package that need nothing but pandas, numpy and boto3 are
imported here: this module runs from the bundle uploaded beside the image (`bundle`).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path, PurePosixPath

from mlinfra.monitoring import KMS_KEY_VARIABLE, MonitoringError, counted
from mlinfra.monitoring.analysis import DRIFT_FILE, NO_PREDICTION, VIOLATIONS_FILE, analyse_capture
from mlinfra.monitoring.baseline import (
    CONSTRAINTS_FILE,
    DEFAULT_DRIFT_PSI,
    DEFAULT_MISSING_PERCENT,
    STATISTICS_FILE,
    Baseline,
    read_dataset,
    suggest_baseline,
)
from mlinfra.monitoring.files import json_bytes
from mlinfra.monitoring.metrics import NAMESPACE, metric_data, publish
from mlinfra.monitoring.storage import Location, location

SOURCE_FILE = "source.json"  # beside a baseline: the data set it was made from
LATEST_FILE = "latest.json"  # in the reports: the window of the last completed run
STATE_VERSION = 1
# Capture files are filed under the hour they were written in: a request of the window's last
# minutes may be in the next hour's folder.
LATE_HOURS = 1
STAMP = "%Y%m%dT%H%M%SZ"
_FRACTION = re.compile(r"\.(\d+)")


@dataclass(frozen=True)
class Window:
    since: datetime  # exclusive
    until: datetime  # inclusive

    @property
    def stamp(self) -> str:
        return self.until.strftime(STAMP)


def main(argv: Sequence[str] | None = None) -> int:
    arguments = _parser().parse_args(argv)
    return run_command("monitor", lambda: run(arguments))


def run_command(name: str, run_once: Callable[[], str]) -> int:
    """Run, print `<name>: <summary>` and return 0; or print one line on stderr and return 1."""
    try:
        summary = run_once()
    except MonitoringError as error:
        print(f"{name}: {error}", file=sys.stderr)
        return 1
    except OSError as error:  # the scratch folder: not writable, disk full
        print(f"{name}: {error.strerror}: {error.filename}", file=sys.stderr)
        return 1
    print(f"{name}: {summary}")
    return 0


def run(arguments: argparse.Namespace) -> str:
    kms_key_id = arguments.kms_key_id or os.environ.get(KMS_KEY_VARIABLE) or None
    reports = location(arguments.reports, kms_key_id=kms_key_id)
    results = location(arguments.baseline_results, kms_key_id=kms_key_id)
    with tempfile.TemporaryDirectory(prefix="mlinfra-monitor-", dir=arguments.scratch) as scratch:
        work = Path(scratch)
        baseline = ensure_baseline(
            arguments.baseline_dataset,
            results,
            work / "baseline",
            drift_psi=arguments.drift_psi,
            missing_percent=arguments.missing_percent,
        )
        window = window_of(reports, parse_time(arguments.until), arguments.period_hours)
        folder = fetch_capture(location(arguments.capture), window, work / "capture")
        captured = analyse_capture(baseline, folder, since=window.since, until=window.until)
    analysis = captured.analysis
    run_folder = reports.child(f"{window.stamp}/")
    run_folder.write(STATISTICS_FILE, json_bytes(analysis.statistics))
    run_folder.write(VIOLATIONS_FILE, json_bytes({"violations": analysis.violations}))
    run_folder.write(DRIFT_FILE, json_bytes(analysis.drift))
    malformed = captured.malformed
    data_points = metric_data(
        analysis.drift,
        len(analysis.violations),
        malformed,
        monitor=arguments.monitor,
        endpoint=arguments.endpoint,
        timestamp=datetime.now(timezone.utc),
    )
    if arguments.metrics_file is not None:
        arguments.metrics_file.write_bytes(json_bytes(_plain(data_points)))
    else:
        import boto3

        publish(boto3.client("cloudwatch"), data_points, arguments.metrics_namespace)
    # Last: a run that failed before here leaves its window to the next run.
    latest = {
        "version": STATE_VERSION,
        "since": iso(window.since),
        "until": iso(window.until),
        "report": window.stamp,
        "violations": len(analysis.violations),
    }
    reports.write(LATEST_FILE, json_bytes(latest))
    summary = (
        f"{counted(captured.records, 'record')} from {iso(window.since)} to {iso(window.until)}, "
        f"{counted(len(analysis.violations), 'violation')}, report {run_folder.uri()}"
    )
    if malformed:
        summary += f", {counted(malformed, 'malformed record')} skipped"
    if not captured.predictions:
        summary += f"; {NO_PREDICTION}"
    return summary


# --- the baseline --------------------------------------------------------------------------


def _split(uri: str) -> tuple[Location, str]:
    """A file's folder (as a location) and its name."""
    if uri.startswith("s3://"):
        folder, _, name = uri.rpartition("/")
        return location(folder + "/"), name
    path = Path(uri)
    return location(str(path.parent)), path.name


def ensure_baseline(
    dataset_uri: str,
    results: Location,
    work: Path,
    *,
    drift_psi: float,
    missing_percent: float,
) -> Baseline:
    """The baseline in `results`, made from the data set first if it is not there yet or was
    made from another version of it."""
    folder, name = _split(dataset_uri)
    version = folder.version(name)
    if version is None:
        raise MonitoringError(f"baseline data set not found: {dataset_uri}")
    source = {
        "dataset": dataset_uri,
        "etag": version,
        "drift_psi": drift_psi,
        "missing_percent": missing_percent,
    }
    if _json(results.read(SOURCE_FILE)) == source:
        statistics, constraints = results.read(STATISTICS_FILE), results.read(CONSTRAINTS_FILE)
        if statistics is not None and constraints is not None:
            work.mkdir(parents=True, exist_ok=True)
            (work / STATISTICS_FILE).write_bytes(statistics)
            (work / CONSTRAINTS_FILE).write_bytes(constraints)
            return Baseline.read(work)
    local = work / "dataset" / name
    folder.download(name, local)
    baseline = suggest_baseline(
        read_dataset(local), drift_psi=drift_psi, missing_percent=missing_percent
    )
    results.write(STATISTICS_FILE, json_bytes(baseline.statistics))
    results.write(CONSTRAINTS_FILE, json_bytes(baseline.constraints))
    # Last, so a half-written baseline is made again rather than trusted.
    results.write(SOURCE_FILE, json_bytes(source))
    return baseline


def _json(data: bytes | None) -> object:
    if data is None:
        return None
    try:
        return json.loads(data)
    except ValueError:
        return None  # unreadable: made again


# --- the window ----------------------------------------------------------------------------


def parse_time(text: str) -> datetime:
    """An ISO 8601 time as SageMaker writes one (`2026-01-01T12:20:05.123Z`); naive is UTC.

    Python 3.10 (the image's) reads neither `Z` nor fractions of other than 3 or 6 digits.
    """
    normal = text.strip()
    if normal.endswith(("Z", "z")):
        normal = normal[:-1] + "+00:00"
    normal = _FRACTION.sub(lambda m: "." + (m.group(1) + "000000")[:6], normal, count=1)
    try:
        moment = datetime.fromisoformat(normal)
    except ValueError:
        raise MonitoringError(f"--until {text!r} is not an ISO 8601 time") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc)


def window_of(reports: Location, started: datetime, period_hours: int) -> Window:
    """The window a run started at `started` analyses (see the module's docstring)."""
    until = started.replace(minute=0, second=0, microsecond=0)
    since = until - timedelta(hours=period_hours)
    latest = _json(reports.read(LATEST_FILE))
    if isinstance(latest, dict) and isinstance(latest.get("until"), str):
        try:
            previous = parse_time(latest["until"])
        except MonitoringError:
            previous = None
        if previous is not None and previous < until:
            since = previous
    return Window(since, until)


def _hour_key(moment: datetime) -> str:
    return moment.strftime("%Y/%m/%d/%H")


def fetch_capture(capture: Location, window: Window, folder: Path) -> Path:
    """Copy the capture files of the window's hours (of every variant) into `folder`."""
    first = _hour_key(window.since)
    # "/" sorts before every character a file name has, "~" after: the hour's files whole.
    last = _hour_key(window.until + timedelta(hours=LATE_HOURS)) + "/~"
    for variant in capture.folders():
        files = capture.child(f"{variant}/")
        for key in files.keys(start_after=first, until=last):
            if PurePosixPath(key).suffix == ".jsonl":
                files.download(key, folder / variant / key)
    return folder


# --- the command line ----------------------------------------------------------------------


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="monitor-job.pyz")
    required = parser.add_argument_group("where")
    required.add_argument("--capture", required=True, help="the endpoint's data-capture prefix")
    required.add_argument("--baseline-dataset", required=True, help="the baseline CSV")
    required.add_argument(
        "--baseline-results", required=True, help="where the baseline's files are (or go)"
    )
    required.add_argument("--reports", required=True, help="the monitor's reports prefix")
    required.add_argument("--until", required=True, help="when the run started (ISO 8601)")
    parser.add_argument("--period-hours", type=int, required=True, help="the schedule's period")
    parser.add_argument("--drift-psi", type=float, default=DEFAULT_DRIFT_PSI)
    parser.add_argument("--missing-percent", type=float, default=DEFAULT_MISSING_PERCENT)
    parser.add_argument("--monitor", required=True, help="the Monitor metric dimension")
    parser.add_argument("--endpoint", required=True, help="the Endpoint metric dimension")
    parser.add_argument("--metrics-namespace", default=NAMESPACE)
    parser.add_argument(
        "--metrics-file", type=Path, help="write the metric data here instead of CloudWatch"
    )
    parser.add_argument("--kms-key-id", help=f"the outputs' KMS key (else ${KMS_KEY_VARIABLE})")
    parser.add_argument("--scratch", help="a folder for temporary files (else the system's)")
    return parser


def _plain(data: list[dict]) -> list[dict]:
    return [{**datum, "Timestamp": iso(datum["Timestamp"])} for datum in data]


def iso(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")


if __name__ == "__main__":
    sys.exit(main())
