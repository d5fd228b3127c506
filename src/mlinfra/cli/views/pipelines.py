"""How a pipeline's steps read in the terminal: a step's state in a run's list, what a step
that ended did, and what a gate (a condition step) found: the metric against its threshold."""

from __future__ import annotations

from typing import Any

STYLES = {"Succeeded": "green", "Failed": "bold red", "Stopped": "yellow", "Executing": "cyan"}
# SageMaker's condition types as the comparisons they make.
SYMBOLS = {
    "GreaterThan": ">",
    "GreaterThanOrEqualTo": ">=",
    "LessThan": "<",
    "LessThanOrEqualTo": "<=",
    "Equals": "==",
}
NEGATED = {">": "<=", ">=": "<", "<": ">=", "<=": ">", "==": "!="}
HELD = {True: "held", False: "did not hold"}


def step_state(step: dict[str, Any]) -> str:
    """`train:Succeeded`, `train:Succeeded (cached)`; a condition step by its outcome
    (`gate:held`, `gate:did not hold`), which its status (Succeeded either way) hides."""
    cached = " (cached)" if step.get("CacheHitResult") else ""
    outcome = _outcome(step)
    state = step["StepStatus"] if outcome is None else HELD[outcome]
    return f"{step['StepName']}:{state}{cached}"


def step_line(step: dict[str, Any], gate: Any = None) -> str:
    """`  train                Succeeded     3.2s  registered version 2`."""
    seconds = (step["EndTime"] - step["StartTime"]).total_seconds()
    detail = step_detail(step, gate)
    if step.get("CacheHitResult"):
        detail += "  (cached: same code, inputs and arguments as an earlier run)"
    return f"  {step['StepName']:<20} {step['StepStatus']:<10} {seconds:6.1f}s{detail}"


def step_detail(step: dict[str, Any], gate: Any = None) -> str:
    metadata = step.get("Metadata") or {}
    outcome = _outcome(step)
    if outcome is not None:
        compared = f" ({found(gate)})" if gate is not None and found(gate) else ""
        later = "" if outcome else ": later steps skipped"
        return f"  condition {HELD[outcome]}{compared}{later}"
    if "RegisterModel" in metadata:
        return f"  registered version {metadata['RegisterModel']['Arn'].rsplit('/', 1)[-1]}"
    return ""


def gate_line(gate: Any) -> str:
    """`gate did not hold: evaluate.metrics.accuracy >= parameters.min_accuracy: 0.71 < 0.75`."""
    words = found(gate)
    return f"{gate.step} {HELD[gate.held]}: {words}" if words else f"{gate.step} {HELD[gate.held]}"


def found(gate: Any) -> str:
    """The gate's `when:` and what its comparisons found, `... >= ...: 0.71 < 0.75`."""
    return ": ".join(part for part in (gate.when, comparison(gate)) if part)


def comparison(gate: Any) -> str:
    """The values each of the gate's comparisons compared, as they came out: `0.81 >= 0.75`
    when it held, `0.71 < 0.75` when not; joined by `and`."""
    shown = []
    for condition in gate.conditions:
        if "left" not in condition:
            continue
        symbol = SYMBOLS.get(condition["type"], condition["type"])
        if not condition["held"]:
            symbol = NEGATED.get(symbol, f"not {symbol}")
        shown.append(f"{_value(condition['left'])} {symbol} {_value(condition['right'])}")
    return " and ".join(shown)


def _outcome(step: dict[str, Any]) -> bool | None:
    outcome = ((step.get("Metadata") or {}).get("Condition") or {}).get("Outcome")
    return None if outcome is None else outcome == "True"


def _value(value: Any) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)
