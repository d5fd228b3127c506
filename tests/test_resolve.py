"""Environment resolution: deep merge on the ranged tree, per-environment views of the
reference spec, the preview view, schema defaults, and the immutability of EnvSpecs."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from mlinfra.spec.resolve import merge, resolve, resolve_preview
from mlinfra.spec.validate import Validation, validate_file, validate_text
from mlinfra.syntax.loader import parse_text
from mlinfra.syntax.nodes import Mapping, Node, locate, to_data

REFERENCE = Path(__file__).resolve().parents[1] / "examples" / "churn" / "mlinfra.yaml"
REFERENCE_TEXT = REFERENCE.read_text(encoding="utf-8")


def line_of(text: str, needle: str, after: str | None = None) -> int:
    """The 1-based line of the first `needle`, below the first line starting with `after`."""
    lines = text.splitlines()
    start = 0
    if after is not None:
        start = next(i for i, line in enumerate(lines) if line.startswith(after))
    return next(i for i in range(start, len(lines)) if needle in lines[i]) + 1


def tree(text: str) -> Mapping:
    document, found = parse_text(text, "spec.yaml")
    assert found == []
    assert isinstance(document.root, Mapping)
    return document.root


def node(root: Node, *path: str | int) -> Node:
    found = locate(root, path)
    assert found.complete, path
    return found.node


@pytest.fixture(scope="module")
def reference() -> Validation:
    result = validate_file(REFERENCE)
    assert result.ok, [str(d.range) + " " + d.summary for d in result.diagnostics]
    return result


# --- merge() -------------------------------------------------------------------------------

MERGE_TEXT = """\
base:
  name: api
  count: 1
  scaling:
    min: 1
    max: 4
  signals: [latency, errors, throughput]
  kept: yes
over:
  count: 3
  scaling:
    max: 9
  signals: [errors]
  added: new
"""


@pytest.fixture(scope="module")
def merged() -> tuple[Mapping, Mapping, Mapping]:
    root = tree(MERGE_TEXT)
    base, over = node(root, "base"), node(root, "over")
    result = merge(base, over)
    assert isinstance(result, Mapping)
    return base, over, result


def test_merge_is_deep_override_wins_base_fills_in(merged):
    _, _, result = merged
    assert to_data(result) == {
        "name": "api",
        "count": 3,
        "scaling": {"min": 1, "max": 9},
        "signals": ["errors"],
        "kept": True,
        "added": "new",
    }


def test_merged_values_keep_the_range_of_the_side_they_came_from(merged):
    base, over, result = merged
    assert node(result, "count").range == node(over, "count").range
    assert node(result, "scaling", "max").range == node(over, "scaling", "max").range
    assert node(result, "added").range == node(over, "added").range
    assert node(result, "name").range == node(base, "name").range
    assert node(result, "scaling", "min").range == node(base, "scaling", "min").range
    assert node(result, "count").range.start.line == line_of(MERGE_TEXT, "count: 3")
    assert node(result, "scaling", "min").range.start.line == line_of(MERGE_TEXT, "min: 1")


def test_merged_keys_stay_where_they_were_declared(merged):
    base, _, result = merged
    assert result.entry("count").key.range == base.entry("count").key.range
    assert result.range == base.range
    assert result.keys() == ["name", "count", "scaling", "signals", "kept", "added"]


def test_merge_replaces_lists_instead_of_merging_them(merged):
    _, over, result = merged
    signals = node(result, "signals")
    assert to_data(signals) == ["errors"]
    assert signals is node(over, "signals")


def test_merge_replaces_a_map_by_a_scalar_and_a_scalar_by_a_map():
    root = tree("a: {x: {y: 1}, z: 2}\nb: {x: off, z: {w: 3}}\n")
    result = merge(node(root, "a"), node(root, "b"))
    assert to_data(result) == {"x": False, "z": {"w": 3}}


def test_merge_with_nothing_on_either_side_returns_the_other():
    root = tree("a: {x: 1}\n")
    a = node(root, "a")
    assert merge(a, None) is a
    assert merge(None, a) is a


def test_merge_leaves_both_inputs_unchanged(merged):
    base, over, _ = merged
    root = tree(MERGE_TEXT)
    assert to_data(base) == to_data(node(root, "base"))
    assert to_data(over) == to_data(node(root, "over"))


# --- resolve() -----------------------------------------------------------------------------

OVERRIDE_TEXT = """\
environments:
  dev: {target: local}
  prod:
    target: local
    overrides:
      endpoints:
        api: {instance_count: 2}
        ghost: {instance_count: 5}
endpoints:
  api: {instance_count: 1}
"""


def test_resolve_applies_the_environments_overrides_only():
    root = tree(OVERRIDE_TEXT)
    assert to_data(node(resolve(root, "prod").tree, "endpoints")) == {"api": {"instance_count": 2}}
    assert to_data(node(resolve(root, "dev").tree, "endpoints")) == {"api": {"instance_count": 1}}


def test_resolve_does_not_let_an_override_invent_a_component():
    # `ghost` is only in the override: the reference check reports it; it must not appear.
    resolved = resolve(tree(OVERRIDE_TEXT), "prod")
    assert node(resolved.tree, "endpoints").keys() == ["api"]


def test_resolve_of_an_unknown_environment_raises_key_error():
    with pytest.raises(KeyError):
        resolve(tree(OVERRIDE_TEXT), "staging")


def test_resolve_names_the_view_and_where_its_settings_come_from():
    resolved = resolve(tree(OVERRIDE_TEXT), "prod")
    assert (resolved.name, resolved.settings_from, resolved.is_preview) == ("prod", "prod", False)


# --- the reference spec, per environment ---------------------------------------------------


def test_reference_resolves_every_environment_and_a_preview(reference):
    assert sorted(reference.environments) == ["dev", "local", "prod"]
    assert reference.preview is not None


def test_prod_gets_its_endpoint_and_monitor_overrides(reference):
    prod = reference.environments["prod"]
    api = prod.endpoints["churn-api"]
    assert api.instance_count == 2
    assert (api.autoscaling.min, api.autoscaling.max) == (2, 8)
    # What prod does not override comes from the top-level declaration.
    assert api.autoscaling.target_invocations_per_instance == 200
    assert api.instance_type == "ml.m5.large"
    assert prod.monitors["churn-drift"].schedule == "hourly"


def test_prod_values_point_at_the_prod_override_lines(reference):
    prod = reference.environments["prod"]
    api = prod.endpoints["churn-api"]
    count = api.range_of("instance_count")
    assert count.start.line == line_of(REFERENCE_TEXT, "instance_count: 2", after="  prod:")
    high = api.autoscaling.range_of("max")
    assert high.start.line == line_of(REFERENCE_TEXT, "max: 8", after="  prod:")
    schedule = prod.monitors["churn-drift"].range_of("schedule")
    assert schedule.start.line == line_of(REFERENCE_TEXT, "schedule: hourly")
    # A value prod leaves alone points at the top-level declaration.
    target = api.autoscaling.range_of("target_invocations_per_instance")
    assert target.start.line == line_of(REFERENCE_TEXT, "target_invocations_per_instance: 200")


def test_prod_components_keep_the_key_where_they_were_declared(reference):
    api = reference.environments["prod"].component("endpoint.churn-api")
    assert api.key_range.start.line == line_of(REFERENCE_TEXT, "  churn-api:", after="endpoints:")


@pytest.mark.parametrize("env", ["dev", "local"])
def test_other_environments_keep_the_declared_values(reference, env):
    spec = reference.environments[env]
    api = spec.endpoints["churn-api"]
    assert api.instance_count == 1
    assert (api.autoscaling.min, api.autoscaling.max) == (1, 4)
    assert spec.monitors["churn-drift"].schedule == "daily"
    count = api.range_of("instance_count")
    assert count.start.line == line_of(REFERENCE_TEXT, "instance_count: 1")


def test_model_approval_is_overridden_in_dev_and_local_but_not_prod(reference):
    approval = {
        env: spec.models["churn-model"].approval for env, spec in reference.environments.items()
    }
    assert approval == {"local": "auto", "dev": "auto", "prod": "manual"}


def test_environment_settings_are_applied(reference):
    prod, dev = reference.environments["prod"], reference.environments["dev"]
    assert (prod.target, prod.region, prod.account, prod.protect) == (
        "sagemaker",
        "eu-west-1",
        "222222222222",
        True,
    )
    assert prod.security.kms_key == "create"
    assert (dev.region, dev.account, dev.protect) == ("us-east-1", "111111111111", False)
    assert reference.environments["local"].target == "local"
    assert dict(prod.tags) == {"team": "growth", "cost-center": "ml-1234"}


# --- previews ------------------------------------------------------------------------------


def test_preview_applies_its_overrides_on_top_of_its_base(reference):
    preview = reference.preview
    assert (preview.env, preview.base) == ("preview", "dev")
    api = preview.endpoints["churn-api"]
    assert api.instance_type == "ml.t2.medium"
    # Everything else is dev's: the count, and dev's model approval override.
    assert api.instance_count == 1
    assert preview.models["churn-model"].approval == "auto"
    assert (preview.target, preview.account) == ("sagemaker", "111111111111")


def test_preview_value_points_at_the_preview_override_line(reference):
    where = reference.preview.endpoints["churn-api"].range_of("instance_type")
    assert where.start.line == line_of(REFERENCE_TEXT, "instance_type: ml.t2.medium")


def test_preview_does_not_change_its_base_environment(reference):
    assert reference.environments["dev"].endpoints["churn-api"].instance_type == "ml.m5.large"


def test_resolve_preview_on_another_base_stacks_both_overrides():
    document, _ = parse_text(REFERENCE_TEXT, "mlinfra.yaml")
    view = resolve_preview(document.root, "prod")
    assert (view.name, view.settings_from, view.is_preview) == ("preview", "prod", True)
    api = to_data(node(view.tree, "endpoints", "churn-api"))
    assert (api["instance_type"], api["instance_count"]) == ("ml.t2.medium", 2)


@pytest.mark.parametrize(
    "previews",
    ["", "previews: {base: staging}\n", "previews: {base: 3}\n", "previews: [dev]\n"],
)
def test_resolve_preview_is_none_without_a_usable_base(previews):
    root = tree("environments:\n  dev: {target: local}\n" + previews)
    assert resolve_preview(root) is None


# --- schema defaults -----------------------------------------------------------------------


def test_schema_defaults_fill_what_the_reference_leaves_out(reference):
    dev = reference.environments["dev"]
    api = dev.endpoints["churn-api"]
    assert api.deployment.linear_step_percent == 20
    scaling = api.autoscaling
    assert (scaling.scale_in_cooldown, scaling.scale_out_cooldown) == ("5m", "5m")
    assert api.data_capture.enabled is True
    assert api.data_capture.capture == ("input", "output")
    assert dev.monitors["churn-drift"].instance_type == "ml.m5.large"
    steps = dev.pipelines["train-churn"].steps
    assert steps["train"].max_runtime == "24h"
    assert steps["evaluate"].instance_type == "ml.m5.large"
    assert steps["evaluate"].instance_count == 1
    assert not hasattr(steps["evaluate"], "max_runtime")  # a processing step has none
    assert dev.previews.mode == "full"


def test_schema_defaults_never_replace_written_values(reference):
    api = reference.environments["dev"].endpoints["churn-api"]
    assert api.data_capture.sampling_percent == 20  # the schema's default is 100
    assert api.deployment.strategy == "canary"  # the schema's default is all_at_once
    assert api.autoscaling.target_invocations_per_instance == 200  # default 100


MINIMAL = """\
version: 1
project: hello
environments:
  local: {target: local}
models:
  m: {framework: sklearn, framework_version: "1.2-1", artifact: model/model.tar.gz}
endpoints:
  api:
    model: m
    instance_type: ml.m5.large
    deployment: {strategy: canary}
"""


def test_schema_defaults_fill_a_minimal_endpoint():
    fixtures = Path(__file__).parent / "fixtures" / "valid" / "project"
    result = validate_text(MINIMAL, "mlinfra.yaml", spec_dir=fixtures)
    assert result.ok, [d.summary for d in result.diagnostics]
    local = result.environments["local"]
    api = local.endpoints["api"]
    assert api.instance_count == 1
    assert api.deployment.canary_percent == 10
    assert api.deployment.wait_minutes == 10
    assert api.autoscaling is None  # defaults fill inside what is written, not more
    assert api.data_capture is None
    model = local.models["m"]
    assert (model.version, model.approval) == ("latest-approved", "manual")
    assert local.region == "us-east-1"
    assert local.policies.packs == ("baseline",)


def test_a_defaulted_value_points_at_its_nearest_written_key():
    result = validate_text(MINIMAL, "mlinfra.yaml")
    where = result.environments["local"].endpoints["api"].deployment.range_of("wait_minutes")
    assert where.start.line == line_of(MINIMAL, "deployment:")


# --- immutability --------------------------------------------------------------------------


def test_component_properties_cannot_be_assigned(reference):
    store = reference.environments["prod"].feature_stores["customers"]
    with pytest.raises(TypeError):
        store.features["churned"] = "string"
    with pytest.raises(TypeError):
        del store.features["contract"]
    steps = reference.environments["prod"].pipelines["train-churn"].steps
    with pytest.raises(TypeError):
        steps["train"].hyperparameters["max_depth"] = 100


def test_lists_in_an_envspec_are_tuples(reference):
    api = reference.environments["prod"].endpoints["churn-api"]
    rollback = api.deployment.rollback_on
    assert rollback == ("latency", "errors")
    with pytest.raises(TypeError):
        rollback[0] = "nothing"


def test_envspec_settings_maps_cannot_be_assigned(reference):
    prod = reference.environments["prod"]
    for mapping in (prod.tags, prod.endpoints, prod.pipelines["train-churn"].steps):
        with pytest.raises(TypeError):
            mapping["new"] = "value"


def test_envspec_and_component_fields_cannot_be_reassigned(reference):
    prod = reference.environments["prod"]
    with pytest.raises(dataclasses.FrozenInstanceError):
        prod.region = "us-west-2"
    with pytest.raises(dataclasses.FrozenInstanceError):
        prod.components[0].name = "other"
    with pytest.raises(dataclasses.FrozenInstanceError):
        prod.endpoints["churn-api"].autoscaling.max = 100
    with pytest.raises(dataclasses.FrozenInstanceError):
        prod.security.kms_key = "none"
