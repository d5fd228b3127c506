"""Suggesting a baseline: the statistics and constraints of a data set, in Model Monitor's format.

`suggest_baseline` does what Model Monitor's baselining job does: it infers each column's type
(`Integral`, `Fractional` or `String`), summarises it in `statistics.json` and writes the rules
later data must keep in `constraints.json`. The numeric distribution's buckets are the bins the
analysis computes the population stability index on (see `quantile_buckets`).

The column helpers here (`present_values`, `numbers`, `infer_type`, `counts_by_value`) are also
what the analysis uses, so that a value means the same thing in the baseline and in the data
compared with it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from mlinfra.monitoring import MonitoringError
from mlinfra.monitoring.files import read_json, write_json

INTEGRAL = "Integral"
FRACTIONAL = "Fractional"
STRING = "String"
NUMERIC_TYPES = (INTEGRAL, FRACTIONAL)

STATISTICS_FILE = "statistics.json"
CONSTRAINTS_FILE = "constraints.json"
DEFAULT_BINS = 10
DEFAULT_DRIFT_PSI = 0.2
DEFAULT_MISSING_PERCENT = 5.0
# A String column with more distinct values than this is free text or an identifier: a domain
# of its values would flag every new one, and its distribution keeps only the most common.
MAX_CATEGORIES = 50
SAMPLE = 1000  # rows looked at first to tell a text column from a numeric one
# The baseline column that holds the model's output rather than an input: compared with the
# captured responses (prediction drift), never read from the requests. SageMaker's own name
# for a data set's model output column when none is given.
PREDICTION = "prediction"


@dataclass(frozen=True)
class Baseline:
    """A baseline's two Model Monitor files, as the dicts they hold."""

    statistics: dict[str, Any]
    constraints: dict[str, Any]

    def write(self, folder: Path) -> None:
        write_json(folder / STATISTICS_FILE, self.statistics)
        write_json(folder / CONSTRAINTS_FILE, self.constraints)

    @classmethod
    def read(cls, folder: Path) -> Baseline:
        if not folder.is_dir():
            raise MonitoringError(f"no baseline at {folder}: the folder does not exist")
        statistics = read_json(folder / STATISTICS_FILE, "baseline statistics")
        constraints = read_json(folder / CONSTRAINTS_FILE, "baseline constraints")
        _check_features(statistics, folder / STATISTICS_FILE)
        _check_features(constraints, folder / CONSTRAINTS_FILE)
        return cls(statistics, constraints)

    @property
    def features(self) -> list[str]:
        """The baseline's feature names, in the data set's column order."""
        return [feature["name"] for feature in self.statistics["features"]]

    @property
    def inputs(self) -> list[str]:
        """The features the endpoint receives: every one but the prediction, in order."""
        return [name for name in self.features if name != PREDICTION]

    @property
    def has_prediction(self) -> bool:
        """Whether the baseline has a prediction column, to compare the responses with."""
        return PREDICTION in self.features


def _check_features(document: Any, path: Path) -> None:
    features = document.get("features") if isinstance(document, dict) else None
    if not isinstance(features, list):
        raise MonitoringError(f"{path} is not a Model Monitor file: it has no 'features' list")
    for number, feature in enumerate(features, start=1):
        if not isinstance(feature, dict) or not isinstance(feature.get("name"), str):
            raise MonitoringError(f"{path}: feature {number} has no name")
        if feature.get("inferred_type") not in (*NUMERIC_TYPES, STRING):
            raise MonitoringError(
                f"{path}: feature {feature['name']!r} has inferred_type "
                f"{feature.get('inferred_type')!r}, not Integral, Fractional or String"
            )


def read_dataset(path: Path) -> pd.DataFrame:
    """A CSV data set with a header row, every value kept as the text it was written as.

    Types are inferred here, not by pandas: pandas would read "007" as 7 and "NA" as missing.
    Only an empty field is missing.
    """
    try:
        return pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[""])
    except FileNotFoundError:
        raise MonitoringError(f"data set not found: {path}") from None
    except pd.errors.EmptyDataError:
        raise MonitoringError(f"data set {path} is empty: it has no header row") from None
    except (OSError, UnicodeDecodeError, pd.errors.ParserError) as error:
        raise MonitoringError(f"cannot read data set {path}: {error}") from None


def suggest_baseline(
    data: pd.DataFrame,
    *,
    drift_psi: float = DEFAULT_DRIFT_PSI,
    missing_percent: float = DEFAULT_MISSING_PERCENT,
    bins: int = DEFAULT_BINS,
) -> Baseline:
    """The statistics of `data` and the constraints later data is checked against.

    `drift_psi` and `missing_percent` are the spec's `thresholds`; `bins` is how many quantile
    bins numeric features get (fewer when values repeat).
    """
    if not drift_psi > 0:
        raise MonitoringError(f"the drift threshold must be above 0, not {drift_psi}")
    if not 0 <= missing_percent <= 100:
        raise MonitoringError(f"the missing percentage must be 0 to 100, not {missing_percent}")
    if bins < 1:
        raise MonitoringError(f"a baseline needs at least 1 bin, not {bins}")
    if len(data) == 0:
        raise MonitoringError("the baseline data set has no rows")
    completeness = round(1 - missing_percent / 100, 10)
    statistics = []
    constraints = []
    for name in data.columns:
        feature = _feature_statistics(str(name), data[name], bins)
        statistics.append(feature)
        constraints.append(_feature_constraints(feature, completeness))
    return Baseline(
        statistics={
            "version": 0.0,
            "dataset": {"item_count": len(data)},
            "features": statistics,
        },
        constraints={
            "version": 0.0,
            "features": constraints,
            "monitoring_config": {
                "evaluate_constraints": "Enabled",
                "emit_metrics": "Enabled",
                "datatype_check_threshold": 1.0,
                "domain_content_threshold": 1.0,
                "distribution_constraints": {
                    "perform_comparison": "Enabled",
                    "comparison_threshold": float(drift_psi),
                    "comparison_method": "PSI",
                },
            },
        },
    )


def _feature_statistics(name: str, column: pd.Series, bins: int) -> dict[str, Any]:
    present = present_values(column)
    if _is_text(column.iloc[:SAMPLE]):
        # Parsing a whole text column just to learn it is text costs a second a million rows.
        inferred_type, values = STRING, np.array([])
    else:
        values = numbers(column)
        inferred_type = infer_type(column, present, values)
    num_present = int(present.sum())
    common = {"num_present": num_present, "num_missing": len(column) - num_present}
    if inferred_type in NUMERIC_TYPES:
        finite = values[present]
        return {
            "name": name,
            "inferred_type": inferred_type,
            "numerical_statistics": numerical_statistics(
                finite, common, quantile_buckets(finite, bins)
            ),
        }
    return {
        "name": name,
        "inferred_type": inferred_type,
        "string_statistics": string_statistics(counts_by_value(column), common),
    }


def _feature_constraints(feature: dict[str, Any], completeness: float) -> dict[str, Any]:
    constraint: dict[str, Any] = {
        "name": feature["name"],
        "inferred_type": feature["inferred_type"],
        "completeness": completeness,
    }
    if "numerical_statistics" in feature:
        low = feature["numerical_statistics"]["min"]
        constraint["num_constraints"] = {"is_non_negative": low is not None and low >= 0}
    else:
        buckets = feature["string_statistics"]["distribution"]["categorical"]["buckets"]
        distinct = feature["string_statistics"]["distinct_count"]
        if 0 < distinct <= MAX_CATEGORIES:
            domains = sorted(bucket["value"] for bucket in buckets)
            constraint["string_constraints"] = {"domains": domains}
    return constraint


# --- columns -------------------------------------------------------------------------------


def present_values(column: pd.Series) -> np.ndarray:
    """Which rows hold a value: not missing, and not an empty string."""
    present = column.notna().to_numpy()
    if not _is_numeric(column):
        present = present & (column != "").to_numpy(dtype=bool, na_value=False)
    return present


def numbers(column: pd.Series) -> np.ndarray:
    """The column as floats; NaN where a value is missing, not a number, or not finite."""
    if _is_boolean(column):
        return np.full(len(column), np.nan)
    if _is_numeric(column):
        values = column.to_numpy(dtype="float64", na_value=np.nan)
    else:
        values = _parse_numbers(column)
    return np.where(np.isfinite(values), values, np.nan)


def _is_numeric(column: pd.Series) -> bool:
    # Booleans are categories ("True", "False"), not 0 and 1.
    return pd.api.types.is_numeric_dtype(column.dtype) and not pd.api.types.is_bool_dtype(
        column.dtype
    )


def _is_boolean(column: pd.Series) -> bool:
    # pandas would read True as 1; a column of booleans (with None, so of objects) is categories.
    if pd.api.types.is_bool_dtype(column.dtype):
        return True
    return column.dtype == object and pd.api.types.infer_dtype(column, skipna=True) == "boolean"


def _parse_numbers(column: pd.Series) -> np.ndarray:
    if isinstance(column.dtype, pd.StringDtype):
        # Arrow parses a column of clean numbers about ten times faster than pandas; it refuses
        # the whole column at the first bad value, and then pandas marks values one by one.
        try:
            import pyarrow as pa
            import pyarrow.compute as pc

            parsed = pc.cast(pa.array(column.array), pa.float64())
            return parsed.to_numpy(zero_copy_only=False)
        except (ImportError, TypeError, ValueError, NotImplementedError):
            pass
    return pd.to_numeric(column, errors="coerce").to_numpy(dtype="float64", na_value=np.nan)


def is_whole(values: np.ndarray) -> np.ndarray:
    """Which values are whole numbers (NaN is not)."""
    return np.floor(values) == values


def _is_text(sample: pd.Series) -> bool:
    """Whether some value of the sample is certainly not a number."""
    return bool(np.isnan(numbers(sample)[present_values(sample)]).any())


def infer_type(column: pd.Series, present: np.ndarray, values: np.ndarray) -> str:
    """Integral when every present value is an integer, Fractional when a number, else String.

    Text counts as an integer only when written as one ("3", not "3.0"); a float column does
    when its values are whole, because pandas turns integers with a missing value into floats.
    """
    if not present.any() or np.isnan(values[present]).any():
        return STRING
    if not is_whole(values[present]).all():
        return FRACTIONAL
    if _is_numeric(column):
        return INTEGRAL
    written = column[present].astype(str)
    return FRACTIONAL if written.str.contains(r"[.eE]", regex=True).any() else INTEGRAL


def counts_by_value(column: pd.Series) -> pd.Series:
    """How often each present value occurs, keyed by its text, most common first."""
    counts = column.value_counts(dropna=True, sort=False)
    counts = counts[counts > 0]  # a categorical column lists its unused categories too
    if not isinstance(counts.index.dtype, pd.StringDtype):
        # Counting first and converting only the distinct values keeps this fast; values that
        # print the same (1 and "1") are one category, as they would be in a CSV.
        counts = counts.groupby(counts.index.map(str)).sum()
    counts = counts.drop("", errors="ignore")
    return counts.sort_values(ascending=False, kind="stable")


def bin_index(values: np.ndarray, cuts: np.ndarray) -> np.ndarray:
    """The bin of each value, bins being split at `cuts`: bin i holds cuts[i-1] <= v < cuts[i]."""
    return np.searchsorted(cuts, values, side="right")


# --- statistics ----------------------------------------------------------------------------


def quantile_buckets(values: np.ndarray, bins: int) -> list[dict[str, float]]:
    """Buckets between the quantiles of `values`, each holding about 1/bins of them.

    Model Monitor's buckets are equal-width; these are quantile bins because the population
    stability index is conventionally computed on them: every bin carries weight, so a shift
    anywhere in the distribution shows. Edges are actual values and repeated edges are merged,
    so a column of few values gets one bucket per value and a constant column a single bucket.
    """
    if len(values) == 0:
        return []
    edges = np.unique(np.quantile(values, np.linspace(0, 1, bins + 1), method="inverted_cdf"))
    if len(edges) == 1:
        return [
            {
                "lower_bound": float(edges[0]),
                "upper_bound": float(edges[0]),
                "count": float(len(values)),
            }
        ]
    counts = np.bincount(bin_index(values, edges[1:-1]), minlength=len(edges) - 1)
    return [
        {"lower_bound": float(low), "upper_bound": float(high), "count": float(count)}
        for low, high, count in zip(edges[:-1], edges[1:], counts, strict=True)
    ]


def numerical_statistics(
    values: np.ndarray, common: dict[str, int], buckets: list[dict[str, float]]
) -> dict[str, Any]:
    """Model Monitor's numerical_statistics of the finite `values`."""
    if len(values) == 0:
        # No value to summarise; null rather than a made-up 0.
        moments: dict[str, Any] = {"mean": None, "sum": 0.0, "std_dev": None}
        moments.update(min=None, max=None)
    else:
        moments = {
            "mean": _number(values.mean()),
            "sum": _number(values.sum()),
            # Model Monitor (Deequ) reports the population standard deviation.
            "std_dev": _number(values.std()),
            "min": _number(values.min()),
            "max": _number(values.max()),
        }
    return {
        "common": common,
        **moments,
        "distribution": {"kll": {"buckets": buckets}},
    }


def string_statistics(counts: pd.Series, common: dict[str, int]) -> dict[str, Any]:
    """Model Monitor's string_statistics, from `counts_by_value`."""
    top = counts.iloc[:MAX_CATEGORIES]
    return {
        "common": common,
        "distinct_count": float(len(counts)),
        "distribution": {
            "categorical": {
                "buckets": [
                    {"value": str(value), "count": int(count)} for value, count in top.items()
                ]
            }
        },
    }


def _number(value: Any) -> float | None:
    value = float(value)
    return value if math.isfinite(value) else None
