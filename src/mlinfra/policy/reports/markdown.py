"""The audit as Markdown: a summary per environment, then its findings, waivers and warnings.

Made to be pasted where Markdown renders (a pull request comment, a job summary): every piece
of user text goes through `cell` or `code`, so a `|`, a newline, a backtick or HTML in a
message cannot break a table or inject markup. The compliance diff's Markdown reuses these.
"""

from __future__ import annotations

import html
from collections import Counter
from collections.abc import Iterable, Sequence

from mlinfra.policy.model import Finding
from mlinfra.policy.reports.wording import plural
from mlinfra.policy.result import AuditResult

# Lists longer than this fold into a `<details>` block, so a long report stays skimmable.
COLLAPSE_AFTER = 10

_MARKDOWN_SPECIALS = str.maketrans(
    {"|": r"\|", "`": r"\`", "[": r"\[", "]": r"\]", "*": r"\*", "_": r"\_", "\\": "\\\\"}
)


def cell(text: object) -> str:
    """User text made safe for one Markdown table cell: no HTML, no table breaks."""
    escaped = html.escape(str(text).strip(), quote=False).translate(_MARKDOWN_SPECIALS)
    return "<br>".join(escaped.splitlines()) if escaped else ""


def code(text: object) -> str:
    """`text` as inline code when that is safe, else as an escaped plain cell."""
    text = str(text)
    if not text or any(c in text for c in "`|\r\n<>&"):
        return cell(text)
    return f"`{text}`"


def table(headers: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    """A GitHub-flavoured table; the cells must already be escaped."""
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def folded(summary: str, body: str, count: int) -> str:
    """`body` as is, or inside a collapsed `<details>` when it lists many items."""
    if count <= COLLAPSE_AFTER:
        return body
    return f"<details>\n<summary>{summary}</summary>\n\n{body}\n\n</details>"


def by_severity(findings: Iterable[Finding]) -> str:
    """`1 high, 2 medium`: the count at each severity present, most severe first."""
    tally = Counter(f.severity for f in findings)
    return ", ".join(f"{tally[s]} {s.label}" for s in sorted(tally, reverse=True))


def spec_line(finding: Finding) -> str:
    where = finding.source
    return code(f"{where.filename}:{where.start.line}") if where else ""


def ordered(findings: Iterable[Finding]) -> list[Finding]:
    """Most severe first, then by environment, resource and rule: a stable order to read."""
    return sorted(
        findings, key=lambda f: (-int(f.severity), f.environment, f.address, f.rule.id, f.message)
    )


def finding_rows(findings: Iterable[Finding], environments: bool = False) -> list[list[str]]:
    rows = []
    for f in ordered(findings):
        row = [f"**{f.severity.label}**", code(f.rule.id)]
        if environments:
            row.append(code(f.environment))
        row += [code(f.address), spec_line(f), cell(f.message)]
        rows.append(row)
    return rows


def finding_headers(environments: bool = False) -> list[str]:
    head = ["Severity", "Rule"] + (["Environment"] if environments else [])
    return head + ["Resource", "Spec line", "Message"]


def _waiver_rows(findings: Iterable[Finding]) -> list[list[str]]:
    rows = []
    for f in ordered(findings):
        waiver = f.waiver or {}
        rows.append(
            [
                f.severity.label,
                code(f.rule.id),
                code(f.address),
                cell(waiver.get("reason", "")),
                cell(waiver.get("owner", "")),
                cell(waiver.get("expires", "")),
            ]
        )
    return rows


def _environment(result: AuditResult) -> str:
    active = result.active()
    waived = [f for f in result.findings if f.waived]
    title = f"### mlinfra audit: {code(result.environment)}"
    if result.spec_file:
        title += f" ({code(result.spec_file)})"
    if active:
        summary = f"**{plural(len(active), 'finding')} ({by_severity(active)})**"
    else:
        summary = "**No findings**"
    if waived:
        summary += f", {len(waived)} waived"
    packs = ", ".join(result.packs) or "none"
    summary += f" · {plural(len(result.rules), 'rule')} from packs {cell(packs)}"
    parts = [title, summary]
    if active:
        body = table(finding_headers(), finding_rows(active))
        parts.append(folded(plural(len(active), "finding"), body, len(active)))
    if waived:
        body = table(
            ["Severity", "Rule", "Resource", "Reason", "Owner", "Expires"], _waiver_rows(waived)
        )
        parts.append(
            f"<details>\n<summary>{plural(len(waived), 'waived finding')}</summary>\n\n"
            f"{body}\n\n</details>"
        )
    if result.warnings:
        parts.append("**Warnings**\n\n" + "\n".join(f"- {cell(w)}" for w in result.warnings))
    return "\n\n".join(parts)


def render(results: list[AuditResult]) -> str:
    """Each environment's audit, summary first, as one Markdown document."""
    if not results:
        return "### mlinfra audit\n\nNo environments audited.\n"
    return "\n\n".join(_environment(r) for r in results) + "\n"
