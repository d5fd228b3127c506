"""A tiny project for the pipeline tests: a spec, three scripts and a CSV, in a folder.

The pipeline is the churn shape in miniature (prepare -> train -> evaluate -> gate ->
register); its definition comes from the real local lowering, and runs in a real emulator.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

from click.testing import CliRunner, Result

from mlinfra.cli.main import cli
from mlinfra.emulator import process
from mlinfra.emulator.access import Access
from mlinfra.emulator.server import EmulatorServer
from mlinfra.engines.providers.values import resolve
from mlinfra.ir.lower import lower
from mlinfra.spec.validate import validate_file

PIPELINE = "tiny-local-train-tiny"
GROUP = "tiny-local-tiny"

SPEC = """\
version: 1
project: tiny
environments:
  local: {target: local}
  dev: {target: sagemaker, account: "111111111111"}
models:
  tiny-model:
    registry_group: tiny
    framework: sklearn
    framework_version: "1.2-1"
    approval: APPROVAL
pipelines:
  train-tiny:
    parameters:
      min_accuracy: 0.6
    steps:
      prepare:
        type: processing
        script: steps/prepare.py
        inputs: [data/points.csv]
        instance_type: ml.m5.large
      train:
        type: training
        entry_point: steps/train.py
        after: [prepare]
        instance_type: ml.m5.large
        hyperparameters:
          C: 0.5
      evaluate:
        type: processing
        script: steps/evaluate.py
        after: [train]
        instance_type: ml.m5.large
      gate:
        type: condition
        after: [evaluate]
        when: "evaluate.metrics.accuracy >= parameters.min_accuracy"
      register:
        type: register_model
        after: [gate]
        model: tiny-model
"""

PREPARE = """\
import os, sys
from pathlib import Path
import pandas as pd

source = Path(os.environ["MLINFRA_PROCESSING_INPUT"]) / "points" / "points.csv"
out = Path(os.environ["MLINFRA_PROCESSING_OUTPUT"])
data = pd.read_csv(source)
for name, part in (("train", data.iloc[:60]), ("validation", data.iloc[60:80]),
                   ("test", data.iloc[80:])):
    (out / name).mkdir(parents=True)
    part.to_csv(out / name / f"{name}.csv", index=False)
print("prepared", len(data), "rows")
"""

# Guarded by `__main__`: serving imports the script (SAGEMAKER_PROGRAM) for its hooks, as
# SageMaker's scikit-learn container does, and must not train while doing so.
TRAIN = """\
import argparse, json, os
from pathlib import Path
import joblib, pandas as pd
from sklearn.linear_model import LogisticRegression

def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--C", type=float)
    args = parser.parse_args()
    assert json.loads(os.environ["SM_HPS"]) == {"C": args.C}, os.environ["SM_HPS"]
    train = pd.read_csv(Path(os.environ["SM_CHANNEL_TRAIN"]) / "train.csv")
    model = LogisticRegression(C=args.C).fit(train[["x", "y"]], train["label"])
    joblib.dump(model, Path(os.environ["SM_MODEL_DIR"]) / "model.joblib")
    (Path(os.environ["SM_MODEL_DIR"]) / "features.json").write_text(json.dumps(["x", "y"]))
    print("trained with C =", args.C)

if __name__ == "__main__":
    main()
"""

EVALUATE = """\
import json, os, tarfile
from pathlib import Path
import joblib, pandas as pd

inputs = Path(os.environ["MLINFRA_PROCESSING_INPUT"])
with tarfile.open(inputs / "model" / "model.tar.gz") as tar:
    tar.extractall(inputs / "unpacked")
model = joblib.load(inputs / "unpacked" / "model.joblib")
test = pd.read_csv(inputs / "test" / "test.csv")
accuracy = float((model.predict(test[["x", "y"]]) == test["label"]).mean())
out = Path(os.environ["MLINFRA_PROCESSING_OUTPUT"]) / "evaluation"
out.mkdir(parents=True)
(out / "evaluation.json").write_text(json.dumps({"metrics": {"accuracy": {"value": accuracy}}}))
print("accuracy", accuracy)
"""


def write_project(
    root: Path, approval: str = "auto", evaluate: str = EVALUATE, prepare: str = PREPARE
) -> Path:
    """The project's files under `root`; the spec's path."""
    (root / "steps").mkdir(parents=True, exist_ok=True)
    (root / "data").mkdir(exist_ok=True)
    (root / "steps" / "prepare.py").write_text(prepare)
    (root / "steps" / "train.py").write_text(TRAIN)
    (root / "steps" / "evaluate.py").write_text(evaluate)
    rows = ["x,y,label"]
    for i in range(100):  # separable: the label is whether x > y
        x, y = (i * 37 % 100) / 10, (i * 53 % 100) / 10
        rows.append(f"{x},{y},{int(x > y)}")
    (root / "data" / "points.csv").write_text("\n".join(rows) + "\n")
    spec = root / "mlinfra.yaml"
    spec.write_text(SPEC.replace("APPROVAL", approval))
    return spec


def announce(server: EmulatorServer, spec: Path) -> None:
    """Write the run file `mlinfra emulator start` writes, so the CLI finds `server`."""
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


def pipeline_request(spec: Path) -> dict:
    """The CreatePipeline request the local lowering makes of the spec's pipeline."""
    result = validate_file(spec)
    assert result.ok, result.diagnostics
    graph = lower(result.environments["local"], spec.parent)
    (resource,) = graph.of_type("local.Pipeline")
    return resolve(resource.properties, None, None)


def client(server: EmulatorServer, service: str = "sagemaker"):
    return Access.for_server(server).client(service)


def create(server: EmulatorServer, spec: Path) -> object:
    """A SageMaker client whose emulator holds the spec's pipeline and registry group."""
    sagemaker = client(server)
    sagemaker.create_model_package_group(ModelPackageGroupName=GROUP)
    sagemaker.create_pipeline(**pipeline_request(spec))
    return sagemaker


def run(sagemaker, parameters: dict | None = None, timeout: float = 120) -> dict:
    """Start an execution, wait for it to end, and describe it."""
    arn = sagemaker.start_pipeline_execution(
        PipelineName=PIPELINE,
        PipelineParameters=[{"Name": k, "Value": str(v)} for k, v in (parameters or {}).items()],
    )["PipelineExecutionArn"]
    return wait(sagemaker, arn, timeout)


def wait(sagemaker, arn: str, timeout: float = 120) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        found = sagemaker.describe_pipeline_execution(PipelineExecutionArn=arn)
        if found["PipelineExecutionStatus"] not in ("Executing", "Stopping"):
            return found
        assert time.monotonic() < deadline, f"still {found['PipelineExecutionStatus']}"
        time.sleep(0.2)


def steps(sagemaker, arn: str) -> dict[str, dict]:
    found = sagemaker.list_pipeline_execution_steps(PipelineExecutionArn=arn)
    return {s["StepName"]: s for s in found["PipelineExecutionSteps"]}


def processing_definition(
    environment: dict[str, str],
    data: str | None = None,
    output: str | None = None,
    step: str = "step",
) -> str:
    """A one-step pipeline definition: `python3 steps/step.py` of the project, as a processing
    job with `environment`, reading `data` (if any) in input/data and uploading output/ to
    `output` (if any)."""
    inputs = [("code", "file:steps/step.py"), *([("data", data)] if data is not None else [])]
    arguments: dict = {
        "ProcessingResources": {"ClusterConfig": {
            "InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 1}},
        "AppSpecification": {
            "ImageUri": "sklearn",
            "ContainerEntrypoint": ["python3", "/opt/ml/processing/input/code/step.py"],
        },
        "Environment": environment,
        "RoleArn": "arn:aws:iam::123456789012:role/mlinfra-local-pipeline",
        "ProcessingInputs": [
            {"InputName": name, "S3Input": {
                "S3Uri": uri, "LocalPath": f"/opt/ml/processing/input/{name}",
                "S3DataType": "S3Prefix", "S3InputMode": "File"}}
            for name, uri in inputs
        ],
    }  # fmt: skip
    if output is not None:
        arguments["ProcessingOutputConfig"] = {"Outputs": [
            {"OutputName": "out", "S3Output": {
                "S3Uri": output, "LocalPath": "/opt/ml/processing/output",
                "S3UploadMode": "EndOfJob"}}]}  # fmt: skip
    body = {"Name": step, "Type": "Processing", "Arguments": arguments}
    return json.dumps({"Version": "2020-12-01", "Steps": [body]})


def mlinfra(spec: Path, *args: str) -> Result:
    """`mlinfra ARGS -f SPEC` run in process; never a traceback."""
    result = CliRunner().invoke(cli, [*args, "-f", str(spec)])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    assert "Traceback" not in result.output
    return result


def register_version(
    sagemaker, status: str = "PendingManualApproval", report: str | None = None
) -> str:
    """A version of the group registered through boto3, as a pipeline would; with `report`,
    the location of its evaluation report. Its ARN."""
    request: dict = {
        "ModelPackageGroupName": GROUP,
        "ModelApprovalStatus": status,
        "InferenceSpecification": {
            "Containers": [{"Image": "sklearn", "ModelDataUrl": "s3://b/model.tar.gz"}],
            "SupportedContentTypes": ["text/csv"],
            "SupportedResponseMIMETypes": ["text/csv"],
        },
    }
    if report is not None:
        statistics = {"ContentType": "application/json", "S3Uri": report}
        request["ModelMetrics"] = {"ModelQuality": {"Statistics": statistics}}
    return sagemaker.create_model_package(**request)["ModelPackageArn"]
