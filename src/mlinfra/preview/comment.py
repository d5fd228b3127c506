"""A preview's pull request comment: the summary first, then the plan, then the audit findings
the branch adds or resolves against the revision it forked from.

The comment is a pure function of its inputs (no clock, no paths of the machine), so the same
branch and state give the same text, and CI can update one comment in place: it ends with a
hidden marker naming the preview.
"""

from __future__ import annotations

from dataclasses import dataclass

from mlinfra.plan.model import Plan
from mlinfra.plan.views import to_markdown
from mlinfra.policy.diff.views import table_of_findings
from mlinfra.policy.reports import markdown as md
from mlinfra.spec.model import EnvSpec
from mlinfra.state.model import State

MARKER = "<!-- mlinfra-preview: {env} -->"


@dataclass(frozen=True)
class AuditComparison:
    """The audit of the base environment at the fork point against the branch: findings new
    and resolved, or why there is no comparison (`note`); made by
    `mlinfra.operations.preview.audit_comparison`."""

    against: str = ""  # "main (3f2a1b0)"
    new: tuple = ()  # mlinfra.policy.model.Finding
    resolved: tuple = ()
    note: str | None = None

    @property
    def done(self) -> bool:
        return self.note is None


def _expiry(spec: EnvSpec, state: State) -> str:
    ttl = spec.previews.ttl if spec.previews is not None else None
    recorded = state.preview.expires_at if state.preview is not None else None
    if recorded:
        return f"`{recorded}` (each `preview up` extends it by {ttl})"
    return f"{ttl} after `preview up`" if ttl else "never (no `previews.ttl`)"


def comment(
    plan: Plan,
    spec: EnvSpec,
    branch: str,
    state: State,
    audit: AuditComparison,
    selection=None,
) -> str:
    """The comment; `selection` (a changed-only preview's) says what is built and deferred."""
    summary = f"**{plan.summary()}**" if plan.has_changes else "**No changes.**"
    if audit.done:
        summary += (
            f" · **Audit: {md.plural(len(audit.new), 'new finding')}"
            + (f" ({md.by_severity(audit.new)})" if audit.new else "")
            + f", {len(audit.resolved)} resolved**"
        )
    lines = [
        f"## mlinfra preview {md.code(spec.env)}",
        "",
        summary,
        "",
        "| | |",
        "|---|---|",
        f"| Branch | {md.code(branch)} |",
        f"| Based on | {md.code(spec.base)} (target {spec.target}, region {spec.region}) |",
        f"| Resources now | {len(state.resources)} |",
        f"| Expires | {_expiry(spec, state)} |",
    ]
    if selection is not None:
        built = ", ".join(md.code(a) for a in selection.changed) or "nothing"
        used = ", ".join(md.code(a) for a in selection.deferred) or "nothing"
        own = ""
        if selection.own:
            own = (
                f"; has its own {', '.join(md.code(a) for a in selection.own)}, "
                "which what it builds writes into"
            )
        lines += [
            f"| Changed-only, against {md.code(selection.against)} | builds {built}; "
            f"uses {md.code(spec.base)}'s {used}{own} |"
        ]
    lines += [
        "",
        to_markdown(plan).rstrip("\n"),
        "",
    ]
    lines += _audit_lines(audit, spec)
    while lines[-1] == "":
        lines.pop()
    lines += ["", MARKER.format(env=spec.env)]
    return "\n".join(lines) + "\n"


def _audit_lines(audit: AuditComparison, spec: EnvSpec) -> list[str]:
    if not audit.done:
        return ["### Audit", "", f"_Not compared: {md.cell(audit.note)}._"]
    lines = [f"### Audit of {md.code(spec.base)}: this branch against {audit.against}", ""]
    if not audit.new and not audit.resolved:
        return lines + ["This branch adds no finding and resolves none."]
    if audit.new:
        lines += ["#### Findings this branch adds", "", table_of_findings(audit.new, False), ""]
    if audit.resolved:
        lines += ["#### Findings this branch resolves", ""]
        lines += [table_of_findings(audit.resolved, False), ""]
    return lines
