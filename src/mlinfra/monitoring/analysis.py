"""Analysing data against a baseline: Model Monitor's constraint checks and drift, per feature.

`analyse` gives three documents, which `Analysis.write` puts in a folder:

- `statistics.json`: the data's statistics, in Model Monitor's format (as a baseline's).
- `constraint_violations.json`: Model Monitor's `{"violations": [{"feature_name",
  "constraint_check_type", "description"}]}`. Checks: `missing_column_check`,
  `completeness_check`, `data_type_check`, `categorical_values_check`, `baseline_drift_check`.
- `drift.json`: mlinfra's own summary, what the report and the CLI show::

    {"version": 1, "item_count": 500, "baseline_item_count": 1000,
     "features": [{
        "name": "monthly_charges",
        "kind": "numeric",             # or "categorical"
        "inferred_type": "Fractional", # the baseline's
        "psi": 0.63,                   # null when either side has no usable value
        "threshold": 0.2, "drifted": true,
        "missing_percent": 0.0,        # 100.0 when the column is absent
        "missing_threshold": 5.0,      # null when the baseline sets no completeness
        "type_mismatches": 0,          # present values not of the baseline's type
        "bins": ["< 30.1", "30.1 – 45", "≥ 105.2"],  # categorical: values, then "(other)"
        "baseline": [0.1, 0.8, 0.1],   # share of the baseline's values in each bin
        "current": [0.02, 0.5, 0.48]},  # share of the data's usable values in each bin
        {"name": "prediction", "role": "prediction", ...}],  # the captured predictions'
     "violations": 3,                 # how many constraint violations were found
     "notes": ["predictions not analysed: ..."]}  # said once: no prediction column

The population stability index is sum((current - baseline) * ln(current / baseline)) over the
bins. Numeric bins are the baseline's buckets with the first and last opened to -inf and +inf;
categorical bins are the baseline's values plus "(other)" for values it never saw. Missing and
mistyped values are left out of it: their own checks report them.

Prediction drift: a baseline column named `prediction` holds the model's output for its rows.
It is analysed like any feature, on the values of the captured responses instead of the
requests (as Model Monitor analyses the endpoint's output with its input); its drift.json entry
has `"role": "prediction"` and its violations' descriptions begin with "Prediction drift: "
(the drift check) or "Predictions: " (the others).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from itertools import pairwise
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from mlinfra.monitoring import MonitoringError
from mlinfra.monitoring.baseline import (
    INTEGRAL,
    PREDICTION,
    STATISTICS_FILE,
    STRING,
    Baseline,
    bin_index,
    counts_by_value,
    infer_type,
    is_whole,
    numbers,
    numerical_statistics,
    present_values,
    string_statistics,
)
from mlinfra.monitoring.capture import MALFORMED, read_capture, read_prediction_values
from mlinfra.monitoring.files import write_json

VIOLATIONS_FILE = "constraint_violations.json"
DRIFT_FILE = "drift.json"
DRIFT_VERSION = 1
OTHER = "(other)"
# Proportions are floored at this before the index is computed: an empty bin would make
# ln(current / baseline) infinite, and 1e-4 (one value in ten thousand) is the usual floor.
PSI_FLOOR = 1e-4
EXAMPLES = 3  # offending values quoted in a violation's description
DRIFT_CHECK = "baseline_drift_check"


@dataclass(frozen=True)
class Analysis:
    """The outcome of analysing one data set: its statistics, violations and drift."""

    statistics: dict[str, Any]
    violations: list[dict[str, str]]
    drift: dict[str, Any]

    def write(self, folder: Path) -> None:
        write_json(folder / STATISTICS_FILE, self.statistics)
        write_json(folder / VIOLATIONS_FILE, {"violations": self.violations})
        write_json(folder / DRIFT_FILE, self.drift)


# Said once in a run's summary, so that a user sees why no prediction drift is reported.
NO_PREDICTION = f"predictions not analysed: the baseline has no {PREDICTION!r} column"


@dataclass(frozen=True)
class CaptureAnalysis:
    """A run over captured traffic: what was read and what its analysis found."""

    analysis: Analysis
    records: int
    malformed: int  # capture events, requests and responses that could not be read
    predictions: bool  # whether the responses were compared with the baseline's predictions


def analyse_capture(
    baseline: Baseline,
    folder: Path,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
) -> CaptureAnalysis:
    """Read the requests (and the responses, when the baseline has a prediction column)
    captured under `folder` in the window and analyse them against the baseline."""
    data = read_capture(folder, baseline.inputs, since=since, until=until)
    malformed = int(data.attrs.get(MALFORMED, 0))
    predictions = None
    if baseline.has_prediction:
        predictions = read_prediction_values(folder, since=since, until=until)
        malformed += int(predictions.attrs.get(MALFORMED, 0))
    analysis = analyse(baseline, data, predictions)
    return CaptureAnalysis(analysis, len(data), malformed, predictions is not None)


@dataclass(frozen=True)
class _Config:
    """The baseline's monitoring_config, with Model Monitor's defaults."""

    evaluate: bool
    compare: bool
    drift_threshold: float
    datatype_threshold: float
    domain_threshold: float

    @classmethod
    def of(cls, constraints: dict[str, Any]) -> _Config:
        config = constraints.get("monitoring_config") or {}
        distribution = config.get("distribution_constraints") or {}
        return cls(
            evaluate=config.get("evaluate_constraints", "Enabled") == "Enabled",
            compare=distribution.get("perform_comparison", "Enabled") == "Enabled",
            # 0.1 is Model Monitor's own default; baselines made here always set it.
            drift_threshold=float(distribution.get("comparison_threshold", 0.1)),
            datatype_threshold=float(config.get("datatype_check_threshold", 1.0)),
            domain_threshold=float(config.get("domain_content_threshold", 1.0)),
        )


@dataclass
class _Feature:
    """What analysing one feature found; the three documents are assembled from these."""

    statistics: dict[str, Any] | None
    violations: list[dict[str, str]]
    drift: dict[str, Any]


def analyse(
    baseline: Baseline, data: pd.DataFrame, predictions: pd.Series | None = None
) -> Analysis:
    """Check `data` against the baseline's constraints and measure each feature's drift.

    `predictions` are the captured responses' values (`capture.read_prediction_values`): when
    given, the baseline's prediction column is analysed on them, as any feature is on the
    requests, and its violations are named as the prediction's.
    """
    if len(data) == 0:
        # Model Monitor fails an execution with nothing to analyse rather than pass it.
        raise MonitoringError("no data to analyse: no records were captured in this period")
    config = _Config.of(baseline.constraints)
    constraints = {feature["name"]: feature for feature in baseline.constraints["features"]}
    features = []
    for feature in baseline.statistics["features"]:
        constraint = constraints.get(feature["name"], {})
        if feature["name"] == PREDICTION and predictions is not None:
            features.append(_analyse_prediction(feature, constraint, predictions, config))
        else:
            features.append(_analyse_feature(feature, constraint, data, config))
    violations = [violation for feature in features for violation in feature.violations]
    return Analysis(
        statistics={
            "version": 0.0,
            "dataset": {"item_count": len(data)},
            "features": [f.statistics for f in features if f.statistics is not None],
        },
        violations=violations,
        drift={
            "version": DRIFT_VERSION,
            "item_count": len(data),
            "baseline_item_count": baseline.statistics.get("dataset", {}).get("item_count"),
            "features": [feature.drift for feature in features],
            "violations": len(violations),
            # Said once, not an error: without the column there is nothing to compare with.
            "notes": [] if baseline.has_prediction else [NO_PREDICTION],
        },
    )


def _analyse_feature(
    feature: dict[str, Any], constraint: dict[str, Any], data: pd.DataFrame, config: _Config
) -> _Feature:
    name = feature["name"]
    numeric = "numerical_statistics" in feature or feature["inferred_type"] != STRING
    bins = _numeric_bins(feature) if numeric else _categorical_bins(feature)
    completeness = constraint.get("completeness")
    drift = {
        "name": name,
        "kind": "numeric" if numeric else "categorical",
        "inferred_type": feature["inferred_type"],
        "psi": None,
        "threshold": config.drift_threshold,
        "drifted": False,
        "missing_percent": 100.0,
        "missing_threshold": None if completeness is None else _round(100 * (1 - completeness)),
        "type_mismatches": 0,
        "bins": bins.labels,
        "baseline": _proportions(bins.baseline),
        "current": [0.0] * len(bins.labels),
    }
    if name not in data.columns:
        violations = []
        if config.evaluate:
            description = f"Column {name!r} of the baseline is not in the data."
            violations.append(_violation(name, "missing_column_check", description))
        return _Feature(None, violations, drift)

    column = data[name]
    violations = []
    if numeric:
        present = present_values(column)
        common = _common(len(column), int(present.sum()))
        statistics, current, mismatched = _measure_numbers(feature, column, present, common, bins)
        drift["type_mismatches"] = int(np.count_nonzero(mismatched))
        if config.evaluate:
            violations += _data_type_check(feature, column, common, mismatched, config)
    else:
        # The counts give the present values too, without another pass over the column.
        counts = counts_by_value(column)
        common = _common(len(column), int(counts.sum()))
        current = bins.count(counts)
        statistics = {
            "name": name,
            "inferred_type": STRING,
            "string_statistics": string_statistics(counts, common),
        }
        domains = (constraint.get("string_constraints") or {}).get("domains")
        if config.evaluate and domains is not None:
            violations += _categorical_values_check(name, counts, domains, config)
    if config.evaluate and completeness is not None:
        violations[:0] = _completeness_check(name, common, float(completeness))

    psi = population_stability_index(bins.baseline, current)
    drifted = config.compare and psi is not None and psi > config.drift_threshold
    if drifted:
        violations.append(_drift_violation(name, psi, config.drift_threshold, bins, current))
    drift.update(
        psi=None if psi is None else _round(psi),
        drifted=drifted,
        missing_percent=_round(100 * common["num_missing"] / len(column)),
        current=_proportions(current),
    )
    return _Feature(statistics, violations, drift)


def _analyse_prediction(
    feature: dict[str, Any], constraint: dict[str, Any], predictions: pd.Series, config: _Config
) -> _Feature:
    """The prediction column analysed as a feature on the captured predictions, its
    violations saying that they are about the prediction."""
    if len(predictions) == 0:
        found = _analyse_feature(feature, constraint, pd.DataFrame(), config)
        if config.evaluate:
            description = (
                "No prediction could be read from the captured responses: the baseline's "
                f"{PREDICTION!r} column has nothing to be compared with."
            )
            found.violations[:] = [_violation(PREDICTION, "missing_column_check", description)]
    else:
        found = _analyse_feature(feature, constraint, predictions.to_frame(PREDICTION), config)
    for violation in found.violations:
        what = (
            "Prediction drift"
            if violation["constraint_check_type"] == DRIFT_CHECK
            else "Predictions"
        )
        violation["description"] = f"{what}: {violation['description']}"
    found.drift["role"] = PREDICTION
    return found


def _common(rows: int, present: int) -> dict[str, int]:
    return {"num_present": present, "num_missing": rows - present}


def _measure_numbers(
    feature: dict[str, Any],
    column: pd.Series,
    present: np.ndarray,
    common: dict[str, int],
    bins: _NumericBins,
) -> tuple[dict[str, Any], np.ndarray, np.ndarray]:
    """The statistics and bin counts of a numeric feature, and which values are mistyped."""
    values = numbers(column)
    usable = present & ~np.isnan(values)
    if feature["inferred_type"] == INTEGRAL:
        # A whole number written as 3.0 is still an integer; 3.5 is not.
        usable &= is_whole(values)
    kept = values[usable]
    current = np.bincount(bins.index(kept), minlength=len(bins.labels))
    statistics = {
        "name": feature["name"],
        "inferred_type": infer_type(column, present, values),
        "numerical_statistics": numerical_statistics(kept, common, bins.buckets(current, kept)),
    }
    return statistics, current, present & ~usable


def population_stability_index(baseline: np.ndarray, current: np.ndarray) -> float | None:
    """PSI between two histograms over the same bins; None when either is empty."""
    baseline_total, current_total = float(np.sum(baseline)), float(np.sum(current))
    if baseline_total == 0 or current_total == 0:
        return None
    expected = np.maximum(np.asarray(baseline, dtype=float) / baseline_total, PSI_FLOOR)
    actual = np.maximum(np.asarray(current, dtype=float) / current_total, PSI_FLOOR)
    return float(np.sum((actual - expected) * np.log(actual / expected)))


# --- bins ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _NumericBins:
    """The baseline's buckets as PSI bins, the outer two open-ended.

    A constant baseline has a single bucket [v, v]; it gets three bins (< v, v, > v) so that
    values moving away from v show as drift.
    """

    cuts: np.ndarray
    baseline: np.ndarray
    labels: list[str]
    bounds: list[tuple[float, float]]
    constant: float | None

    def index(self, values: np.ndarray) -> np.ndarray:
        if self.constant is not None:
            return (values >= self.constant).astype(np.intp) + (values > self.constant)
        return bin_index(values, self.cuts)

    def buckets(self, counts: np.ndarray, values: np.ndarray) -> list[dict[str, float]]:
        """Model Monitor buckets of the data over these bins, the outer ones up to its range."""
        if not self.bounds:
            return []
        low = min(self.bounds[0][0], float(values.min())) if len(values) else self.bounds[0][0]
        high = max(self.bounds[-1][1], float(values.max())) if len(values) else self.bounds[-1][1]
        bounds = [(low, self.bounds[0][1]), *self.bounds[1:-1], (self.bounds[-1][0], high)]
        if len(self.bounds) == 1:
            bounds = [(low, high)]
        return [
            {"lower_bound": lower, "upper_bound": upper, "count": float(count)}
            for (lower, upper), count in zip(bounds, counts, strict=True)
        ]


def _numeric_bins(feature: dict[str, Any]) -> _NumericBins:
    statistics = feature.get("numerical_statistics") or {}
    buckets = ((statistics.get("distribution") or {}).get("kll") or {}).get("buckets") or []
    counts = np.array([float(bucket["count"]) for bucket in buckets])
    bounds = [(float(b["lower_bound"]), float(b["upper_bound"])) for b in buckets]
    if not buckets:
        return _NumericBins(np.array([]), np.array([0.0]), ["all values"], [], None)
    if len(buckets) == 1 and bounds[0][0] == bounds[0][1]:
        value = bounds[0][0]
        text = _number(value)
        return _NumericBins(
            np.array([]),
            np.array([0.0, counts[0], 0.0]),
            [f"< {text}", text, f"> {text}"],
            [(value, value), (value, value), (value, value)],
            value,
        )
    cuts = np.array([low for low, _ in bounds[1:]])
    labels = [f"< {_number(cuts[0])}"] if len(cuts) else ["all values"]
    labels += [f"{_number(low)} – {_number(high)}" for low, high in pairwise(cuts)]
    if len(cuts):
        labels.append(f"≥ {_number(cuts[-1])}")
    return _NumericBins(cuts, counts, labels, bounds, None)


@dataclass(frozen=True)
class _CategoricalBins:
    """The baseline's values as PSI bins, and "(other)" for everything else."""

    values: list[str]
    baseline: np.ndarray
    labels: list[str]

    def count(self, counts: pd.Series) -> np.ndarray:
        known = counts.reindex(self.values, fill_value=0).to_numpy(dtype=float)
        return np.append(known, float(counts.sum()) - known.sum())


def _categorical_bins(feature: dict[str, Any]) -> _CategoricalBins:
    statistics = feature.get("string_statistics") or {}
    distribution = (statistics.get("distribution") or {}).get("categorical") or {}
    buckets = distribution.get("buckets") or []
    values = [str(bucket["value"]) for bucket in buckets]
    counts = np.array([float(bucket["count"]) for bucket in buckets])
    present = float((statistics.get("common") or {}).get("num_present", counts.sum()))
    # The baseline lists only its most common values; the rest of it is "(other)" too.
    other = max(present - counts.sum(), 0.0)
    return _CategoricalBins(values, np.append(counts, other), [*values, OTHER])


# --- checks --------------------------------------------------------------------------------


def _completeness_check(
    name: str, common: dict[str, int], completeness: float
) -> list[dict[str, str]]:
    total = common["num_present"] + common["num_missing"]
    # A hair of tolerance: 95 present of 100 meets a completeness of 1 - 5/100.
    if common["num_present"] / total >= completeness - 1e-12:
        return []
    description = (
        f"{_percent(common['num_missing'] / total)} of values are missing "
        f"({common['num_missing']} of {total}), more than the "
        f"{_round(100 * (1 - completeness)):g}% allowed."
    )
    return [_violation(name, "completeness_check", description)]


def _data_type_check(
    feature: dict[str, Any],
    column: pd.Series,
    common: dict[str, int],
    mistyped: np.ndarray,
    config: _Config,
) -> list[dict[str, str]]:
    num_present = common["num_present"]
    wrong = int(np.count_nonzero(mistyped))
    if wrong == 0 or 1 - wrong / num_present >= config.datatype_threshold - 1e-12:
        return []
    examples = ", ".join(repr(str(v)) for v in column[mistyped].unique()[:EXAMPLES])
    description = (
        f"{wrong} of {num_present} present values ({_percent(wrong / num_present)}) are "
        f"not {feature['inferred_type']} as in the baseline, such as {examples}."
    )
    return [_violation(feature["name"], "data_type_check", description)]


def _categorical_values_check(
    name: str, counts: pd.Series, domains: list[str], config: _Config
) -> list[dict[str, str]]:
    total = int(counts.sum())
    unseen = counts[~counts.index.isin([str(value) for value in domains])]
    outside = int(unseen.sum())
    if total == 0 or outside == 0 or 1 - outside / total >= config.domain_threshold - 1e-12:
        return []
    examples = ", ".join(f"{value!r} ({count})" for value, count in unseen.iloc[:EXAMPLES].items())
    description = (
        f"{outside} of {total} present values ({_percent(outside / total)}) are not among the "
        f"baseline's values, most often {examples}."
    )
    return [_violation(name, "categorical_values_check", description)]


def _drift_violation(
    name: str, psi: float, threshold: float, bins: Any, current: np.ndarray
) -> dict[str, str]:
    expected = np.maximum(bins.baseline / bins.baseline.sum(), PSI_FLOOR)
    actual = np.maximum(current / current.sum(), PSI_FLOOR)
    worst = int(np.argmax((actual - expected) * np.log(actual / expected)))
    before = bins.baseline[worst] / bins.baseline.sum()
    after = current[worst] / current.sum()
    description = (
        f"Population stability index {psi:.2f} is above the threshold {threshold:g}: the "
        f"biggest change is in {bins.labels[worst]!r}, which held {_percent(before)} of the "
        f"baseline's values and holds {_percent(after)} of these."
    )
    return _violation(name, DRIFT_CHECK, description)


def _violation(name: str, check: str, description: str) -> dict[str, str]:
    return {"feature_name": name, "constraint_check_type": check, "description": description}


# --- formatting ----------------------------------------------------------------------------


def _proportions(counts: np.ndarray) -> list[float]:
    total = float(np.sum(counts))
    if total == 0:
        return [0.0] * len(counts)
    return [_round(count / total) for count in counts]


def _round(value: float) -> float:
    return round(float(value), 6)


def _percent(share: float) -> str:
    return f"{100 * share:.3g}%"


def _number(value: float) -> str:
    """A bin edge as a label shows it: 12, 45.035, 1747640."""
    value = float(value)
    if value.is_integer():
        return str(int(value))
    return f"{value:.6g}" if abs(value) < 1e6 else f"{value:.0f}"
