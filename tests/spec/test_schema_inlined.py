"""The schema with its `$ref`s inlined (what the validator runs) finds, fills and says exactly
what the schema as written does."""

from __future__ import annotations

import sys
from pathlib import Path
from unittest import mock

import pytest
from hypothesis import HealthCheck, given, settings

from mlinfra.spec import schema
from mlinfra.spec.defaults import DefaultFillingValidator
from mlinfra.syntax.loader import parse_text

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from spec_mutations import REFERENCE_TEXT, mutated_specs, tweaked_specs  # noqa: E402

FIXTURES = sorted((Path(__file__).resolve().parents[1] / "fixtures").rglob("*.yaml"))


def as_written() -> DefaultFillingValidator:
    return DefaultFillingValidator(schema.load_schema())


def both(text: str):
    root = parse_text(text, "mlinfra.yaml")[0].root
    inlined = schema.validate(root, "mlinfra.yaml")
    with mock.patch.object(schema, "_validator", as_written):
        written = schema.validate(root, "mlinfra.yaml")
    return inlined, written


def test_inlining_leaves_no_reference_it_could_replace() -> None:
    inlined = schema.inline_refs(schema.load_schema())
    text = str({k: v for k, v in inlined.items() if k != "$defs"})
    assert text.count("'$ref'") <= 2  # the ones beside keywords of their own stay
    assert inlined["$defs"].keys() == schema.load_schema()["$defs"].keys()


def test_the_reference_spec_fills_the_same_defaults() -> None:
    (data, found), (expected, expected_found) = both(REFERENCE_TEXT)
    assert found == expected_found == []
    assert data == expected


@pytest.mark.parametrize("path", FIXTURES, ids=lambda p: p.name)
def test_fixtures_get_the_same_diagnostics_and_defaults(path: Path) -> None:
    inlined, written = both(path.read_text(encoding="utf-8"))
    assert inlined == written


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated_specs())
def test_mutated_specs_get_the_same_diagnostics_and_defaults(text: str) -> None:
    inlined, written = both(text)
    assert inlined == written


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tweaked_specs())
def test_tweaked_specs_get_the_same_diagnostics_and_defaults(text: str) -> None:
    inlined, written = both(text)
    assert inlined == written
