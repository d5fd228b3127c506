"""A plan: what applying the spec to an environment would change, as plain data.

A `Plan` lists one `ResourceChange` per address (create, update, replace, delete or no-op),
each naming the properties that change with their values before and after, why a
replacement is needed, and the spec line responsible. It records the state it was made
against (serial and lineage), so applying a saved plan after the state moved is refused.
Rendering (text, JSON, Markdown) is in `mlinfra.plan.views`; computing it in `diff`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

FORMAT_VERSION = 1

CREATE, UPDATE, REPLACE, DELETE, NO_OP = "create", "update", "replace", "delete", "no-op"
ACTIONS = (CREATE, UPDATE, REPLACE, DELETE, NO_OP)
MARKERS = {CREATE: "+", UPDATE: "~", REPLACE: "-/+", DELETE: "-", NO_OP: " "}


class PlanError(Exception):
    """A plan cannot be made, read or used; the message says why and what to do."""


@dataclass(frozen=True)
class PropertyChange:
    """One changed property: `ProductionVariants[0].InitialInstanceCount`, 1 -> 2."""

    path: str
    before: Any
    after: Any
    # The new value comes from a resource being replaced: known only once it is created.
    known_after_apply: bool = False

    def to_json(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "before": self.before,
            "after": self.after,
            "known_after_apply": self.known_after_apply,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> PropertyChange:
        return cls(data["path"], data["before"], data["after"], data["known_after_apply"])


@dataclass(frozen=True)
class ResourceChange:
    address: str
    type: str
    action: str
    changed: tuple[PropertyChange, ...] = ()
    reason: str | None = None  # why a replacement (or a create of what the state has)
    source: str | None = None  # `file:line:col` of the spec text responsible
    before: Any = None  # the state's properties (None for a create)
    after: Any = None  # the spec's properties, canonical (None for a delete)
    # A replacement creates the new resource before deleting the old one, unless both
    # would have the same name.
    create_first: bool = False
    # A value it needs cannot be had yet (no approved model version): applying skips it,
    # with this reason, and the next apply after that value exists makes the change.
    waiting: str | None = None
    # What data the change deletes (a delete or a replacement of a resource that holds
    # data): "every registered model version, with its approval".
    loses_data: str | None = None

    @property
    def marker(self) -> str:
        return MARKERS[self.action]

    @property
    def actions(self) -> list[str]:
        """Terraform's spelling: a replacement is ["create", "delete"] or the reverse."""
        if self.action == REPLACE:
            return [CREATE, DELETE] if self.create_first else [DELETE, CREATE]
        return [self.action]

    def to_json(self) -> dict[str, Any]:
        return {
            "address": self.address,
            "type": self.type,
            "action": self.action,
            "source": self.source,
            "reason": self.reason,
            "waiting": self.waiting,
            "loses_data": self.loses_data,
            "change": {"actions": self.actions, "before": self.before, "after": self.after},
            "changed": [c.to_json() for c in self.changed],
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ResourceChange:
        change = data["change"]
        return cls(
            address=data["address"],
            type=data["type"],
            action=data["action"],
            changed=tuple(PropertyChange.from_json(c) for c in data["changed"]),
            reason=data["reason"],
            source=data["source"],
            before=change["before"],
            after=change["after"],
            create_first=change["actions"][:1] == [CREATE] and data["action"] == REPLACE,
            waiting=data["waiting"],
            loses_data=data.get("loses_data"),
        )


@dataclass(frozen=True)
class Refusal:
    """A deletion or replacement the stateful guard refuses: it would lose data."""

    address: str
    action: str
    reason: str

    def to_json(self) -> dict[str, Any]:
        return {"address": self.address, "action": self.action, "reason": self.reason}


@dataclass(frozen=True)
class Plan:
    project: str
    environment: str
    target: str
    state_serial: int
    state_lineage: str
    changes: tuple[ResourceChange, ...]
    resource_drift: tuple[ResourceChange, ...] = ()
    refused: tuple[Refusal, ...] = ()
    format_version: int = FORMAT_VERSION

    def counts(self) -> dict[str, int]:
        found = dict.fromkeys(ACTIONS, 0)
        for change in self.changes:
            found[change.action] += 1
        return found

    @property
    def has_changes(self) -> bool:
        return any(c.action != NO_OP for c in self.changes)

    @property
    def losing_data(self) -> tuple[ResourceChange, ...]:
        """The changes that delete data (applied only if the guard allows them)."""
        return tuple(c for c in self.changes if c.loses_data)

    @property
    def ok(self) -> bool:
        """False when the guard refuses part of it: such a plan must not be applied."""
        return not self.refused

    def summary(self) -> str:
        n = self.counts()
        return (
            f"Plan: {n[CREATE]} to create, {n[UPDATE]} to update, {n[REPLACE]} to replace, "
            f"{n[DELETE]} to delete"
        )

    def to_json(self) -> dict[str, Any]:
        """The document of `schemas/plan.schema.json` (also the saved plan file)."""
        counts = self.counts()
        return {
            "format_version": self.format_version,
            "project": self.project,
            "environment": self.environment,
            "target": self.target,
            "state": {"serial": self.state_serial, "lineage": self.state_lineage},
            "summary": {a: counts[a] for a in ACTIONS},
            "has_changes": self.has_changes,
            "resource_changes": [c.to_json() for c in self.changes],
            "resource_drift": [c.to_json() for c in self.resource_drift],
            "refused": [r.to_json() for r in self.refused],
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Plan:
        return cls(
            project=data["project"],
            environment=data["environment"],
            target=data["target"],
            state_serial=data["state"]["serial"],
            state_lineage=data["state"]["lineage"],
            changes=tuple(ResourceChange.from_json(c) for c in data["resource_changes"]),
            resource_drift=tuple(ResourceChange.from_json(c) for c in data["resource_drift"]),
            refused=tuple(Refusal(**r) for r in data["refused"]),
            format_version=data["format_version"],
        )
