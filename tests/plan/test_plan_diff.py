"""The plan diff: creates, no-ops, updates with paths, replacements with reasons, deletes in
dependents-first order, Calls known or not, the stateful guard and drift."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from mlinfra.plan.diff import calls_in, plan, resource_state
from mlinfra.plan.model import CREATE, DELETE, NO_OP, REPLACE, UPDATE, PropertyChange
from mlinfra.state.model import PENDING, ResourceState, State

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "churn"
INSTANCES = ("    instance_count: 1\n", "    instance_count: 3\n")


def actions(found) -> dict[str, str]:
    return {c.address: c.action for c in found.changes}


def change(found, address: str):
    return next(c for c in found.changes if c.address == address)


def test_against_an_empty_state_everything_is_created_in_graph_order(graph_of) -> None:
    for env in ("local", "dev"):
        graph = graph_of(env)
        found = plan(graph, State.empty("churn", env))
        assert [c.address for c in found.changes] == graph.addresses()
        assert {c.action for c in found.changes} == {CREATE}
        assert found.summary().startswith(f"Plan: {len(graph.resources)} to create, 0 to update")
        assert (found.state_serial, found.state_lineage) == (0, "")


def test_against_the_state_it_recorded_nothing_changes(graph_of, recorded) -> None:
    for env in ("local", "dev", "prod"):
        graph = graph_of(env)
        found = plan(graph, recorded(graph))
        assert set(actions(found).values()) == {NO_OP}
        assert not found.has_changes and found.ok
        assert found.summary() == "Plan: 0 to create, 0 to update, 0 to replace, 0 to delete"


def test_a_tag_changes_in_place_with_its_path_and_values(graph_of, recorded) -> None:
    before = recorded(graph_of("local"))
    found = plan(graph_of("local", ("team: growth", "team: ml-platform")), before)
    customers = change(found, "feature_store.customers")
    assert customers.action == UPDATE and customers.reason is None
    assert customers.changed == (PropertyChange("Tags[0].Value", "growth", "ml-platform"),)
    assert customers.source.endswith("mlinfra.yaml:62:3")


def test_a_changed_instance_count_replaces_the_configuration_and_updates_the_endpoint(
    graph_of, recorded
) -> None:
    before = recorded(graph_of("local"))
    found = plan(graph_of("local", INSTANCES), before)
    config = change(found, "endpoint.churn-api/config")
    assert config.action == REPLACE
    assert "EndpointConfigName" in config.reason
    assert PropertyChange("ProductionVariants[0].InitialInstanceCount", 1, 3) in config.changed
    assert config.create_first and config.actions == ["create", "delete"]
    endpoint = change(found, "endpoint.churn-api")
    assert endpoint.action == UPDATE
    assert endpoint.changed == (
        PropertyChange(
            "EndpointConfigName", None, "ref:endpoint.churn-api/config.name", known_after_apply=True
        ),
    )
    assert actions(found)["feature_store.customers"] == NO_OP


def test_on_sagemaker_the_instance_count_path_is_the_pulumi_argument(graph_of, recorded) -> None:
    before = recorded(graph_of("dev"))
    found = plan(graph_of("dev", INSTANCES), before)
    config = change(found, "endpoint.churn-api/config")
    assert config.action == REPLACE and "its name (name) changes" in config.reason
    assert PropertyChange("production_variants[0].initial_instance_count", 1, 3) in config.changed
    assert actions(found)["endpoint.churn-api"] == UPDATE


def test_a_changed_data_file_replaces_what_hashes_it(graph_of, recorded, churn) -> None:
    before = recorded(graph_of("dev"))
    (churn / "data" / "baseline.csv").write_text("customer_id,tenure\nc1,3\n")
    found = plan(graph_of("dev"), before)
    changed = {c.address: c for c in found.changes if c.action != NO_OP}
    assert changed, "a new baseline changes the monitor's baseline upload"
    baseline = changed["monitor.churn-drift/baseline"]
    assert baseline.action in (UPDATE, REPLACE)
    assert any("sha256" in str(c.after) for c in baseline.changed)


def test_a_local_property_that_cannot_change_in_place_replaces_with_the_reason(
    graph_of, recorded
) -> None:
    old = "description: Customer profile features, one record per customer"
    before = recorded(graph_of("local"))
    found = plan(graph_of("local", (old, "description: Customers")), before)
    customers = change(found, "feature_store.customers")
    assert customers.action == REPLACE
    assert customers.reason.startswith("Description cannot change in place (only features added")
    assert customers.actions == ["delete", "create"]  # same name: the old one goes first
    assert customers.loses_data.startswith("every record of the online store")


def test_a_removed_component_is_deleted_dependents_first(graph_of, recorded) -> None:
    full = graph_of("dev")
    text = EXAMPLE.joinpath("mlinfra.yaml").read_text()
    monitors = text[text.index("\nmonitors:\n") : text.index("\npolicies:\n")]
    override = "      monitors:\n        churn-drift:\n          schedule: hourly\n"
    local = "      monitors: {churn-quality: {ground_truth: ground-truth}}\n"
    found = plan(graph_of("dev", (monitors, ""), (override, ""), (local, "")), recorded(full))
    deleted = [c.address for c in found.changes if c.action == DELETE]
    gone = {r.address for r in full.resources if (r.component or "").startswith("monitor.")}
    assert set(deleted) == gone and len(gone) > 5
    position = {a: i for i, a in enumerate(deleted)}
    for address in deleted:
        for dependency in full.get(address).dependencies():
            if dependency in position:
                assert position[address] < position[dependency], (address, dependency)
    assert [c.action for c in found.changes][-len(deleted) :] == [DELETE] * len(deleted)
    assert {c.action for c in found.changes[: -len(deleted)]} == {NO_OP}
    assert change(found, "monitor.churn-drift").source.endswith("mlinfra.yaml:145:3")


def test_an_unknown_call_matches_what_the_state_recorded(graph_of, recorded) -> None:
    known = {
        ("latest_approved_version", ("churn-local-churn",)): "1",
        ("latest_approved_model_package", ("churn-local-churn",)): "arn:aws:sagemaker:v/1",
    }
    graph = graph_of("local")
    before = recorded(graph, known)
    assert not plan(graph, before).has_changes
    assert not plan(graph, before, known).has_changes


def test_a_newly_approved_model_version_is_a_change(graph_of, recorded) -> None:
    group = ("churn-local-churn",)
    old = {
        ("latest_approved_version", group): "1",
        ("latest_approved_model_package", group): "arn:aws:sagemaker:v/1",
    }
    new = {
        ("latest_approved_version", group): "2",
        ("latest_approved_model_package", group): "arn:aws:sagemaker:v/2",
    }
    graph = graph_of("local")
    found = plan(graph, recorded(graph, old), new)
    model = change(found, "model.churn-model")
    assert model.action == REPLACE
    assert (
        PropertyChange(
            "PrimaryContainer.ModelPackageName", "arn:aws:sagemaker:v/1", "arn:aws:sagemaker:v/2"
        )
        in model.changed
    )
    assert actions(found)["endpoint.churn-api/config"] == REPLACE
    assert actions(found)["endpoint.churn-api"] == UPDATE


def test_a_resource_left_pending_by_a_stopped_apply_is_replaced(graph_of, recorded) -> None:
    graph = graph_of("local")
    state = recorded(graph)
    pending = dataclasses.replace(state.get("feature_store.customers"), status=PENDING)
    found = plan(graph, state.with_resource("feature_store.customers", pending))
    customers = change(found, "feature_store.customers")
    assert customers.action == REPLACE and "stopped" in customers.reason


def test_a_changed_type_replaces(graph_of, recorded) -> None:
    graph = graph_of("local")
    state = recorded(graph)
    other = dataclasses.replace(state.get("model.churn-model"), type="local.Other")
    found = plan(graph, state.with_resource("model.churn-model", other))
    assert "type changes from local.Other" in change(found, "model.churn-model").reason


# --- the stateful guard -----------------------------------------------------------------------

OLD_STORE = ResourceState("aws.sagemaker.FeatureGroup", {"feature_group_name": "old"}, protect=True)


def test_deleting_a_protected_store_is_refused_unless_allowed(graph_of, recorded) -> None:
    graph = graph_of("prod")
    state = recorded(graph).with_resource("feature_store.old", OLD_STORE)
    found = plan(graph, state)
    assert not found.ok
    assert [r.address for r in found.refused] == ["feature_store.old"]
    assert "--allow-removal feature_store.old" in found.refused[0].reason
    assert plan(graph, state, allow_removal=["feature_store.old"]).ok


def test_a_stateful_type_in_a_protected_environment_is_guarded_even_if_unmarked(
    graph_of, recorded
) -> None:
    graph = graph_of("dev")
    unmarked = dataclasses.replace(OLD_STORE, protect=False)
    state = recorded(graph).with_resource("feature_store.old", unmarked)
    assert plan(graph, state).ok  # dev is not protected
    assert not plan(graph, state, protect=True).ok


def test_replacing_a_local_store_of_a_protected_environment_is_refused(graph_of, recorded) -> None:
    old = "description: Customer profile features, one record per customer"
    before = recorded(graph_of("local"))
    found = plan(graph_of("local", (old, "description: Customers")), before, protect=True)
    assert [(r.address, r.action) for r in found.refused] == [("feature_store.customers", REPLACE)]


def test_deleting_what_holds_no_data_is_not_guarded(graph_of, recorded) -> None:
    graph = graph_of("prod")
    extra = ResourceState("aws.iam.Role", {"name": "old-role"})
    found = plan(graph, recorded(graph).with_resource("role.old", extra))
    assert found.ok and actions(found)["role.old"] == DELETE


# --- drift ------------------------------------------------------------------------------------


def test_drift_is_empty_without_a_refresh_and_reported_with_one(graph_of, recorded) -> None:
    graph = graph_of("local")
    state = recorded(graph)
    entry = state.get("endpoint.churn-api")
    state = state.with_resource(
        "endpoint.churn-api", dataclasses.replace(entry, inputs={"EndpointConfigName": "c-1"})
    )
    assert plan(graph, state).resource_drift == ()
    found = plan(
        graph,
        state,
        refreshed={"endpoint.churn-api": {"EndpointConfigName": "c-2", "EndpointStatus": "x"}},
    )
    (drift,) = found.resource_drift
    assert drift.action == UPDATE
    assert drift.changed == (PropertyChange("EndpointConfigName", "c-1", "c-2"),)
    gone = plan(graph, state, refreshed={"feature_store.customers": None})
    assert gone.resource_drift[0].action == DELETE
    assert change(gone, "feature_store.customers").action == CREATE


def test_allowing_an_address_also_allows_its_deposed_predecessor(graph_of, recorded) -> None:
    graph = graph_of("prod")
    state = recorded(graph).with_resource("feature_store.customers#deposed", OLD_STORE)
    found = plan(graph, state)
    assert [r.address for r in found.refused] == ["feature_store.customers#deposed"]
    assert plan(graph, state, allow_removal=["feature_store.customers"]).ok


def test_changes_needing_a_value_that_does_not_exist_yet_wait_with_the_reason(graph_of) -> None:
    graph = graph_of("local")
    why = "model package group 'churn-local-churn' has no approved version: approve one"
    group = ("churn-local-churn",)
    unavailable = {
        ("latest_approved_version", group): why,
        ("latest_approved_model_package", group): why,
    }
    found = plan(graph, State.empty("churn", "local"), unavailable=unavailable)
    waiting = {c.address: c.waiting for c in found.changes if c.waiting}
    # The model needs the value first and says why; what waits with it names the model.
    assert waiting["model.churn-model"] == why
    assert waiting["endpoint.churn-api/config"] == f"waits for model.churn-model: {why}"
    assert waiting["endpoint.churn-api"] == f"waits for model.churn-model: {why}"
    assert waiting["monitor.churn-drift"] == f"waits for model.churn-model: {why}"
    assert "feature_store.customers" not in waiting
    assert "model.churn-model/registry" not in waiting
    assert {c.action for c in found.changes} == {CREATE}


def test_a_reference_to_a_replaced_model_shows_its_own_value_before(graph_of) -> None:
    graph = graph_of("local")
    v1 = {k: "arn:aws:sagemaker:us-east-1:0:model-package/g/1" for k in calls_in(graph)}
    sent = {"ProductionVariants": [{"VariantName": "AllTraffic", "ModelName": "churn-model-v1"}]}
    before = State(
        "churn",
        "local",
        serial=1,
        lineage="l",
        resources={
            r.address: resource_state(r, v1, sent if r.address.endswith("/config") else None)
            for r in graph.resources
        },
    )
    v2 = {k: value[:-1] + "2" for k, value in v1.items()}

    config = change(plan(graph, before, v2), "endpoint.churn-api/config")

    assert config.action == REPLACE
    moved = next(c for c in config.changed if c.path == "ProductionVariants[0].ModelName")
    assert moved.before == "churn-model-v1" and moved.known_after_apply


def test_a_local_reference_its_resource_never_took_is_an_update(graph_of, recorded) -> None:
    """An apply replaced the configuration but the endpoint's update failed (its canary was
    rolled back): the state's configuration is not the one the endpoint recorded taking."""
    graph = graph_of("local")
    state = recorded(graph)
    endpoint, config = "endpoint.churn-api", "endpoint.churn-api/config"
    resources = dict(state.resources)
    resources[config] = dataclasses.replace(
        resources[config], outputs={"name": "cfg-v2", "EndpointConfigName": "cfg-v2"}
    )
    resources[endpoint] = dataclasses.replace(
        resources[endpoint],
        inputs={"EndpointName": "churn-local-churn-api", "EndpointConfigName": "cfg-v1"},
        outputs={"name": "churn-local-churn-api"},
    )
    # Text joined from a reference (the variant's ResourceId) is not compared to it.
    target = "endpoint.churn-api/scaling-target"
    resources[target] = dataclasses.replace(
        resources[target],
        inputs={"ResourceId": "endpoint/churn-local-churn-api/variant/primary"},
    )
    found = plan(graph, dataclasses.replace(state, resources=resources))
    moved = change(found, endpoint)
    assert moved.action == UPDATE
    assert moved.changed == (PropertyChange("EndpointConfigName", "cfg-v1", "cfg-v2"),)
    assert change(found, target).action == NO_OP
    assert {a for a, act in actions(found).items() if act != NO_OP} == {endpoint}
