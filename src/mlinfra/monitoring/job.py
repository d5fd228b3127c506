"""The monitoring jobs as a command, run by the emulator as SageMaker runs processing jobs.

    python -m mlinfra.monitoring.job baseline --dataset CSV --output DIR
        [--drift-psi 0.2] [--missing-percent 5] [--bins 10]
    python -m mlinfra.monitoring.job analyse --baseline DIR --capture DIR
        --features-from-baseline --output DIR [--since ISO8601] [--until ISO8601]
    python -m mlinfra.monitoring.job quality --capture DIR --ground-truth DIR --output DIR
        --now ISO8601 --problem-type TYPE --metric NAME --window-seconds N
        [--label-delay-seconds N] [--alert 0.8|97%] [--rollback 0.8|95%] [--reference X]

`analyse` also compares the captured responses' predictions with the baseline's `prediction`
column when it has one (prediction drift, see `analysis`), and otherwise says so once in its
summary line.

`quality` writes quality.json and, for each line the metric crossed, a violation in
constraint_violations.json (`LessThanThreshold`, or `GreaterThanThreshold` for an error
metric), so that a crossed line is a violation as a drifted feature is.

A job that ran prints one summary line and exits 0, whether or not it found violations (they
are in its output files). A job that could not run (no baseline, unreadable files, no data)
prints one line on stderr and exits 1: the emulator shows that line as the failure reason, so
it carries no traceback. Malformed command lines exit 2, as argparse does.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

from mlinfra.monitoring import MonitoringError, counted
from mlinfra.monitoring.analysis import NO_PREDICTION, VIOLATIONS_FILE, analyse_capture
from mlinfra.monitoring.baseline import (
    DEFAULT_BINS,
    DEFAULT_DRIFT_PSI,
    DEFAULT_MISSING_PERCENT,
    Baseline,
    read_dataset,
    suggest_baseline,
)
from mlinfra.monitoring.files import write_json
from mlinfra.monitoring.quality import (
    QualitySettings,
    add_quality_arguments,
    analyse_quality,
    violations,
)


def main(argv: Sequence[str] | None = None) -> int:
    arguments = _parser().parse_args(argv)
    try:
        summary = arguments.run(arguments)
    except MonitoringError as error:
        print(f"{arguments.command}: {error}", file=sys.stderr)
        return 1
    except OSError as error:  # most likely the output folder: not writable, disk full
        print(f"{arguments.command}: {error.strerror}: {error.filename}", file=sys.stderr)
        return 1
    print(f"{arguments.command}: {summary}")
    return 0


def run_baseline(arguments: argparse.Namespace) -> str:
    data = read_dataset(arguments.dataset)
    baseline = suggest_baseline(
        data,
        drift_psi=arguments.drift_psi,
        missing_percent=arguments.missing_percent,
        bins=arguments.bins,
    )
    baseline.write(arguments.output)
    return f"{counted(len(data), 'record')}, {counted(len(baseline.features), 'feature')}"


def run_analyse(arguments: argparse.Namespace) -> str:
    baseline = Baseline.read(arguments.baseline)
    run = analyse_capture(baseline, arguments.capture, since=arguments.since, until=arguments.until)
    run.analysis.write(arguments.output)
    violations = len(run.analysis.violations)
    summary = f"{counted(run.records, 'record')}, {counted(violations, 'violation')}"
    if run.malformed:
        summary += f", {counted(run.malformed, 'malformed record')} skipped"
    if not run.predictions:
        summary += f"; {NO_PREDICTION}"
    return summary


def run_quality(arguments: argparse.Namespace) -> str:
    settings = QualitySettings.of(arguments)
    result = analyse_quality(settings, arguments.capture, arguments.ground_truth, arguments.now)
    result.write(arguments.output)
    found = violations(result.document)
    write_json(arguments.output / VIOLATIONS_FILE, {"violations": found})
    document = result.document
    value = "no value" if document["value"] is None else f"{document['value']:.4g}"
    return (
        f"{settings.metric} {value} over {counted(document['labelled'], 'labelled prediction')}"
        f", {counted(len(found), 'violation')}"
    )


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m mlinfra.monitoring.job")
    commands = parser.add_subparsers(dest="command", required=True)

    baseline = commands.add_parser("baseline", help="suggest a baseline from a data set")
    baseline.add_argument("--dataset", type=Path, required=True, help="CSV with a header row")
    baseline.add_argument("--output", type=Path, required=True, help="folder for the baseline")
    baseline.add_argument("--drift-psi", type=float, default=DEFAULT_DRIFT_PSI)
    baseline.add_argument("--missing-percent", type=float, default=DEFAULT_MISSING_PERCENT)
    baseline.add_argument("--bins", type=int, default=DEFAULT_BINS)
    baseline.set_defaults(run=run_baseline)

    analysis = commands.add_parser("analyse", help="analyse captured requests against a baseline")
    analysis.add_argument("--baseline", type=Path, required=True, help="the baseline's folder")
    analysis.add_argument("--capture", type=Path, required=True, help="data-capture folder")
    analysis.add_argument("--output", type=Path, required=True, help="folder for the results")
    # The only source of feature names for now; the flag keeps command lines explicit about it.
    analysis.add_argument("--features-from-baseline", action="store_true")
    analysis.add_argument("--since", type=_moment, help="analyse records after this time")
    analysis.add_argument("--until", type=_moment, help="and up to this time, inclusive")
    analysis.set_defaults(run=run_analyse)

    quality = commands.add_parser("quality", help="judge captured predictions by their labels")
    quality.add_argument("--capture", type=Path, required=True, help="data-capture folder")
    quality.add_argument("--ground-truth", type=Path, required=True, help="ground-truth folder")
    quality.add_argument("--output", type=Path, required=True, help="folder for the results")
    quality.add_argument("--now", type=_moment, required=True, help="the run's time")
    add_quality_arguments(quality)
    quality.add_argument("--reference", type=float, help="the metric at registration")
    quality.set_defaults(run=run_quality)
    return parser


def _moment(text: str) -> datetime:
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an ISO 8601 time: {text!r}") from None


if __name__ == "__main__":
    sys.exit(main())
