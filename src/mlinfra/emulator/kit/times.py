"""Times as requests carry them: timestamps and SageMaker's TtlDuration."""

from __future__ import annotations

from typing import Any

# TtlDuration's units (the TtlDurationUnit enum of the Feature Store model), in seconds.
UNIT_SECONDS = {"Seconds": 1, "Minutes": 60, "Hours": 3600, "Days": 86400, "Weeks": 604800}


def epoch(value: Any) -> float:
    """A request's timestamp as epoch seconds."""
    # Epoch seconds in the years 1-9999 by now: the wire check made them so (`wire.py`).
    return float(value)


def ttl_seconds(ttl: dict[str, Any] | None) -> int | None:
    """A TtlDuration (`{"Unit": "Hours", "Value": 6}`) in seconds; None for none."""
    if not ttl:
        return None
    return int(ttl["Value"]) * UNIT_SECONDS.get(ttl.get("Unit", "Seconds"), 1)
