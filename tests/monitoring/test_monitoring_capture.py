"""Reading data-capture files: every payload format, untrusted input, the time window."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
from capture_events import capture_event as _event

from mlinfra.monitoring.capture import MALFORMED, read_capture

FEATURES = ["tenure", "charges", "contract"]


def _write(folder: Path, *lines: str, hour: str = "12") -> Path:
    path = folder / "churn" / "AllTraffic" / "2026" / "01" / "01" / hour / "capture.jsonl"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")
    return folder


def _rows(frame: pd.DataFrame) -> list[list]:
    return [[None if pd.isna(v) else v for v in row] for row in frame.itertuples(index=False)]


def test_csv_payloads_are_rows_of_text_in_feature_order(tmp_path: Path):
    _write(tmp_path, _event("12,70.5,one-year"), _event("3,20,month-to-month\n4,25.5,two-year"))
    frame = read_capture(tmp_path, FEATURES)
    assert list(frame.columns) == FEATURES
    assert _rows(frame) == [
        ["12", "70.5", "one-year"],
        ["3", "20", "month-to-month"],
        ["4", "25.5", "two-year"],
    ]


def test_short_csv_rows_are_padded_and_surplus_values_dropped(tmp_path: Path):
    _write(tmp_path, _event("12,70.5"), _event("1,2,three,extra"), _event("5,,x"))
    assert _rows(read_capture(tmp_path, FEATURES)) == [
        ["12", "70.5", None],
        ["1", "2", "three"],
        ["5", None, "x"],
    ]


def test_a_header_row_naming_the_features_is_skipped(tmp_path: Path):
    _write(tmp_path, _event("tenure,charges,contract\n12,70.5,one-year"))
    assert _rows(read_capture(tmp_path, FEATURES)) == [["12", "70.5", "one-year"]]


def test_json_records_and_lists_read_as_text(tmp_path: Path):
    records = {"instances": [{"tenure": 12, "charges": 70.5, "contract": "one-year"}]}
    lists = {"instances": [[3, 20, "month-to-month"], [4]]}
    single = {"tenure": 7, "contract": None}
    bare_list = [[9, 1.5, "two-year"]]
    _write(
        tmp_path,
        *(
            _event(json.dumps(body), "JSON", "application/json")
            for body in (records, lists, single, bare_list)
        ),
    )
    assert _rows(read_capture(tmp_path, FEATURES)) == [
        ["12", "70.5", "one-year"],
        ["3", "20", "month-to-month"],
        ["4", None, None],
        ["7", None, None],
        ["9", "1.5", "two-year"],
    ]


def test_base64_payloads_are_decoded_and_read_by_content_type(tmp_path: Path):
    csv = base64.b64encode(b"12,70.5,one-year").decode()
    body = base64.b64encode(json.dumps({"instances": [[3, 20, "x"]]}).encode()).decode()
    _write(
        tmp_path,
        _event(csv, "BASE64", "text/csv"),
        _event(body, "BASE64", "application/json"),
    )
    assert _rows(read_capture(tmp_path, FEATURES)) == [
        ["12", "70.5", "one-year"],
        ["3", "20", "x"],
    ]


def test_malformed_lines_and_payloads_are_skipped_and_counted(tmp_path: Path):
    _write(
        tmp_path,
        _event("12,70.5,one-year"),
        "{not json",
        json.dumps({"captureData": {}}),
        _event("{broken", "JSON", "application/json"),
        _event("!!!", "BASE64", "text/csv"),
        _event("4,25.5,two-year"),
    )
    frame = read_capture(tmp_path, FEATURES)
    assert _rows(frame) == [["12", "70.5", "one-year"], ["4", "25.5", "two-year"]]
    assert frame.attrs[MALFORMED] == 4


def test_files_are_found_in_every_hour_folder(tmp_path: Path):
    _write(tmp_path, _event("1,1,a"), hour="11")
    _write(tmp_path, _event("2,2,b"), hour="12")
    assert len(read_capture(tmp_path, FEATURES)) == 2


def test_the_window_excludes_since_and_includes_until(tmp_path: Path):
    times = ["2026-01-01T11:00:00Z", "2026-01-01T12:00:00Z", "2026-01-01T12:30:00.5Z"]
    times.append("2026-01-01T13:00:00Z")
    _write(tmp_path, *(_event(f"{i},0,x", time=t) for i, t in enumerate(times)))
    frame = read_capture(
        tmp_path,
        FEATURES,
        since=datetime(2026, 1, 1, 11, tzinfo=UTC),
        until=datetime(2026, 1, 1, 12, 30, 1),  # naive: taken as UTC
    )
    assert frame["tenure"].tolist() == ["1", "2"]


def test_a_missing_capture_folder_is_no_records(tmp_path: Path):
    frame = read_capture(tmp_path / "nothing-yet", FEATURES)
    assert len(frame) == 0
    assert list(frame.columns) == FEATURES
