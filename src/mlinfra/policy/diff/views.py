"""The compliance diff as text for a terminal, JSON for scripts, or Markdown for a pull
request (whose tables `preview`'s comment reuses)."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable

from mlinfra.diagnostics import SourceRange
from mlinfra.policy.diff.model import DIRECTIONS, ComplianceDiff
from mlinfra.policy.errors import AuditError
from mlinfra.policy.model import Finding
from mlinfra.policy.reports import markdown as md

# Bump when the JSON shape changes incompatibly; readers check it.
FORMAT_VERSION = 1
FORMATS = ("text", "json", "markdown")


def render_diff(diff: ComplianceDiff, fmt: str) -> str:
    """The diff as `text`, `json` or `markdown` (a pull request comment)."""
    if fmt == "text":
        return _text(diff)
    if fmt == "json":
        return json.dumps(to_json(diff), indent=2) + "\n"
    if fmt == "markdown":
        return _markdown(diff)
    raise AuditError(f"the compliance diff has no {fmt!r} format: use one of {', '.join(FORMATS)}")


def _finding_json(f: Finding) -> dict:
    return {
        "rule": f.rule.id,
        "title": f.rule.title,
        "severity": f.severity.label,
        "environment": f.environment,
        "address": f.address,
        "component": f.component,
        "message": f.message,
        "source": f.source.to_json() if f.source else None,
    }


def to_json(diff: ComplianceDiff) -> dict:
    """The diff as plain JSON data; `format_version` changes when the shape does.

    {"format_version": 1, "kind": "compliance-diff", "spec_file", "base", "head",
     "environments": [...],
     "summary": {"new", "new_by_severity": {"high": 1, ...}, "resolved", "unchanged",
                 "changes", "weakened", "strengthened", "changed"},
     "new" / "resolved": [{"rule", "title", "severity", "environment", "address",
                           "component", "message", "source": {"filename", "start": {"line",
                           "column"}, "end": {...}} | null}],
     "changes": [{"environment", "address", "component", "category", "direction",
                  "summary", "before", "after", "source"}],
     "notes": [...]}

    `before`/`after` are the values as plain JSON, references spelled `ref:<address>.<attr>`
    and other markers as `canonical` writes them; null when absent on that side.
    """
    directions = Counter(c.direction for c in diff.changes)
    return {
        "format_version": FORMAT_VERSION,
        "kind": "compliance-diff",
        "spec_file": diff.spec_file,
        "base": diff.base_label,
        "head": diff.head_label,
        "environments": list(diff.environments),
        "summary": {
            "new": len(diff.new),
            "new_by_severity": dict(Counter(f.severity.label for f in diff.new)),
            "resolved": len(diff.resolved),
            "unchanged": diff.unchanged,
            "changes": len(diff.changes),
            **{d: directions[d] for d in DIRECTIONS},
        },
        "new": [_finding_json(f) for f in diff.new],
        "resolved": [_finding_json(f) for f in diff.resolved],
        "changes": [c.to_json() for c in diff.changes],
        "notes": list(diff.notes),
    }


def _where(source: SourceRange | None) -> str:
    return f"{source.filename}:{source.start.line}" if source else "-"


def _title(diff: ComplianceDiff) -> str:
    return f"{diff.base_label} → {diff.head_label}"


def _text(diff: ComplianceDiff) -> str:
    lines = [
        f"Compliance diff {_title(diff)} ({', '.join(diff.environments)})",
        diff.summary() + f"; {diff.unchanged} unchanged",
    ]
    for heading, findings in (("New findings", diff.new), ("Resolved findings", diff.resolved)):
        if findings:
            lines += ["", f"{heading}:"]
            for f in findings:
                lines.append(
                    f"  {f.severity.label.upper():8} {f.rule.id}  {f.environment}  {f.address}  "
                    f"{_where(f.source)}"
                )
                lines.append(f"           {f.message}")
    if diff.changes:
        lines += ["", "Security-relevant changes:"]
        for c in diff.changes:
            lines.append(f"  {c.direction:12} {c.category:17} {c.environment}  {_where(c.source)}")
            lines.append(f"           {c.summary}")
    if diff.notes:
        lines += ["", "Notes:"] + [f"  - {n}" for n in diff.notes]
    return "\n".join(lines) + "\n"


def _markdown(diff: ComplianceDiff) -> str:
    many = len(set(diff.environments)) > 1
    parts = [
        f"### mlinfra compliance: {md.code(diff.base_label)} → {md.code(diff.head_label)}",
        f"**{md.cell(diff.summary())}**"
        + f" · {diff.unchanged} unchanged · environments: {md.cell(', '.join(diff.environments))}",
    ]
    if diff.new:
        body = table_of_findings(diff.new, many)
        parts += [
            "#### New findings",
            md.folded(md.plural(len(diff.new), "new finding"), body, len(diff.new)),
        ]
    if diff.resolved:
        body = table_of_findings(diff.resolved, many)
        parts += [
            "#### Resolved findings",
            md.folded(md.plural(len(diff.resolved), "resolved finding"), body, len(diff.resolved)),
        ]
    if diff.changes:
        headers = (
            ["Direction", "Category"]
            + (["Environment"] if many else [])
            + ["Resource", "Spec line", "Change"]
        )
        rows = []
        for c in diff.changes:
            row = [f"**{c.direction}**" if c.direction == "weakened" else c.direction, c.category]
            if many:
                row.append(md.code(c.environment))
            row += [
                md.code(c.address),
                md.code(_where(c.source)) if c.source else "",
                md.cell(c.summary),
            ]
            rows.append(row)
        body = md.table(headers, rows)
        parts += [
            "#### Security-relevant changes",
            md.folded(
                md.plural(len(diff.changes), "security-relevant change"), body, len(diff.changes)
            ),
        ]
    if diff.notes:
        parts.append("**Notes**\n\n" + "\n".join(f"- {md.cell(n)}" for n in diff.notes))
    return "\n\n".join(parts) + "\n"


def table_of_findings(findings: Iterable[Finding], environments: bool) -> str:
    return md.table(md.finding_headers(environments), md.finding_rows(findings, environments))
