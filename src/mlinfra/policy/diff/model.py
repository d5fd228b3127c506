"""What a compliance diff is: findings new and resolved, and security-relevant changes."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

from mlinfra.diagnostics import SourceRange
from mlinfra.policy.model import Finding
from mlinfra.policy.reports import markdown as md

CATEGORIES = (
    "encryption",
    "network-isolation",
    "vpc",
    "iam",
    "public-access",
    "approval",
    "data-capture",
)
DIRECTIONS = ("weakened", "strengthened", "changed")
# Weakenings first: what a reviewer must read.
DIRECTION_ORDER = {d: i for i, d in enumerate(DIRECTIONS)}


@dataclass(frozen=True)
class Change:
    """One security-relevant difference between two IRs, in plain words."""

    address: str  # the resource: "pipeline.train-churn/role-policy"
    component: str  # its spec component: "pipeline.train-churn"
    category: str  # one of CATEGORIES
    direction: str  # "weakened" | "strengthened" | "changed"
    summary: str  # "IAM role policy pipeline.train-churn/role-policy may now s3:* on *"
    # Plain JSON data (markers spelled out as `canonical` does), None where absent; so a
    # Change compares equal by value but, holding dicts, is not hashable.
    before: Any
    after: Any
    source: SourceRange | None  # the head side's resource, None when it is gone
    environment: str = ""

    def to_json(self) -> dict:
        return {
            "environment": self.environment,
            "address": self.address,
            "component": self.component,
            "category": self.category,
            "direction": self.direction,
            "summary": self.summary,
            "before": self.before,
            "after": self.after,
            "source": self.source.to_json() if self.source else None,
        }


@dataclass(frozen=True)
class ComplianceDiff:
    """Base against head: findings new and resolved, and security-relevant changes."""

    base_label: str  # "main (3f2a1b0)", or the base environment for --against-env
    head_label: str  # "working tree", "HEAD (9c1d2e3)", or the other environment
    environments: tuple[str, ...]  # compared: ("dev", "prod"), or (env, other) for two envs
    new: tuple[Finding, ...]  # active in head, not in base
    resolved: tuple[Finding, ...]  # active in base, not in head
    unchanged: int  # active in both
    changes: tuple[Change, ...]
    notes: tuple[str, ...] = ()  # environments added or removed, warnings from the audits
    spec_file: str = ""

    @property
    def weakened(self) -> tuple[Change, ...]:
        return tuple(c for c in self.changes if c.direction == "weakened")

    def summary(self) -> str:
        """`2 new findings (1 high), 1 resolved, 3 security-relevant changes (2 weakened)`."""
        new = md.plural(len(self.new), "new finding")
        if self.new:
            new += f" ({md.by_severity(self.new)})"
        changes = md.plural(len(self.changes), "security-relevant change")
        directions = Counter(c.direction for c in self.changes)
        if self.changes:
            changes += (
                " (" + ", ".join(f"{directions[d]} {d}" for d in DIRECTIONS if directions[d]) + ")"
            )
        return f"{new}, {len(self.resolved)} resolved, {changes}"
