"""What a changed-only preview has its own of although unchanged: what its changed
components write into (a registry group its pipeline registers into, a pipeline its monitor
starts), on both targets; what they only read stays the base's."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlinfra.ir.lower import lower
from mlinfra.preview.changed import Selection, own_copies
from mlinfra.spec.validate import validate_file

CHURN = Path(__file__).resolve().parents[2] / "examples" / "churn"
COMPONENTS = (
    "feature_store.customers",
    "model.churn-model",
    "pipeline.train-churn",
    "endpoint.churn-api",
    "monitor.churn-drift",
)


def graph(env: str):
    result = validate_file(CHURN / "mlinfra.yaml")
    return lower(result.environments[env], CHURN)


def own(env: str, *changed: str) -> tuple[str, ...]:
    deferred = tuple(c for c in COMPONENTS if c not in changed)
    return own_copies(graph(env), Selection("main", changed, deferred)).own


@pytest.mark.parametrize("env", ["local", "dev"])
def test_a_changed_pipeline_has_its_own_registry_group_but_not_the_model(env):
    assert own(env, "pipeline.train-churn") == ("model.churn-model/registry",)


@pytest.mark.parametrize("env", ["local", "dev"])
def test_a_changed_monitor_retrains_its_own_pipeline_which_registers_into_its_own_group(env):
    found = own(env, "monitor.churn-drift")
    assert "model.churn-model/registry" in found
    pipeline = {r.address for r in graph(env).resources if r.component == "pipeline.train-churn"}
    assert pipeline <= set(found)
    assert not [a for a in found if a.startswith(("endpoint.", "feature_store."))]


def test_what_is_only_read_stays_the_bases():
    assert own("local", "endpoint.churn-api") == ()
    assert own("local", "model.churn-model") == ()
