"""How diagnostics look: `path:line:col: error[CODE]: message` with an excerpt, or JSON.

Text is built from rich `Text` objects, never markup strings, so the user's own text (which
may contain `[brackets]`) is shown as written.
"""

from __future__ import annotations

import json

from rich.console import Console
from rich.text import Text

from mlinfra.diagnostics import Diagnostic, Severity

STYLE = {Severity.ERROR: "bold red", Severity.WARNING: "bold yellow", Severity.INFO: "bold blue"}
FORMAT_VERSION = "1"


def excerpt(diagnostic: Diagnostic, text: str | None) -> list[Text]:
    """The offending line with a caret under the range (one line only)."""
    where = diagnostic.range
    if where is None or text is None:
        return []
    lines = text.splitlines()
    if not 1 <= where.start.line <= len(lines):
        return []
    line = lines[where.start.line - 1].expandtabs(1)
    number = str(where.start.line)
    gutter = " " * len(number)
    start = max(where.start.column, 1)
    if where.end.line == where.start.line and where.end.column > start:
        width = where.end.column - start
    elif where.end == where.start:
        width = 1
    else:
        width = max(len(line.rstrip()) - start + 1, 1)
    caret = Text(f" {gutter} | ", style="blue")
    caret.append(" " * (start - 1) + "^" * width, style=STYLE[diagnostic.severity])
    shown = Text(f" {number} | ", style="blue")
    shown.append(line)
    return [shown, caret]


def render_text(diagnostic: Diagnostic, text: str | None) -> Text:
    out = Text()
    if diagnostic.range is not None:
        out.append(f"{diagnostic.range}: ", style="bold")
    out.append(f"{diagnostic.severity.value}[{diagnostic.code}]", style=STYLE[diagnostic.severity])
    out.append(f": {diagnostic.summary}")
    for line in excerpt(diagnostic, text):
        out.append("\n")
        out.append_text(line)
    notes = []
    if diagnostic.environments:
        notes.append(("in environment", ", ".join(diagnostic.environments)))
    if diagnostic.detail:
        notes.append(("note", diagnostic.detail))
    if diagnostic.suggestion:
        notes.append(("help", diagnostic.suggestion))
    for label, note in notes:
        out.append(f"\n   = {label}: ", style="bold")
        out.append(note)
    return out


def print_text(console: Console, diagnostics: list[Diagnostic], text: str | None) -> None:
    for diagnostic in diagnostics:
        console.print(render_text(diagnostic, text), soft_wrap=True)
        console.print()


def counts(diagnostics: list[Diagnostic]) -> dict[str, int]:
    return {
        "errors": sum(d.severity is Severity.ERROR for d in diagnostics),
        "warnings": sum(d.severity is Severity.WARNING for d in diagnostics),
    }


def to_json(diagnostics: list[Diagnostic], valid: bool, **extra) -> str:
    return json.dumps(
        {
            "format_version": FORMAT_VERSION,
            "valid": valid,
            **extra,
            **counts(diagnostics),
            "diagnostics": [d.to_json() for d in diagnostics],
        },
        indent=2,
    )
