"""Plan views (text, JSON against its schema, Markdown) and saved plan files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator

from mlinfra.plan.diff import plan
from mlinfra.plan.file import load_plan, save_plan
from mlinfra.plan.model import FORMAT_VERSION, REPLACE, Plan, PlanError, ResourceChange
from mlinfra.plan.views import shown, shown_change, to_json, to_markdown, to_text
from mlinfra.state.documents import validator
from mlinfra.state.model import ResourceState, State

INSTANCES = ("    instance_count: 1\n", "    instance_count: 3\n")
GONE = ResourceState(
    "aws.sagemaker.FeatureGroup",
    {"feature_group_name": "old"},
    source="mlinfra.yaml:9:3",
    protect=True,
)


@pytest.fixture
def changed(graph_of, recorded):
    """local: the endpoint configuration replaced, the endpoint updated, a store gone."""
    before = recorded(graph_of("local")).with_resource("feature_store.old", GONE)
    return plan(graph_of("local", INSTANCES), before)


def test_the_text_view_opens_with_the_summary_and_marks_each_change(changed) -> None:
    text = to_text(changed).plain
    lines = text.splitlines()
    assert lines[0] == "Plan: 0 to create, 1 to update, 1 to replace, 1 to delete"
    assert "  -/+ endpoint.churn-api/config  (local.EndpointConfig)" in lines
    assert "    ~ endpoint.churn-api  (local.Endpoint)" in lines
    assert "    - feature_store.old  (aws.sagemaker.FeatureGroup)" in lines
    assert "ProductionVariants[0].InitialInstanceCount: 1 -> 3" in text
    assert "EndpointConfigName: null -> (known after apply)" in text
    assert "replaced: its name (EndpointConfigName) changes" in text
    assert "at " in text and "mlinfra.yaml:127:20" in text
    assert "feature_store.customers" not in text  # unchanged resources are not listed


def test_a_plan_without_changes_says_so(graph_of, recorded) -> None:
    graph = graph_of("local")
    text = to_text(plan(graph, recorded(graph))).plain
    count = len(graph.resources)
    assert text == f"No changes. churn local matches the spec ({count} resource(s)).\n"


def test_the_text_view_lists_refusals(graph_of, recorded) -> None:
    state = recorded(graph_of("prod")).with_resource("feature_store.old", GONE)
    text = to_text(plan(graph_of("prod"), state)).plain
    assert "Refused: 1 change(s) would lose data" in text
    assert "pass --allow-removal feature_store.old" in text


def test_the_json_view_follows_the_schema(changed) -> None:
    schema = validator("plan.schema.json").schema
    Draft202012Validator.check_schema(schema)
    document = json.loads(to_json(changed))
    assert list(validator("plan.schema.json").iter_errors(document)) == []
    assert document["format_version"] == FORMAT_VERSION
    unchanged = len(changed.changes) - 3
    assert document["summary"] == {
        "create": 0,
        "update": 1,
        "replace": 1,
        "delete": 1,
        "no-op": unchanged,
    }
    by_address = {c["address"]: c for c in document["resource_changes"]}
    config = by_address["endpoint.churn-api/config"]
    assert config["change"]["actions"] == ["create", "delete"]
    assert config["change"]["before"]["ProductionVariants"][0]["InitialInstanceCount"] == 1
    assert config["change"]["after"]["ProductionVariants"][0]["InitialInstanceCount"] == 3
    assert by_address["feature_store.old"]["change"] == {
        "actions": ["delete"],
        "before": {"feature_group_name": "old"},
        "after": None,
    }
    assert document["resource_drift"] == []
    assert [r["address"] for r in document["refused"]] == ["feature_store.old"]


def test_the_markdown_view_is_a_pull_request_comment(changed) -> None:
    text = to_markdown(changed)
    assert text.startswith("### mlinfra plan: `churn` / `local`\n\n")
    assert "**Plan: 0 to create, 1 to update, 1 to replace, 1 to delete**" in text
    assert "| ♻️ replace | `endpoint.churn-api/config` | `local.EndpointConfig` |" in text
    assert "`ProductionVariants[0].InitialInstanceCount`" in text
    assert "| ➖ delete | `feature_store.old` |" in text
    assert "<details><summary>Details</summary>" in text and "```diff" in text
    assert "- -/+ endpoint.churn-api/config" in text


def test_markdown_escapes_pipes_in_table_cells() -> None:
    odd = ResourceChange("x.y", "local.Model", REPLACE, reason="a|b changes")
    found = Plan("p", "e", "local", 0, "", (odd,))
    assert "| a\\|b changes |" in to_markdown(found)


def test_a_saved_plan_loads_back_equal(changed, tmp_path: Path) -> None:
    path = tmp_path / "plans" / "local.plan.json"
    save_plan(changed, path)
    assert load_plan(path) == changed


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{", "plan file is not valid JSON"),
        ('{"format_version": 99}', "format version 99, newer"),
        ('{"format_version": 1}', "not a valid mlinfra plan"),
    ],
)
def test_a_bad_plan_file_is_refused(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "bad.json"
    path.write_text(text)
    with pytest.raises(PlanError, match=message):
        load_plan(path)


def test_a_missing_plan_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(PlanError, match="cannot read the plan"):
        load_plan(tmp_path / "nope.json")


def test_an_empty_state_plan_has_no_before(graph_of) -> None:
    document = json.loads(to_json(plan(graph_of("dev"), State.empty("churn", "dev"))))
    assert all(c["change"]["before"] is None for c in document["resource_changes"])


ARN = "arn:aws:sagemaker:us-east-1:000000000000:model-package/churn-local-churn/"


@pytest.mark.parametrize("width", [20, 40, 72])
def test_a_long_value_shows_where_before_and_after_differ(width: int) -> None:
    before, after = shown_change(ARN + "1", ARN + "2", width)

    assert before != after
    assert before.endswith('churn/1"') and after.endswith('churn/2"')
    assert before.startswith("…") and len(before) <= width and len(after) <= width


def test_a_short_change_is_shown_whole_and_a_long_value_keeps_both_ends() -> None:
    assert shown_change(1, 3) == ("1", "3")
    long = "churn-prod-" + "x" * 100 + "-end"
    text = shown(long, 40)
    assert len(text) == 40 and text.startswith('"churn-prod-') and text.endswith('-end"')
    assert "…" in text
