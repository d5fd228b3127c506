"""Benchmark: batch scoring on the emulator (a transform job, and a batch job's run) next to
the same model called in-process and to `mlflow models predict`.

Run it as `.venv/bin/python benchmarks/transform_bench.py` (options: `--rows`, default
1,000,000; `--reps`, default 3; `--payload-mb`, default 6; `--no-mlflow` to leave the peer
out). MLflow runs from the peers venv (`make bench-peers`, benchmarks/.peers-venv), never the
project's. These are measurements to read, not timed unit tests: nothing here fails on a slow
number.

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
   (c) a batch job's run: StartPipelineExecution of the one-step pipeline a batch job becomes
   (`ir.requests.batch_jobs`, its `score` step that same transform job), until
   DescribePipelineExecution says Succeeded; (d) `mlflow models predict -m DIR -i FILE -t csv
   --env-manager local` of the same fitted model saved by MLflow itself (`mlflow.sklearn`,
   `pyfunc_predict_fn=predict_proba`) on the same rows with a header line, as its CSV input
   needs, from the process start to its exit. Every output is checked to hold the same scores.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
from serving_bench import PEERS_VENV, save_mlflow_model  # the serving benchmark's peer

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
    parser.add_argument("--no-mlflow", action="store_true")
    args = parser.parse_args()
    if not args.no_mlflow and not (PEERS_VENV / "bin" / "mlflow").exists():
        sys.exit(f"no MLflow in {PEERS_VENV}: run `make bench-peers`, or pass --no-mlflow")
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
    with_header = root / "customers-with-header.csv"  # mlflow's CSV input needs the names
    rows.to_csv(with_header, index=False)
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
    mlflow_model = None if args.no_mlflow else save_mlflow_model(model, root)
    sm.create_pipeline(
        PipelineName="churn-scores",
        PipelineDefinition=json.dumps(batch_definition(args.payload_mb)),
        RoleArn=ROLE,
    )

    times: dict[str, list[float]] = {"a": [], "b": [], "b-own": [], "c": [], "d": []}
    cases = ["a", "b", "c"] + ([] if mlflow_model is None else ["d"])
    for rep in range(args.reps):
        # Each round starts with the next case, so no case always runs first (or last).
        for case in cases[rep % len(cases) :] + cases[: rep % len(cases)]:
            if case == "a":
                times["a"].append(call_in_process(hooks, model, data, root / "direct.out"))
            elif case == "b":
                total, own = call_transform(sm, f"score-{rep}", args.payload_mb)
                times["b"].append(total)
                times["b-own"].append(own)
            elif case == "c":
                times["c"].append(call_batch_job(sm, root))
            else:
                times["d"].append(call_mlflow(mlflow_model, with_header, root / "mlflow.json"))
    direct = np.loadtxt(root / "direct.out")
    batch = np.loadtxt(root / "scores" / f"score-{args.reps - 1}" / "customers.csv.out")
    assert direct.shape == (args.rows,) and np.allclose(direct, batch, atol=1e-6)
    (job_out,) = (root / "batch-job").rglob("*.out")
    assert np.allclose(direct, np.loadtxt(job_out), atol=1e-6)
    if mlflow_model is not None:
        theirs = np.array(json.loads((root / "mlflow.json").read_text())["predictions"])
        assert np.allclose(direct, theirs[:, 1], atol=1e-6), "MLflow scored differently"

    med = {k: statistics.median(v) for k, v in times.items() if v}
    a = med["a"]
    print(f"machine: {os.cpu_count()} cores, Python {platform.python_version()}, "
          f"load average {' '.join(f'{x:.1f}' for x in os.getloadavg())}")  # fmt: skip
    print(f"(a) in-process hooks:     median {a:.2f} s  {fmt(times['a'])}")
    print(f"(b) transform job, total: median {med['b']:.2f} s  {fmt(times['b'])}  "
          f"= {med['b'] / a:.2f}x (a)")  # fmt: skip
    print(f"    its Start..EndTime:   median {med['b-own']:.2f} s  {fmt(times['b-own'])}  "
          f"= {med['b-own'] / a:.2f}x (a)")  # fmt: skip
    print(f"(c) batch job run:        median {med['c']:.2f} s  {fmt(times['c'])}  "
          f"= {med['c'] / a:.2f}x (a)")  # fmt: skip
    if "d" in med:
        print(f"(d) mlflow models predict: median {med['d']:.2f} s  {fmt(times['d'])}  "
              f"= {med['d'] / a:.2f}x (a); (b) is {med['d'] / med['b']:.2f}x faster")  # fmt: skip
    print(f"    rows per second (b):  {args.rows / med['b']:,.0f}")
    return 0


def batch_definition(payload_mb: int) -> dict:
    """The definition of a batch job's pipeline scoring `batch/` with model `churn`: one
    transform step, as the local lowering writes it for a batch job with a file input."""
    step = {
        "Name": "score",
        "Type": "Transform",
        "Arguments": {
            "ModelName": "churn",
            "BatchStrategy": "MultiRecord",
            "MaxPayloadInMB": payload_mb,
            "TransformInput": {
                "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": "file:batch"}},
                "ContentType": "text/csv",
                "SplitType": "Line",
                "CompressionType": "None",
            },
            "TransformOutput": {
                "S3OutputPath": {
                    "Std:Join": {
                        "On": "/",
                        "Values": ["file:batch-job", {"Get": "Execution.PipelineExecutionId"}],
                    }
                },
                "Accept": "text/csv",
                "AssembleWith": "Line",
            },
            "TransformResources": {"InstanceType": "ml.m5.large", "InstanceCount": 1},
        },
    }
    return {"Version": "2020-12-01", "Metadata": {}, "Parameters": [], "Steps": [step]}


def call_batch_job(sm, root: Path) -> float:
    """One run of the batch job, start to Succeeded; only its latest output is kept."""
    shutil.rmtree(root / "batch-job", ignore_errors=True)
    started = time.perf_counter()
    arn = sm.start_pipeline_execution(PipelineName="churn-scores")["PipelineExecutionArn"]
    found = wait(
        lambda: sm.describe_pipeline_execution(PipelineExecutionArn=arn),
        "PipelineExecutionStatus",
        done=("Succeeded", "Failed", "Stopped"),
    )
    total = time.perf_counter() - started
    if found["PipelineExecutionStatus"] != "Succeeded":
        raise SystemExit(f"batch job run: {found.get('FailureReason')}")
    return total


def call_mlflow(model_dir: Path, data: Path, out: Path) -> float:
    """`mlflow models predict` over the whole file, process start to exit."""
    out.unlink(missing_ok=True)
    command = [
        str(PEERS_VENV / "bin" / "mlflow"), "models", "predict", "-m", str(model_dir),
        "-i", str(data), "-t", "csv", "-o", str(out), "--env-manager", "local",
    ]  # fmt: skip
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True)
    total = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"mlflow models predict failed: {done.stderr[-2000:]}")
    return total


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


def wait(
    describe, field: str, timeout: float = 1200.0, done=("Completed", "Failed", "Stopped")
) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        found = describe()
        if found[field] in done or time.monotonic() > deadline:
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
