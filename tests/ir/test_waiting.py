"""What waits for a value that may not exist yet (`mlinfra.ir.waiting`): the resources that
hold it, what depends on them, and whole components that wait because of another."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlinfra.ir.lower import lower
from mlinfra.ir.waiting import gates, grouped, reason
from mlinfra.spec.validate import validate_file

CHURN = Path(__file__).resolve().parents[2] / "examples" / "churn"
LOOKUPS = ("latest_approved_model_package", "latest_approved_version")


@pytest.fixture(scope="module")
def graphs() -> dict:
    result = validate_file(str(CHURN / "mlinfra.yaml"))
    return {env: lower(result.environments[env], CHURN) for env in ("dev", "prod", "local")}


def waiting(graph) -> dict:
    return gates(graph, lambda key: key[0] in LOOKUPS)


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_the_model_its_endpoint_and_the_monitor_on_it_wait_whole(graphs, env):
    graph = graphs[env]
    found = waiting(graph)
    endpoint = [a for a in graph.addresses() if a.startswith("endpoint.churn-api")]
    monitor = [a for a in graph.addresses() if a.startswith("monitor.churn-")]
    batch = [a for a in graph.addresses() if a.startswith("batch_job.churn-scores")]
    # Alarms, autoscaling, the monitor's alerts and retraining rule, the batch job's role and
    # schedule hold no version and refer to none by Ref: they wait because their component
    # does.
    assert "endpoint.churn-api/alarm-latency" in endpoint
    assert "monitor.churn-drift/retrain" in monitor
    assert "batch_job.churn-scores/schedule" in batch
    assert set(found) == {"model.churn-model", *endpoint, *monitor, *batch}


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_the_models_registry_and_role_need_no_version(graphs, env):
    found = waiting(graphs[env])
    for address in ("model.churn-model/registry", "model.churn-model/role"):
        assert address not in found
    assert "pipeline.train-churn" not in found


def test_every_waiting_resource_names_the_model_it_waits_for(graphs):
    found = waiting(graphs["prod"])
    holders = {gate.holder for gates_ in found.values() for gate in gates_}
    assert holders == {"model.churn-model"}
    gate = found["endpoint.churn-api/config"][0]
    assert reason("model.churn-model", gate, "none approved") == "none approved"
    assert reason("endpoint.churn-api/config", gate, "none approved") == (
        "waits for model.churn-model: none approved"
    )


def test_the_local_target_waits_by_the_same_rule(graphs):
    assert set(waiting(graphs["local"])) == {
        "model.churn-model",
        "endpoint.churn-api/config",
        "endpoint.churn-api/alarm-latency",
        "endpoint.churn-api/alarm-errors",
        "endpoint.churn-api",
        "endpoint.churn-api/scaling-target",
        "endpoint.churn-api/scaling-policy",
        "monitor.churn-drift",
        "monitor.churn-quality",
        "batch_job.churn-scores",
    }


def test_nothing_waits_when_no_value_may_be_missing(graphs):
    assert gates(graphs["prod"], lambda key: False) == {}


def test_what_waits_only_for_another_is_grouped_after_it():
    waiting = {
        "model.m": "none approved",
        "endpoint.e/config": "waits for model.m: none approved",
        "endpoint.e": "waits for model.m: none approved",
        "monitor.x": "the emulator is not running",
    }
    assert grouped(waiting) == [
        (["model.m"], "none approved"),
        (["endpoint.e/config", "endpoint.e"], "waits for model.m"),
        (["monitor.x"], "the emulator is not running"),
    ]
