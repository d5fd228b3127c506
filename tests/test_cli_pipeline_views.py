"""How a pipeline run's steps read: a gate (a condition step) by its outcome, held or not,
with the spec's `when:` and the values it compared, never a bare `Succeeded`."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from mlinfra.cli.views.pipelines import gate_line, step_line, step_state
from mlinfra.operations.pipelines import Gate

WHEN = "evaluate.metrics.accuracy >= parameters.min_accuracy"
START = datetime(2026, 1, 1, tzinfo=UTC)


def condition_step(outcome: str) -> dict:
    return {
        "StepName": "gate",
        "StepStatus": "Succeeded",  # SageMaker's status whether the condition held or not
        "StartTime": START,
        "EndTime": START + timedelta(seconds=1),
        "Metadata": {"Condition": {"Outcome": outcome}},
    }


def gate(held: bool, accuracy: float) -> Gate:
    compared = {"type": "GreaterThanOrEqualTo", "held": held, "left": accuracy, "right": 0.75}
    return Gate("gate", held, WHEN, (compared,))


def test_a_gate_that_did_not_hold_says_so_with_the_metric_and_threshold() -> None:
    assert step_state(condition_step("False")) == "gate:did not hold"
    assert gate_line(gate(False, 0.71)) == f"gate did not hold: {WHEN}: 0.71 < 0.75"
    line = step_line(condition_step("False"), gate(False, 0.71))
    assert line.endswith(f"condition did not hold ({WHEN}: 0.71 < 0.75): later steps skipped")


def test_a_gate_that_held_says_so_with_the_values() -> None:
    assert step_state(condition_step("True")) == "gate:held"
    assert gate_line(gate(True, 0.86)) == f"gate held: {WHEN}: 0.86 >= 0.75"


def test_other_steps_keep_their_status_and_a_gate_without_its_values_its_outcome() -> None:
    train = {**condition_step("True"), "StepName": "train", "Metadata": {}}
    assert step_state(train) == "train:Succeeded"
    assert gate_line(Gate("gate", True, None, ())) == "gate held"
