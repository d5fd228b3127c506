"""Benchmark: a batch transform job on the emulator next to the same model called in-process.

Run it as `.venv/bin/python benchmarks/transform_bench.py` (options: `--rows`, default
1,000,000; `--reps`, default 3; `--payload-mb`, default 6). These are measurements to read,
not timed unit tests: nothing here fails on a slow number.

1. Starts an emulator for a temporary project folder (`mlinfra.emulator.process.start`, what
   `mlinfra emulator start` runs) and trains the churn example's model there with a
   CreateTrainingJob (the example's `train.py`, script mode, on `examples/churn/data/
   customers.csv`), as an SDK user's `Estimator.fit()` would.
2. Writes `--rows` customer rows (the example's customers, drawn with replacement; the five
   features, no header) as one CSV file, and creates a model of the training job's
   `model.tar.gz` served by the example's own inference hooks (`SAGEMAKER_PROGRAM=train.py`).
3. Times, alternating per round: (a) in-process, the same hooks on the whole file
   (`input_fn` on its text, `predict_fn`, `output_fn`, the answer written to a file), with
   the model already loaded; (b) CreateTransformJob (`SplitType: Line`,
   `BatchStrategy: MultiRecord`, `MaxPayloadInMB`, `AssembleWith: Line`), from the call to
   DescribeTransformJob saying Completed (polled every 50 ms), which includes starting the
   model's worker process; its own TransformStartTime..TransformEndTime is reported too.
   Both outputs are checked to hold the same scores.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import platform
import shutil
import statistics
import sys
import tarfile
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from mlinfra.emulator import process as emulator_process
from mlinfra.emulator.access import Access

REPO = Path(__file__).resolve().parents[1]
CHURN = REPO / "examples" / "churn"
ROLE = "arn:aws:iam::123456789012:role/bench"
FEATURES = ["tenure_months", "monthly_charges", "total_charges", "contract", "support_calls"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--payload-mb", type=int, default=6)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="transform-bench-"))
    try:
        return run(root, args)
    finally:
        emulator_process.stop(root)
        shutil.rmtree(root, ignore_errors=True)


def run(root: Path, args: argparse.Namespace) -> int:
    shutil.copytree(CHURN / "pipelines", root / "code")
    customers = pd.read_csv(CHURN / "data" / "customers.csv")
    (root / "train").mkdir()
    customers[["churned", *FEATURES]].to_csv(root / "train" / "train.csv", index=False)
    rng = np.random.default_rng(0)
    rows = customers[FEATURES].iloc[rng.integers(0, len(customers), args.rows)]
    (root / "batch").mkdir()
    data = root / "batch" / "customers.csv"
    rows.to_csv(data, header=False, index=False)
    print(f"input: {args.rows:,} rows, {data.stat().st_size / 1e6:.1f} MB")

    emulator_process.start(root, timeout=60)
    sm = Access.for_spec(root).client("sagemaker")
    started = time.perf_counter()
    sm.create_training_job(
        TrainingJobName="churn-train",
        RoleArn=ROLE,
        AlgorithmSpecification={"TrainingImage": "sklearn", "TrainingInputMode": "File"},
        HyperParameters={
            "sagemaker_program": '"train.py"',
            "sagemaker_submit_directory": '"file:code"',
            "n_estimators": "200",
            "max_depth": "8",
        },
        InputDataConfig=[
            {
                "ChannelName": "train",
                "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": "file:train"}},
            }
        ],  # fmt: skip
        OutputDataConfig={"S3OutputPath": "file:artifacts"},
        ResourceConfig={"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 5},
        StoppingCondition={"MaxRuntimeInSeconds": 600},
    )
    job = wait(lambda: sm.describe_training_job(TrainingJobName="churn-train"),
               "TrainingJobStatus")  # fmt: skip
    if job["TrainingJobStatus"] != "Completed":
        print(job.get("FailureReason"))
        return 1
    print(f"training job: {time.perf_counter() - started:.1f} s")
    archive = Path(job["ModelArtifacts"]["S3ModelArtifacts"])
    sm.create_model(
        ModelName="churn",
        ExecutionRoleArn=ROLE,
        PrimaryContainer={
            "Image": "sklearn",
            "ModelDataUrl": str(archive),
            "Environment": {
                "SAGEMAKER_PROGRAM": "train.py",
                "SAGEMAKER_SUBMIT_DIRECTORY": "/opt/ml/model/code",
            },
        },
    )
    model_dir = root / "model"
    with tarfile.open(archive) as tar:
        tar.extractall(model_dir, filter="data")
    hooks = load_hooks(model_dir / "code" / "train.py")
    model = hooks.model_fn(str(model_dir))

    in_process, transform, inside = [], [], []
    for rep in range(args.reps):
        order = [0, 1] if rep % 2 == 0 else [1, 0]
        for case in order:
            if case == 0:
                in_process.append(call_in_process(hooks, model, data, root / "direct.out"))
            else:
                total, own = call_transform(sm, f"score-{rep}", args.payload_mb)
                transform.append(total)
                inside.append(own)
    direct = np.loadtxt(root / "direct.out")
    batch = np.loadtxt(root / "scores" / f"score-{args.reps - 1}" / "customers.csv.out")
    assert direct.shape == (args.rows,) and np.allclose(direct, batch, atol=1e-6)

    a, b, c = (statistics.median(x) for x in (in_process, transform, inside))
    print(f"machine: {os.cpu_count()} cores, Python {platform.python_version()}")
    print(f"(a) in-process hooks:     median {a:.2f} s  {fmt(in_process)}")
    print(f"(b) transform job, total: median {b:.2f} s  {fmt(transform)}  = {b / a:.2f}x (a)")
    print(f"    its Start..EndTime:   median {c:.2f} s  {fmt(inside)}  = {c / a:.2f}x (a)")
    print(f"    rows per second (b):  {args.rows / b:,.0f}")
    return 0


def call_in_process(hooks, model, data: Path, out: Path) -> float:
    started = time.perf_counter()
    frame = hooks.input_fn(data.read_bytes(), "text/csv")
    body, _ = hooks.output_fn(hooks.predict_fn(frame, model), "text/csv")
    out.write_text(body)
    return time.perf_counter() - started


def call_transform(sm, name: str, payload_mb: int) -> tuple[float, float]:
    started = time.perf_counter()
    sm.create_transform_job(
        TransformJobName=name,
        ModelName="churn",
        BatchStrategy="MultiRecord",
        MaxPayloadInMB=payload_mb,
        TransformInput={
            "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": "file:batch"}},
            "ContentType": "text/csv",
            "SplitType": "Line",
        },
        TransformOutput={
            "S3OutputPath": f"file:scores/{name}",
            "Accept": "text/csv",
            "AssembleWith": "Line",
        },  # fmt: skip
        TransformResources={"InstanceType": "ml.m5.large", "InstanceCount": 1},
    )
    job = wait(lambda: sm.describe_transform_job(TransformJobName=name), "TransformJobStatus")
    total = time.perf_counter() - started
    if job["TransformJobStatus"] != "Completed":
        raise SystemExit(f"transform job {name}: {job.get('FailureReason')}")
    own = (job["TransformEndTime"] - job["TransformStartTime"]).total_seconds()
    return total, own


def wait(describe, field: str, timeout: float = 1200.0) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        found = describe()
        if found[field] in ("Completed", "Failed", "Stopped") or time.monotonic() > deadline:
            return found
        time.sleep(0.05)


def load_hooks(path: Path):
    spec = importlib.util.spec_from_file_location("churn_hooks", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules["churn_hooks"] = module
    spec.loader.exec_module(module)
    return module


def fmt(values: list[float]) -> str:
    return "[" + ", ".join(f"{v:.2f}" for v in values) + "]"


if __name__ == "__main__":
    sys.exit(main())
