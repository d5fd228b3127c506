"""The operations rules: each one's exact failing and passing resources, and where it points."""

from __future__ import annotations

import importlib
import inspect

import pytest
from rule_specs import (
    ENVIRONMENT,
    HEADER,
    MODEL,
    audit,
    churn,
    example_findings,
    write,
)

from mlinfra.ir.lower import lower
from mlinfra.policy.rules.operations import (
    TAGGABLE_TYPES,
    cloudwatch_alarm_actions,
    monitor_alert_targets,
    preview_ttl,
    required_tags,
)
from mlinfra.spec.validate import validate_file

# --- required-tags ----------------------------------------------------------------------------

TAGS_SPEC = (
    HEADER.replace("    protect: true\n", "    protect: true\n    tags:\n      owner: platform\n")
    + MODEL
    + "policies:\n  required_tags: [team, owner]\n"
)
DEV_TAGGABLE = {
    "bucket.artifacts",
    "bucket.capture",
    "bucket.monitoring",
    "model.m/role",
    "model.m",
}


def test_required_tags_fails_every_taggable_resource_missing_one(tmp_path):
    result = audit(tmp_path, TAGS_SPEC, "dev", required_tags)

    assert set(result.failing) == DEV_TAGGABLE
    assert result.passing == set()
    assert result.line("model.m") == result.line_of("    team: ml")
    assert result.message("model.m") == "model.m lacks the required tag owner in dev"


def test_required_tags_passes_where_the_environment_adds_the_missing_tag(tmp_path):
    result = audit(tmp_path, TAGS_SPEC, "prod", required_tags)

    assert result.failing == {}
    assert result.passing == DEV_TAGGABLE | {"kms.key"}


def test_required_tags_passes_everything_without_a_policy(tmp_path):
    result = audit(tmp_path, HEADER + MODEL, "dev", required_tags)

    assert result.failing == {}
    assert result.passing == DEV_TAGGABLE


def _takes_tags(type_name: str) -> bool:
    _, module, name = type_name.split(".")
    found = getattr(importlib.import_module(f"pulumi_aws.{module}"), f"{name}Args")
    return "tags" in inspect.signature(found.__init__).parameters


# Importing pulumi_aws.s3 warns about its deprecated V2 bucket classes.
@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_taggable_types_are_the_types_pulumi_aws_tags(tmp_path):
    lowered = {r.type for env in ("dev", "prod") for r in churn(env).graph.resources}
    # With Model Monitor's, which the example (on mlinfra's engine) does not use.
    spec = validate_file(write(tmp_path, MONITORS_SPEC)).environments["dev"]
    lowered |= {r.type for r in lower(spec, tmp_path).resources}

    assert {t for t in lowered if _takes_tags(t)} == set(TAGGABLE_TYPES)
    assert all(_takes_tags(t) for t in TAGGABLE_TYPES)


# --- monitor-alert-targets --------------------------------------------------------------------

MONITORS = """\
endpoints:
  api:
    model: m
    instance_type: ml.m5.large
    data_capture:
      sampling_percent: 20
    slo:
      latency_p99_ms: 200
monitors:
  alerted:
    endpoint: api
    type: data_quality
    baseline: data/baseline.csv
    on_violation:
      alert: ["email:ml-oncall@example.com"]
  silent:
    endpoint: api
    type: data_quality
    baseline: data/baseline.csv
  remote:
    endpoint: api
    type: data_quality
    engine: model-monitor
    baseline: s3://demo-data/baseline.csv
    on_violation:
      alert: ["email:ml-oncall@example.com"]
  remote-own:
    endpoint: api
    type: data_quality
    baseline: s3://demo-data/baseline.csv
    on_violation:
      alert: ["email:ml-oncall@example.com"]
"""
MONITORS_SPEC = HEADER + MODEL + MONITORS


def test_alert_targets_fail_monitors_whose_violations_reach_no_one(tmp_path):
    result = audit(tmp_path, MONITORS_SPEC, "dev", monitor_alert_targets)

    assert set(result.failing) == {"monitor.silent", "monitor.remote"}
    assert result.passing == {"monitor.alerted", "monitor.remote-own"}
    assert result.line("monitor.silent") == result.line_of("  silent:")
    # On Model Monitor an S3 baseline gets no violation alarms: its alert targets would never
    # hear anything. mlinfra's engine alarms on the job's violation count, whatever the baseline.
    assert result.line("monitor.remote") == result.line_of("baseline: s3://demo-data")


# --- cloudwatch-alarm-actions -----------------------------------------------------------------


def test_alarm_actions_fail_alarms_that_notify_no_one(tmp_path):
    result = audit(tmp_path, MONITORS_SPEC, "dev", cloudwatch_alarm_actions)

    assert set(result.failing) == {
        "endpoint.api/alarm-latency",
        "monitor.silent/alarm-violations",
    }
    assert result.passing == {
        "monitor.alerted/alarm-violations",
        "monitor.remote-own/alarm-violations",
    }
    assert result.line("endpoint.api/alarm-latency") == result.line_of("latency_p99_ms: 200")
    assert result.line("monitor.silent/alarm-violations") == result.line_of("  silent:")


def test_alarm_actions_pass_slo_alarms_with_alert_targets(tmp_path):
    spec = MONITORS_SPEC.replace(
        "latency_p99_ms: 200", 'latency_p99_ms: 200\n      alert: ["email:oncall@example.com"]'
    )
    assert 'alert: ["email:oncall@example.com"]' in spec
    result = audit(tmp_path, spec, "dev", cloudwatch_alarm_actions)
    assert "endpoint.api/alarm-latency" in result.passing
    assert set(result.failing) == {"monitor.silent/alarm-violations"}


# --- preview-ttl ------------------------------------------------------------------------------

PREVIEW_SPEC = (
    HEADER
    + MODEL
    + "endpoints:\n  api:\n    model: m\n    instance_type: ml.m5.large\n"
    + "previews:\n  base: dev\n  ttl: 60d\n"
)


def test_preview_ttl_fails_previews_that_outlive_a_month(tmp_path):
    result = audit(tmp_path, PREVIEW_SPEC, "preview", preview_ttl)

    assert set(result.failing) == {"previews"}
    assert result.passing == set()
    assert result.line("previews") == result.line_of("ttl: 60d")


@pytest.mark.parametrize("ttl", ["  ttl: 72h\n", ""])
def test_preview_ttl_passes_short_lived_previews(tmp_path, ttl):
    # Without a ttl, previews live the default 72h.
    text = PREVIEW_SPEC.replace("  ttl: 60d\n", ttl)
    result = audit(tmp_path, text, "preview", preview_ttl)

    assert result.failing == {}
    assert result.passing == {ENVIRONMENT}


def test_preview_ttl_does_not_apply_outside_previews(tmp_path):
    result = audit(tmp_path, PREVIEW_SPEC, "dev", preview_ttl)

    assert result.failing == {}
    assert result.passing == {ENVIRONMENT}


# --- the reference spec -----------------------------------------------------------------------

OPERATIONS = (required_tags, monitor_alert_targets, cloudwatch_alarm_actions, preview_ttl)


@pytest.mark.parametrize("env", ["dev", "prod", "preview"])
def test_churn_fails_only_on_its_endpoint_slo_alarms(env):
    # The SLO alarms drive rollbacks but notify no one: churn's `slo:` lists no `alert:`
    # targets. The monitor's alarms notify its email target; churn requires no tags; its
    # preview lives 72h.
    assert example_findings(env, OPERATIONS) == {
        ("cloudwatch-alarm-actions", "endpoint.churn-api/alarm-latency"),
        ("cloudwatch-alarm-actions", "endpoint.churn-api/alarm-errors"),
    }
