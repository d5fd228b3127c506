"""The job rules judge every processing and training step of each pipeline (those a condition
gates included) and each monitor's job (on mlinfra's engine, and on Model Monitor), against
the environment's `security:` settings."""

from __future__ import annotations

import pytest
from rule_specs import audited, changed, churn, document, judge, line_of

from mlinfra.ir.graph import Json
from mlinfra.policy.rule_ids import RULE_IDS
from mlinfra.policy.rules.jobs import (
    job_inter_container_encryption,
    job_network_isolation,
    job_output_kms,
    job_volume_kms,
)

# `secure` turns every setting on (and runs in a VPC), `open` writes each one off, `inherits`
# writes none and takes `defaults`. Pipeline `train` runs on EBS-backed instances,
# `local-disk` on instances with NVMe storage (r5d), as does monitor `drift-on-disk`. Monitors
# `drift` and `drift-on-disk` run on Model Monitor, `watch` on mlinfra's engine.
SPEC = """\
version: 1
project: shop
defaults:
  security:
    network_isolation: false
environments:
  secure:
    target: sagemaker
    account: "111111111111"
    security:
      kms_key: create
      network_isolation: true
      encrypt_inter_container_traffic: true
      vpc:
        subnets: [subnet-0a1b2c3d4e5f60718]
        security_groups: [sg-0123456789abcdef0]
  open:
    target: sagemaker
    account: "222222222222"
    security:
      kms_key: none
      network_isolation: false
      encrypt_inter_container_traffic: false
  inherits:
    target: sagemaker
    account: "333333333333"
models:
  scorer:
    registry_group: scorer
    framework: sklearn
    framework_version: "1.2-1"
    version: latest-approved
pipelines:
  train:
    steps:
      prepare:
        type: processing
        script: pipelines/prepare.py
        instance_type: ml.m5.large
      fit:
        type: training
        entry_point: pipelines/train.py
        after: [prepare]
        instance_type: ml.m5.xlarge
        instance_count: 2
      evaluate:
        type: processing
        script: pipelines/prepare.py
        after: [fit]
      gate:
        type: condition
        after: [evaluate]
        when: "evaluate.metrics.accuracy >= 0.5"
      publish:
        type: processing
        script: pipelines/prepare.py
        after: [gate]
  local-disk:
    steps:
      prepare:
        type: processing
        script: pipelines/prepare.py
        instance_type: ml.r5d.large
      fit:
        type: training
        entry_point: pipelines/train.py
        after: [prepare]
        instance_type: ml.r5d.xlarge
endpoints:
  api:
    model: scorer
    instance_type: ml.m5.large
    data_capture:
      sampling_percent: 10
monitors:
  drift:
    endpoint: api
    type: data_quality
    engine: model-monitor
    baseline: data/baseline.csv
  drift-on-disk:
    endpoint: api
    type: data_quality
    engine: model-monitor
    baseline: data/baseline.csv
    instance_type: ml.r5d.large
  watch:
    endpoint: api
    type: data_quality
    baseline: data/baseline.csv
"""

TRAIN, LOCAL_DISK = "pipeline.train", "pipeline.local-disk"
DRIFT, DRIFT_ON_DISK = "monitor.drift/job-definition", "monitor.drift-on-disk/job-definition"
WATCH = "monitor.watch"
EVERY_JOB = {TRAIN, LOCAL_DISK, DRIFT, DRIFT_ON_DISK, WATCH}
TRAIN_STEPS = ("prepare", "fit", "evaluate", "publish")  # `publish` runs inside the condition


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    folder = tmp_path_factory.mktemp("jobs")
    contexts = {name: audited(folder, SPEC, name) for name in ("secure", "open", "inherits")}
    return contexts.__getitem__


def open_line(setting: str) -> int:
    return line_of(SPEC, f"{setting}:", after="  open:")


# --- job-volume-kms -------------------------------------------------------------------------


def test_volumes_without_a_key_fail_except_on_instances_with_local_storage(env):
    judged = judge(job_volume_kms, env("open"))
    assert set(judged.failing) == {TRAIN, DRIFT, WATCH}
    assert judged.passing == {LOCAL_DISK, DRIFT_ON_DISK}
    assert judged.messages[TRAIN] == [
        f"step {step!r} writes its storage volumes without a KMS key" for step in TRAIN_STEPS
    ]
    assert (
        judged.messages[DRIFT]
        == judged.messages[WATCH]
        == ["the monitoring job writes its storage volumes without a KMS key"]
    )
    assert judged.lines(TRAIN) == judged.lines(DRIFT) == {open_line("kms_key")}


def test_volumes_with_the_environment_key_pass(env):
    judged = judge(job_volume_kms, env("secure"))
    assert judged.failing == {}
    assert judged.passing == EVERY_JOB


def test_a_key_that_is_written_nowhere_points_at_the_environment(env):
    judged = judge(job_volume_kms, env("inherits"))
    assert set(judged.failing) == {TRAIN, DRIFT, WATCH}
    assert judged.lines(TRAIN) == {line_of(SPEC, "  inherits:")}


# --- job-output-kms -------------------------------------------------------------------------


def test_outputs_without_a_key_fail_whatever_the_instance(env):
    judged = judge(job_output_kms, env("open"))
    assert set(judged.failing) == EVERY_JOB
    assert judged.passing == set()
    assert judged.messages[LOCAL_DISK] == [
        "step 'prepare' uploads its outputs without a KMS key",
        "step 'fit' uploads its outputs without a KMS key",
    ]
    assert judged.lines(LOCAL_DISK) == {open_line("kms_key")}
    assert judged.messages[WATCH] == ["the monitoring job uploads its outputs without a KMS key"]


def test_the_monitor_job_names_its_output_key_in_its_environment(env):
    secure = env("secure")
    definition = document(secure, WATCH, "pipeline_definition")
    del definition["Steps"][0]["Arguments"]["Environment"]["MLINFRA_OUTPUT_KMS_KEY_ID"]
    judged = judge(job_output_kms, changed(secure, WATCH, pipeline_definition=Json(definition)))
    assert judged.messages == {WATCH: ["the monitoring job uploads its outputs without a KMS key"]}


def test_outputs_with_the_environment_key_pass(env):
    judged = judge(job_output_kms, env("secure"))
    assert judged.failing == {}
    assert judged.passing == EVERY_JOB


def test_a_step_whose_output_key_is_removed_fails_alone(env):
    secure = env("secure")
    definition = document(secure, TRAIN, "pipeline_definition")
    fit = next(s for s in definition["Steps"] if s["Name"] == "fit")
    del fit["Arguments"]["OutputDataConfig"]["KmsKeyId"]
    judged = judge(job_output_kms, changed(secure, TRAIN, pipeline_definition=Json(definition)))
    assert judged.messages == {TRAIN: ["step 'fit' uploads its outputs without a KMS key"]}
    assert judged.passing == EVERY_JOB - {TRAIN}
    assert judged.lines(TRAIN) == {line_of(SPEC, "kms_key: create")}


# --- job-inter-container-encryption ---------------------------------------------------------


def test_jobs_without_inter_container_encryption_fail_whatever_their_size(env):
    judged = judge(job_inter_container_encryption, env("open"))
    assert set(judged.failing) == EVERY_JOB
    assert judged.passing == set()
    assert judged.messages[TRAIN] == [
        "step 'prepare' runs on 1 instance without inter-container traffic encryption",
        "step 'fit' runs on 2 instances without inter-container traffic encryption",
        "step 'evaluate' runs on 1 instance without inter-container traffic encryption",
        "step 'publish' runs on 1 instance without inter-container traffic encryption",
    ]
    assert judged.lines(DRIFT) == {open_line("encrypt_inter_container_traffic")}


def test_jobs_with_inter_container_encryption_pass(env):
    judged = judge(job_inter_container_encryption, env("secure"))
    assert judged.failing == {}
    assert judged.passing == EVERY_JOB


# --- job-network-isolation ------------------------------------------------------------------


def test_jobs_without_network_isolation_fail(env):
    judged = judge(job_network_isolation, env("open"))
    assert set(judged.failing) == EVERY_JOB
    assert judged.passing == set()
    assert judged.messages[DRIFT_ON_DISK] == ["the monitoring job runs without network isolation"]
    # mlinfra's monitor job is judged on its VPC: it cannot be isolated.
    assert judged.messages[WATCH] == [
        "the monitoring job runs outside a VPC and cannot be network-isolated: it reads "
        "captured requests from S3 and publishes CloudWatch metrics itself"
    ]
    assert judged.lines(WATCH) == {line_of(SPEC, "  open:")}
    assert judged.messages[TRAIN] == [
        f"step {step!r} runs without network isolation" for step in TRAIN_STEPS
    ]
    assert judged.lines(TRAIN) == {open_line("network_isolation")}


def test_jobs_with_network_isolation_pass(env):
    judged = judge(job_network_isolation, env("secure"))
    assert judged.failing == {}
    assert judged.passing == EVERY_JOB


def test_a_setting_taken_from_defaults_points_at_defaults(env):
    judged = judge(job_network_isolation, env("inherits"))
    assert set(judged.failing) == EVERY_JOB
    assert judged.lines(TRAIN) == {line_of(SPEC, "network_isolation: false")}


def test_the_rules_keep_their_catalog_ids():
    rules = (job_volume_kms, job_output_kms, job_inter_container_encryption, job_network_isolation)
    assert {rule.id for rule in rules} <= RULE_IDS


# --- the churn example ----------------------------------------------------------------------

EXAMPLE_JOBS = {
    "pipeline.train-churn",
    "monitor.churn-drift",
    "monitor.churn-quality",
    "batch_job.churn-scores",
}


@pytest.mark.parametrize(
    ("rule", "dev_failing", "prod_failing"),
    [
        # dev sets no key: every job volume and output is unencrypted by KMS. prod creates one.
        (job_volume_kms, EXAMPLE_JOBS, set()),
        (job_output_kms, EXAMPLE_JOBS, set()),
        # No environment sets encrypt_inter_container_traffic (every job runs on 1 instance;
        # the batch job's export step is a processing job, which has the setting).
        (job_inter_container_encryption, EXAMPLE_JOBS, EXAMPLE_JOBS),
        # Only prod sets network_isolation, and a VPC, in which the monitor job runs.
        (job_network_isolation, EXAMPLE_JOBS, set()),
    ],
    ids=[
        "job-volume-kms",
        "job-output-kms",
        "job-inter-container-encryption",
        "job-network-isolation",
    ],
)
def test_the_churn_example(rule, dev_failing, prod_failing):
    every = EXAMPLE_JOBS
    for env_name, failing in (("dev", dev_failing), ("prod", prod_failing)):
        judged = judge(rule, churn(env_name))
        assert set(judged.failing) == failing, env_name
        assert judged.passing == every - failing, env_name
