"""Suggesting a baseline: Model Monitor's statistics.json and constraints.json from a data set."""

from __future__ import annotations

import json
from itertools import pairwise
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mlinfra.monitoring import MonitoringError
from mlinfra.monitoring.baseline import Baseline, read_dataset, suggest_baseline


def _feature(document: dict, name: str) -> dict:
    return next(feature for feature in document["features"] if feature["name"] == name)


def _small() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "count": ["1", "2", "3", None, "5", "6", "7", "8", "9", "10"],
            "price": ["1.5", "2", "2.5", "3", "3.5", "4", "4.5", "5", "5.5", "6"],
            "plan": ["a", "b", "a", "a", "c", "b", "a", "a", "b", "a"],
            "code": ["1", "x", "2", "3", "4", "5", "6", "7", "8", "9"],
        }
    )


def test_types_are_inferred_from_the_text_of_present_values():
    statistics = suggest_baseline(_small()).statistics
    types = {f["name"]: f["inferred_type"] for f in statistics["features"]}
    assert types == {"count": "Integral", "price": "Fractional", "plan": "String", "code": "String"}


def test_a_float_column_of_whole_numbers_is_integral_as_pandas_makes_them_with_missing_values():
    data = pd.DataFrame({"n": [1.0, 2.0, np.nan, 4.0], "x": [1.0, 2.5, 3.0, 4.0]})
    statistics = suggest_baseline(data).statistics
    assert _feature(statistics, "n")["inferred_type"] == "Integral"
    assert _feature(statistics, "x")["inferred_type"] == "Fractional"


def test_booleans_are_categories_not_numbers():
    data = pd.DataFrame({"churned": [True, False, True, None]})
    feature = _feature(suggest_baseline(data).statistics, "churned")
    assert feature["inferred_type"] == "String"
    buckets = feature["string_statistics"]["distribution"]["categorical"]["buckets"]
    assert buckets == [{"value": "True", "count": 2}, {"value": "False", "count": 1}]


def test_numeric_statistics_count_present_and_missing_values():
    numeric = _feature(suggest_baseline(_small()).statistics, "count")["numerical_statistics"]
    assert numeric["common"] == {"num_present": 9, "num_missing": 1}
    assert numeric["sum"] == 51.0
    assert numeric["min"] == 1.0
    assert numeric["max"] == 10.0
    assert numeric["mean"] == pytest.approx(51 / 9)
    assert numeric["std_dev"] == pytest.approx(np.std([1, 2, 3, 5, 6, 7, 8, 9, 10]))


def test_bucket_counts_add_up_to_the_present_values(churn_baseline):
    for feature in churn_baseline.statistics["features"]:
        if "numerical_statistics" in feature:
            numeric = feature["numerical_statistics"]
            buckets = numeric["distribution"]["kll"]["buckets"]
            assert sum(b["count"] for b in buckets) == numeric["common"]["num_present"]


def test_buckets_are_deciles_of_a_continuous_column(churn_baseline):
    numeric = _feature(churn_baseline.statistics, "monthly_charges")["numerical_statistics"]
    buckets = numeric["distribution"]["kll"]["buckets"]
    assert len(buckets) == 10
    assert all(95 <= b["count"] <= 105 for b in buckets)
    assert buckets[0]["lower_bound"] == numeric["min"]
    assert buckets[-1]["upper_bound"] == numeric["max"]
    assert all(a["upper_bound"] == b["lower_bound"] for a, b in pairwise(buckets))


def test_a_few_valued_column_gets_a_bucket_per_value_and_a_constant_one_a_single_bucket():
    data = pd.DataFrame({"calls": ["0"] * 50 + ["1"] * 30 + ["2"] * 20, "one": ["7"] * 100})
    statistics = suggest_baseline(data).statistics
    calls = _feature(statistics, "calls")["numerical_statistics"]["distribution"]["kll"]["buckets"]
    assert [(b["lower_bound"], b["count"]) for b in calls] == [(0.0, 50.0), (1.0, 50.0)]
    one = _feature(statistics, "one")["numerical_statistics"]["distribution"]["kll"]["buckets"]
    assert one == [{"lower_bound": 7.0, "upper_bound": 7.0, "count": 100.0}]


def test_string_statistics_count_each_value(churn, churn_baseline):
    strings = _feature(churn_baseline.statistics, "contract")["string_statistics"]
    buckets = strings["distribution"]["categorical"]["buckets"]
    assert strings["distinct_count"] == 3.0
    assert {b["value"]: b["count"] for b in buckets} == churn["contract"].value_counts().to_dict()


def test_constraints_carry_completeness_domains_and_the_drift_threshold():
    constraints = suggest_baseline(_small(), drift_psi=0.3, missing_percent=10).constraints
    assert _feature(constraints, "count")["completeness"] == 0.9
    assert _feature(constraints, "count")["num_constraints"] == {"is_non_negative": True}
    assert _feature(constraints, "plan")["string_constraints"] == {"domains": ["a", "b", "c"]}
    distribution = constraints["monitoring_config"]["distribution_constraints"]
    assert distribution == {
        "perform_comparison": "Enabled",
        "comparison_threshold": 0.3,
        "comparison_method": "PSI",
    }


def test_a_column_of_many_distinct_strings_gets_no_domain():
    data = pd.DataFrame({"id": [f"customer-{i}" for i in range(200)]})
    feature = _feature(suggest_baseline(data).constraints, "id")
    assert "string_constraints" not in feature


def test_an_empty_data_set_is_refused():
    with pytest.raises(MonitoringError, match="no rows"):
        suggest_baseline(pd.DataFrame({"a": pd.Series([], dtype=str)}))


def test_a_baseline_reads_back_as_written(tmp_path: Path, churn_baseline):
    churn_baseline.write(tmp_path)
    assert json.loads((tmp_path / "statistics.json").read_text())["dataset"] == {"item_count": 1000}
    assert Baseline.read(tmp_path) == churn_baseline


def test_reading_a_missing_baseline_says_which_file(tmp_path: Path):
    with pytest.raises(MonitoringError, match="baseline statistics not found"):
        Baseline.read(tmp_path)


def test_reading_a_corrupt_baseline_says_it_is_not_json(tmp_path: Path, churn_baseline):
    churn_baseline.write(tmp_path)
    (tmp_path / "constraints.json").write_text("{not json")
    with pytest.raises(MonitoringError, match="constraints.*not valid JSON"):
        Baseline.read(tmp_path)


def test_read_dataset_keeps_text_as_written_and_only_empty_fields_missing(tmp_path: Path):
    path = tmp_path / "data.csv"
    path.write_text("zip,note\n007,NA\n,x\n")
    data = read_dataset(path)
    assert data["zip"].iloc[0] == "007"
    assert data["note"].iloc[0] == "NA"
    assert data["zip"].isna().iloc[1]


def test_read_dataset_of_a_missing_file_is_a_monitoring_error(tmp_path: Path):
    with pytest.raises(MonitoringError, match="not found"):
        read_dataset(tmp_path / "nope.csv")
