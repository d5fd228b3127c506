"""Diagnostics: the values every stage returns beside its result.

A diagnostic names a place in the user's file (a `SourceRange`), a stable code, a one-line
summary, and optionally a detail and a suggestion. Stages collect them; only the CLI prints.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field, replace


@dataclass(frozen=True, order=True)
class Position:
    """A point in a file: 1-based line and column, 0-based character offset."""

    line: int
    column: int
    offset: int = 0


@dataclass(frozen=True, order=True)
class SourceRange:
    """The stretch of a file that a node, finding or change came from."""

    filename: str
    start: Position
    end: Position

    def __str__(self) -> str:
        return f"{self.filename}:{self.start.line}:{self.start.column}"

    def to_json(self) -> dict:
        return {
            "filename": self.filename,
            "start": {"line": self.start.line, "column": self.start.column},
            "end": {"line": self.end.line, "column": self.end.column},
        }


class Severity(enum.Enum):
    ERROR = "error"
    WARNING = "warning"
    INFO = "info"


@dataclass(frozen=True)
class Diagnostic:
    """One problem (or remark) about the user's input, tied to where it is."""

    severity: Severity
    code: str
    summary: str
    range: SourceRange | None = None
    detail: str | None = None
    suggestion: str | None = None
    # Environments in which the problem appears, when it depends on the environment.
    environments: tuple[str, ...] = field(default=())

    @property
    def is_error(self) -> bool:
        return self.severity is Severity.ERROR

    def in_environment(self, env: str) -> Diagnostic:
        return replace(self, environments=(env,))

    def sort_key(self) -> tuple:
        where = self.range
        return (
            where.filename if where else "",
            where.start.line if where else 0,
            where.start.column if where else 0,
            self.code,
            self.summary,
        )

    def to_json(self) -> dict:
        return {
            "severity": self.severity.value,
            "code": self.code,
            "summary": self.summary,
            "detail": self.detail,
            "suggestion": self.suggestion,
            "range": self.range.to_json() if self.range else None,
            "environments": list(self.environments),
        }


def error(code: str, summary: str, where: SourceRange | None = None, **kw) -> Diagnostic:
    return Diagnostic(Severity.ERROR, code, summary, where, **kw)


def warning(code: str, summary: str, where: SourceRange | None = None, **kw) -> Diagnostic:
    return Diagnostic(Severity.WARNING, code, summary, where, **kw)


def has_errors(diagnostics: list[Diagnostic] | tuple[Diagnostic, ...]) -> bool:
    return any(d.is_error for d in diagnostics)


def merge_environments(
    diagnostics: list[Diagnostic], everywhere: tuple[str, ...] = ()
) -> list[Diagnostic]:
    """Collapse the same problem found in several environments into one diagnostic.

    Checks run once per resolved environment, so a fault in the defaults would otherwise be
    reported once for every environment. One found in all of `everywhere` names none.
    """
    merged: dict[tuple, Diagnostic] = {}
    for d in diagnostics:
        key = (d.severity, d.code, d.summary, d.range, d.detail, d.suggestion)
        seen = merged.get(key)
        if seen is None:
            merged[key] = d
        elif seen.environments and d.environments:
            envs = tuple(dict.fromkeys(seen.environments + d.environments))
            merged[key] = replace(seen, environments=envs)
        else:
            # Found once without an environment: it does not depend on one.
            merged[key] = replace(seen, environments=())
    result = [
        replace(d, environments=()) if everywhere and set(d.environments) >= set(everywhere) else d
        for d in merged.values()
    ]
    return sorted(result, key=Diagnostic.sort_key)
