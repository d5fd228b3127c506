"""The SageMaker Python SDK's own job resources (`sagemaker.core.resources`, what was
sagemaker-core) run unchanged against the emulator, given `mlinfra emulator env`'s variables:
a training job trains, and a transform job scores with the model it made."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from mlinfra.emulator.access import UNSET, Access

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

TRAIN = """
import os
import joblib, numpy as np
from sklearn.linear_model import LogisticRegression
data = np.loadtxt(os.path.join(os.environ["SM_CHANNEL_TRAIN"], "train.csv"), delimiter=",")
model = LogisticRegression().fit(data[:, 1:], data[:, 0])
joblib.dump(model, os.path.join(os.environ["SM_MODEL_DIR"], "model.joblib"))
print(f"accuracy={model.score(data[:, 1:], data[:, 0])}")
"""


def test_sdk_training_and_transform_jobs_run_against_the_emulator(server, tmp_path, monkeypatch):
    (tmp_path / "code").mkdir()
    (tmp_path / "code" / "train.py").write_text(TRAIN)
    (tmp_path / "data").mkdir()
    xs = np.linspace(-2, 2, 40)
    rows = "".join(f"{int(x > 0)},{x:.3f}\n" for x in xs)
    (tmp_path / "data" / "train.csv").write_text(rows)
    (tmp_path / "batch").mkdir()
    (tmp_path / "batch" / "score.csv").write_text("-1.5\n1.5\n")
    monkeypatch.chdir(tmp_path)
    for name, value in Access.for_server(server).environment().items():
        monkeypatch.setenv(name, value)
    for name in UNSET:
        monkeypatch.delenv(name, raising=False)
    # Deferred to here: the SDK reads its environment and configuration when imported.
    from sagemaker.core import shapes
    from sagemaker.core.resources import Model, TrainingJob, TransformJob
    from sagemaker.core.utils.utils import SageMakerClient

    # The SDK caches its boto3 clients per process: one made here for this emulator must
    # neither be an earlier test's nor outlive this one.
    SageMakerClient.reset()
    try:
        run_jobs(tmp_path, shapes, Model, TrainingJob, TransformJob)
    finally:
        SageMakerClient.reset()


def run_jobs(tmp_path: Path, shapes, Model, TrainingJob, TransformJob) -> None:  # noqa: N803
    role = "arn:aws:iam::123456789012:role/sagemaker"
    job = TrainingJob.create(
        training_job_name="sdk-train",
        role_arn=role,
        algorithm_specification=shapes.AlgorithmSpecification(
            training_image="sklearn",
            training_input_mode="File",
            metric_definitions=[shapes.MetricDefinition(name="acc", regex="accuracy=([0-9.]+)")],
        ),
        hyper_parameters={
            "sagemaker_program": "train.py",
            "sagemaker_submit_directory": "file:code",
        },
        input_data_config=[
            shapes.Channel(
                channel_name="train",
                data_source=shapes.DataSource(
                    s3_data_source=shapes.S3DataSource(s3_data_type="S3Prefix", s3_uri="file:data")
                ),
            )
        ],
        output_data_config=shapes.OutputDataConfig(s3_output_path="file:artifacts"),
        resource_config=shapes.ResourceConfig(
            instance_type="ml.m5.large", instance_count=1, volume_size_in_gb=1
        ),
        stopping_condition=shapes.StoppingCondition(max_runtime_in_seconds=120),
    )
    job.wait(poll=1, timeout=120)
    assert job.training_job_status == "Completed"
    artifacts = Path(job.model_artifacts.s3_model_artifacts)
    assert artifacts == tmp_path / "artifacts" / "sdk-train" / "output" / "model.tar.gz"
    assert job.final_metric_data_list[0].value > 0.9

    Model.create(
        model_name="sdk-model",
        execution_role_arn=role,
        primary_container=shapes.ContainerDefinition(
            image="sklearn", model_data_url=str(artifacts)
        ),
    )
    transform = TransformJob.create(
        transform_job_name="sdk-score",
        model_name="sdk-model",
        transform_input=shapes.TransformInput(
            data_source=shapes.TransformDataSource(
                s3_data_source=shapes.TransformS3DataSource(
                    s3_data_type="S3Prefix", s3_uri="file:batch"
                )
            ),
            content_type="text/csv",
            split_type="Line",
        ),
        transform_output=shapes.TransformOutput(
            s3_output_path="file:scores", accept="text/csv", assemble_with="Line"
        ),
        transform_resources=shapes.TransformResources(
            instance_type="ml.m5.large", instance_count=1
        ),
    )
    transform.wait(poll=1, timeout=120)
    assert transform.transform_job_status == "Completed"
    low, high = (float(x) for x in (tmp_path / "scores" / "score.csv.out").read_text().split())
    assert low < 0.5 < high
