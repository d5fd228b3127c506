"""Evidently's side of quality_bench.py: runs in benchmarks/.evidently-venv, never in the
project's.

`python evidently_quality.py PREDICTIONS` loads the Parquet file (untimed), prints one JSON line
(`ready`, RSS, versions) and answers commands on stdin, one JSON line each on stdout:

- `run`: one classification report, timed: `Dataset.from_pandas` with a `BinaryClassification`
  definition (target `label`, positive-class probability `score`, predicted label
  `prediction`) then `Report([ClassificationPreset()]).run(current_data=...)`. Answers the
  wall and CPU seconds and the values of accuracy, precision, recall, F1 and ROC AUC read from
  the snapshot (untimed).
- `quit`: answers the peak RSS (`VmHWM`), then exits.
"""

from __future__ import annotations

import gc
import sys
import time
from importlib import metadata

# The drift peer's protocol: importing it moves stdout to stderr and keeps the protocol's pipe,
# before the libraries below are imported (whatever they print goes to stderr).
from evidently_drift import answer, memory_mib

# isort: split
import pandas as pd
from evidently import BinaryClassification, DataDefinition, Dataset, Report
from evidently.presets import ClassificationPreset

# Evidently's metric types, by the name the benchmark compares.
NAMES = {"Accuracy": "accuracy", "Precision": "precision", "Recall": "recall", "F1Score": "f1",
         "RocAuc": "auc"}  # fmt: skip


def values(snapshot) -> dict[str, float]:
    found = {}
    for result in snapshot.dict()["metrics"]:
        kind = result["config"].get("type", "").rsplit(":", 1)[-1]
        if kind in NAMES and isinstance(result["value"], (int, float)):
            found[NAMES[kind]] = float(result["value"])
    return found


def main() -> None:
    frame = pd.read_parquet(sys.argv[1])[["label", "score", "prediction"]]
    definition = DataDefinition(
        classification=[
            BinaryClassification(
                target="label", prediction_labels="prediction", prediction_probas="score"
            )
        ],
        numerical_columns=["score"],
    )
    answer(
        {
            "ready": True,
            "rss_after_load_mib": memory_mib("VmRSS"),
            "versions": {name: metadata.version(name) for name in ("evidently", "pandas", "numpy")},
        }
    )
    for line in sys.stdin:
        command = line.strip()
        if command == "run":
            gc.collect()
            wall, cpu = time.perf_counter(), time.process_time()
            snapshot = Report([ClassificationPreset()]).run(
                current_data=Dataset.from_pandas(frame, data_definition=definition)
            )
            seconds, cpu_seconds = time.perf_counter() - wall, time.process_time() - cpu
            answer({"seconds": seconds, "cpu_seconds": cpu_seconds, "values": values(snapshot)})
        elif command == "quit":
            answer({"peak_rss_mib": memory_mib("VmHWM")})
            return
        else:
            answer({"error": f"unknown command {command!r}"})


if __name__ == "__main__":
    main()
