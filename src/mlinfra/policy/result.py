"""What the audit of one environment found: its findings, waived or not, in a stable order.

Findings are sorted by severity (highest first), address, rule id, then source position, so
that every report and diff is stable from run to run. The reports and compliance diffs read
`AuditResult`s only.
"""

from __future__ import annotations

from dataclasses import dataclass

from mlinfra.policy.model import Finding, Rule
from mlinfra.policy.severity import Severity


def finding_order(finding: Finding) -> tuple:
    where = finding.source
    return (
        -finding.severity,
        finding.address,
        finding.rule.id,
        (where.filename, where.start.line, where.start.column) if where else ("", 0, 0),
        finding.message,
    )


@dataclass(frozen=True)
class AuditResult:
    environment: str
    spec_file: str
    packs: tuple[str, ...]
    rules: tuple[Rule, ...]  # the rules applied: those in the environment's packs
    findings: tuple[Finding, ...]  # every finding, waived ones too (finding.waiver set)
    warnings: tuple[str, ...]  # AuditWarning: expired waivers, waivers matching nothing
    # What was checked, as (rule id, resource address) pairs; the address is "" for a rule
    # that judges the environment as a whole. JUnit reports one test case per pair.
    checked: tuple[tuple[str, str], ...] = ()

    def active(self) -> tuple[Finding, ...]:
        """The findings no waiver suppresses, most severe first."""
        return tuple(sorted((f for f in self.findings if not f.waived), key=finding_order))

    def waived(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.waived)

    def failing(self, fail_on: Severity | None) -> tuple[Finding, ...]:
        """The active findings at or above `fail_on` (None: nothing fails)."""
        if fail_on is None:
            return ()
        return tuple(f for f in self.active() if f.severity >= fail_on)

    def summary(self) -> dict[str, int]:
        """Active findings per severity (highest first), then `active`, `waived`, `rules`."""
        counts = {s.label: 0 for s in sorted(Severity, reverse=True)}
        active = self.active()
        for f in active:
            counts[f.severity.label] += 1
        counts["active"] = len(active)
        counts["waived"] = len(self.findings) - len(active)
        counts["rules"] = len(self.rules)
        return counts
