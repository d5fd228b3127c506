"""Feature stores change in place what SageMaker (locally) and pulumi_aws (on the SageMaker
target) change in place; anything else is a replacement that the plan says loses data, and
that a protected environment refuses."""

from __future__ import annotations

import pytest

from mlinfra.plan.diff import plan
from mlinfra.plan.model import REPLACE, UPDATE
from mlinfra.plan.views import to_markdown, to_text

TTL = ("      ttl: 30d\n", "      ttl: 7d\n")
NO_TTL = ("      ttl: 30d\n", "")
ADDED = ("      churned: integral\n", "      churned: integral\n      region: string\n")
INSERTED = ("      customer_id: string\n", "      customer_id: string\n      region: string\n")
RETYPED = ("      support_calls: integral\n", "      support_calls: fractional\n")
NO_ONLINE = ("      enabled: true\n      ttl: 30d\n", "      enabled: false\n")
STORE = "feature_store.customers"
THROUGHPUT = "      throughput: {mode: provisioned, read_units: 10, write_units: 5}\n"
PROVISIONED = ("      ttl: 30d\n", "      ttl: 30d\n" + THROUGHPUT)
MORE_UNITS = ("      ttl: 30d\n", "      ttl: 30d\n" + THROUGHPUT.replace("10", "80"))


def store_change(graph_of, recorded, env: str, *edits):
    found = plan(graph_of(env, *edits), recorded(graph_of(env)))
    return found, next(c for c in found.changes if c.address == STORE)


# --- local: what UpdateFeatureGroup changes ---------------------------------------------------


def test_locally_a_new_ttl_is_an_update(graph_of, recorded):
    found, change = store_change(graph_of, recorded, "local", TTL)
    assert change.action == UPDATE and change.reason is None and change.loses_data is None
    assert {c.path for c in change.changed} == {
        "OnlineStoreConfig.TtlDuration.Unit",
        "OnlineStoreConfig.TtlDuration.Value",
    }
    assert found.ok and not found.losing_data


def test_locally_removing_the_ttl_is_an_update(graph_of, recorded):
    _, change = store_change(graph_of, recorded, "local", NO_TTL)
    assert change.action == UPDATE


def test_locally_a_feature_added_after_the_others_is_an_update(graph_of, recorded):
    _, change = store_change(graph_of, recorded, "local", ADDED)
    assert change.action == UPDATE and change.loses_data is None


def test_locally_a_feature_added_between_others_replaces_and_says_why(graph_of, recorded):
    _, change = store_change(graph_of, recorded, "local", INSERTED)
    assert change.action == REPLACE
    assert change.reason.startswith("FeatureDefinitions cannot change in place")
    assert "features added after the others" in change.reason
    assert change.loses_data.startswith("every record of the online store")


def test_locally_a_retyped_feature_or_a_removed_online_store_replaces(graph_of, recorded):
    for edit, field in ((RETYPED, "FeatureDefinitions"), (NO_ONLINE, "OnlineStoreConfig")):
        _, change = store_change(graph_of, recorded, "local", edit)
        assert change.action == REPLACE and change.reason.startswith(field), edit


# --- sagemaker: what pulumi_aws changes in place ----------------------------------------------


def test_on_sagemaker_a_new_ttl_is_an_update(graph_of, recorded):
    found, change = store_change(graph_of, recorded, "dev", TTL)
    assert change.action == UPDATE and change.loses_data is None
    assert {c.path for c in change.changed} == {
        "online_store_config.ttl_duration.unit",
        "online_store_config.ttl_duration.value",
    }
    assert found.ok


def test_on_sagemaker_an_added_feature_replaces_as_pulumi_aws_does(graph_of, recorded):
    _, change = store_change(graph_of, recorded, "dev", ADDED)
    assert change.action == REPLACE
    assert change.reason.startswith("pulumi_aws cannot change feature_definitions in place")
    assert change.actions == ["delete", "create"]  # the same name: the old one goes first
    assert "in S3, but in no feature group" in change.loses_data


def test_on_sagemaker_a_new_description_replaces(graph_of, recorded):
    old = "description: Customer profile features, one record per customer"
    _, change = store_change(graph_of, recorded, "dev", (old, "description: Customers"))
    assert change.action == REPLACE and "description" in change.reason


def test_in_a_protected_environment_a_new_ttl_applies_and_a_replacement_is_refused(
    graph_of, recorded
):
    found, change = store_change(graph_of, recorded, "prod", TTL)
    assert change.action == UPDATE and found.ok
    found, change = store_change(graph_of, recorded, "prod", ADDED)
    assert change.action == REPLACE and not found.ok
    assert [r.address for r in found.refused] == [STORE]


@pytest.mark.parametrize("env", ["local", "dev"])
def test_a_new_throughput_is_an_update_on_both_targets(graph_of, recorded, env):
    found = plan(graph_of(env, MORE_UNITS), recorded(graph_of(env, PROVISIONED)))
    change = next(c for c in found.changes if c.address == STORE)
    assert change.action == UPDATE and change.loses_data is None
    assert [(c.before, c.after) for c in change.changed] == [(10, 80)]


# --- the views ------------------------------------------------------------------------------


def test_the_text_and_markdown_say_plainly_what_a_replacement_loses(graph_of, recorded):
    found, _ = store_change(graph_of, recorded, "dev", ADDED)
    text = to_text(found).plain
    assert "1 of them deletes data (see `loses data:`)" in text
    assert "loses data: every record of the online store" in text
    markdown = to_markdown(found)
    assert "> [!WARNING]" in markdown
    assert f"`{STORE}`: every record of the online store" in markdown


def test_the_json_plan_says_what_a_change_loses_and_reads_back(graph_of, recorded, tmp_path):
    from mlinfra.plan.file import load_plan, save_plan

    found, _ = store_change(graph_of, recorded, "local", INSERTED)
    save_plan(found, tmp_path / "plan.json")
    again = load_plan(tmp_path / "plan.json")
    assert next(c for c in again.changes if c.address == STORE).loses_data
    assert again == found
