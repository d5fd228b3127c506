"""Comparing two audits: one environment at two revisions, or two environments.

Reading the two sides (the spec at git revisions, or two environments of the working tree)
is `mlinfra.operations.compliance`'s; here each environment's pair of graphs is judged
(`judge`) and the environments' judgements are put together into one diff (`combine`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date

from mlinfra.ir.graph import ResourceGraph
from mlinfra.policy.diff.model import DIRECTION_ORDER, Change, ComplianceDiff
from mlinfra.policy.diff.security import security_changes
from mlinfra.policy.engine import audit_environment
from mlinfra.policy.model import Finding, Rule
from mlinfra.policy.reports import markdown as md
from mlinfra.policy.result import AuditResult
from mlinfra.spec.model import EnvSpec


@dataclass(frozen=True)
class EnvironmentDiff:
    """One environment's (or one pair of environments') findings new and resolved, and the
    security-relevant changes between its two graphs."""

    new: tuple[Finding, ...]
    resolved: tuple[Finding, ...]
    unchanged: int
    changes: tuple[Change, ...]
    base_warnings: tuple[str, ...]  # the base audit's warnings, as `env: warning`
    head_warnings: tuple[str, ...]


def judge(
    base: tuple[EnvSpec, ResourceGraph],
    head: tuple[EnvSpec, ResourceGraph],
    spec_file: str,
    *,
    across_environments: bool = False,
    rules: tuple[Rule, ...] | None = None,
    today: date | None = None,
) -> EnvironmentDiff:
    """Audit both sides and compare them. The same environment at two revisions matches
    findings on their key; two environments (`across_environments`) on the same key without
    the environment (rule, resource and the subject inside it, so that each step of a
    pipeline counts as `--diff` counts it), and compare their graphs with account, region
    and names set aside."""
    (base_spec, base_graph), (head_spec, head_graph) = base, head
    base_result = audit_environment(base_spec, base_graph, spec_file, today=today, rules=rules)
    head_result = audit_environment(head_spec, head_graph, spec_file, today=today, rules=rules)
    key = (lambda f: (f.rule.id, f.address, f.subject)) if across_environments else Finding.key
    added, gone, same = _compare_findings(base_result, head_result, key)
    return EnvironmentDiff(
        tuple(added),
        tuple(gone),
        same,
        security_changes(base_graph, head_graph, normalize=across_environments),
        tuple(f"{base_result.environment}: {w}" for w in base_result.warnings),
        tuple(f"{head_result.environment}: {w}" for w in head_result.warnings),
    )


def combine(
    base_label: str,
    head_label: str,
    environments: tuple[str, ...],
    judged: Iterable[EnvironmentDiff],
    notes: Iterable[str],
    spec_file: str,
) -> ComplianceDiff:
    """The compliance diff of the environments `judged`, with `notes` about the comparison."""
    found_new: list[Finding] = []
    found_resolved: list[Finding] = []
    unchanged = 0
    changes: list[Change] = []
    for each in judged:
        found_new += each.new
        found_resolved += each.resolved
        unchanged += each.unchanged
        changes += each.changes
    return ComplianceDiff(
        base_label=base_label,
        head_label=head_label,
        environments=environments,
        new=tuple(md.ordered(found_new)),
        resolved=tuple(md.ordered(found_resolved)),
        unchanged=unchanged,
        # Weakenings first across every environment: what a reviewer must read.
        changes=tuple(sorted(changes, key=lambda c: (DIRECTION_ORDER[c.direction], c.environment))),
        notes=tuple(dict.fromkeys(notes)),
        spec_file=spec_file,
    )


def _compare_findings(
    base: AuditResult, head: AuditResult, key: Callable[[Finding], tuple]
) -> tuple[list[Finding], list[Finding], int]:
    before = {key(f): f for f in base.active()}
    after = {key(f): f for f in head.active()}
    added = [f for k, f in after.items() if k not in before]
    gone = [f for k, f in before.items() if k not in after]
    return added, gone, len(after.keys() & before.keys())
