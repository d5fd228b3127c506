"""Evidently's side of drift_bench.py: runs in benchmarks/.evidently-venv, never in the project's.

`python evidently_drift.py REFERENCE CURRENT NUMERIC CATEGORICAL` loads the two Parquet files
(untimed), then prints one JSON line (`ready`, load time, RSS after loading, versions) and
answers commands on stdin, one JSON line each on stdout, so the caller can interleave
Evidently's rounds with mlinfra's:

- `run`: one data drift report, timed: `Dataset.from_pandas` of both frames with the column
  types given (NUMERIC and CATEGORICAL are comma-separated names: left to itself, Evidently
  reads a low-cardinality integer column as categorical, which the other side does not), then
  `Report([DataDriftPreset()], include_tests=True).run(current_data=..., reference_data=...)`.
  The tests carry Evidently's own per-column verdict (`drift_detected`), which the agreement
  check reads; reading them afterwards is not timed. Answers the wall and CPU seconds, the
  drifted columns, and each column's method, score and threshold.
- `quit`: answers the process' peak RSS (`VmHWM`), then exits.

Whatever a library prints goes to stderr: stdout carries the protocol only.
"""

from __future__ import annotations

import gc
import json
import os
import sys
import time
from importlib import metadata

PROTOCOL = os.fdopen(os.dup(1), "w", buffering=1)
os.dup2(2, 1)  # from here on, stdout (Python's and C's) is stderr

import pandas as pd  # noqa: E402
from evidently import DataDefinition, Dataset, Report  # noqa: E402
from evidently.presets import DataDriftPreset  # noqa: E402


def memory_mib(field: str) -> float:
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    return float("nan")


def answer(message: dict) -> None:
    PROTOCOL.write(json.dumps(message) + "\n")


def run(
    reference: pd.DataFrame, current: pd.DataFrame, definition: DataDefinition
) -> tuple[float, float, object]:
    gc.collect()
    wall, cpu = time.perf_counter(), time.process_time()
    snapshot = Report([DataDriftPreset()], include_tests=True).run(
        current_data=Dataset.from_pandas(current, data_definition=definition),
        reference_data=Dataset.from_pandas(reference, data_definition=definition),
    )
    return time.perf_counter() - wall, time.process_time() - cpu, snapshot


def verdicts(snapshot) -> tuple[list[str], dict[str, dict]]:
    """The drifted columns and each column's method, score and threshold, from the snapshot."""
    columns = {}
    for result in snapshot.dict()["metrics"]:
        config = result["config"]
        if config.get("type") == "evidently:metric_v2:ValueDrift":
            columns[config["column"]] = {
                "method": config["method"],
                "score": result["value"],
                "threshold": config["threshold"],
            }
    drifted = set()
    for test in snapshot.tests_results:
        name = test.name  # "Value Drift for column NAME"
        prefix = "Value Drift for column "
        if name.startswith(prefix) and test.status.value == "FAIL":
            drifted.add(name[len(prefix) :])
    return sorted(drifted), columns


def main() -> None:
    reference_path, current_path, numeric, categorical = sys.argv[1:5]
    started = time.perf_counter()
    reference = pd.read_parquet(reference_path)
    current = pd.read_parquet(current_path)
    definition = DataDefinition(
        numerical_columns=numeric.split(","), categorical_columns=categorical.split(",")
    )
    answer(
        {
            "ready": True,
            "load_seconds": time.perf_counter() - started,
            "rss_after_load_mib": memory_mib("VmRSS"),
            "peak_rss_after_load_mib": memory_mib("VmHWM"),
            "versions": {
                name: metadata.version(name) for name in ("evidently", "pandas", "numpy", "scipy")
            },
        }
    )
    for line in sys.stdin:
        command = line.strip()
        if command == "run":
            wall, cpu, snapshot = run(reference, current, definition)
            drifted, columns = verdicts(snapshot)
            del snapshot
            answer({"seconds": wall, "cpu_seconds": cpu, "drifted": drifted, "columns": columns})
        elif command == "quit":
            answer({"peak_rss_mib": memory_mib("VmHWM")})
            return
        else:
            answer({"error": f"unknown command {command!r}"})


if __name__ == "__main__":
    main()
