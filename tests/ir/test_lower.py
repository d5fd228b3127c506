"""The lowering entry point: whole environments, and what `protect: true` means."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlinfra.ir.lower import STATEFUL_TYPES, UnsupportedTarget, lower
from mlinfra.spec.validate import validate_file
from typed_specs import with_settings

CHURN = Path(__file__).resolve().parents[2] / "examples" / "churn"


def graph(env: str):
    spec = validate_file(CHURN / "mlinfra.yaml").environments[env]
    return lower(spec, CHURN)


def test_protected_environment_protects_exactly_its_stateful_resources():
    prod = graph("prod")
    protected = {r.address for r in prod.resources if r.protect}
    stateful = {r.address for r in prod.resources if r.type in STATEFUL_TYPES}
    assert protected == stateful
    assert {"kms.key", "bucket.artifacts", "feature_store.customers"} <= protected
    assert "model.churn-model/registry" in protected


def test_unprotected_environment_protects_nothing():
    assert not any(r.protect for r in graph("dev").resources)


def test_local_environment_lowers_to_emulator_resources():
    spec = validate_file(CHURN / "mlinfra.yaml").environments["local"]
    local = lower(spec, CHURN)
    assert local.target == "local"
    assert {r.type for r in local.resources} == {
        "local.FeatureGroup",
        "local.ModelPackageGroup",
        "local.Model",
        "local.EndpointConfig",
        "local.Endpoint",
        "local.Pipeline",
        "local.MonitoringSchedule",
        # The endpoint's SLO alarms and autoscaling, in the emulator's other APIs.
        "local.MetricAlarm",
        "local.ScalableTarget",
        "local.ScalingPolicy",
    }
    assert local.outputs["monitor.churn-drift"] == "churn-local-churn-drift"
    assert local.outputs["endpoint.churn-api"] == "churn-local-churn-api"
    assert local.outputs["pipeline.train-churn"] == "churn-local-train-churn"


def test_unknown_target_is_refused():
    spec = validate_file(CHURN / "mlinfra.yaml").environments["local"]
    with pytest.raises(UnsupportedTarget, match="unknown target"):
        lower(with_settings(spec, target="azure"), CHURN)


def test_lowering_is_deterministic():
    assert graph("prod") == graph("prod")
