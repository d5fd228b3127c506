"""The audit for people: a summary first, then the findings by severity, then warnings.

Audit of mlinfra.yaml: 1 environment (dev): 3 findings (1 high, 2 medium), 1 waived

dev: 3 findings (1 high, 2 medium), 1 waived; 30 rules from baseline, sagemaker-security
  HIGH (1)
    mlinfra.yaml:125:20  endpoint-data-capture-encrypted  endpoint.churn-api/config
        Data capture for churn-api is not encrypted with a KMS key
        fix: set `security.kms_key` ...
  MEDIUM (2)
    mlinfra.yaml:21:3  2 findings on this line
      s3-kms-encryption  bucket.artifacts
          bucket.artifacts encrypts objects with AES256, not a KMS key
      s3-kms-encryption  bucket.capture
          bucket.capture encrypts objects with AES256, not a KMS key
          fix: Set `security.kms_key: create` ...
  WAIVED (1)
    ...
  warnings
    mlinfra.yaml:158:7: waiver #1 ... matched no finding in dev: remove it
"""

from __future__ import annotations

import io
from collections.abc import Sequence

from rich.console import Console
from rich.text import Text

from mlinfra.policy.model import Finding
from mlinfra.policy.reports.wording import location_of, plural
from mlinfra.policy.result import AuditResult
from mlinfra.policy.severity import Severity

STYLES = {
    Severity.CRITICAL: "bold red",
    Severity.HIGH: "red",
    Severity.MEDIUM: "yellow",
    Severity.LOW: "cyan",
    Severity.INFO: "dim",
}


def render(results: Sequence[AuditResult], *, fail_on: Severity | None = Severity.HIGH) -> str:
    """The report as plain text (for files)."""
    out = io.StringIO()
    console = Console(file=out, width=10_000, no_color=True, highlight=False, soft_wrap=True)
    console.print(report(results, fail_on=fail_on), end="")
    return out.getvalue()


def report(results: Sequence[AuditResult], *, fail_on: Severity | None = Severity.HIGH) -> Text:
    """The report, styled for a terminal."""
    out = Text()
    spec_files = sorted({r.spec_file for r in results})
    envs = [r.environment for r in results]
    total = _tally(results)
    out.append(f"Audit of {', '.join(spec_files) or 'the spec'}: ", style="bold")
    out.append(
        f"{plural(len(envs), 'environment')}" + (f" ({', '.join(envs)})" if envs else "") + ": "
    )
    out.append_text(_counts(total))
    if fail_on is not None:
        failing = sum(len(r.failing(fail_on)) for r in results)
        if failing:
            out.append(f"; {failing} at or above {fail_on.label}", style="bold red")
    out.append("\n")
    for result in results:
        out.append("\n")
        out.append_text(_environment(result))
    return out


def _tally(results: Sequence[AuditResult]) -> dict[str, int]:
    total: dict[str, int] = {}
    for result in results:
        for key, n in result.summary().items():
            total[key] = total.get(key, 0) + n
    return total


def _counts(summary: dict[str, int]) -> Text:
    out = Text()
    active = summary.get("active", 0)
    if not active:
        out.append("no findings", style="bold green")
    else:
        out.append(plural(active, "finding"), style="bold")
        parts = [
            (f"{summary[s.label]} {s.label}", STYLES[s])
            for s in sorted(Severity, reverse=True)
            if summary.get(s.label)
        ]
        out.append(" (")
        for i, (part, style) in enumerate(parts):
            if i:
                out.append(", ")
            out.append(part, style=style)
        out.append(")")
    if summary.get("waived"):
        out.append(f", {summary['waived']} waived", style="dim")
    return out


def _environment(result: AuditResult) -> Text:
    out = Text()
    summary = result.summary()
    out.append(result.environment, style="bold")
    out.append(": ")
    out.append_text(_counts(summary))
    packs = ", ".join(result.packs) or "no packs"
    out.append(f"; {plural(summary['rules'], 'rule')} from {packs}\n", style="dim")
    active = result.active()
    for severity in sorted(Severity, reverse=True):
        these = [f for f in active if f.severity is severity]
        if not these:
            continue
        out.append(f"  {severity.label.upper()} ({len(these)})\n", style=STYLES[severity])
        out.append_text(_findings(these, result.spec_file))
    waived = result.waived()
    if waived:
        out.append(f"  WAIVED ({len(waived)})\n", style="dim")
        out.append_text(_findings(waived, result.spec_file))
    if result.warnings:
        out.append(f"  {plural(len(result.warnings), 'warning')}\n", style="yellow")
        for warning in result.warnings:
            out.append(f"    warning: {warning}\n", style="yellow")
    return out


def _findings(findings: Sequence[Finding], spec_file: str) -> Text:
    """Findings of one severity (or the waived ones). Those that point at the same line of
    the spec (an environment's settings, say) are listed once under it, by fix and rule, each
    fix said once after the findings it fixes there."""
    out = Text()
    at: dict[str, list[Finding]] = {}
    for finding in findings:
        at.setdefault(location_of(finding, spec_file), []).append(finding)
    for location, these in at.items():
        if len(these) == 1:
            (finding,) = these
            out.append("    ")
            out.append(location, style="bold")
            out.append("  ")
            out.append_text(_finding(finding, "        "))
            if finding.waiver is None:
                out.append(f"        fix: {finding.rule.remediation}\n", style="green")
            continue
        out.append("    ")
        out.append(location, style="bold")
        out.append(f"  {plural(len(these), 'finding')} on this line\n", style="dim")
        # Rules with the same fix (every "no KMS key" rule) are listed together, so it is said
        # once; each rule's findings together within that.
        fixes: dict[str, dict[str, list[Finding]]] = {}
        for finding in these:
            rules = fixes.setdefault(finding.rule.remediation, {})
            rules.setdefault(finding.rule.id, []).append(finding)
        for fix, rules in fixes.items():
            same = [finding for found in rules.values() for finding in found]
            for finding in same:
                out.append("      ")
                out.append_text(_finding(finding, "          "))
            if any(finding.waiver is None for finding in same):
                out.append(f"          fix: {fix}\n", style="green")
    return out


def _finding(finding: Finding, indent: str) -> Text:
    """`rule  address`, then under it (at `indent`) what is wrong and any waiver."""
    out = Text()
    out.append(finding.rule.id, style=STYLES[finding.severity])
    out.append(f"  {finding.address}\n")
    out.append(f"{indent}{finding.message}\n")
    if finding.waiver is not None:
        waiver = finding.waiver
        until = f", until {waiver['expires']}" if waiver.get("expires") else ""
        owner = f" (owner {waiver['owner']}{until})" if waiver.get("owner") else ""
        out.append(f"{indent}waived: {waiver.get('reason', '')}{owner}\n", style="dim")
    return out
