"""The typed spec: every field of the churn example is a typed node's field with its range,
defaults arrive typed from the schema, and a range points at what set the value (an
override's line, the nearest key above a default)."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path

import pytest

from mlinfra.diagnostics import SourceRange
from mlinfra.spec.model import (
    COMPONENT_TYPES,
    ConditionStep,
    EnvSpec,
    JobStep,
    ProcessingStep,
    RegisterModelStep,
    SpecNode,
    Step,
    TrainingStep,
    declared,
)
from mlinfra.spec.validate import Validation, validate_file, validate_text
from mlinfra.syntax.nodes import Mapping, Node, Scalar, Sequence

CHURN = Path(__file__).resolve().parents[2] / "examples" / "churn" / "mlinfra.yaml"
TEXT = CHURN.read_text(encoding="utf-8")
LINES = TEXT.splitlines()


@pytest.fixture(scope="module")
def churn() -> Validation:
    result = validate_file(CHURN)
    assert result.ok
    return result


def line_of(needle: str, after: str | None = None) -> int:
    """The line of the first `needle`, below the line that is exactly `after` if given."""
    start = next(i for i, line in enumerate(LINES) if line.rstrip() == after) if after else 0
    return next(i for i, line in enumerate(LINES) if i >= start and needle in line) + 1


def text_at(where: SourceRange) -> str:
    assert where.start.line == where.end.line, where
    return LINES[where.start.line - 1][where.start.column - 1 : where.end.column - 1]


def specs(churn: Validation) -> list[EnvSpec]:
    return [*churn.environments.values(), churn.preview]


# --- every field, with its range -------------------------------------------------------------


def written_leaves(node: Node, path: tuple = ()) -> Iterator[tuple[tuple, Scalar]]:
    """Every scalar the spec wrote below `node`, with its path."""
    if isinstance(node, Scalar):
        yield path, node
    elif isinstance(node, Sequence):
        for i, item in enumerate(node.items):
            yield from written_leaves(item, (*path, i))
    elif isinstance(node, Mapping):
        for entry in node.entries:
            yield from written_leaves(entry.value, (*path, entry.name))


def typed_value(node, path: tuple):
    """The value at `path` below a typed node: fields by attribute, map keys and list
    positions by subscript."""
    found = node
    for part in path:
        if isinstance(found, SpecNode) and isinstance(part, str):
            quality = getattr(found, "quality", None)
            if not hasattr(found, part) and quality is not None:
                # A model_quality monitor's own keys are typed together, in its `quality`.
                return _quality_value(quality, part)
            assert hasattr(found, part), f"{type(found).__name__} has no field {part!r}"
            found = getattr(found, part)
        else:
            found = found[part]
    return found


def _quality_value(quality, key: str):
    """A model_quality key as written: `alert_below: 97%` is the relative line 0.97."""
    line = key.rsplit("_", 1)[0]
    if line in ("alert", "rollback"):
        threshold = getattr(quality, line)
        return f"{threshold.value * 100:g}%" if threshold.relative else threshold.value
    assert hasattr(quality, key), f"Quality has no field {key!r}"
    return getattr(quality, key)


@pytest.mark.parametrize("env", ["local", "dev", "prod", "preview"])
def test_every_value_the_churn_spec_writes_is_a_typed_field_with_its_range(churn, env):
    spec = churn.preview if env == "preview" else churn.environments[env]
    checked = 0
    for component in spec.components:
        written = component.ranges.written()
        for path, scalar in written_leaves(written):
            value = typed_value(component, path)
            assert value == scalar.value, (component.address, path)
            assert component.range_of(*path) == scalar.range
            assert text_at(component.range_of(*path)).strip("\"'") == str(scalar.text or value)
            checked += 1
    assert checked > 60  # every component's every written value, not a few


def all_nodes(value) -> Iterator[SpecNode]:
    if isinstance(value, SpecNode):
        yield value
        for field in dataclasses.fields(value):
            if field.compare:
                yield from all_nodes(getattr(value, field.name))
    elif isinstance(value, tuple):
        for item in value:
            yield from all_nodes(item)
    elif hasattr(value, "values"):
        for item in value.values():
            yield from all_nodes(item)


def test_every_field_of_every_node_has_a_range_in_the_spec_file(churn):
    for spec in specs(churn):
        roots = (spec.environment, *spec.components, spec.policies, spec.previews)
        for node in (n for root in roots for n in all_nodes(root)):
            for field in dataclasses.fields(node):
                if field.compare:
                    where = node.range_of(field.name)
                    assert isinstance(where, SourceRange) and where.filename == str(CHURN)
                    assert 1 <= where.start.line <= len(LINES)


def test_a_component_is_found_by_section_by_address_and_by_kind(churn):
    prod = churn.environments["prod"]
    api = prod.endpoints["churn-api"]
    assert prod.component("endpoint.churn-api") is api
    assert prod.of_kind("endpoint") == (api,)
    assert api.address == "endpoint.churn-api"
    assert [c.address for c in prod.components] == [
        "feature_store.customers",
        "model.churn-model",
        "pipeline.train-churn",
        "endpoint.churn-api",
        "monitor.churn-drift",
        "monitor.churn-quality",
        "batch_job.churn-scores",
    ]
    assert {type(c) for c in prod.components} == set(COMPONENT_TYPES)
    assert api.key_range.start.line == line_of("  churn-api:", after="endpoints:")


def test_steps_are_typed_by_their_type(churn):
    steps = churn.environments["dev"].pipelines["train-churn"].steps
    assert [type(s) for s in steps.values()] == [
        ProcessingStep,
        TrainingStep,
        ProcessingStep,
        ConditionStep,
        RegisterModelStep,
    ]
    assert [s.type for s in steps.values()] == [
        "processing",
        "training",
        "processing",
        "condition",
        "register_model",
    ]
    assert all(isinstance(s, Step) for s in steps.values())
    assert isinstance(steps["train"], JobStep) and not isinstance(steps["gate"], JobStep)
    assert steps["prepare"].reads() == ("feature_store.customers",)
    assert steps["gate"].reads() == ()
    assert steps["train"].hyperparameters == {"n_estimators": 200, "max_depth": 8}
    assert steps["register"].model == "churn-model"


# --- defaults, typed -------------------------------------------------------------------------


def test_defaults_from_the_schema_arrive_typed(churn):
    dev = churn.environments["dev"]
    api = dev.endpoints["churn-api"]
    assert api.data_capture.enabled is True
    assert api.data_capture.capture == ("input", "output")
    assert api.deployment.linear_step_percent == 20
    assert api.autoscaling.scale_in_cooldown == "5m"
    assert api.slo.alert == ()
    monitor = dev.monitors["churn-drift"]
    assert (monitor.engine, monitor.instance_type) == ("mlinfra", "ml.m5.large")
    assert monitor.on_violation.retrain == "train-churn"
    store = dev.feature_stores["customers"]
    assert store.online.throughput is None  # not written, and no default: SageMaker's own
    steps = dev.pipelines["train-churn"].steps
    assert (steps["evaluate"].instance_type, steps["evaluate"].instance_count) == (
        "ml.m5.large",
        1,
    )
    assert steps["train"].max_runtime == "24h"
    assert dev.models["churn-model"].version == "latest-approved"
    assert (dev.security.kms_key, dev.security.network_isolation, dev.security.vpc) == (
        "none",
        False,
        None,
    )
    assert (dev.state, dev.protect) == (".mlinfra/state", False)
    assert churn.preview.previews.mode == "full"


MINIMAL = """\
version: 1
project: hello
environments:
  local: {target: local}
feature_stores:
  users:
    record_identifier: id
    event_time: at
    features: {id: string, at: string}
monitors:
  watch: {endpoint: api, type: data_quality, baseline: data/b.csv}
"""


def test_objects_the_spec_leaves_out_get_their_defaults_when_absence_means_defaults():
    spec = validate_text(MINIMAL).environments["local"]
    store = spec.feature_stores["users"]
    assert (store.online.enabled, store.offline.enabled, store.offline.format) == (
        True,
        True,
        "parquet",
    )
    watch = spec.monitors["watch"]
    assert (watch.thresholds.drift_psi, watch.thresholds.missing_percent) == (0.2, 5)
    assert (watch.on_violation.alert, watch.on_violation.retrain) == ((), None)
    assert watch.schedule == "daily"
    # A default points at the nearest key written above it.
    line = (
        MINIMAL.splitlines().index(
            "  watch: {endpoint: api, type: data_quality, baseline: data/b.csv}"
        )
        + 1
    )
    assert watch.thresholds.range_of("drift_psi").start.line == line
    assert watch.range_of("thresholds", "drift_psi").start.line == line


def test_a_default_inside_a_written_object_points_at_that_object(churn):
    api = churn.environments["dev"].endpoints["churn-api"]
    assert api.data_capture.range_of("enabled").start.line == line_of("    data_capture:")
    assert api.range_of("data_capture", "enabled") == api.data_capture.range_of("enabled")
    assert api.deployment.written("strategy") and not api.deployment.written("linear_step_percent")


# --- ranges follow overrides -----------------------------------------------------------------


def test_an_override_points_at_the_override_line(churn):
    prod = churn.environments["prod"]
    api = prod.endpoints["churn-api"]
    assert api.range_of("instance_count").start.line == line_of("instance_count: 2", "  prod:")
    assert api.autoscaling.range_of("max").start.line == line_of("max: 8", "  prod:")
    # What prod leaves alone points at the declaration.
    assert api.range_of("instance_type").start.line == line_of(
        "instance_type: ml.m5.large", "endpoints:"
    )
    drift = prod.monitors["churn-drift"]
    assert drift.range_of("schedule").start.line == line_of("schedule: hourly")
    approval = churn.environments["dev"].models["churn-model"].range_of("approval")
    assert approval.start.line == line_of("approval: auto", "  dev:")
    preview = churn.preview.endpoints["churn-api"].range_of("instance_type")
    assert preview.start.line == line_of("instance_type: ml.t2.medium")


def test_settings_point_at_the_environment_then_defaults_then_its_key(churn):
    prod, dev = churn.environments["prod"], churn.environments["dev"]
    assert prod.security.range_of("kms_key").start.line == line_of("kms_key: create")
    assert prod.security.vpc.range_of("subnets").start.line == line_of("subnets:")
    # dev writes no security: its key, as a default's nearest place.
    assert dev.security.range_of("kms_key").start.line == line_of("  dev:")
    assert dev.environment.key_range.start.line == line_of("  dev:")
    assert dev.environment.key_range_of("tags", "team").start.line == line_of("team: growth")
    assert dev.environment.range_of("region").start.line == line_of("region: us-east-1", "  dev:")


def test_an_environment_setting_overrides_defaults_field_by_field():
    text = """\
version: 1
project: p
defaults:
  security: {kms_key: create}
  tags: {team: a, owner: b}
environments:
  dev:
    target: sagemaker
    security: {network_isolation: true}
    tags: {team: c}
"""
    dev = validate_text(text).environments["dev"]
    # The environment's default kms_key (none) does not hide the one `defaults` writes.
    assert (dev.security.kms_key, dev.security.network_isolation) == ("create", True)
    assert dev.security.range_of("kms_key").start.line == 4
    assert dev.security.range_of("network_isolation").start.line == 9
    assert dict(dev.tags) == {"team": "c", "owner": "b"}
    assert dev.region == "us-east-1"


# --- the generic view ------------------------------------------------------------------------


def test_declared_is_a_component_as_plain_data_with_its_step_types(churn):
    pipeline = declared(churn.environments["dev"].pipelines["train-churn"])
    assert pipeline["steps"]["gate"] == {
        "type": "condition",
        "name": "gate",
        "description": None,
        "after": ["evaluate"],
        "when": "evaluate.metrics.accuracy >= parameters.min_accuracy",
    }
    endpoint = declared(churn.environments["prod"].endpoints["churn-api"])
    assert endpoint["autoscaling"]["max"] == 8 and endpoint["instance_count"] == 2


def test_nodes_compare_by_value_not_by_where_they_were_written(churn):
    dev, local = churn.environments["dev"], churn.environments["local"]
    # The same declaration in two environments: equal, and written at the same place.
    assert dev.pipelines["train-churn"] == local.pipelines["train-churn"]
    assert dev.endpoints["churn-api"] != churn.environments["prod"].endpoints["churn-api"]
