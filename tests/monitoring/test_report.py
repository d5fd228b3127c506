"""The report of a monitoring execution: reading its folder, the terminal view, the HTML page."""

from __future__ import annotations

import copy
import json
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from rich.console import Console

from mlinfra.monitoring.report import (
    ReportError,
    load_result,
    render_html,
    render_text,
)

HOSTILE = "<script>alert(1)</script>"

DRIFT = {
    "version": 1,
    "item_count": 500,
    "baseline_item_count": 1000,
    "features": [
        {
            "name": "monthly_charges",
            "kind": "numeric",
            "inferred_type": "Fractional",
            "psi": 0.6312,
            "threshold": 0.2,
            "drifted": True,
            "missing_percent": 0.0,
            "missing_threshold": 5.0,
            "type_mismatches": 0,
            "bins": ["< 30.1", "30.1 – 45.0", "45.0 – 105.2", "≥ 105.2"],
            "baseline": [0.1, 0.3, 0.5, 0.1],
            "current": [0.02, 0.18, 0.4, 0.4],
        },
        {
            "name": "contract",
            "kind": "categorical",
            "inferred_type": "String",
            "psi": 0.0123,
            "threshold": 0.2,
            "drifted": False,
            "missing_percent": 7.5,
            "missing_threshold": 5.0,
            "type_mismatches": 3,
            "bins": ["month-to-month", "one-year", "two-year", "(other)"],
            "baseline": [0.5, 0.3, 0.2, 0.0],
            "current": [0.52, 0.28, 0.19, 0.01],
        },
    ],
    "violations": 2,
}

VIOLATIONS = {
    "violations": [
        {
            "feature_name": "monthly_charges",
            "constraint_check_type": "baseline_drift_check",
            "description": "PSI 0.6312 exceeds 0.2",
        },
        {
            "feature_name": "contract",
            "constraint_check_type": "completeness_check",
            "description": "7.5 % of values are missing, more than 5.0 %",
        },
    ]
}


def write_execution(folder: Path, drift: dict = DRIFT, violations: dict = VIOLATIONS) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "drift.json").write_text(json.dumps(drift), encoding="utf-8")
    (folder / "constraint_violations.json").write_text(json.dumps(violations), encoding="utf-8")
    return folder


def hostile_drift() -> tuple[dict, dict]:
    drift = copy.deepcopy(DRIFT)
    drift["features"][1]["name"] = HOSTILE
    drift["features"][1]["bins"][0] = "<b>bin</b>"
    violations = copy.deepcopy(VIOLATIONS)
    violations["violations"][1]["feature_name"] = HOSTILE
    violations["violations"][1]["description"] = "<img src=x onerror=alert(2)>"
    return drift, violations


def text_of(result, width: int = 160) -> str:
    console = Console(record=True, width=width, color_system=None)
    render_text(result, console, title="churn-quality")
    return console.export_text()


class StrictParser(HTMLParser):
    """Records the elements opened and closed, and fails on a mismatched end tag."""

    VOID = {"meta", "br", "img", "input", "link", "hr"}

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[str] = []
        self.tags: list[tuple[str, dict]] = []
        self.scripts = 0

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        if tag == "script":
            self.scripts += 1
        if tag not in self.VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def handle_endtag(self, tag):
        assert self.stack and self.stack[-1] == tag, f"</{tag}> closes <{self.stack[-1:]}>"
        self.stack.pop()


def parse(page: str) -> StrictParser:
    parser = StrictParser()
    parser.feed(page)
    parser.close()
    assert parser.stack == [], f"unclosed elements: {parser.stack}"
    return parser


# Reading -------------------------------------------------------------------------------------


def test_load_result_reads_features_and_violations(tmp_path):
    result = load_result(write_execution(tmp_path))

    assert (result.item_count, result.baseline_item_count) == (500, 1000)
    assert [feature.name for feature in result.features] == ["monthly_charges", "contract"]
    assert [feature.name for feature in result.drifted] == ["monthly_charges"]
    charges = result.features[0]
    assert charges.psi == pytest.approx(0.6312)
    assert charges.bins[-1] == "≥ 105.2"
    assert charges.current == (0.02, 0.18, 0.4, 0.4)
    assert [(v.feature_name, v.check_type) for v in result.violations] == [
        ("monthly_charges", "baseline_drift_check"),
        ("contract", "completeness_check"),
    ]


def test_a_feature_without_usable_values_has_no_psi(tmp_path):
    drift = copy.deepcopy(DRIFT)
    drift["features"][1].update(psi=None, bins=[], baseline=[], current=[])

    result = load_result(write_execution(tmp_path, drift))

    assert result.features[1].psi is None


@pytest.mark.parametrize("missing", ["drift.json", "constraint_violations.json"])
def test_a_missing_file_is_a_report_error_naming_it(tmp_path, missing):
    write_execution(tmp_path)
    (tmp_path / missing).unlink()

    with pytest.raises(ReportError) as raised:
        load_result(tmp_path)

    assert raised.value.path == tmp_path / missing
    assert missing in str(raised.value)
    assert "missing" in str(raised.value)


def test_a_missing_folder_is_a_report_error(tmp_path):
    with pytest.raises(ReportError, match="no such folder"):
        load_result(tmp_path / "nowhere")


@pytest.mark.parametrize("corrupt", ["drift.json", "constraint_violations.json"])
def test_a_file_that_is_not_json_is_a_report_error_naming_it(tmp_path, corrupt):
    write_execution(tmp_path)
    (tmp_path / corrupt).write_text('{"violations": [', encoding="utf-8")

    with pytest.raises(ReportError) as raised:
        load_result(tmp_path)

    assert raised.value.path == tmp_path / corrupt
    assert "not valid JSON (line 1" in str(raised.value)
    assert "run the monitoring execution again" in str(raised.value)


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (lambda d: d.pop("features"), "has no 'features'"),
        (lambda d: d["features"][0].pop("psi"), "features[0] has no 'psi'"),
        (lambda d: d["features"][0].update(psi="high"), "features[0].psi is a string"),
        (lambda d: d["features"][1]["current"].pop(), "features[1].current has 3 proportion"),
        (lambda d: d["features"][0]["baseline"].__setitem__(2, None), "baseline[2] is null"),
        (lambda d: d.update(item_count=-1), "item_count is -1, expected a count"),
        (lambda d: d.update(features={}), "features is an object, expected a list"),
    ],
)
def test_a_drift_file_of_the_wrong_shape_is_a_report_error(tmp_path, change, expected):
    drift = copy.deepcopy(DRIFT)
    change(drift)
    write_execution(tmp_path, drift)

    with pytest.raises(ReportError) as raised:
        load_result(tmp_path)

    assert raised.value.path == tmp_path / "drift.json"
    assert expected in str(raised.value)


def test_a_drift_file_of_another_version_says_which_version_is_read(tmp_path):
    write_execution(tmp_path, {**DRIFT, "version": 2})

    with pytest.raises(ReportError, match="version 2, this mlinfra reads version 1"):
        load_result(tmp_path)


def test_a_violation_without_its_check_type_is_a_report_error(tmp_path):
    write_execution(tmp_path, violations={"violations": [{"feature_name": "x"}]})

    with pytest.raises(ReportError, match=r"violations\[0\] has no 'constraint_check_type'"):
        load_result(tmp_path)


# Terminal ------------------------------------------------------------------------------------


def test_text_report_summarises_counts_and_lists_each_feature_with_its_numbers(tmp_path):
    text = text_of(load_result(write_execution(tmp_path)))

    assert "500 record(s) analysed against a baseline of 1,000; 2 violation(s)" in text
    assert "1 of 2 feature(s) drifted" in text
    charges = next(line for line in text.splitlines() if "monthly_charges" in line)
    assert "0.631 (0.2)" in charges
    assert "DRIFTED" in charges
    contract = next(line for line in text.splitlines() if "contract" in line)
    assert "0.012 (0.2)" in contract
    assert "DRIFTED" not in contract
    assert "7.5 (5)" in contract
    assert re.search(r"\b3\b", contract.split("7.5 (5)")[1])


def test_text_report_lists_violations_with_check_type_and_description(tmp_path):
    text = text_of(load_result(write_execution(tmp_path)))

    lines = text[text.index("┃ check") :].splitlines()
    assert any(
        "contract" in line and "completeness_check" in line and "7.5 % of values" in line
        for line in lines
    )
    assert any("baseline_drift_check" in line and "PSI 0.6312" in line for line in lines)


def test_text_report_colours_a_drifted_psi_red(tmp_path):
    console = Console(record=True, width=160, force_terminal=True, color_system="standard")
    render_text(load_result(write_execution(tmp_path)), console, title="t")

    styled = console.export_text(styles=True)
    assert re.search(r"\x1b\[[0-9;]*31m\s*0\.631 \(0\.2\)", styled)


def test_text_report_shows_user_values_literally_not_as_markup(tmp_path):
    drift = copy.deepcopy(DRIFT)
    drift["features"][0]["name"] = "[bold]charges[/bold]"

    text = text_of(load_result(write_execution(tmp_path, drift)))

    assert "[bold]charges[/bold]" in text


def test_text_report_marks_a_feature_without_values(tmp_path):
    drift = copy.deepcopy(DRIFT)
    drift["features"][1].update(psi=None, bins=[], baseline=[], current=[])

    text = text_of(load_result(write_execution(tmp_path, drift)))

    contract = next(line for line in text.splitlines() if "contract" in line)
    assert "n/a (0.2)" in contract
    assert "no values" in contract


# HTML ----------------------------------------------------------------------------------------


def test_html_report_parses_and_has_one_chart_per_feature(tmp_path):
    page = render_html(load_result(write_execution(tmp_path)), title="churn-quality")

    parsed = parse(page)
    assert [tag for tag, _ in parsed.tags].count("svg") == 2
    assert parsed.scripts == 0


def test_html_report_is_self_contained(tmp_path):
    page = render_html(load_result(write_execution(tmp_path)), title="t")

    for tag, attrs in parse(page).tags:
        assert "src" not in attrs, tag
        assert "href" not in attrs, tag
    assert "<link" not in page
    assert "@import" not in page
    assert "url(" not in page


def test_html_report_orders_summary_then_violations_then_features(tmp_path):
    page = render_html(load_result(write_execution(tmp_path)), title="t")

    summary = page.index("500 record(s) analysed")
    violations = page.index("completeness_check")
    first_chart = page.index("<svg")
    assert summary < violations < first_chart


def test_html_chart_has_two_bars_per_bin_with_heights_proportional_to_proportions(tmp_path):
    result = load_result(write_execution(tmp_path))
    parsed = parse(render_html(result, title="t"))

    bars = [attrs for tag, attrs in parsed.tags if tag == "rect" and "bar" in attrs["class"]]
    for feature in result.features:
        count = len(feature.bins)
        mine, bars = bars[: 2 * count], bars[2 * count :]
        assert [b["class"] for b in mine] == ["bar baseline", "bar current"] * count
        expected = [p for pair in zip(feature.baseline, feature.current, strict=True) for p in pair]
        assert [float(b["data-proportion"]) for b in mine] == expected
        heights = [float(b["height"]) for b in mine]
        tallest = max(range(len(expected)), key=expected.__getitem__)
        scale = heights[tallest] / expected[tallest]
        assert heights == pytest.approx([p * scale for p in expected], abs=0.002)
        # Bars stand on the axis: top + height is the same for all.
        bottoms = {round(float(b["y"]) + float(b["height"]), 2) for b in mine}
        assert len(bottoms) == 1
    assert bars == []


def test_html_chart_has_a_legend_and_axis_labels(tmp_path):
    page = render_html(load_result(write_execution(tmp_path)), title="t")

    assert page.count("baseline (1,000 records)") == 2
    assert page.count("current (500 records)") == 2
    assert page.count("share of records") == 2
    assert "value range" in page
    assert "category" in page
    assert "≥ 105.2" in page


def test_html_report_marks_drifted_features_and_shows_psi_against_threshold(tmp_path):
    page = render_html(load_result(write_execution(tmp_path)), title="t")

    sections = [
        attrs["class"]
        for tag, attrs in parse(page).tags
        if tag == "section" and "feature" in attrs["class"]
    ]
    assert sections == ["feature drifted", "feature"]
    assert '<span class="psi bad-value">PSI 0.631 &gt; threshold 0.200</span>' in page
    assert '<span class="psi">PSI 0.012 vs threshold 0.200</span>' in page


def test_html_report_escapes_feature_names_bin_labels_and_descriptions(tmp_path):
    drift, violations = hostile_drift()
    page = render_html(load_result(write_execution(tmp_path, drift, violations)), title=HOSTILE)

    parsed = parse(page)
    assert parsed.scripts == 0
    assert "<script>" not in page
    assert "<img" not in page
    assert "<b>bin</b>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "&lt;img src=x onerror=alert(2)&gt;" in page
    assert "&lt;b&gt;bin&lt;/b&gt;" in page


def test_html_report_shows_the_context_in_the_header_escaped(tmp_path):
    page = render_html(
        load_result(write_execution(tmp_path)),
        title="t",
        context={"monitor": "churn-quality", "execution": HOSTILE, "time": "2026-11-22T18:00Z"},
    )

    header = page[page.index("<header>") : page.index("</header>")]
    assert "<dt>monitor</dt><dd>churn-quality</dd>" in header
    assert "<dd>&lt;script&gt;alert(1)&lt;/script&gt;</dd>" in header
    assert "2026-11-22T18:00Z" in header


def test_html_report_draws_an_empty_chart_for_a_feature_without_values(tmp_path):
    drift = copy.deepcopy(DRIFT)
    drift["features"][1].update(psi=None, bins=[], baseline=[], current=[])

    page = render_html(load_result(write_execution(tmp_path, drift)), title="t")

    assert [tag for tag, _ in parse(page).tags].count("svg") == 2
    assert "no values to chart" in page
    assert '<span class="psi">PSI n/a vs threshold 0.200</span>' in page


def test_a_feature_without_a_completeness_constraint_has_no_missing_threshold(tmp_path):
    drift = copy.deepcopy(DRIFT)
    drift["features"][1]["missing_threshold"] = None
    result = load_result(write_execution(tmp_path, drift))

    assert result.features[1].missing_threshold is None
    assert not result.features[1].missing_exceeded
    contract = next(line for line in text_of(result).splitlines() if "contract" in line)
    assert "7.5 (none)" in contract
    assert "(threshold none)" in render_html(result, title="t")


def test_a_baseline_of_unknown_size_is_reported_as_such(tmp_path):
    result = load_result(write_execution(tmp_path, {**DRIFT, "baseline_item_count": None}))

    assert result.baseline_item_count is None
    assert "against a baseline of unknown size" in text_of(result)
    parse(render_html(result, title="t"))


def test_report_error_is_a_monitoring_error(tmp_path):
    from mlinfra.monitoring import MonitoringError

    with pytest.raises(MonitoringError):
        load_result(tmp_path / "nowhere")


def test_reports_what_the_analysis_writes(tmp_path):
    pd = pytest.importorskip("pandas")
    baseline_module = pytest.importorskip("mlinfra.monitoring.baseline")
    analysis_module = pytest.importorskip("mlinfra.monitoring.analysis")
    reference = pd.DataFrame(
        {"charges": [float(i % 100) for i in range(1000)], "plan": ["a", "b"] * 500}
    )
    current = pd.DataFrame(
        {"charges": [float(50 + i % 50) for i in range(500)], "plan": ["a", "b"] * 250}
    )
    baseline = baseline_module.suggest_baseline(reference)
    analysis_module.analyse(baseline, current).write(tmp_path)

    result = load_result(tmp_path)

    assert [feature.name for feature in result.drifted] == ["charges"]
    assert "charges" in text_of(result)
    page = render_html(result, title="t")
    assert [tag for tag, _ in parse(page).tags].count("svg") == 2
