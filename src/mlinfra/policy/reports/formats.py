"""Picking a report by its format name, as `mlinfra audit --format` names it."""

from __future__ import annotations

from collections.abc import Sequence

from mlinfra.policy.reports import FORMATS, json, junit, markdown, sarif, text
from mlinfra.policy.result import AuditResult
from mlinfra.policy.severity import Severity


def render(
    fmt: str, results: Sequence[AuditResult], *, fail_on: Severity | None = Severity.HIGH
) -> str:
    """The report of `results` in `fmt`. `fail_on` decides what JUnit counts as failures and
    what the text and JSON summaries count as failing; SARIF and Markdown do not need it."""
    if fmt == "text":
        return text.render(results, fail_on=fail_on)
    if fmt == "json":
        return json.render(results, fail_on=fail_on)
    if fmt == "sarif":
        return sarif.render(results)
    if fmt == "junit":
        return junit.render(results, fail_on=fail_on)
    if fmt == "markdown":
        return markdown.render(list(results))
    raise ValueError(f"no audit report format {fmt!r}; use one of {', '.join(FORMATS)}")
