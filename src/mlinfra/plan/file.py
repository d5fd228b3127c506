"""Saved plans (`mlinfra plan --out FILE`): the JSON view, versioned and checked on read."""

from __future__ import annotations

from pathlib import Path

from mlinfra.plan.model import FORMAT_VERSION, Plan, PlanError
from mlinfra.plan.views import to_json
from mlinfra.state.documents import parse
from mlinfra.state.file import write_atomically

SCHEMA = "plan.schema.json"


def save_plan(plan: Plan, path: str | Path) -> None:
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomically(path, to_json(plan).encode("utf-8"))
    except OSError as exc:
        raise PlanError(f"{path}: cannot write the plan: {exc.strerror or exc}") from None


def load_plan(path: str | Path) -> Plan:
    path = Path(path)
    try:
        text = path.read_text("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = getattr(exc, "strerror", None) or "not UTF-8 text"
        raise PlanError(f"{path}: cannot read the plan: {reason}") from None
    data = parse(
        text,
        str(path),
        what="plan",
        schema=SCHEMA,
        supported=FORMAT_VERSION,
        error=PlanError,
        remedy="make it again with `mlinfra plan --out`",
        newer_remedy="use the mlinfra that made it, or plan again",
    )
    return Plan.from_json(data)
