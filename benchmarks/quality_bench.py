"""Benchmark: model-quality analysis of labelled predictions, mlinfra next to Evidently's
classification preset.

Run it as `.venv/bin/python benchmarks/quality_bench.py` after `make bench-quality`'s setup
(Evidently in `benchmarks/.evidently-venv`, as for `drift_bench.py`). Measurements to read,
not timed unit tests: nothing here fails on a slow number.

1. Makes a deterministic data set (seeded numpy) of `--rows` binary predictions: an id, the
   label (0/1), the model's score (a probability, rounded to 3 places so that ties occur as
   they do in real scores) and the predicted label (score >= 0.5). Written to Parquet.
2. Two worker processes load it (untimed) and answer commands, their rounds interleaved
   (order alternating per round, `gc.collect()` untimed before each run):
     - mlinfra (this script with `--worker`, the project's venv): `joined` (the hash join of
       predictions and labels by inference id, as a monitor run does, over the ids shuffled so
       that the join does real work) then `compute_metrics(binary_classification, ...)`: every
       binary metric (accuracy, precision, recall, F1, AUC), timed together; and the metrics
       alone, reported beside;
     - Evidently (`peers/evidently_quality.py`): `Dataset.from_pandas` with a
       `BinaryClassification` definition (target, prediction probabilities) and
       `Report([ClassificationPreset()]).run(...)`, timed together.
   One warm-up of each, then `--rounds` timed rounds; medians are reported, with each worker's
   peak RSS.
3. Checks that the values agree: accuracy, precision, recall, F1 and ROC AUC.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

from drift_bench import EVIDENTLY_VENV, Worker, load_average, machine, memory_mib

BENCH_DIR = Path(__file__).resolve().parent
EVIDENTLY_SCRIPT = BENCH_DIR / "peers" / "evidently_quality.py"
METRICS = ("accuracy", "precision", "recall", "f1", "auc")


def write_data(folder: Path, rows: int, seed: int) -> Path:
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    label = rng.integers(0, 2, rows)
    score = np.round(np.clip(0.25 + 0.4 * label + rng.normal(0, 0.22, rows), 0, 1), 3)
    frame = pd.DataFrame(
        {
            "id": [f"order-{i:08d}" for i in range(rows)],
            "label": label,
            "score": score,
            "prediction": (score >= 0.5).astype(int),
        }
    )
    path = folder / "predictions.parquet"
    frame.to_parquet(path)
    return path


def worker(path: str) -> None:
    """mlinfra's side, in the protocol of peers/evidently_quality.py: `run`, `metrics`, `quit`."""
    protocol = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)

    def answer(message: dict) -> None:
        protocol.write(json.dumps(message) + "\n")

    from importlib import metadata

    import numpy as np
    import pandas as pd

    from mlinfra.monitoring.quality import compute_metrics, joined
    from mlinfra.monitoring.quality_metrics import BINARY

    frame = pd.read_parquet(path)
    # The labels arrive in another order than the predictions, as ground truth does.
    order = np.random.default_rng(1).permutation(len(frame))
    predictions = pd.DataFrame({"id": frame["id"], "prediction": frame["score"]})
    labels = pd.DataFrame(
        {"id": frame["id"].to_numpy()[order], "label": frame["label"].to_numpy()[order]}
    )
    answer(
        {
            "ready": True,
            "rss_after_load_mib": memory_mib("VmRSS"),
            "versions": {
                name: metadata.version(name) for name in ("mlinfra-compiler", "pandas", "numpy")
            },
        }
    )
    for line in sys.stdin:
        command = line.strip()
        if command in ("run", "metrics"):
            gc.collect()
            wall, cpu = time.perf_counter(), time.process_time()
            if command == "run":
                pairs = joined(predictions, labels)
                values = compute_metrics(
                    BINARY, pairs["label"].to_numpy(), pairs["prediction"].to_numpy()
                )
            else:
                values = compute_metrics(
                    BINARY, frame["label"].to_numpy(), frame["score"].to_numpy()
                )
            answer(
                {
                    "seconds": time.perf_counter() - wall,
                    "cpu_seconds": time.process_time() - cpu,
                    "values": values,
                }
            )
        elif command == "quit":
            answer({"peak_rss_mib": memory_mib("VmHWM")})
            return
        else:
            answer({"error": f"unknown command {command!r}"})


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seed", type=int, default=19)
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        worker(args.worker)
        return
    python = EVIDENTLY_VENV / "bin" / "python"
    if not python.exists():
        sys.exit(f"{python} not found: run `make bench-quality` (or its setup) first")
    print(f"machine: {machine()}; load before: {load_average()}")
    with tempfile.TemporaryDirectory(prefix="quality-bench-") as folder:
        path = write_data(Path(folder), args.rows, args.seed)
        workers = {
            "mlinfra": Worker("mlinfra", [sys.executable, __file__, "--worker", str(path)]),
            "evidently": Worker("Evidently", [str(python), str(EVIDENTLY_SCRIPT), str(path)]),
        }
        steps = [("mlinfra", "run"), ("mlinfra", "metrics"), ("evidently", "run")]
        runs: dict[tuple[str, str], list[dict]] = {step: [] for step in steps}
        for side, command in steps:  # warm-up
            workers[side].ask(command)
        for round_ in range(args.rounds):
            for step in steps if round_ % 2 == 0 else list(reversed(steps)):
                runs[step].append(workers[step[0]].ask(step[1]))
        peaks = {name: w.close()["peak_rss_mib"] for name, w in workers.items()}
        versions = {name: w.hello["versions"] for name, w in workers.items()}
    print(f"load after: {load_average()}; versions: {json.dumps(versions)}")
    median = {step: statistics.median(r["seconds"] for r in found) for step, found in runs.items()}
    print(
        f"\n{args.rows:,} labelled binary predictions, median of {args.rounds} interleaved rounds:"
    )
    print(f"  mlinfra join by id + 5 metrics  {median[('mlinfra', 'run')]:8.3f} s")
    print(f"  mlinfra 5 metrics alone         {median[('mlinfra', 'metrics')]:8.3f} s")
    print(f"  Evidently ClassificationPreset  {median[('evidently', 'run')]:8.3f} s")
    ratio = median[("evidently", "run")] / median[("mlinfra", "run")]
    print(f"  Evidently / mlinfra (with join): {ratio:.1f}x")
    print(f"  peak RSS MiB: mlinfra {peaks['mlinfra']:.0f}, Evidently {peaks['evidently']:.0f}")
    ours = runs[("mlinfra", "run")][-1]["values"]
    theirs = runs[("evidently", "run")][-1]["values"]
    print("\nmetric      mlinfra             Evidently")
    agree = True
    for metric in METRICS:
        same = theirs.get(metric) is not None and abs(ours[metric] - theirs[metric]) < 1e-9
        agree &= same
        verdict = "same" if same else "DIFFERENT"
        print(f"{metric:10}  {ours[metric]:.12f}  {theirs.get(metric)!s:20} {verdict}")
    print(f"\nvalues agree: {agree}")


if __name__ == "__main__":
    main()
