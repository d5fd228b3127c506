"""How a pipeline's steps read in the terminal: a step's state in a run's list, and what a
step that ended did."""

from __future__ import annotations

from typing import Any

STYLES = {"Succeeded": "green", "Failed": "bold red", "Stopped": "yellow", "Executing": "cyan"}


def step_state(step: dict[str, Any]) -> str:
    cached = " (cached)" if step.get("CacheHitResult") else ""
    return f"{step['StepName']}:{step['StepStatus']}{cached}"


def step_line(step: dict[str, Any]) -> str:
    """`  train                Succeeded     3.2s  registered version 2`."""
    seconds = (step["EndTime"] - step["StartTime"]).total_seconds()
    detail = step_detail(step)
    if step.get("CacheHitResult"):
        detail += "  (cached: same code, inputs and arguments as an earlier run)"
    return f"  {step['StepName']:<20} {step['StepStatus']:<10} {seconds:6.1f}s{detail}"


def step_detail(step: dict[str, Any]) -> str:
    metadata = step.get("Metadata") or {}
    if "Condition" in metadata:
        outcome = metadata["Condition"].get("Outcome")
        return "  condition " + (
            "held" if outcome == "True" else "did not hold: later steps skipped"
        )
    if "RegisterModel" in metadata:
        return f"  registered version {metadata['RegisterModel']['Arn'].rsplit('/', 1)[-1]}"
    return ""
