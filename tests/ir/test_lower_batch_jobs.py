"""Lowering batch jobs and transform steps: the one-step pipeline a batch job becomes on each
target, its transform job checked against botocore's CreateTransformJob shape as every step
is, and what each target adds (SageMaker: the export step, keys, the schedule rule; local:
the schedule tag the emulator's scheduler reads)."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlinfra.frozen import thaw
from mlinfra.ir.graph import Json, Ref
from mlinfra.ir.local.pipelines import SCHEDULE_TAG
from mlinfra.ir.lower import lower
from mlinfra.ir.sagemaker.pipeline_definition.check import check_definition
from mlinfra.spec.validate import validate_file
from mlinfra.spec.values import schedule_tag

SPEC = """\
version: 1
project: shop
environments:
  local: {target: local}
  dev: {target: sagemaker, account: "111111111111"}
  prod:
    target: sagemaker
    account: "222222222222"
    security:
      kms_key: create
      network_isolation: true
    overrides:
      batch_jobs:
        files:
          input: s3://shop-data/to-score/
          output: s3://shop-data/scores/
feature_stores:
  customers:
    record_identifier: customer_id
    event_time: event_time
    features:
      customer_id: string
      event_time: string
      tenure: integral
      charges: fractional
      churned: integral
models:
  scorer:
    registry_group: scorer
    framework: sklearn
    framework_version: "1.2-1"
pipelines:
  nightly:
    steps:
      prepare:
        type: processing
        script: prepare.py
      score:
        type: transform
        model: scorer
        inputs: [prepare.rows]
        batch_strategy: single_record
        accept: application/json
      publish:
        type: processing
        script: prepare.py
        inputs: [score.out]
batch_jobs:
  customers:
    model: scorer
    input: feature_store.customers
    features: [charges, tenure]
    schedule: daily
  accelerated:
    model: scorer
    input: feature_store.customers
    instance_type: ml.inf2.xlarge
  files:
    model: scorer
    input: data/to-score.csv
    split: none
    max_payload_mb: 0
    instance_count: 2
"""


@pytest.fixture(scope="module")
def graphs(tmp_path_factory) -> dict:
    folder = tmp_path_factory.mktemp("batch")
    (folder / "prepare.py").write_text("print('prepare')\n")
    (folder / "data").mkdir()
    (folder / "data" / "to-score.csv").write_text("1,2.0\n")
    (folder / "mlinfra.yaml").write_text(SPEC)
    validation = validate_file(folder / "mlinfra.yaml")
    assert validation.ok, [str(d) for d in validation.diagnostics]
    return {env: lower(spec, folder) for env, spec in validation.environments.items()}


def definition(graph, address: str) -> dict:
    properties = graph.get(address).properties
    found = properties.get("pipeline_definition", properties.get("PipelineDefinition"))
    assert isinstance(found, Json)
    return thaw(found.value)


def steps(graph, address: str) -> dict:
    return {s["Name"]: s for s in definition(graph, address)["Steps"]}


def test_a_batch_job_on_sagemaker_exports_the_store_then_scores_the_chosen_features(graphs):
    found = steps(graphs["dev"], "batch_job.customers")
    assert list(found) == ["export", "score"]
    export, score = found["export"], found["score"]
    assert export["Type"] == "Processing" and score["Type"] == "Transform"
    assert export["Arguments"]["Environment"]["MLINFRA_EXPORT_FEATURES"] == (
        "customer_id,event_time,tenure,charges,churned"
    )
    arguments = score["Arguments"]
    assert arguments["ModelName"] == Ref("model.scorer", "name")
    # charges then tenure, as the spec lists them; the record id joined to each answer.
    assert arguments["DataProcessing"] == {
        "InputFilter": "$[3,2]",
        "JoinSource": "Input",
        "OutputFilter": "$[0,-1]",
    }
    assert check_definition(definition(graphs["dev"], "batch_job.customers")) == []


def test_a_batch_job_locally_reads_the_offline_store_and_carries_its_schedule(graphs):
    graph = graphs["local"]
    (score,) = steps(graph, "batch_job.customers").values()
    source = score["Arguments"]["TransformInput"]["DataSource"]["S3DataSource"]["S3Uri"]
    assert source == "file:.mlinfra/emulator/featurestore/offline/shop-local-customers"
    tags = {t["Key"]: t["Value"] for t in graph.get("batch_job.customers").properties["Tags"]}
    assert tags[SCHEDULE_TAG] == schedule_tag("daily")
    files = graph.get("batch_job.files").properties
    assert SCHEDULE_TAG not in {t["Key"] for t in files["Tags"]}  # runs only when started


def test_options_become_the_transform_jobs_fields(graphs):
    (score,) = steps(graphs["dev"], "batch_job.files").values()
    arguments = score["Arguments"]
    assert arguments["TransformInput"]["SplitType"] == "None"
    assert arguments["MaxPayloadInMB"] == 0
    assert arguments["TransformResources"]["InstanceCount"] == 2
    assert "DataProcessing" not in arguments
    nightly = steps(graphs["dev"], "pipeline.nightly")["score"]["Arguments"]
    assert nightly["BatchStrategy"] == "SingleRecord"
    assert nightly["TransformOutput"]["Accept"] == "application/json"
    assert nightly["TransformInput"]["DataSource"]["S3DataSource"]["S3Uri"] == {
        "Std:Join": {
            "On": "/",
            "Values": [
                {"Get": "Steps.prepare.ProcessingOutputConfig.Outputs['prepare'].S3Output.S3Uri"},
                "rows",
            ],
        }
    }


def test_keys_and_a_written_output_follow_the_environment(graphs):
    (score,) = steps(graphs["prod"], "batch_job.files").values()
    arguments = score["Arguments"]
    assert arguments["TransformOutput"]["S3OutputPath"] == "s3://shop-data/scores/"
    assert arguments["TransformOutput"]["KmsKeyId"] == Ref("kms.key", "arn")
    assert arguments["TransformResources"]["VolumeKmsKeyId"] == Ref("kms.key", "arn")
    (dev,) = steps(graphs["dev"], "batch_job.files").values()
    assert "KmsKeyId" not in dev["Arguments"]["TransformOutput"]
    # The transform job runs the model as the model is: isolated in prod.
    assert graphs["prod"].get("model.scorer").properties["enable_network_isolation"] is True


def test_a_scheduled_batch_job_has_its_eventbridge_rule(graphs):
    graph = graphs["dev"]
    rule = graph.get("batch_job.customers/schedule").properties
    assert rule["schedule_expression"] == "cron(0 0 * * ? *)"  # daily, at midnight UTC
    assert graph.get("batch_job.files/schedule") is None


def test_a_transform_step_definition_is_checked_against_botocore(graphs):
    document = definition(graphs["dev"], "pipeline.nightly")
    assert check_definition(document) == []
    score = next(s for s in document["Steps"] if s["Name"] == "score")
    score["Arguments"]["TransformInput"]["SplitType"] = "Lines"
    score["Arguments"]["TransformResources"]["InstanceKind"] = "big"
    problems = check_definition(document)
    assert any("'Lines' is not one of" in p for p in problems), problems
    assert any("InstanceKind" in p for p in problems), problems


def test_a_step_after_a_transform_step_reads_its_scores(graphs):
    publish = steps(graphs["dev"], "pipeline.nightly")["publish"]["Arguments"]
    scores = next(i for i in publish["ProcessingInputs"] if i["InputName"] == "out")
    assert scores["S3Input"]["S3Uri"] == {"Get": "Steps.score.TransformOutput.S3OutputPath"}


def test_the_model_role_may_read_and_write_what_its_transform_jobs_do(graphs):
    policy = thaw(graphs["prod"].get("model.scorer/role-policy").properties["policy"].value)
    sids = {s.get("Sid"): s for s in policy["Statement"]}
    assert sids["ReadTransformInputs"]["Resource"] == ["arn:aws:s3:::shop-data/to-score*"]
    assert sids["WriteTransformOutputs"]["Resource"] == ["arn:aws:s3:::shop-data/scores/*"]
    prefixes = sids["ListTransformData"]["Condition"]["StringLike"]["s3:prefix"]
    assert prefixes == [
        "pipelines/accelerated/*",
        "pipelines/customers/*",
        "pipelines/files/*",
        "pipelines/nightly/*",
    ]


def test_the_export_runs_on_the_jobs_instance_type_where_a_processing_job_may(graphs):
    found = steps(graphs["dev"], "batch_job.accelerated")
    cluster = found["export"]["Arguments"]["ProcessingResources"]["ClusterConfig"]
    assert cluster["InstanceType"] == "ml.m5.large"  # no Processing job runs on ml.inf2
    assert found["score"]["Arguments"]["TransformResources"]["InstanceType"] == "ml.inf2.xlarge"
    (export,) = [s for s in steps(graphs["dev"], "batch_job.customers").values()][:1]
    assert export["Arguments"]["ProcessingResources"]["ClusterConfig"]["InstanceType"] == (
        "ml.m5.large"
    )


def test_the_export_script_is_the_one_the_emulator_calls():
    # One code on both targets: the file uploaded is the module the emulator imports.
    from mlinfra.ir.requests.batch_jobs import export_script
    from mlinfra.sagemaker import offline_rows

    assert export_script() == Path(offline_rows.__file__).read_bytes()
