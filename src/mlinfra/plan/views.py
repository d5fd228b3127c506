"""Views of a plan: text for people (summary first, `+ ~ -/+ -` markers), JSON for machines
(`schemas/plan.schema.json`) and Markdown for pull request comments.

Each returns a value (a rich `Text`, or a string); the CLI decides where it goes, and rich
drops the colours when the console is not a terminal.
"""

from __future__ import annotations

import json
from typing import Any

from rich.text import Text

from mlinfra.plan.model import CREATE, DELETE, NO_OP, REPLACE, UPDATE, Plan, ResourceChange
from mlinfra.render.outputs import name_property

STYLES = {CREATE: "green", UPDATE: "yellow", REPLACE: "magenta", DELETE: "red", NO_OP: "dim"}
MARKDOWN_ICONS = {CREATE: "➕", UPDATE: "✏️", REPLACE: "♻️", DELETE: "➖"}
VALUE_WIDTH = 72
KNOWN_AFTER_APPLY = "(known after apply)"
LOSES_DATA = "loses data"


def shown(value: Any, width: int = VALUE_WIDTH) -> str:
    """A value as compact JSON, at most `width` characters: a longer one keeps its start and
    its end (what tells names apart is often last) with `…` between. Text made when applying
    reads as the text, with the parts known then in angle brackets (`name-v<latest(...)>`)."""
    text = _json(value)
    return text if len(text) <= width else _elided(text, width)


def shown_change(before: Any, after: Any, width: int = VALUE_WIDTH) -> tuple[str, str]:
    """A value's before and after, each at most `width` characters: when one is longer,
    each shows the part where they differ, with the parts they share elided around it
    (`…model-package/churn-local-churn/1` -> `…model-package/churn-local-churn/2`)."""
    old, new = _json(before), _json(after)
    if len(old) <= width and len(new) <= width:
        return old, new
    prefix = 0
    while prefix < min(len(old), len(new)) and old[prefix] == new[prefix]:
        prefix += 1
    suffix = 0
    while suffix < min(len(old), len(new)) - prefix and old[-1 - suffix] == new[-1 - suffix]:
        suffix += 1
    return _around(old, prefix, suffix, width), _around(new, prefix, suffix, width)


def _json(value: Any) -> str:
    return json.dumps(_readable(value), ensure_ascii=False, separators=(", ", ": "))


def _elided(text: str, width: int) -> str:
    """`text` in `width` characters, its middle replaced by `…`."""
    if width < 2:
        return "…"
    tail = (width - 1) // 2
    return text[: width - 1 - tail] + "…" + (text[-tail:] if tail else "")


def _around(text: str, prefix: int, suffix: int, width: int) -> str:
    """`text` in `width` characters around its part between `prefix` and `suffix` (the
    part that differs), as much shared text either side as fits, `…` where cut."""
    if len(text) <= width:
        return text
    start, end = prefix, len(text) - suffix
    room = width - 2  # an ellipsis at each end, at most
    if end - start >= room:  # the difference alone is too long: the middle goes
        return _elided(text, width)
    spare = room - (end - start)
    before = min(start, spare // 2)
    after = min(len(text) - end, spare - before)
    before = min(start, spare - after)
    start, end = start - before, end + after
    return ("…" if start else "") + text[start:end] + ("…" if end < len(text) else "")


def _readable(value: Any) -> Any:
    if isinstance(value, dict):
        if value.keys() == {"concat"} and isinstance(value["concat"], list):
            return "".join(_part(p) for p in value["concat"])
        if value.keys() == {"args", "fields"}:  # a typed nested input: its fields are the value
            return _readable(value["fields"])
        return {k: _readable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_readable(v) for v in value]
    return value


def _part(part: Any) -> str:
    if isinstance(part, str):
        return f"<{part[4:]}>" if part.startswith("ref:") else part
    if isinstance(part, dict) and part.keys() == {"call", "args"}:
        return f"<{part['call']}({', '.join(str(a) for a in part['args'])})>"
    found = _readable(part)
    return found if isinstance(found, str) else f"<{json.dumps(found)}>"


def change_lines(change: ResourceChange) -> list[str]:
    """The lines under a change's heading: why, what changes, where in the spec."""
    lines = []
    name_key = name_property(change.type)
    if change.action == CREATE and isinstance(change.after, dict) and name_key in change.after:
        lines.append(f"{name_key}: {shown(change.after[name_key])}")
    if change.waiting:
        lines.append(f"waiting: {change.waiting}")
    if change.reason:
        lines.append(f"{'replaced' if change.action == REPLACE else 'because'}: {change.reason}")
    if change.loses_data:
        lines.append(f"{LOSES_DATA}: {change.loses_data}")
    for item in change.changed:
        if item.known_after_apply:
            before, after = shown(item.before), KNOWN_AFTER_APPLY
        else:
            before, after = shown_change(item.before, item.after)
        lines.append(f"{item.path}: {before} -> {after}")
    if change.source:
        lines.append(f"at {change.source}")
    return lines


def to_text(plan: Plan) -> Text:
    """The human view; `.plain` is the same without colours."""
    out = Text()
    if not plan.has_changes:
        out.append("No changes. ", style="bold green")
        out.append(
            f"{plan.project} {plan.environment} matches the spec "
            f"({len(plan.changes)} resource(s)).\n"
        )
    else:
        out.append(plan.summary() + "\n", style="bold")
        losing = len(plan.losing_data)
        if losing:
            verb = "deletes" if losing == 1 else "delete"
            out.append(
                f"{losing} of them {verb} data (see `{LOSES_DATA}:`), which cannot be undone\n",
                style="bold red",
            )
        waiting = sum(1 for c in plan.changes if c.waiting)
        if waiting:
            out.append(
                f"{waiting} of them wait for a value that does not exist yet (see `waiting:`); "
                "apply makes the others\n",
                style="yellow",
            )
        width = max(len(c.marker) for c in plan.changes)
        for change in plan.changes:
            if change.action == NO_OP:
                continue
            style = STYLES[change.action]
            out.append("\n")
            out.append(f"  {change.marker:>{width}} {change.address}", style=f"bold {style}")
            out.append(f"  ({change.type})\n", style="dim")
            indent = " " * (width + 7)
            for line in change_lines(change):
                out.append(f"{indent}{line}\n", style="dim" if line.startswith("at ") else "")
    _append_drift(out, plan)
    _append_refused(out, plan)
    return out


def _append_drift(out: Text, plan: Plan) -> None:
    if not plan.resource_drift:
        return
    out.append(f"\nDrift: {len(plan.resource_drift)} resource(s) changed outside mlinfra\n")
    for change in plan.resource_drift:
        what = "deleted" if change.action == DELETE else "changed"
        out.append(f"  ! {change.address} {what}\n", style="yellow")
        for line in change_lines(change):
            out.append(f"      {line}\n")


def _append_refused(out: Text, plan: Plan) -> None:
    if not plan.refused:
        return
    out.append(
        f"\nRefused: {len(plan.refused)} change(s) would lose data; this plan cannot be applied\n",
        style="bold red",
    )
    for refusal in plan.refused:
        out.append(f"  {refusal.reason}\n", style="red")


def to_json(plan: Plan) -> str:
    """The JSON view: `schemas/plan.schema.json`, also the format of saved plans."""
    return json.dumps(plan.to_json(), indent=2, ensure_ascii=False) + "\n"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def to_markdown(plan: Plan) -> str:
    """A pull request comment: the summary, a table of changes, the details folded."""
    lines = [f"### mlinfra plan: `{plan.project}` / `{plan.environment}`", ""]
    if not plan.has_changes:
        lines.append(
            f"**No changes.** The environment matches the spec ({len(plan.changes)} resource(s))."
        )
    else:
        lines += [f"**{plan.summary()}**", "", "| | Resource | Type | Changes |"]
        lines.append("|---|---|---|---|")
        for change in plan.changes:
            if change.action == NO_OP:
                continue
            what = ", ".join(f"`{c.path}`" for c in change.changed)
            if change.reason:
                what = f"{what} ({change.reason})" if what else change.reason
            if change.waiting:
                what = f"{what} **waiting:** {change.waiting}".strip()
            if change.loses_data:
                what = f"{what} **{LOSES_DATA}:** {change.loses_data}".strip()
            lines.append(
                f"| {MARKDOWN_ICONS[change.action]} {change.action} | `{change.address}` | "
                f"`{change.type}` | {_cell(what)} |"
            )
        lines += ["", "<details><summary>Details</summary>", "", "```diff"]
        for change in plan.changes:
            if change.action == NO_OP:
                continue
            # `diff` highlighting colours lines by their first character.
            first = {CREATE: "+", DELETE: "-", REPLACE: "-", UPDATE: "!"}[change.action]
            lines.append(f"{first} {change.marker} {change.address} ({change.type})")
            lines += [f"      {line}" for line in change_lines(change)]
        lines += ["```", "", "</details>"]
    if plan.resource_drift:
        lines += ["", f"**Drift:** {len(plan.resource_drift)} resource(s) changed outside mlinfra:"]
        lines += [f"- `{c.address}` ({c.action})" for c in plan.resource_drift]
    if plan.losing_data and not plan.refused:
        lines += ["", "> [!WARNING]", "> Applying this plan deletes data:"]
        lines += [f"> - `{c.address}`: {_cell(c.loses_data or '')}" for c in plan.losing_data]
    if plan.refused:
        lines += ["", "> [!CAUTION]", "> This plan cannot be applied: it would lose data."]
        lines += [f"> - {_cell(r.reason)}" for r in plan.refused]
    return "\n".join(lines) + "\n"
