"""The job rules on batch scoring: a batch job's pipeline (its `export` and `score` steps) and
a transform step inside a pipeline, judged in the one rule-test harness.

A transform job's KMS keys are its own (`TransformOutput.KmsKeyId`,
`TransformResources.VolumeKmsKeyId`); its network isolation and VPC are its model's, and it
has no inter-container encryption setting to judge.
"""

from __future__ import annotations

import pytest
from rule_specs import audited, changed, document, judge, line_of

from mlinfra.ir.graph import Json
from mlinfra.policy.rules.jobs import (
    job_inter_container_encryption,
    job_network_isolation,
    job_output_kms,
    job_volume_kms,
)

SPEC = """\
version: 1
project: shop
environments:
  secure:
    target: sagemaker
    account: "111111111111"
    security:
      kms_key: create
      network_isolation: true
      encrypt_inter_container_traffic: true
  open:
    target: sagemaker
    account: "222222222222"
    security:
      kms_key: none
      network_isolation: false
      encrypt_inter_container_traffic: false
feature_stores:
  customers:
    record_identifier: customer_id
    event_time: event_time
    features:
      customer_id: string
      event_time: string
      tenure: integral
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
        script: pipelines/prepare.py
      score:
        type: transform
        model: scorer
        inputs: [prepare.rows]
batch_jobs:
  customers:
    model: scorer
    input: feature_store.customers
  files:
    model: scorer
    input: s3://shop-data/to-score/
    instance_type: ml.g4dn.xlarge
"""

NIGHTLY, CUSTOMERS, FILES = "pipeline.nightly", "batch_job.customers", "batch_job.files"


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    folder = tmp_path_factory.mktemp("batch-jobs")
    contexts = {name: audited(folder, SPEC, name) for name in ("secure", "open")}
    return contexts.__getitem__


def test_transform_jobs_without_keys_fail_on_their_volumes_and_outputs(env):
    volumes = judge(job_volume_kms, env("open"))
    assert volumes.messages[CUSTOMERS] == [
        "step 'export' writes its storage volumes without a KMS key",
        "step 'score' writes its storage volumes without a KMS key",
    ]
    assert "step 'score' writes its storage volumes without a KMS key" in volumes.messages[NIGHTLY]
    # ml.g4dn encrypts its NVMe storage in hardware and takes no volume key.
    assert FILES in volumes.passing
    outputs = judge(job_output_kms, env("open"))
    assert outputs.messages[FILES] == ["step 'score' uploads its outputs without a KMS key"]
    assert outputs.lines(FILES) == {line_of(SPEC, "kms_key:", after="  open:")}


def test_transform_jobs_with_the_environment_key_pass(env):
    for rule in (job_volume_kms, job_output_kms):
        judged = judge(rule, env("secure"))
        assert {NIGHTLY, CUSTOMERS, FILES} <= judged.passing, rule.id


def test_a_transform_job_is_as_isolated_as_its_model(env):
    judged = judge(job_network_isolation, env("open"))
    assert judged.messages[FILES] == ["step 'score' runs without network isolation"]
    assert judge(job_network_isolation, env("secure")).failing == {}
    # The step takes its isolation from the model it names: a model without it fails it.
    secure = env("secure")
    exposed = changed(secure, "model.scorer", enable_network_isolation=False)
    assert judge(job_network_isolation, exposed).messages[FILES] == [
        "step 'score' runs without network isolation"
    ]


def test_a_transform_job_has_no_inter_container_setting_to_fail(env):
    judged = judge(job_inter_container_encryption, env("open"))
    assert FILES in judged.passing  # its one step is a transform job
    # The customers' export step is a processing job, which has the setting.
    assert judged.messages[CUSTOMERS] == [
        "step 'export' runs on 1 instance without inter-container traffic encryption"
    ]


def test_a_transform_step_whose_keys_are_removed_fails(env):
    secure = env("secure")
    definition = document(secure, FILES, "pipeline_definition")
    arguments = definition["Steps"][0]["Arguments"]
    del arguments["TransformOutput"]["KmsKeyId"]
    judged = judge(job_output_kms, changed(secure, FILES, pipeline_definition=Json(definition)))
    assert judged.messages == {FILES: ["step 'score' uploads its outputs without a KMS key"]}
