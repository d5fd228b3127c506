"""The model-quality report: the metric of every run against the alert and rollback lines, the
last rollback, and the latest window's predictions, in the terminal and as one HTML page."""

from __future__ import annotations

import html
import io
import json
from pathlib import Path

import pytest
from rich.console import Console

from mlinfra.monitoring.quality import prediction_distribution
from mlinfra.monitoring.quality_report import (
    QualityRun,
    read_quality,
    render_quality_html,
    render_quality_text,
)
from mlinfra.monitoring.report import ReportError


def document(value: float | None, alert: float, rollback: float, end: str, **extra) -> dict:
    return {
        "version": 1,
        "problem_type": "binary_classification",
        "metric": "accuracy",
        "value": value,
        "window": {"start": "", "end": end},
        "predictions": 300,
        "labelled": 200,
        "alert": {"threshold": alert, "crossed": value is not None and value < alert},
        "rollback": {"threshold": rollback, "crossed": value is not None and value < rollback},
        "prediction_distribution": [{"bin": "0-0.5", "count": 120}, {"bin": "0.5-1", "count": 80}],
        **extra,
    }


RUNS = [
    QualityRun("j1", document(0.86, 0.834, 0.817, "2026-01-01T10:00:00+00:00")),
    QualityRun("j2", document(0.826, 0.834, 0.817, "2026-01-01T11:00:00+00:00")),
    QualityRun(
        "j3",
        document(0.79, 0.834, 0.817, "2026-01-01T12:00:00+00:00"),
        rollback="version 2 rejected; the previous approved version 1 serves after the next "
        "mlinfra apply",
    ),
]


def text(runs: list[QualityRun]) -> str:
    buffer = io.StringIO()
    render_quality_text(runs, Console(file=buffer, width=120), title="monitor churn-quality")
    return buffer.getvalue()


def test_the_text_shows_every_run_against_both_lines_and_the_rollback():
    shown = text(RUNS)
    assert (
        "accuracy 0.7900 over 200 labelled of 300 predictions: below the rollback line 0.8170"
        in shown
    )
    rows = [line for line in shown.splitlines() if "2026-01-01" in line]
    assert [row.strip("│ ").split()[-1] for row in rows] == ["ok", "alert", "rollback"]
    assert all("0.8340" in row and "0.8170" in row for row in rows)
    assert "rollback: version 2 rejected; the previous approved version 1 serves" in shown
    assert "0-0.5: 120, 0.5-1: 80" in shown


def test_a_run_without_labels_says_so():
    shown = text([QualityRun("j", document(None, 0.834, 0.817, "2026-01-01T10:00:00+00:00"))])
    assert "accuracy - over 200 labelled of 300 predictions: no labelled predictions yet" in shown


def test_the_html_charts_the_metric_and_both_lines_and_the_predictions():
    page = render_quality_html(
        RUNS, title="monitor churn-quality", context={"environment": "local"}
    )
    assert page.count('<polyline class="metric"') == 1
    assert page.count('<polyline class="alert"') == 1
    assert page.count('<polyline class="rollback"') == 1
    assert page.count('class="dot-rollback"') == 1 and page.count('class="dot-alert"') == 1
    assert page.count('<rect class="bar"') == 2
    assert "version 2 rejected" in page
    assert "<script" not in page


def test_user_text_in_the_html_is_escaped():
    hostile = '<script>alert("x")</script>'
    runs = [QualityRun("j", document(0.9, 0.8, 0.7, hostile), rollback=hostile)]
    page = render_quality_html(runs, title=hostile, context={"monitor": hostile})
    assert "<script>" not in page
    assert html.escape(hostile, quote=False).split("(")[0] in page


def test_reading_a_run_names_the_file_it_cannot_read(tmp_path: Path):
    with pytest.raises(ReportError, match="quality.json: is missing"):
        read_quality(tmp_path, "j")
    (tmp_path / "quality.json").write_text("{not json")
    with pytest.raises(ReportError, match="cannot be read"):
        read_quality(tmp_path, "j")
    (tmp_path / "quality.json").write_text(json.dumps({"value": 1}))
    with pytest.raises(ReportError, match="not a quality result"):
        read_quality(tmp_path, "j")
    (tmp_path / "quality.json").write_text(json.dumps(document(0.9, 0.8, 0.7, "t")))
    assert read_quality(tmp_path, "j", "rolled back").rollback == "rolled back"


@pytest.mark.parametrize(
    ("problem", "values", "expected"),
    [
        ("binary_classification", ["0.05", "0.55", "0.95", "1"],
         {"0-0.1": 1, "0.5-0.6": 1, "0.9-1": 2}),
        ("multiclass_classification", ["b", "a", "b"], {"b": 2, "a": 1}),
        ("binary_classification", ["yes", "no", "yes"], {"yes": 2, "no": 1}),
        ("regression", ["1", "3"], {"1-1.2": 1, "2.8-3": 1}),
        ("regression", ["2", "2"], {"2": 2}),
        ("binary_classification", [], {}),
    ],
)  # fmt: skip
def test_the_prediction_distribution(problem, values, expected):
    found = {b["bin"]: b["count"] for b in prediction_distribution(problem, values) if b["count"]}
    assert found == expected
