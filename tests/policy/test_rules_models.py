"""The model rules: each one's exact failing and passing models, and where it points."""

from __future__ import annotations

from rule_specs import HEADER, MODEL, audit, example_findings

from mlinfra.policy.rules.models import (
    model_in_vpc,
    model_manual_approval,
    model_network_isolation,
    model_scheduled_retraining,
)

TWO_MODELS = MODEL + (
    "  n:\n"
    "    framework: sklearn\n"
    '    framework_version: "1.2-1"\n'
    "    artifact: s3://demo-models/n/model.tar.gz\n"
)

# --- model-network-isolation and model-in-vpc -------------------------------------------------

NETWORK_SPEC = (
    HEADER.replace(
        "    team: ml\n", "    team: ml\n  security:\n    network_isolation: false\n"
    ).replace(
        "      kms_key: create\n",
        "      kms_key: create\n"
        "      network_isolation: true\n"
        "      vpc:\n"
        "        subnets: [subnet-0a1b2c3d4e5f60718]\n"
        "        security_groups: [sg-0123456789abcdef0]\n",
    )
    + TWO_MODELS
)


def test_network_isolation_fails_models_with_network_access(tmp_path):
    result = audit(tmp_path, NETWORK_SPEC, "dev", model_network_isolation)

    assert set(result.failing) == {"model.m", "model.n"}
    assert result.passing == set()
    # dev writes no security of its own: the default that turns isolation off is to blame.
    assert result.line("model.m") == result.line_of("network_isolation: false")


def test_network_isolation_passes_where_the_environment_isolates(tmp_path):
    result = audit(tmp_path, NETWORK_SPEC, "prod", model_network_isolation)

    assert result.failing == {}
    assert result.passing == {"model.m", "model.n"}


def test_in_vpc_fails_models_outside_a_vpc(tmp_path):
    result = audit(tmp_path, NETWORK_SPEC, "dev", model_in_vpc)

    assert set(result.failing) == {"model.m", "model.n"}
    assert result.line("model.n") == result.line_of("  dev:")


def test_in_vpc_passes_where_the_environment_sets_a_vpc(tmp_path):
    result = audit(tmp_path, NETWORK_SPEC, "prod", model_in_vpc)

    assert result.failing == {}
    assert result.passing == {"model.m", "model.n"}


# --- model-manual-approval --------------------------------------------------------------------

APPROVAL_SPEC = (
    HEADER.replace(
        "      kms_key: create\n",
        "      kms_key: create\n"
        "    overrides:\n"
        "      models:\n"
        "        overridden:\n"
        "          approval: auto\n",
    )
    + """\
models:
  reviewed:
    framework: sklearn
    framework_version: "1.2-1"
    registry_group: g1
  auto:
    framework: sklearn
    framework_version: "1.2-1"
    registry_group: g2
    approval: auto
  overridden:
    framework: sklearn
    framework_version: "1.2-1"
    registry_group: g3
  pinned:
    framework: sklearn
    framework_version: "1.2-1"
    registry_group: g4
    version: 3
    approval: auto
  fixed:
    framework: sklearn
    framework_version: "1.2-1"
    artifact: s3://demo-models/fixed/model.tar.gz
pipelines:
  train-auto:
    steps:
      train:
        type: training
        entry_point: pipelines/train.py
      register:
        type: register_model
        after: [train]
        model: auto
"""
)


def test_manual_approval_fails_prod_models_approved_automatically(tmp_path):
    result = audit(tmp_path, APPROVAL_SPEC, "prod", model_manual_approval)

    assert set(result.failing) == {"model.auto", "model.overridden"}
    # A pinned version or a fixed artifact is chosen in the spec, not by approval.
    assert result.passing == {"model.reviewed", "model.pinned", "model.fixed"}
    assert result.line("model.auto") == result.line_of("approval: auto", after="  auto:")
    # The prod override, not the base spec (which leaves the default, manual).
    assert result.line("model.overridden") == result.line_of("approval: auto")
    assert "pipeline train-auto" in result.message("model.auto")


def test_manual_approval_does_not_apply_outside_prod(tmp_path):
    result = audit(tmp_path, APPROVAL_SPEC, "dev", model_manual_approval)

    assert result.failing == {}
    assert len(result.passing) == 5


# --- model-scheduled-retraining ---------------------------------------------------------------


def registering(pipeline: str, model: str, schedule: str = "") -> str:
    return (
        f"  {pipeline}:\n" + (f"    schedule: {schedule}\n" if schedule else "") + "    steps:\n"
        "      train:\n"
        "        type: training\n"
        "        entry_point: pipelines/train.py\n"
        "      register:\n"
        "        type: register_model\n"
        "        after: [train]\n"
        f"        model: {model}\n"
    )


RETRAINING_SPEC = (
    HEADER
    + "models:\n"
    + "".join(
        f'  {name}:\n    framework: sklearn\n    framework_version: "1.2-1"\n'
        f"    registry_group: {group}\n"
        for name, group in (
            ("scheduled", "g1"),
            ("drifting", "g2"),
            ("manual", "g3"),
            ("orphan", "g4"),
        )
    )
    + '  fixed:\n    framework: sklearn\n    framework_version: "1.2-1"\n'
    + "    artifact: s3://demo-models/fixed/model.tar.gz\n"
    + "pipelines:\n"
    + registering("train-scheduled", "scheduled", schedule="daily")
    + registering("train-drifting", "drifting")
    + registering("train-manual", "manual")
    + """\
endpoints:
  api:
    model: drifting
    instance_type: ml.m5.large
    data_capture:
      sampling_percent: 20
monitors:
  drift:
    endpoint: api
    type: data_quality
    baseline: data/baseline.csv
    on_violation:
      retrain: train-drifting
"""
)


def test_scheduled_retraining_fails_prod_models_nothing_retrains(tmp_path):
    result = audit(tmp_path, RETRAINING_SPEC, "prod", model_scheduled_retraining)

    assert set(result.failing) == {"model.manual", "model.orphan", "model.fixed"}
    # Registered by a scheduled pipeline, or by one a monitor starts on drift.
    assert result.passing == {"model.scheduled", "model.drifting"}
    # Where a schedule would be written: the pipeline that registers the model.
    assert result.line("model.manual") == result.line_of("  train-manual:")
    assert result.line("model.orphan") == result.line_of("registry_group: g4")
    assert result.line("model.fixed") == result.line_of("artifact: s3://demo-models/fixed")


def test_scheduled_retraining_does_not_apply_outside_prod(tmp_path):
    result = audit(tmp_path, RETRAINING_SPEC, "dev", model_scheduled_retraining)

    assert result.failing == {}
    assert len(result.passing) == 5


# --- the reference spec -----------------------------------------------------------------------

MODEL_RULES = (
    model_network_isolation,
    model_in_vpc,
    model_manual_approval,
    model_scheduled_retraining,
)


def test_churn_dev_fails_only_on_the_network():
    # dev sets no security: no network isolation, no VPC. Its `approval: auto` override is
    # not prod, and retraining is judged in prod only.
    assert example_findings("dev", MODEL_RULES) == {
        ("model-network-isolation", "model.churn-model"),
        ("model-in-vpc", "model.churn-model"),
    }


def test_churn_prod_passes_every_model_rule():
    # prod isolates and sets a VPC; the model keeps `approval: manual` (only dev and local
    # override it); train-churn registers it on a cron schedule, and churn-drift retrains.
    assert example_findings("prod", MODEL_RULES) == set()
