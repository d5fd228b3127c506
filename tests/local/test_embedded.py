"""The embedded engine against a real emulator: apply, change, wait, resume, delete."""

from __future__ import annotations

from pathlib import Path

from shop import LATEST_APPROVED, graph_of, predict, register_version, shop_spec

from mlinfra.emulator.access import Access
from mlinfra.engines.embedded import CREATE, DELETE, REPLACE, UPDATE, EmbeddedEngine, Step
from mlinfra.engines.providers.local import LocalProvider


class MemoryState:
    """What the caller's state file would record, kept in a dict."""

    def __init__(self) -> None:
        self.entries: dict[str, dict] = {}
        self.saves: list[str] = []

    def saved(self, address: str, entry: dict | None) -> None:
        self.saves.append(address)
        if entry is None:
            self.entries.pop(address, None)
        else:
            self.entries[address] = entry

    def outputs(self) -> dict:
        return {a: e["outputs"] for a, e in self.entries.items()}


def test_apply_change_and_delete(project: Path, emulator) -> None:
    provider = LocalProvider.for_access(Access.for_server(emulator))
    state = MemoryState()
    engine = EmbeddedEngine(provider, state.saved)
    graph = graph_of(project, shop_spec())
    outcome = engine.apply([Step(r.address, CREATE, r) for r in graph.resources], {})
    assert outcome.ok and not outcome.waiting
    assert set(state.entries) == set(graph.addresses())
    assert predict(emulator, b"3,0,0\n-3,0,0\n") == [1, 0]

    # A new artifact: model and configuration replaced, the endpoint moved, the old ones gone.
    old = dict(state.entries)
    changed = graph_of(project, shop_spec("artifact: models/b/model.joblib"))
    steps = [
        Step("model.scorer", REPLACE, changed.get("model.scorer"), old["model.scorer"]),
        Step(
            "endpoint.scorer-api/config",
            REPLACE,
            changed.get("endpoint.scorer-api/config"),
            old["endpoint.scorer-api/config"],
        ),
        Step(
            "endpoint.scorer-api",
            UPDATE,
            changed.get("endpoint.scorer-api"),
            old["endpoint.scorer-api"],
        ),
    ]
    outcome = engine.apply(steps, state.outputs())
    assert outcome.ok, outcome.failed
    assert predict(emulator, b"0,3,0\n0,-3,0\n") == [1, 0]
    models = [m["ModelName"] for m in provider.client.list_models()["Models"]]
    assert models == [state.entries["model.scorer"]["inputs"]["ModelName"]]
    assert len(provider.client.list_endpoint_configs()["EndpointConfigs"]) == 1
    assert not [a for a in state.entries if a.endswith("#deposed")]
    # The deposed copies were recorded while both existed, then dropped.
    assert "model.scorer#deposed" in state.saves

    steps = [Step(a, DELETE, None, e) for a, e in state.entries.items()]
    outcome = engine.apply(steps, state.outputs())
    assert outcome.ok and state.entries == {}
    client = provider.client
    assert client.list_endpoints()["Endpoints"] == []
    assert client.list_models()["Models"] == []
    assert client.list_feature_groups()["FeatureGroupSummaries"] == []


def test_unapproved_model_waits_and_the_rest_proceeds(project: Path, emulator) -> None:
    provider = LocalProvider.for_access(Access.for_server(emulator))
    state = MemoryState()
    engine = EmbeddedEngine(provider, state.saved)
    graph = graph_of(project, shop_spec(LATEST_APPROVED))
    outcome = engine.apply([Step(r.address, CREATE, r) for r in graph.resources], {})
    assert outcome.ok
    assert set(state.entries) == {"feature_store.customers", "model.scorer/registry"}
    assert "no approved version" in outcome.waiting["model.scorer"]
    assert outcome.waiting["endpoint.scorer-api/config"] == "waits for model.scorer"

    register_version(emulator, "models/b/model.joblib")
    left = [Step(r.address, CREATE, r) for r in graph.resources if r.address not in state.entries]
    outcome = engine.apply(left, state.outputs())
    assert outcome.ok and not outcome.waiting
    assert state.entries["model.scorer"]["inputs"]["ModelName"].endswith("-v1")
    assert predict(emulator, b"0,3,0\n") == [1]


def test_resources_created_before_a_crash_are_adopted(project: Path, emulator) -> None:
    provider = LocalProvider.for_access(Access.for_server(emulator))
    graph = graph_of(project, shop_spec())
    lost = MemoryState()  # an apply that created everything, then died before saving
    EmbeddedEngine(provider, lost.saved).apply(
        [Step(r.address, CREATE, r) for r in graph.resources], {}
    )

    state = MemoryState()
    outcome = EmbeddedEngine(provider, state.saved).apply(
        [Step(r.address, CREATE, r) for r in graph.resources], {}
    )
    assert outcome.ok, outcome.failed
    assert set(state.entries) == set(graph.addresses())
    assert len(provider.client.list_models()["Models"]) == 1
    assert len(provider.client.list_endpoints()["Endpoints"]) == 1
