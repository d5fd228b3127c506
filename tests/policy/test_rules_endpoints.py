"""The endpoint rules: each one's exact failing and passing resources, and where it points."""

from __future__ import annotations

from rule_specs import HEADER, MODEL, audit, example_findings

from mlinfra.policy.rules.endpoints import (
    endpoint_autoscaling,
    endpoint_data_capture,
    endpoint_data_capture_encrypted,
    endpoint_instance_allowlist,
    endpoint_kms_key,
    endpoint_min_instances,
    endpoint_monitored,
    endpoint_rollback_alarms,
    endpoint_safe_deployment,
)


def endpoints(**bodies: str) -> str:
    """An `endpoints:` section serving model m, each endpoint with its extra fields."""
    text = "endpoints:\n"
    for name, body in bodies.items():
        text += f"  {name}:\n    model: m\n"
        if "instance_type:" not in body:
            text += "    instance_type: ml.m5.large\n"
        text += "".join(f"    {line}\n" for line in body.strip("\n").splitlines())
    return text


# --- endpoint-kms-key -------------------------------------------------------------------------

KMS_SPEC = HEADER + MODEL + endpoints(api="", gpu="instance_type: ml.g5.xlarge")


def test_kms_key_fails_without_a_key_at_the_environment(tmp_path):
    result = audit(tmp_path, KMS_SPEC, "dev", endpoint_kms_key)

    assert set(result.failing) == {"endpoint.api/config"}
    # NVMe instance storage is encrypted by the hardware and takes no key.
    assert result.passing == {"endpoint.gpu/config"}
    assert result.line("endpoint.api/config") == result.line_of("  dev:")


def test_kms_key_passes_with_a_created_key(tmp_path):
    result = audit(tmp_path, KMS_SPEC, "prod", endpoint_kms_key)

    assert result.failing == {}
    assert result.passing == {"endpoint.api/config", "endpoint.gpu/config"}


def test_kms_key_points_a_preview_at_the_settings_of_its_base(tmp_path):
    result = audit(tmp_path, KMS_SPEC + "previews:\n  base: dev\n", "preview", endpoint_kms_key)

    assert set(result.failing) == {"endpoint.api/config"}
    assert result.line("endpoint.api/config") == result.line_of("  dev:")


def test_kms_key_points_at_a_default_that_turns_encryption_off(tmp_path):
    text = KMS_SPEC.replace("    team: ml\n", "    team: ml\n  security:\n    kms_key: none\n")
    result = audit(tmp_path, text, "dev", endpoint_kms_key)

    assert set(result.failing) == {"endpoint.api/config"}
    assert result.line("endpoint.api/config") == result.line_of("kms_key: none")


# --- endpoint-data-capture --------------------------------------------------------------------

CAPTURE_SPEC = (
    HEADER.replace(
        "      kms_key: create\n",
        "      kms_key: create\n"
        "    overrides:\n"
        "      endpoints:\n"
        "        off:\n"
        "          data_capture:\n"
        "            enabled: false\n",
    )
    + MODEL
    + endpoints(
        captured="data_capture:\n  sampling_percent: 20",
        uncaptured="",
        zero="data_capture:\n  sampling_percent: 0",
        off="data_capture:\n  sampling_percent: 50",
    )
)


def test_data_capture_fails_prod_endpoints_that_capture_nothing(tmp_path):
    result = audit(tmp_path, CAPTURE_SPEC, "prod", endpoint_data_capture)

    assert set(result.failing) == {
        "endpoint.uncaptured/config",
        "endpoint.zero/config",
        "endpoint.off/config",
    }
    assert result.passing == {"endpoint.captured/config"}
    # The prod override that turns capture off, not the base spec that turns it on.
    assert result.line("endpoint.off/config") == result.line_of("enabled: false")
    assert result.line("endpoint.zero/config") == result.line_of("sampling_percent: 0")
    assert result.line("endpoint.uncaptured/config") == result.line_of("  uncaptured:")


def test_data_capture_does_not_apply_outside_prod(tmp_path):
    result = audit(tmp_path, CAPTURE_SPEC, "dev", endpoint_data_capture)

    assert result.failing == {}
    assert len(result.passing) == 4


# --- endpoint-data-capture-encrypted ----------------------------------------------------------

ENCRYPTED_CAPTURE_SPEC = (
    HEADER + MODEL + endpoints(captured="data_capture:\n  sampling_percent: 20", uncaptured="")
)


def test_data_capture_encrypted_fails_capture_without_a_key(tmp_path):
    result = audit(tmp_path, ENCRYPTED_CAPTURE_SPEC, "dev", endpoint_data_capture_encrypted)

    assert set(result.failing) == {"endpoint.captured/config"}
    assert result.passing == {"endpoint.uncaptured/config"}
    assert result.line("endpoint.captured/config") == result.line_of("  dev:")


def test_data_capture_encrypted_passes_with_the_environment_key(tmp_path):
    result = audit(tmp_path, ENCRYPTED_CAPTURE_SPEC, "prod", endpoint_data_capture_encrypted)

    assert result.failing == {}
    assert result.passing == {"endpoint.captured/config", "endpoint.uncaptured/config"}


# --- endpoint-min-instances -------------------------------------------------------------------

MIN_INSTANCES_SPEC = (
    HEADER.replace(
        "      kms_key: create\n",
        "      kms_key: create\n"
        "    overrides:\n"
        "      endpoints:\n"
        "        raised:\n"
        "          instance_count: 2\n",
    )
    + MODEL
    + endpoints(
        one="instance_count: 1",
        two="instance_count: 2",
        scaled="instance_count: 2\nautoscaling:\n  min: 1\n  max: 4",
        raised="instance_count: 1",
    )
)


def test_min_instances_fails_prod_endpoints_that_can_run_one_instance(tmp_path):
    result = audit(tmp_path, MIN_INSTANCES_SPEC, "prod", endpoint_min_instances)

    assert set(result.failing) == {"endpoint.one/config", "endpoint.scaled/config"}
    # raised runs 1 instance in the base spec and 2 in prod: the override counts.
    assert result.passing == {"endpoint.two/config", "endpoint.raised/config"}
    assert result.line("endpoint.one/config") == result.line_of("instance_count: 1")
    assert result.line("endpoint.scaled/config") == result.line_of("min: 1")
    assert result.message("endpoint.one/config") == (
        "endpoint one runs 1 instance in prod; at least 2 keep it up through an instance failure"
    )


def test_min_instances_does_not_apply_outside_prod(tmp_path):
    result = audit(tmp_path, MIN_INSTANCES_SPEC, "dev", endpoint_min_instances)

    assert result.failing == {}
    assert len(result.passing) == 4


# --- endpoint-autoscaling ---------------------------------------------------------------------

AUTOSCALING_SPEC = (
    HEADER
    + MODEL
    + endpoints(
        fixed="instance_count: 2",
        scaled="instance_count: 2\nautoscaling:\n  min: 2\n  max: 4",
        pinned="instance_count: 2\nautoscaling:\n  min: 2\n  max: 2",
    )
)


def test_autoscaling_fails_prod_endpoints_that_cannot_scale_out(tmp_path):
    result = audit(tmp_path, AUTOSCALING_SPEC, "prod", endpoint_autoscaling)

    assert set(result.failing) == {"endpoint.fixed", "endpoint.pinned"}
    assert result.passing == {"endpoint.scaled"}
    assert result.line("endpoint.fixed") == result.line_of("  fixed:")
    assert result.line("endpoint.pinned") == result.line_of("max: 2")


def test_autoscaling_does_not_apply_outside_prod(tmp_path):
    result = audit(tmp_path, AUTOSCALING_SPEC, "dev", endpoint_autoscaling)

    assert result.failing == {}
    assert result.passing == {"endpoint.fixed", "endpoint.scaled", "endpoint.pinned"}


# --- endpoint-safe-deployment and endpoint-rollback-alarms ------------------------------------

SLO = "slo:\n  latency_p99_ms: 200\n  error_rate_percent: 1\n"
DEPLOYMENT_SPEC = (
    HEADER
    + MODEL
    + endpoints(
        default=SLO,
        sudden=SLO + "deployment:\n  strategy: all_at_once",
        canary=SLO + "deployment:\n  strategy: canary\n  rollback_on: [latency, errors]",
        linear=SLO + "deployment:\n  strategy: linear\n  rollback_on: [errors]",
        unguarded=SLO + "deployment:\n  strategy: canary",
        creeping=SLO + "deployment:\n  strategy: linear\n  wait_minutes: 5",
    )
)


def test_safe_deployment_fails_prod_endpoints_deployed_all_at_once(tmp_path):
    result = audit(tmp_path, DEPLOYMENT_SPEC, "prod", endpoint_safe_deployment)

    assert set(result.failing) == {"endpoint.default", "endpoint.sudden"}
    assert result.passing == {
        "endpoint.canary",
        "endpoint.linear",
        "endpoint.unguarded",
        "endpoint.creeping",
    }
    assert result.line("endpoint.sudden") == result.line_of("strategy: all_at_once")
    assert result.line("endpoint.default") == result.line_of("  default:")


def test_safe_deployment_does_not_apply_outside_prod(tmp_path):
    result = audit(tmp_path, DEPLOYMENT_SPEC, "dev", endpoint_safe_deployment)

    assert result.failing == {}


def test_rollback_alarms_fail_gradual_deployments_without_alarms_in_every_environment(tmp_path):
    result = audit(tmp_path, DEPLOYMENT_SPEC, "dev", endpoint_rollback_alarms)

    assert set(result.failing) == {"endpoint.unguarded", "endpoint.creeping"}
    # All-at-once deployments have nothing to roll back from: the rule does not apply.
    assert result.passing == {
        "endpoint.default",
        "endpoint.sudden",
        "endpoint.canary",
        "endpoint.linear",
    }
    unguarded = result.line_of("deployment:", after="  unguarded:")
    assert result.line("endpoint.unguarded") == unguarded


# --- endpoint-monitored -----------------------------------------------------------------------

MONITORED_SPEC = (
    HEADER
    + MODEL
    + endpoints(watched="data_capture:\n  sampling_percent: 20", unwatched="")
    + """\
monitors:
  drift:
    endpoint: watched
    type: data_quality
    baseline: data/baseline.csv
"""
)


def test_monitored_fails_prod_endpoints_without_a_monitor(tmp_path):
    result = audit(tmp_path, MONITORED_SPEC, "prod", endpoint_monitored)

    assert set(result.failing) == {"endpoint.unwatched"}
    assert result.passing == {"endpoint.watched"}
    assert result.line("endpoint.unwatched") == result.line_of("  unwatched:")


def test_monitored_does_not_apply_outside_prod(tmp_path):
    result = audit(tmp_path, MONITORED_SPEC, "dev", endpoint_monitored)

    assert result.failing == {}
    assert result.passing == {"endpoint.watched", "endpoint.unwatched"}


# --- endpoint-instance-allowlist --------------------------------------------------------------

ALLOWLIST_SPEC = (
    HEADER
    + MODEL
    + endpoints(
        small="data_capture:\n  sampling_percent: 20",
        big="instance_type: ml.p3.2xlarge",
    )
    + """\
monitors:
  cheap:
    endpoint: small
    type: data_quality
    baseline: data/baseline.csv
  costly:
    endpoint: small
    type: data_quality
    baseline: data/baseline.csv
    instance_type: ml.c5.xlarge
pipelines:
  allowed:
    steps:
      prepare:
        type: processing
        script: pipelines/prepare.py
  gpu:
    steps:
      prepare:
        type: processing
        script: pipelines/prepare.py
        instance_type: ml.c5.4xlarge
      train:
        type: training
        entry_point: pipelines/train.py
        after: [prepare]
        instance_type: ml.c5.2xlarge
previews:
  base: dev
  overrides:
    endpoints:
      small:
        instance_type: ml.t2.medium
policies:
  allowed_instance_types: ["ml.m5.*", "ml.p3.*"]
"""
)


def test_instance_allowlist_fails_endpoints_monitors_and_steps_outside_it(tmp_path):
    result = audit(tmp_path, ALLOWLIST_SPEC, "dev", endpoint_instance_allowlist)

    assert set(result.failing) == {
        "monitor.costly",
        "pipeline.gpu",
    }
    assert result.passing == {
        "endpoint.small/config",
        "endpoint.big/config",
        "monitor.cheap",
        "pipeline.allowed",
    }
    assert result.line("monitor.costly") == result.line_of("ml.c5.xlarge")
    assert result.message("monitor.costly") == (
        "monitor costly runs ml.c5.xlarge, outside policies.allowed_instance_types "
        "(ml.m5.*, ml.p3.*)"
    )
    # A pipeline fails once per step outside the list, at that step's instance type.
    steps = {f.subject: f for f in result.findings if f.address == "pipeline.gpu"}
    assert set(steps) == {"step prepare", "step train"}
    assert steps["step train"].source.start.line == result.line_of("ml.c5.2xlarge")
    assert steps["step prepare"].source.start.line == result.line_of("ml.c5.4xlarge")
    assert steps["step train"].message == (
        "pipeline gpu runs step train on ml.c5.2xlarge, outside "
        "policies.allowed_instance_types (ml.m5.*, ml.p3.*)"
    )


def test_instance_allowlist_judges_the_preview_override(tmp_path):
    result = audit(tmp_path, ALLOWLIST_SPEC, "preview", endpoint_instance_allowlist)

    assert "endpoint.small/config" in result.failing
    assert "endpoint.big/config" in result.passing
    assert result.line("endpoint.small/config") == result.line_of("instance_type: ml.t2.medium")


def test_instance_allowlist_passes_everything_without_a_list(tmp_path):
    text = ALLOWLIST_SPEC.replace('  allowed_instance_types: ["ml.m5.*", "ml.p3.*"]\n', "")
    text = text.replace("policies:\n", "")
    result = audit(tmp_path, text, "dev", endpoint_instance_allowlist)

    assert result.failing == {}
    assert len(result.passing) == 6


# --- the reference spec -----------------------------------------------------------------------

ENDPOINT_RULES = (
    endpoint_kms_key,
    endpoint_data_capture,
    endpoint_data_capture_encrypted,
    endpoint_min_instances,
    endpoint_autoscaling,
    endpoint_safe_deployment,
    endpoint_rollback_alarms,
    endpoint_monitored,
    endpoint_instance_allowlist,
)


def test_churn_dev_fails_only_on_encryption():
    # dev sets no KMS key (its endpoint-kms-key finding is waived in the spec). The prod-only
    # rules do not apply; its canary rolls back on alarms; churn has no instance allowlist.
    assert example_findings("dev", ENDPOINT_RULES) == {
        ("endpoint-kms-key", "endpoint.churn-api/config"),
        ("endpoint-data-capture-encrypted", "endpoint.churn-api/config"),
    }


def test_churn_prod_passes_every_endpoint_rule():
    # prod creates a key, captures 20% of requests, overrides instance_count and
    # autoscaling.min to 2 (max 8), deploys canary with rollback alarms and has monitor
    # churn-drift.
    assert example_findings("prod", ENDPOINT_RULES) == set()
