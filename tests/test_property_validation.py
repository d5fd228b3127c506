"""Property tests: whatever is done to the reference spec, validation answers with diagnostics.

Two kinds of damage are applied to `examples/churn/mlinfra.yaml` (`spec_mutations`):
structural mutations of its data, serialised back with `yaml.safe_dump`; and raw edits of its
text (and bytes). Either way `validate_text` must not
raise, and must end valid with no errors or with at least one error carrying a code and, when
it has a range, a line inside the text.
"""

from __future__ import annotations

import re

import yaml
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from mlinfra.diagnostics import Diagnostic
from mlinfra.spec.validate import Validation, validate_text
from mlinfra.syntax.loader import parse_bytes
from spec_mutations import (
    CHURN,
    REFERENCE,
    REFERENCE_TEXT,
    dumped_with,
    edited_texts,
    mutated_specs,
)

CODE = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")

SETTINGS = settings(
    max_examples=250,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    derandomize=False,
)


@st.composite
def edited_bytes(draw) -> bytes:
    data = REFERENCE_TEXT.encode("utf-8")
    for _ in range(draw(st.integers(1, 3))):
        where = draw(st.integers(0, len(data)))
        junk = draw(
            st.one_of(
                st.binary(min_size=1, max_size=4),
                st.sampled_from([b"\xff", b"\xc3", b"\xed\xa0\x80", b"\xef\xbb\xbf", b"\x00"]),
            )
        )
        data = data[:where] + junk + data[where:]
    return data


# --- the property -------------------------------------------------------------------------


# Line breaks as libyaml counts them (YAML 1.1): besides \n and \r\n, a lone \r, NEL and the
# Unicode line and paragraph separators start a new line too (so does `str.splitlines`).
LINE_BREAK = re.compile("\r\n|[\n\r\x85\u2028\u2029]")


def _line_count(text: str) -> int:
    # A range may sit at the very end of the file, one line past its last line break.
    return len(LINE_BREAK.findall(text)) + 1


def _check_diagnostic(d: Diagnostic, text: str) -> None:
    assert isinstance(d.code, str) and CODE.match(d.code), d
    assert d.summary, d
    if d.range is not None:
        assert 1 <= d.range.start.line <= _line_count(text), (d, _line_count(text))
        assert d.range.start.column >= 1, d


def _check_outcome(result: Validation, text: str) -> None:
    errors = [d for d in result.diagnostics if d.is_error]
    if result.ok:
        assert errors == []
    else:
        assert errors, "invalid without an error diagnostic"
    for d in result.diagnostics:
        _check_diagnostic(d, text)


@SETTINGS
@given(mutated_specs())
@example(REFERENCE_TEXT)
@example(yaml.safe_dump(REFERENCE, sort_keys=False))
# Regression: a file name longer than the file system allows made Path.exists() raise OSError.
@example(dumped_with(("feature_stores", "customers", "source"), "x" * 5000))
def test_mutated_spec_data_validates_to_ok_or_located_errors(text: str) -> None:
    _check_outcome(validate_text(text, "mlinfra.yaml", spec_dir=CHURN), text)


@SETTINGS
@given(edited_texts())
# Regressions: a syntax error at the end of a text without a final newline was put on a line
# past the last; explicitly tagged scalars made PyYAML raise KeyError, IndexError and
# AttributeError out of the loader.
@example(REFERENCE_TEXT + "[")
@example(REFERENCE_TEXT.replace("min: 1", "min: !!bool x"))
@example(REFERENCE_TEXT.replace("min: 1", 'min: !!int ""'))
@example(REFERENCE_TEXT.replace("min: 1", "min: !!timestamp x"))
def test_edited_spec_text_validates_to_ok_or_located_errors(text: str) -> None:
    _check_outcome(validate_text(text, "mlinfra.yaml", spec_dir=CHURN), text)


@settings(SETTINGS, max_examples=120)
@given(edited_bytes())
@example(b"\xef\xbb\xbf" + REFERENCE_TEXT.encode())
@example(b"\xff" + REFERENCE_TEXT.encode())
def test_edited_spec_bytes_parse_to_a_document_or_an_error(data: bytes) -> None:
    document, found = parse_bytes(data, "mlinfra.yaml")
    if document is None:
        assert any(d.is_error for d in found)
        for d in found:
            _check_diagnostic(d, "")
        return
    _check_outcome(validate_text(document.text, "mlinfra.yaml", spec_dir=CHURN), document.text)
