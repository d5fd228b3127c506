"""Model quality: captured predictions joined with their ground-truth labels, one metric over a
rolling window, held to an alert line and a rollback line.

Ground truth is SageMaker's format for its model-quality merge (the developer guide's "Ingest
Ground Truth labels and merge them with predictions"): JSON Lines under the same
`yyyy/mm/dd/hh/` layout as captured data, one label a line::

    {"groundTruthData": {"data": "1", "encoding": "CSV"},
     "eventMetadata": {"eventId": "<the request's inferenceId, else its eventId>"},
     "eventVersion": "0"}

A label joins the prediction whose inference id (else event id) it names; when a label is
given twice, the one read last (files in path order) counts. The window holds the predictions
made in (end - window, end], with end = the run's time - label_delay, so that labels still on
their way do not count; predictions without a label are counted, not judged.

`quality.json`, what reports and alerts read::

    {"version": 1, "problem_type": "binary_classification", "metric": "accuracy",
     "value": 0.91, "metrics": {"accuracy": 0.91, "precision": ..., "auc": ...},
     "window": {"start": "...", "end": "..."},
     "predictions": 1200, "labelled": 1000, "malformed": 0,
     "reference": 0.94,                      # the metric at registration, when known
     "alert": {"threshold": 0.9118, "crossed": false},      # null without alert_below/above
     "rollback": {"threshold": 0.893, "crossed": false},
     "prediction_distribution": [{"bin": "0-0.1", "count": 120}, ...]}  # `prediction_distribution`

Metrics are scikit-learn's (tests hold them to it): binary precision, recall and F1 of the
positive class 1, 0 when undefined (scikit-learn's zero_division); a binary prediction that is
a probability counts as 1 from 0.5; AUC from the scores' average ranks (ties halved), as
roc_auc_score; multiclass weighted_* averaged over classes by their number of labels;
regression r2 is 1 - SS_res / SS_tot (1 for a perfect constant, else 0 when the labels are
constant).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from mlinfra.monitoring import MonitoringError
from mlinfra.monitoring.capture import MALFORMED, read_predictions
from mlinfra.monitoring.files import write_json
from mlinfra.monitoring.quality_metrics import (
    BINARY,
    METRICS,
    MULTICLASS,
    QUALITY_FILE,
    REGRESSION,
    Line,
    judge,
    lower_is_better,
)

log = logging.getLogger(__name__)

QUALITY_VERSION = 1
PROBABILITY_THRESHOLD = 0.5  # a binary score from this up is the positive class


# --- ground truth ---------------------------------------------------------------------------


def read_ground_truth(folder: Path) -> pd.DataFrame:
    """Every label under `folder`: columns `id` and `label` (text), one row an id (the last
    read wins). Unreadable lines are skipped and counted in `attrs[MALFORMED]`."""
    ids: list[str] = []
    labels: list[str] = []
    malformed = 0
    for path in sorted(folder.rglob("*.jsonl")) if folder.is_dir() else []:
        try:
            raw = path.read_bytes()
        except OSError as error:
            log.warning("cannot read ground-truth file %s: %s", path, error.strerror)
            malformed += 1
            continue
        for line in raw.splitlines():
            if not line.strip():
                continue
            try:
                record = json.loads(line)
                truth = record["groundTruthData"]
                key = record["eventMetadata"]["eventId"]
                value = _label(truth.get("encoding"), truth["data"])
            except (ValueError, KeyError, TypeError, AttributeError):
                malformed += 1
                continue
            if not isinstance(key, str) or value is None:
                malformed += 1
                continue
            ids.append(key)
            labels.append(value)
    frame = pd.DataFrame({"id": ids, "label": labels}, dtype=str)
    frame = frame.drop_duplicates("id", keep="last").reset_index(drop=True)
    frame.attrs[MALFORMED] = malformed
    return frame


def _label(encoding: Any, data: Any) -> str | None:
    if isinstance(data, bool):
        return None
    if isinstance(data, (int, float)):
        return str(data)
    if not isinstance(data, str):
        return None
    if str(encoding or "").upper() == "JSON":
        try:
            value = json.loads(data)
        except ValueError:
            return None
        while isinstance(value, list) and len(value) == 1:
            value = value[0]
        if isinstance(value, bool) or not isinstance(value, (int, float, str)):
            return None
        return str(value)
    value = data.strip().split(",", 1)[0].strip().strip('"')
    return value or None


def positions(keys: pd.Series, values: pd.Series) -> np.ndarray:
    """Where each of `keys` is among `values` (which are unique), -1 where it is not.

    Arrow's hash lookup (`index_in`) where pyarrow is installed (the scikit-learn image has
    it): on a million text ids about four times faster than pandas' `get_indexer`
    (benchmarks/README.md, quality_bench.py); pandas' otherwise, and for empty sides.
    """
    if len(keys) and len(values):
        try:
            import pyarrow as pa
            import pyarrow.compute as pc
        except ImportError:
            pass
        else:
            wanted = pa.array(keys)
            value_set = pa.array(values).cast(wanted.type)
            return pc.index_in(wanted, value_set=value_set).fill_null(-1).to_numpy()
    return pd.Index(values).get_indexer(keys)


def joined(predictions: pd.DataFrame, labels: pd.DataFrame) -> pd.DataFrame:
    """The predictions that have a label: columns `prediction` and `label`, in the
    predictions' order (one hash join on the id)."""
    at = positions(predictions["id"], labels["id"])
    found = at >= 0
    return pd.DataFrame(
        {
            "prediction": predictions["prediction"].to_numpy()[found],
            "label": labels["label"].to_numpy()[at[found]],
        }
    )


# --- metrics --------------------------------------------------------------------------------


def compute_metrics(problem_type: str, labels: Any, predictions: Any) -> dict[str, float]:
    """Every metric of `problem_type` (METRICS) over labels and predictions, as floats.
    Binary and regression values must be numbers (text is parsed); multiclass compares the
    values as they are, numbers as numbers when both sides are all numbers."""
    if len(labels) == 0:
        raise MonitoringError("no labelled predictions to compute a metric over")
    if problem_type == BINARY:
        return binary_metrics(_numbers(labels, "label"), _numbers(predictions, "prediction"))
    if problem_type == MULTICLASS:
        return multiclass_metrics(*_classes(labels, predictions))
    if problem_type == REGRESSION:
        return regression_metrics(_numbers(labels, "label"), _numbers(predictions, "prediction"))
    raise MonitoringError(f"unknown problem type {problem_type!r}")


def _numbers(values: Any, what: str) -> np.ndarray:
    array = np.asarray(values)
    if array.dtype.kind in "biuf":
        return array.astype(np.float64, copy=False)
    parsed = pd.to_numeric(pd.Series(array), errors="coerce").to_numpy(dtype=np.float64)
    bad = np.isnan(parsed)
    if bad.any():
        example = str(array[np.argmax(bad)])
        count = int(bad.sum())
        which = f"{count} {what}s are" if count > 1 else f"1 {what} is"
        raise MonitoringError(f"{which} not a number, such as {example!r}")
    return parsed


def _classes(labels: Any, predictions: Any) -> tuple[np.ndarray, np.ndarray]:
    left, right = np.asarray(labels), np.asarray(predictions)
    if left.dtype.kind in "biuf" and right.dtype.kind in "biuf":
        return left, right
    as_numbers = pd.to_numeric(pd.Series(left), errors="coerce").to_numpy()
    other = pd.to_numeric(pd.Series(right), errors="coerce").to_numpy()
    if not (np.isnan(as_numbers).any() or np.isnan(other).any()):
        return as_numbers, other  # "1" and "1.0" are the same class
    return left.astype(str), right.astype(str)


def binary_metrics(labels: np.ndarray, scores: np.ndarray) -> dict[str, float]:
    positive = labels == 1
    if not np.isin(labels, (0.0, 1.0)).all():
        raise MonitoringError("binary_classification labels must be 0 or 1")
    predicted = scores >= PROBABILITY_THRESHOLD
    tp = float(np.count_nonzero(predicted & positive))
    fp = float(np.count_nonzero(predicted & ~positive))
    fn = float(np.count_nonzero(~predicted & positive))
    n = len(labels)
    return {
        "accuracy": (n - fp - fn) / n,
        "precision": tp / (tp + fp) if tp + fp else 0.0,
        "recall": tp / (tp + fn) if tp + fn else 0.0,
        "f1": 2 * tp / (2 * tp + fp + fn) if tp + fp + fn else 0.0,
        "auc": auc(positive, scores),
    }


def auc(positive: np.ndarray, scores: np.ndarray) -> float:
    """The area under the ROC curve: the Mann-Whitney U of the positives' score ranks (ties
    get their average rank), over positives x negatives. NaN when one class is absent, where
    roc_auc_score raises."""
    n_pos = int(np.count_nonzero(positive))
    n_neg = len(positive) - n_pos
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    order = np.argsort(scores, kind="stable")
    ordered = scores[order]
    # Average ranks (1-based) of each run of equal scores.
    starts = np.flatnonzero(np.r_[True, ordered[1:] != ordered[:-1]])
    counts = np.diff(np.r_[starts, len(ordered)])
    average = starts + (counts + 1) / 2.0
    ranks = np.repeat(average, counts)
    rank_sum = ranks[positive[order]].sum()
    return float((rank_sum - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg))


def multiclass_metrics(labels: np.ndarray, predictions: np.ndarray) -> dict[str, float]:
    classes, codes = np.unique(np.concatenate([labels, predictions]), return_inverse=True)
    n, k = len(labels), len(classes)
    truth, guess = codes[:n], codes[n:]
    support = np.bincount(truth, minlength=k).astype(np.float64)
    guessed = np.bincount(guess, minlength=k).astype(np.float64)
    hits = np.bincount(truth[truth == guess], minlength=k).astype(np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        precision = np.where(guessed > 0, hits / guessed, 0.0)
        recall = np.where(support > 0, hits / support, 0.0)
        both = support + guessed
        f1 = np.where(both > 0, 2 * hits / both, 0.0)
    weights = support / n
    return {
        "accuracy": float(hits.sum() / n),
        "weighted_precision": float(precision @ weights),
        "weighted_recall": float(recall @ weights),
        "weighted_f1": float(f1 @ weights),
    }


def regression_metrics(labels: np.ndarray, predictions: np.ndarray) -> dict[str, float]:
    error = predictions - labels
    mse = float(np.mean(error * error))
    residual = float(np.sum(error * error))
    total = float(np.sum((labels - labels.mean()) ** 2))
    if total == 0:
        r2 = 1.0 if residual == 0 else 0.0
    else:
        r2 = 1.0 - residual / total
    return {"mae": float(np.mean(np.abs(error))), "mse": mse, "rmse": mse**0.5, "r2": r2}


# --- thresholds and the run -----------------------------------------------------------------


@dataclass(frozen=True)
class QualitySettings:
    problem_type: str
    metric: str
    window: timedelta
    label_delay: timedelta = timedelta(0)
    alert: Line | None = None
    rollback: Line | None = None
    reference: float | None = None  # the metric the serving version was registered with

    @classmethod
    def of(cls, arguments: Any) -> QualitySettings:
        """The settings the jobs' command lines give (`--problem-type`, `--metric`,
        `--window-seconds`, `--label-delay-seconds`, `--alert`, `--rollback`, `--reference`)."""
        return cls(
            problem_type=arguments.problem_type,
            metric=arguments.metric,
            window=timedelta(seconds=arguments.window_seconds),
            label_delay=timedelta(seconds=arguments.label_delay_seconds),
            alert=Line.parse(arguments.alert),
            rollback=Line.parse(arguments.rollback),
            reference=getattr(arguments, "reference", None),
        )


def add_quality_arguments(parser: Any) -> None:
    """The options of a quality run both jobs take (`QualitySettings.of` reads them)."""
    parser.add_argument("--problem-type", required=True, choices=sorted(METRICS))
    parser.add_argument("--metric", required=True)
    parser.add_argument("--window-seconds", type=float, required=True)
    parser.add_argument("--label-delay-seconds", type=float, default=0.0)
    parser.add_argument("--alert", help="the alert line: 0.8, or 97%% of the registered metric")
    parser.add_argument("--rollback", help="the rollback line, as --alert")


@dataclass(frozen=True)
class QualityResult:
    document: dict[str, Any]

    @property
    def alert(self) -> bool:
        return bool((self.document["alert"] or {}).get("crossed"))

    @property
    def rollback(self) -> bool:
        return bool((self.document["rollback"] or {}).get("crossed"))

    def write(self, folder: Path) -> None:
        write_json(folder / QUALITY_FILE, self.document)


def analyse_quality(
    settings: QualitySettings, capture: Path, ground_truth: Path, now: datetime
) -> QualityResult:
    """Judge the predictions captured under `capture` in the window ending `now - label_delay`
    against the labels under `ground_truth`."""
    if settings.metric not in METRICS.get(settings.problem_type, ()):
        raise MonitoringError(
            f"{settings.metric} is not a metric of {settings.problem_type} models"
        )
    end = now - settings.label_delay
    start = end - settings.window
    predictions = read_predictions(capture, since=start, until=end)
    labels = read_ground_truth(ground_truth)
    pairs = joined(predictions, labels)
    document: dict[str, Any] = {
        "version": QUALITY_VERSION,
        "problem_type": settings.problem_type,
        "metric": settings.metric,
        "value": None,
        "metrics": {},
        "window": {"start": start.isoformat(), "end": end.isoformat()},
        "predictions": len(predictions),
        "labelled": len(pairs),
        "malformed": predictions.attrs[MALFORMED] + labels.attrs[MALFORMED],
        "reference": settings.reference,
        "alert": None,
        "rollback": None,
    }
    document["prediction_distribution"] = prediction_distribution(
        settings.problem_type, predictions["prediction"]
    )
    if len(pairs):
        metrics = compute_metrics(settings.problem_type, pairs["label"], pairs["prediction"])
        document["metrics"] = {name: _finite(value) for name, value in metrics.items()}
        document["value"] = document["metrics"][settings.metric]
    for name, line in (("alert", settings.alert), ("rollback", settings.rollback)):
        if line is not None:
            document[name] = judge(settings.metric, document["value"], line, settings.reference)
    return QualityResult(document)


DISTRIBUTION_BINS = 10
MAX_CLASSES = 20


def prediction_distribution(problem_type: str, predictions: Any) -> list[dict[str, Any]]:
    """What the endpoint predicted in the window, as `[{"bin": "0.0-0.1", "count": 12}, ...]`:
    ten equal bins of a binary model's scores over [0, 1] (of a regression's values over their
    range), or the count of each class (the most frequent MAX_CLASSES) of a multiclass one or
    of a binary one answering classes that are not scores."""
    values = pd.Series(np.asarray(predictions), dtype=object)
    if values.empty:
        return []
    numbers = pd.to_numeric(values, errors="coerce")
    numeric = bool(numbers.notna().all())
    if problem_type == MULTICLASS or not numeric:
        counts = values.astype(str).value_counts().items()
        ordered = sorted(((str(k), int(v)) for k, v in counts), key=lambda kv: (-kv[1], kv[0]))
        return [{"bin": k, "count": v} for k, v in ordered[:MAX_CLASSES]]
    array = numbers.to_numpy(dtype=np.float64)
    low, high = (0.0, 1.0) if problem_type == BINARY else (float(array.min()), float(array.max()))
    if problem_type == BINARY and (array.min() < 0 or array.max() > 1):
        low, high = float(array.min()), float(array.max())
    if high == low:
        return [{"bin": f"{low:g}", "count": int(len(array))}]
    edges = np.linspace(low, high, DISTRIBUTION_BINS + 1)
    counts, _ = np.histogram(array, bins=edges)
    return [
        {"bin": f"{edges[i]:.3g}-{edges[i + 1]:.3g}", "count": int(counts[i])}
        for i in range(DISTRIBUTION_BINS)
    ]


def _finite(value: float) -> float | None:
    return None if np.isnan(value) else value


def violations(document: dict[str, Any]) -> list[dict[str, str]]:
    """The lines `document` (quality.json) crossed, as Model Monitor's model-quality
    constraint violations: `metric_name`, `constraint_check_type`, `description`."""
    metric, value = document["metric"], document["value"]
    check = "GreaterThanThreshold" if lower_is_better(metric) else "LessThanThreshold"
    side = "above" if lower_is_better(metric) else "below"
    found = []
    for name in ("alert", "rollback"):
        line = document.get(name)
        if line and line["crossed"]:
            found.append(
                {
                    "metric_name": metric,
                    "constraint_check_type": check,
                    "description": f"{metric} {value:.4g} is {side} the {name} line "
                    f"{line['threshold']:.4g} over {document['labelled']} labelled predictions",
                }
            )
    return found
