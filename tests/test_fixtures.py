"""Fixture specs, named by outcome, with the expected diagnostics written on their lines.

A line ending in `# error[CODE]` (or `warning[CODE]`, several allowed) must get exactly that
diagnostic; no other line may get one. `valid/` files must be valid with no diagnostics at
all, `warning/` files valid with only the marked warnings, `invalid/` files invalid.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from mlinfra.spec.validate import validate_file

FIXTURES = Path(__file__).parent / "fixtures"
MARK = re.compile(r"\b(error|warning)\[([a-z0-9-]+)\]")


def expected(path: Path) -> set[tuple[int, str, str]]:
    found = set()
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        if "#" in line:
            comment = line[line.index("#") :]
            found |= {(number, sev, code) for sev, code in MARK.findall(comment)}
    return found


def cases(outcome: str) -> list[Path]:
    return sorted((FIXTURES / outcome).glob("*.yaml"))


def actual(path: Path) -> set[tuple[int, str, str]]:
    result = validate_file(path)
    return {
        (d.range.start.line if d.range else 0, d.severity.value, d.code) for d in result.diagnostics
    }


@pytest.mark.parametrize("path", cases("valid"), ids=lambda p: p.stem)
def test_valid_fixture_has_no_diagnostics(path: Path) -> None:
    result = validate_file(path)
    assert result.ok
    assert [str(d) for d in result.diagnostics] == []


@pytest.mark.parametrize("path", cases("warning"), ids=lambda p: p.stem)
def test_warning_fixture_gets_exactly_the_marked_warnings(path: Path) -> None:
    result = validate_file(path)
    assert result.ok
    assert actual(path) == expected(path)


@pytest.mark.parametrize("path", cases("invalid"), ids=lambda p: p.stem)
def test_invalid_fixture_gets_exactly_the_marked_diagnostics(path: Path) -> None:
    marked = expected(path)
    assert marked, f"{path.name} marks no expected diagnostic"
    assert not validate_file(path).ok
    assert actual(path) == marked
