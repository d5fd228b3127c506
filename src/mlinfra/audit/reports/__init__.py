"""The audit's reports: one module per format, each `render(results, ...) -> str`.

`text` is for people at a terminal, `json` for scripts (a versioned shape), `sarif` for code
scanning (GitHub), `junit` for CI test views, `markdown` for pull requests. They only read
`AuditResult`s; the CLI picks one with `render(fmt, results, fail_on=...)`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from mlinfra.audit.model import Severity

if TYPE_CHECKING:
    from mlinfra.audit.engine import AuditResult

FORMATS = ("text", "json", "sarif", "junit", "markdown")


def render(
    fmt: str, results: Sequence[AuditResult], *, fail_on: Severity | None = Severity.HIGH
) -> str:
    """The report of `results` in `fmt`. `fail_on` decides what JUnit counts as failures and
    what the text and JSON summaries count as failing; SARIF and Markdown do not need it."""
    if fmt == "text":
        from mlinfra.audit.reports import text

        return text.render(results, fail_on=fail_on)
    if fmt == "json":
        from mlinfra.audit.reports import json

        return json.render(results, fail_on=fail_on)
    if fmt == "sarif":
        from mlinfra.audit.reports import sarif

        return sarif.render(results)
    if fmt == "junit":
        from mlinfra.audit.reports import junit

        return junit.render(results, fail_on=fail_on)
    if fmt == "markdown":
        from mlinfra.audit.reports import markdown

        return markdown.render(list(results))
    raise ValueError(f"no audit report format {fmt!r}; use one of {', '.join(FORMATS)}")


def location_of(finding, spec_file: str) -> str:
    """`file:line:col` of a finding, or the spec file when it has no position."""
    return str(finding.source) if finding.source is not None else spec_file


def plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"
