"""Analysing data against a baseline: each check, the drift index, and the files written."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mlinfra.monitoring import MonitoringError
from mlinfra.monitoring.analysis import analyse, population_stability_index
from mlinfra.monitoring.baseline import suggest_baseline


def _checks(analysis) -> set[tuple[str, str]]:
    return {(v["feature_name"], v["constraint_check_type"]) for v in analysis.violations}


def _drift(analysis, name: str) -> dict:
    return next(f for f in analysis.drift["features"] if f["name"] == name)


def test_the_baseline_data_itself_has_no_violations_and_no_drift(churn, churn_baseline):
    analysis = analyse(churn_baseline, churn)
    assert analysis.violations == []
    assert all(feature["psi"] == 0 for feature in analysis.drift["features"])


def test_shifted_charges_drift_and_the_description_says_by_how_much(churn, churn_baseline):
    shifted = churn.assign(monthly_charges=pd.to_numeric(churn["monthly_charges"]) + 40)
    analysis = analyse(churn_baseline, shifted)
    assert _checks(analysis) == {("monthly_charges", "baseline_drift_check")}
    drift = _drift(analysis, "monthly_charges")
    assert drift["drifted"] is True
    assert drift["psi"] > 1
    assert analysis.violations[0]["description"].startswith(
        f"Population stability index {drift['psi']:.2f} is above the threshold 0.2"
    )


def test_a_sample_of_the_same_population_does_not_drift(churn_baseline):
    rng = np.random.default_rng(1)
    resampled = pd.read_csv(Path(__file__).parents[2] / "examples/churn/data/baseline.csv").sample(
        500, replace=True, random_state=rng
    )
    analysis = analyse(churn_baseline, resampled)
    assert all(not feature["drifted"] for feature in analysis.drift["features"])


def test_a_shift_between_categories_is_drift(churn, churn_baseline):
    contract = ["two-year"] * 600 + ["month-to-month"] * 400
    analysis = analyse(churn_baseline, churn.assign(contract=contract))
    assert ("contract", "baseline_drift_check") in _checks(analysis)
    assert _drift(analysis, "contract")["kind"] == "categorical"


def test_an_unseen_category_fails_the_domain_check_and_lands_in_other(churn, churn_baseline):
    data = churn.copy()
    data.loc[:9, "contract"] = "quarterly"
    analysis = analyse(churn_baseline, data)
    assert ("contract", "categorical_values_check") in _checks(analysis)
    drift = _drift(analysis, "contract")
    assert drift["bins"][-1] == "(other)"
    assert drift["current"][-1] == pytest.approx(0.01)
    [violation] = [v for v in analysis.violations if v["constraint_check_type"].startswith("cat")]
    assert "'quarterly' (10)" in violation["description"]


def test_missing_values_above_the_threshold_fail_completeness(churn, churn_baseline):
    data = churn.copy()
    data.loc[:59, "tenure_months"] = None  # 6% missing, 5% allowed
    data.loc[:39, "support_calls"] = None  # 4%: within the threshold
    analysis = analyse(churn_baseline, data)
    assert _checks(analysis) == {("tenure_months", "completeness_check")}
    assert _drift(analysis, "tenure_months")["missing_percent"] == 6.0
    assert _drift(analysis, "tenure_months")["missing_threshold"] == 5.0


def test_text_and_fractions_in_an_integral_column_fail_the_type_check(churn, churn_baseline):
    data = churn.copy()
    data.loc[0, "support_calls"] = "many"
    data.loc[1, "support_calls"] = "2.5"
    data.loc[2, "support_calls"] = "3.0"  # a whole number written as a fraction is fine
    analysis = analyse(churn_baseline, data)
    assert _checks(analysis) == {("support_calls", "data_type_check")}
    assert _drift(analysis, "support_calls")["type_mismatches"] == 2
    assert "2 of 1000 present values" in analysis.violations[0]["description"]


def test_numbers_in_memory_analyse_like_their_text(churn, churn_baseline):
    numeric = churn.astype({"tenure_months": int, "monthly_charges": float, "total_charges": float})
    as_text = analyse(churn_baseline, churn)
    as_numbers = analyse(churn_baseline, numeric)
    assert as_numbers.drift == as_text.drift


def test_a_baseline_column_absent_from_the_data_is_a_missing_column(churn, churn_baseline):
    analysis = analyse(churn_baseline, churn.drop(columns=["total_charges"]))
    assert _checks(analysis) == {("total_charges", "missing_column_check")}
    assert _drift(analysis, "total_charges")["psi"] is None
    assert "total_charges" not in [f["name"] for f in analysis.statistics["features"]]


def test_values_beyond_the_baseline_range_fall_in_the_open_outer_bins(churn_baseline):
    data = pd.DataFrame({"monthly_charges": [-1000.0, 1e9]})
    drift = _drift(analyse(churn_baseline, data), "monthly_charges")
    assert drift["bins"][0].startswith("< ") and drift["bins"][-1].startswith("≥ ")
    assert drift["current"][0] == drift["current"][-1] == 0.5


def test_a_constant_baseline_still_sees_values_move_away():
    baseline = suggest_baseline(pd.DataFrame({"flag": [1] * 100}))
    drift = _drift(analyse(baseline, pd.DataFrame({"flag": [2] * 50})), "flag")
    assert drift["bins"] == ["< 1", "1", "> 1"]
    assert drift["drifted"] is True


def test_no_data_is_an_error_not_an_empty_analysis(churn_baseline):
    with pytest.raises(MonitoringError, match="no data"):
        analyse(churn_baseline, pd.DataFrame({"tenure_months": pd.Series([], dtype=str)}))


def test_the_analysis_writes_model_monitor_files_and_drift(tmp_path: Path, churn, churn_baseline):
    analyse(churn_baseline, churn.head(500)).write(tmp_path)
    statistics = json.loads((tmp_path / "statistics.json").read_text())
    violations = json.loads((tmp_path / "constraint_violations.json").read_text())
    drift = json.loads((tmp_path / "drift.json").read_text())
    assert statistics["dataset"] == {"item_count": 500}
    assert violations == {"violations": []}
    assert drift["version"] == 1
    assert (drift["item_count"], drift["baseline_item_count"]) == (500, 1000)
    feature = drift["features"][0]
    assert set(feature) == {
        "name", "kind", "inferred_type", "psi", "threshold", "drifted", "missing_percent",
        "missing_threshold", "type_mismatches", "bins", "baseline", "current",
    }  # fmt: skip
    assert len(feature["bins"]) == len(feature["baseline"]) == len(feature["current"])
    assert sum(feature["current"]) == pytest.approx(1)


def test_psi_of_disjoint_bins_is_large_but_finite():
    psi = population_stability_index(np.array([10, 0]), np.array([0, 10]))
    assert 10 < psi < 100


samples = st.lists(
    st.floats(min_value=-1e6, max_value=1e6, allow_nan=False, allow_infinity=False),
    min_size=1,
    max_size=200,
)


@settings(max_examples=50, deadline=None)
@given(reference=samples, current=samples)
def test_psi_is_never_negative_and_zero_for_the_reference_itself(reference, current):
    baseline = suggest_baseline(pd.DataFrame({"x": reference}))
    assert _drift(analyse(baseline, pd.DataFrame({"x": reference})), "x")["psi"] == 0
    drift = _drift(analyse(baseline, pd.DataFrame({"x": current})), "x")
    # No index when every value is mistyped: fractions against a baseline of whole numbers.
    assert drift["psi"] >= 0 if drift["type_mismatches"] < len(current) else drift["psi"] is None


@settings(max_examples=50, deadline=None)
@given(values=samples, bins=st.integers(min_value=1, max_value=20))
def test_bucket_counts_conserve_the_rows(values, bins):
    statistics = suggest_baseline(pd.DataFrame({"x": values}), bins=bins).statistics
    buckets = statistics["features"][0]["numerical_statistics"]["distribution"]["kll"]["buckets"]
    assert sum(bucket["count"] for bucket in buckets) == len(values)
    assert len(buckets) <= bins
