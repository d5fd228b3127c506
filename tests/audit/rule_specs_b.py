"""Helpers for the tests of the job, feature-store, storage and identity rules.

A test writes a small spec (with the scripts and baseline lowering reads) into a folder,
validates and lowers one environment, and judges every resource of a rule's types: the
failing addresses with their findings, and the passing ones. Where the lowering cannot
produce a failing resource, a test changes the lowered graph itself (`changed`, `without`).
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from mlinfra.audit.context import AuditContext
from mlinfra.audit.model import Finding, Rule
from mlinfra.frozen import freeze
from mlinfra.ir.graph import Json
from mlinfra.ir.lower import lower
from mlinfra.spec.validate import validate_file

CHURN = Path(__file__).parents[2] / "examples" / "churn"
SCRIPT = "print('a step of a pipeline')\n"
BASELINE = "tenure_months,monthly_charges\n12,70.5\n3,20.0\n"


def write(folder: Path, text: str) -> Path:
    """The spec at `folder/mlinfra.yaml`, beside the files lowering reads."""
    (folder / "pipelines").mkdir(parents=True, exist_ok=True)
    for script in ("prepare.py", "train.py"):
        (folder / "pipelines" / script).write_text(SCRIPT)
    (folder / "data").mkdir(exist_ok=True)
    (folder / "data" / "baseline.csv").write_text(BASELINE)
    path = folder / "mlinfra.yaml"
    path.write_text(text)
    return path


def audited(folder: Path, text: str, env: str) -> AuditContext:
    """What the rules see of environment `env` of the spec `text`."""
    validation = validate_file(write(folder, text))
    assert validation.ok, [d.summary for d in validation.diagnostics]
    spec = validation.environments[env]
    return AuditContext(spec, lower(spec, folder))


@functools.cache
def churn(env: str) -> AuditContext:
    validation = validate_file(CHURN / "mlinfra.yaml")
    spec = validation.environments[env]
    return AuditContext(spec, lower(spec, CHURN))


@dataclasses.dataclass(frozen=True)
class Judged:
    """A rule over every resource of its types: findings by failing address, and the
    addresses that passed."""

    failing: dict[str, list[Finding]]
    passing: set[str]

    @property
    def messages(self) -> dict[str, list[str]]:
        return {address: [f.message for f in found] for address, found in self.failing.items()}

    def lines(self, address: str) -> set[int]:
        """The spec lines the findings on `address` point at."""
        return {f.source.start.line for f in self.failing[address]}


def judge(rule: Rule, ctx: AuditContext) -> Judged:
    failing: dict[str, list[Finding]] = {}
    passing: set[str] = set()
    for type_name in rule.resource_types:
        for resource in ctx.of_type(type_name):
            found = list(rule.check(resource, ctx))
            assert all(f.rule is rule and f.address == resource.address for f in found)
            if found:
                failing[resource.address] = found
            else:
                passing.add(resource.address)
    return Judged(failing, passing)


def changed(ctx: AuditContext, address: str, **properties: Any) -> AuditContext:
    """The same environment with some properties of one resource replaced: a resource the
    lowering never makes, to show a rule fails it."""
    resources = tuple(
        dataclasses.replace(r, properties=freeze({**r.properties, **properties}))
        if r.address == address
        else r
        for r in ctx.graph.resources
    )
    assert resources != ctx.graph.resources, f"no resource at {address}"
    return AuditContext(ctx.spec, dataclasses.replace(ctx.graph, resources=resources))


def without(ctx: AuditContext, address: str) -> AuditContext:
    """The same environment without the resource at `address`."""
    resources = tuple(r for r in ctx.graph.resources if r.address != address)
    assert len(resources) == len(ctx.graph.resources) - 1, f"no resource at {address}"
    return AuditContext(ctx.spec, dataclasses.replace(ctx.graph, resources=resources))


def document(ctx: AuditContext, address: str, name: str = "policy") -> dict:
    """A mutable copy of a resource's JSON document property (a policy, a definition)."""
    value = ctx.resource(address).properties[name]
    return thaw(value.value if isinstance(value, Json) else value)


def thaw(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: thaw(v) for k, v in value.items()}
    if isinstance(value, tuple | list):
        return [thaw(v) for v in value]
    return value


def line_of(text: str, needle: str, after: str | None = None) -> int:
    """The 1-based line of the first line of `text` holding `needle` (after the first line
    holding `after`, when given)."""
    lines = text.splitlines()
    start = 0 if after is None else next(i for i, line in enumerate(lines) if after in line)
    return next(i for i, line in enumerate(lines) if i >= start and needle in line) + 1
