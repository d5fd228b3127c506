"""The plan operation: what applying the spec would change, with what it looked up."""

from __future__ import annotations

import pytest
from operations_project import validated

from mlinfra.engines.providers.local import LocalProvider
from mlinfra.operations.apply import ApplyRequest, apply
from mlinfra.operations.errors import OperationError
from mlinfra.operations.plan import PlanRequest, plan
from mlinfra.operations.progress import quiet, yes
from mlinfra.plan.model import CREATE
from mlinfra.state import backend_for
from mlinfra.state.model import State
from registries import EmptyRegistry


def test_a_new_environment_plans_every_resource_as_created(churn) -> None:
    found = plan(PlanRequest(validated(churn), str(churn), "dev"))

    assert found.plan.has_changes and not found.refused
    assert {c.action for c in found.plan.changes} == {CREATE}
    assert "endpoint.churn-api" in {c.address for c in found.plan.changes}
    assert found.target == "sagemaker" and found.state.serial == 0
    assert found.where.endswith("dev.json")
    # No AWS credentials here: the registry was not read, and the plan says why.
    assert found.lookups.unread


def test_an_environment_as_applied_plans_no_changes(churn, fake_pulumi) -> None:
    validation = validated(churn)
    apply(ApplyRequest(validation, str(churn), "dev"), quiet, yes)

    found = plan(PlanRequest(validation, str(churn), "dev"))

    assert not found.plan.has_changes
    assert found.state.serial == 1


def test_what_needs_a_model_no_one_approved_is_planned_as_waiting(churn, monkeypatch) -> None:
    monkeypatch.setattr(
        LocalProvider, "for_spec", classmethod(lambda cls, *a, **k: EmptyRegistry())
    )
    found = plan(PlanRequest(validated(churn), str(churn), "local"))

    waiting = {c.address: c.waiting for c in found.plan.changes if c.waiting}
    assert "model.churn-model" in waiting
    assert "has no version yet" in waiting["model.churn-model"]
    assert found.plan.has_changes


def test_an_unknown_environment_is_an_error_that_suggests_one(churn) -> None:
    with pytest.raises(OperationError, match="has no environment 'prd'") as raised:
        plan(PlanRequest(validated(churn), str(churn), "prd"))
    assert raised.value.suggestion == "did you mean 'prod'?"


def test_a_state_of_another_project_is_refused(churn) -> None:
    backend_for(".mlinfra/state", churn.parent).write(State("other", "dev"))
    with pytest.raises(OperationError, match="belongs to project 'other', not 'churn'"):
        plan(PlanRequest(validated(churn), str(churn), "dev"))
