"""The churn example's training pipeline, run end to end in the emulator on its own data.

The feature group, registry group and pipeline are created from the local lowering's
requests; the customers CSV is ingested; the pipeline reads the offline store, trains,
evaluates and registers the model (auto-approved in the local environment).
"""

from __future__ import annotations

import io
import shutil
from pathlib import Path

from pipeline_project import client, wait

from mlinfra.engines.providers.values import resolve
from mlinfra.ir.lower import lower
from mlinfra.spec.validate import validate_file

EXAMPLE = Path(__file__).parents[3] / "examples" / "churn"
CREATE = {
    "local.FeatureGroup": "create_feature_group",
    "local.ModelPackageGroup": "create_model_package_group",
    "local.Pipeline": "create_pipeline",
}


def test_the_churn_pipeline_trains_and_registers_from_the_feature_store(server, tmp_path):
    shutil.copytree(EXAMPLE / "pipelines", tmp_path / "pipelines")
    shutil.copytree(EXAMPLE / "data", tmp_path / "data")
    shutil.copy(EXAMPLE / "mlinfra.yaml", tmp_path / "mlinfra.yaml")
    result = validate_file(tmp_path / "mlinfra.yaml")
    graph = lower(result.environments["local"], tmp_path)
    sagemaker = client(server)
    for kind, create in CREATE.items():
        for resource in graph.of_type(kind):
            if resource.component.startswith("batch_job."):
                continue  # it scores with the served model, which this test does not create
            getattr(sagemaker, create)(**resolve(resource.properties, None, None))
    text = (tmp_path / "data" / "customers.csv").read_text()
    server.control.feature_store().ingest_csv_lines(
        "churn-local-customers", io.StringIO(text, newline=""), "customers.csv"
    )

    arn = sagemaker.start_pipeline_execution(PipelineName="churn-local-train-churn")[
        "PipelineExecutionArn"
    ]
    execution = wait(sagemaker, arn, timeout=180)

    assert execution["PipelineExecutionStatus"] == "Succeeded", execution.get("FailureReason")
    (version,) = sagemaker.list_model_packages(ModelPackageGroupName="churn-local-churn")[
        "ModelPackageSummaryList"
    ]
    assert version["ModelApprovalStatus"] == "Approved"
    folder = server.control.pipelines.folder(server.control.pipelines.execution(arn))
    assert (folder / "prepare/input/customers/churn-local-customers.parquet").is_file()
    assert "evaluate: " in (folder / "evaluate/log.txt").read_text()
    # Serving under network isolation (the prod environment) loads the hooks from the model.
    assert (folder / "train/model/code/train.py").is_file()
