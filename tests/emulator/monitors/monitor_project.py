"""A monitored endpoint for the monitoring tests: its records, baseline data and captures.

The endpoint's model need not load: a monitor reads what the endpoint captured, and the
tests write captures themselves, in SageMaker's capture format, where serving writes them.
"""

from __future__ import annotations

import json
import random
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from mlinfra.emulator.access import Access

ENDPOINT = "churn-local-churn-api"
MONITOR = "churn-local-churn-drift"
PIPELINE = "churn-local-train-churn"
BASELINE_HASH = "0f1e2d3c"
ROLE = "arn:aws:iam::123456789012:role/mlinfra-local-monitor"
COLUMNS = ("tenure", "monthly_charges", "plan")
IMAGE = "156813124566.dkr.ecr.us-east-1.amazonaws.com/sagemaker-model-monitor-analyzer"
CONTAINER = {"Image": "sklearn", "ModelDataUrl": "model/not-yet-trained"}
EMPTY_PIPELINE = json.dumps({"Version": "2020-12-01", "Steps": []})


def client(server: Any, service: str = "sagemaker", region: str = "us-east-1") -> Any:
    return Access.for_server(server, region).client(service)


def create_endpoint(
    sm: Any, name: str = ENDPOINT, capture: bool = True, container: dict | None = None
) -> None:
    """An endpoint (its model does not load, so it is Failed) whose config captures data;
    its model's container is `container` (e.g. a registry version), else an artifact."""
    sm.create_model(
        ModelName=f"{name}-model",
        PrimaryContainer=container or CONTAINER,
        ExecutionRoleArn=ROLE,
    )
    extra = {}
    if capture:
        extra["DataCaptureConfig"] = {
            "EnableCapture": True,
            "InitialSamplingPercentage": 100,
            "DestinationS3Uri": f"file:.mlinfra/emulator/capture/{name}",
            "CaptureOptions": [{"CaptureMode": "Input"}, {"CaptureMode": "Output"}],
        }
    sm.create_endpoint_config(
        EndpointConfigName=f"{name}-config",
        ProductionVariants=[
            {
                "VariantName": "AllTraffic",
                "ModelName": f"{name}-model",
                "InitialInstanceCount": 1,
                "InstanceType": "ml.m5.large",
            }
        ],
        **extra,
    )
    sm.create_endpoint(EndpointName=name, EndpointConfigName=f"{name}-config")


def baseline_folder(name: str = MONITOR, digest: str = BASELINE_HASH) -> str:
    return f".mlinfra/emulator/monitors/{name}/baseline-results/{digest}"


def schedule_config(
    name: str = MONITOR,
    endpoint: str = ENDPOINT,
    expression: str = "cron(0 0 ? * * *)",
    environment: dict[str, str] | None = None,
    digest: str = BASELINE_HASH,
) -> dict:
    """The MonitoringScheduleConfig the local lowering sends."""
    folder = baseline_folder(name, digest)
    env = {
        "mlinfra_baseline_dataset": "file:data/baseline.csv",
        "mlinfra_drift_psi": "0.2",
        "mlinfra_missing_percent": "5",
    }
    env.update(environment or {})
    return {
        "ScheduleConfig": {"ScheduleExpression": expression},
        "MonitoringType": "DataQuality",
        "MonitoringJobDefinition": {
            "BaselineConfig": {
                "ConstraintsResource": {"S3Uri": f"file:{folder}/constraints.json"},
                "StatisticsResource": {"S3Uri": f"file:{folder}/statistics.json"},
            },
            "MonitoringInputs": [
                {
                    "EndpointInput": {
                        "EndpointName": endpoint,
                        "LocalPath": "/opt/ml/processing/input/endpoint",
                    }
                }
            ],
            "MonitoringOutputConfig": {
                "MonitoringOutputs": [
                    {
                        "S3Output": {
                            "S3Uri": f"file:.mlinfra/emulator/monitors/{name}/reports",
                            "LocalPath": "/opt/ml/processing/output",
                        }
                    }
                ]
            },
            "MonitoringResources": {
                "ClusterConfig": {
                    "InstanceCount": 1,
                    "InstanceType": "ml.m5.large",
                    "VolumeSizeInGB": 20,
                }
            },
            "MonitoringAppSpecification": {"ImageUri": IMAGE},
            "RoleArn": ROLE,
            "Environment": env,
        },
    }


def write_placeholder_baseline(root: Path, name: str = MONITOR) -> Path:
    """Baseline files that exist, so creating a schedule runs no baselining job."""
    folder = root / baseline_folder(name)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "constraints.json").write_text('{"version": 0.0, "features": []}')
    (folder / "statistics.json").write_text('{"version": 0.0, "features": []}')
    return folder


def rows(count: int, drifted: bool = False, seed: int = 0) -> list[list[Any]]:
    """Churn-like rows; drifted ones have far longer tenure and a plan never seen before."""
    rng = random.Random(seed)
    found = []
    for _ in range(count):
        if drifted:
            found.append([rng.randint(200, 400), round(rng.uniform(150, 300), 2), "platinum"])
        else:
            plan = rng.choice(["basic", "standard", "premium"])
            found.append([rng.randint(1, 72), round(rng.uniform(20, 120), 2), plan])
    return found


def write_dataset(root: Path, count: int = 1000) -> Path:
    """The baseline dataset, as data/baseline.csv with a header row."""
    path = root / "data" / "baseline.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [",".join(COLUMNS)] + [",".join(map(str, r)) for r in rows(count)]
    path.write_text("\n".join(lines) + "\n")
    return path


def write_capture(
    root: Path,
    records: list[list[Any]],
    when: datetime | None = None,
    endpoint: str = ENDPOINT,
    outputs: list[str] | None = None,
) -> Path:
    """Captured requests (CSV rows without a header, as clients send them) in SageMaker's
    capture layout under the endpoint's capture destination; each response is its `outputs`
    value (else "0")."""
    when = when or datetime.now(UTC) - timedelta(minutes=1)
    folder = (
        root / ".mlinfra/emulator/capture" / endpoint / endpoint / "AllTraffic"
        / when.strftime("%Y/%m/%d/%H")
    )  # fmt: skip
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{when.strftime('%M-%S')}-000-{uuid.uuid4()}.jsonl"
    with path.open("w") as handle:
        for index, row in enumerate(records):
            event = {
                "captureData": {
                    "endpointInput": {
                        "observedContentType": "text/csv",
                        "mode": "INPUT",
                        "data": ",".join(map(str, row)),
                        "encoding": "CSV",
                    },
                    "endpointOutput": {
                        "observedContentType": "text/csv; charset=utf-8",
                        "mode": "OUTPUT",
                        "data": "0" if outputs is None else outputs[index],
                        "encoding": "CSV",
                    },
                },
                "eventMetadata": {
                    "eventId": str(uuid.uuid4()),
                    "inferenceTime": when.strftime("%Y-%m-%dT%H:%M:%SZ"),
                },
                "eventVersion": "0",
            }
            handle.write(json.dumps(event) + "\n")
    return path
