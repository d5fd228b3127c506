"""What every report writes the same way: where a finding is, and counts of things."""

from __future__ import annotations

from mlinfra.policy.model import Finding


def location_of(finding: Finding, spec_file: str) -> str:
    """`file:line:col` of a finding, or the spec file when it has no position."""
    return str(finding.source) if finding.source is not None else spec_file


def plural(count: int, noun: str) -> str:
    """`1 finding`, `2 findings`."""
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"
