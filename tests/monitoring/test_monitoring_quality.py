"""Model quality: the metrics against scikit-learn's, the join of captured predictions with
SageMaker-format ground truth by inference id, the rolling window and the two lines."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from capture_events import ground_truth_label as _label
from capture_events import prediction_event as _event
from sklearn import metrics as sk

from mlinfra.monitoring import MonitoringError
from mlinfra.monitoring.capture import read_predictions
from mlinfra.monitoring.quality import (
    QualitySettings,
    analyse_quality,
    compute_metrics,
    read_ground_truth,
)
from mlinfra.monitoring.quality_metrics import (
    BINARY,
    METRICS,
    MULTICLASS,
    REGRESSION,
    Line,
    judge,
)

RNG = np.random.default_rng(19)


def _binary(n: int = 5000, ties: bool = False) -> tuple[np.ndarray, np.ndarray]:
    labels = RNG.integers(0, 2, n)
    scores = np.clip(labels * 0.3 + RNG.normal(0.35, 0.25, n), 0, 1)
    if ties:
        scores = np.round(scores, 1)  # many equal scores: AUC must halve the ties
    return labels, scores


@pytest.mark.parametrize("ties", [False, True])
def test_binary_metrics_equal_scikit_learns(ties: bool) -> None:
    labels, scores = _binary(ties=ties)
    predicted = (scores >= 0.5).astype(int)
    got = compute_metrics(BINARY, labels, scores)
    assert set(got) == set(METRICS[BINARY])
    assert got["accuracy"] == pytest.approx(sk.accuracy_score(labels, predicted), abs=1e-12)
    assert got["precision"] == pytest.approx(sk.precision_score(labels, predicted), abs=1e-12)
    assert got["recall"] == pytest.approx(sk.recall_score(labels, predicted), abs=1e-12)
    assert got["f1"] == pytest.approx(sk.f1_score(labels, predicted), abs=1e-12)
    assert got["auc"] == pytest.approx(sk.roc_auc_score(labels, scores), abs=1e-12)


def test_binary_labels_as_predictions_and_no_positive_prediction() -> None:
    labels = np.array([1, 0, 1, 0, 0])
    predicted = np.zeros(5)
    got = compute_metrics(BINARY, labels, predicted)
    assert got["precision"] == sk.precision_score(labels, predicted, zero_division=0) == 0
    assert got["auc"] == pytest.approx(sk.roc_auc_score(labels, predicted))
    only_one_class = compute_metrics(BINARY, np.ones(3), np.array([0.9, 0.2, 0.7]))
    assert math.isnan(only_one_class["auc"])


def test_binary_labels_must_be_0_or_1() -> None:
    with pytest.raises(MonitoringError, match="0 or 1"):
        compute_metrics(BINARY, np.array([0, 2]), np.array([0.1, 0.9]))


def test_multiclass_weighted_metrics_equal_scikit_learns() -> None:
    labels = RNG.choice(["cat", "dog", "eel", "fox"], 3000, p=[0.5, 0.3, 0.15, 0.05])
    predictions = np.where(RNG.random(3000) < 0.7, labels, RNG.choice(["cat", "dog", "gnu"], 3000))
    got = compute_metrics(MULTICLASS, labels, predictions)
    kw = {"average": "weighted", "zero_division": 0}
    assert got["accuracy"] == pytest.approx(sk.accuracy_score(labels, predictions))
    assert got["weighted_precision"] == pytest.approx(sk.precision_score(labels, predictions, **kw))
    assert got["weighted_recall"] == pytest.approx(sk.recall_score(labels, predictions, **kw))
    assert got["weighted_f1"] == pytest.approx(sk.f1_score(labels, predictions, **kw))


def test_multiclass_numbers_written_differently_are_one_class() -> None:
    got = compute_metrics(MULTICLASS, ["1", "2", "2"], ["1.0", "2", "1"])
    assert got["accuracy"] == pytest.approx(2 / 3)


def test_regression_metrics_equal_scikit_learns() -> None:
    labels = RNG.normal(50, 10, 4000)
    predictions = labels + RNG.normal(0, 3, 4000)
    got = compute_metrics(REGRESSION, labels, predictions)
    assert got["mae"] == pytest.approx(sk.mean_absolute_error(labels, predictions))
    assert got["mse"] == pytest.approx(sk.mean_squared_error(labels, predictions))
    assert got["rmse"] == pytest.approx(math.sqrt(sk.mean_squared_error(labels, predictions)))
    assert got["r2"] == pytest.approx(sk.r2_score(labels, predictions))
    assert compute_metrics(REGRESSION, [3.0, 3.0], [3.0, 3.0])["r2"] == 1.0
    assert compute_metrics(REGRESSION, [3.0, 3.0], [2.0, 3.0])["r2"] == 0.0


def test_text_that_is_not_a_number_is_a_clear_error() -> None:
    with pytest.raises(MonitoringError, match="1 label is not a number, such as 'yes'"):
        compute_metrics(REGRESSION, ["1", "yes"], ["1", "2"])
    with pytest.raises(MonitoringError, match="no labelled predictions"):
        compute_metrics(BINARY, [], [])


@pytest.mark.parametrize(
    ("metric", "value", "line", "reference", "crossed", "threshold"),
    [
        ("accuracy", 0.9, Line(0.95, False), None, True, 0.95),
        ("accuracy", 0.96, Line(0.95, False), None, False, 0.95),
        ("accuracy", 0.9, Line(0.97, True), 0.95, True, 0.97 * 0.95),
        ("accuracy", 0.93, Line(0.97, True), 0.95, False, 0.97 * 0.95),
        ("accuracy", 0.1, Line(0.97, True), None, False, None),  # no registered metric
        ("rmse", 2.6, Line(2.5, False), None, True, 2.5),
        ("rmse", 2.4, Line(2.5, False), None, False, 2.5),
        ("accuracy", None, Line(0.5, False), None, False, 0.5),  # nothing labelled yet
    ],
)
def test_judge(metric, value, line, reference, crossed, threshold) -> None:
    got = judge(metric, value, line, reference)
    assert got["crossed"] is crossed
    assert got["threshold"] == pytest.approx(threshold) if threshold else got["threshold"] is None


def test_line_parses_the_specs_spelling() -> None:
    assert Line.parse("97%") == Line(0.97, True)
    assert Line.parse("0.8") == Line(0.8, False)
    assert Line.parse(None) is None
    with pytest.raises(MonitoringError, match="write 0.8 or 97%"):
        Line.parse("ninety")


# --- files ----------------------------------------------------------------------------------


def _write(folder: Path, lines: list[str]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "part.jsonl").write_text("\n".join(lines) + "\n")


NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)


def test_predictions_join_labels_by_inference_id_else_event_id(tmp_path: Path) -> None:
    t = NOW - timedelta(hours=2)
    _write(
        tmp_path / "capture/api/AllTraffic/2026/12/07/10",
        [
            _event("e1", "0.9", t, inference_id="order-1"),  # joined by inference id
            _event("e2", "0.2", t),  # by event id
            _event("e3", "0.8", t),  # no label yet
            _event("e4", "0.7\n0.1", t),  # a batch: no one prediction
        ],
    )
    _write(
        tmp_path / "truth/2026/12/07/11",
        [
            _label("order-1", "1"),
            _label("e2", "1"),
            _label("e2", "0"),
            "not json",
        ],
    )
    predictions = read_predictions(tmp_path / "capture")
    assert predictions["id"].tolist() == ["order-1", "e2", "e3"]
    assert predictions.attrs["malformed"] == 1
    labels = read_ground_truth(tmp_path / "truth")
    assert dict(zip(labels["id"], labels["label"], strict=True)) == {"order-1": "1", "e2": "0"}
    assert labels.attrs["malformed"] == 1

    settings = QualitySettings(BINARY, "accuracy", window=timedelta(days=1),
                               alert=Line(0.97, True), rollback=Line(0.5, False),
                               reference=0.9)  # fmt: skip
    result = analyse_quality(settings, tmp_path / "capture", tmp_path / "truth", NOW)
    doc = result.document
    assert (doc["predictions"], doc["labelled"], doc["malformed"]) == (3, 2, 2)
    assert doc["value"] == 1.0  # 0.9 -> 1 (label 1), 0.2 -> 0 (label 0, the later one)
    assert doc["alert"] == {"threshold": pytest.approx(0.873), "crossed": False}
    assert not result.rollback
    result.write(tmp_path / "out")
    assert json.loads((tmp_path / "out/quality.json").read_text())["labelled"] == 2


def test_window_ends_label_delay_before_the_run(tmp_path: Path) -> None:
    lines, labels = [], []
    for hours, output in ((30, "1"), (5, "1"), (2, "0"), (0.5, "0")):
        key = f"e{hours}"
        lines.append(_event(key, output, NOW - timedelta(hours=hours)))
        labels.append(_label(key, "1"))
    _write(tmp_path / "capture/api/v/2026/12/07/00", lines)
    _write(tmp_path / "truth/2026/12/07/00", labels)
    settings = QualitySettings(
        BINARY, "recall", window=timedelta(hours=24), label_delay=timedelta(hours=1),
        alert=Line(0.8, False), rollback=Line(0.6, False),
    )  # fmt: skip
    result = analyse_quality(settings, tmp_path / "capture", tmp_path / "truth", NOW)
    # In (now-25h, now-1h]: the 5h prediction (right) and the 2h one (wrong).
    assert result.document["labelled"] == 2
    assert result.document["value"] == 0.5
    assert result.alert and result.rollback
    assert result.document["window"]["end"] == (NOW - timedelta(hours=1)).isoformat()


def test_no_labels_yet_is_no_value_and_crosses_nothing(tmp_path: Path) -> None:
    _write(
        tmp_path / "capture/a/v/2026/12/07/10",
        [_event("e", "1", NOW - timedelta(hours=1))],
    )
    settings = QualitySettings(BINARY, "accuracy", window=timedelta(days=1),
                               alert=Line(0.9, False))  # fmt: skip
    result = analyse_quality(settings, tmp_path / "capture", tmp_path / "missing", NOW)
    assert result.document["value"] is None
    assert result.document["labelled"] == 0
    assert not result.alert


def test_a_metric_of_another_problem_type_is_refused(tmp_path: Path) -> None:
    settings = QualitySettings(REGRESSION, "auc", window=timedelta(days=1))
    with pytest.raises(MonitoringError, match="auc is not a metric of regression"):
        analyse_quality(settings, tmp_path, tmp_path, NOW)


@pytest.mark.parametrize("kind", ["str", "object"])
def test_positions_find_each_key_among_the_values_as_pandas_does(kind) -> None:
    """Arrow's lookup and pandas' get_indexer agree, on pandas' text dtype and on object
    arrays (pandas 2, as in the SageMaker image), with missing keys and empty sides."""
    import pandas as pd

    from mlinfra.monitoring.quality import positions

    values = pd.Series(["b", "a", "d", "ü"], dtype=kind)
    keys = pd.Series(["a", "x", "d", "a", "ü", ""], dtype=kind)
    assert positions(keys, values).tolist() == [1, -1, 2, 1, 3, -1]
    assert positions(keys, values).tolist() == pd.Index(values).get_indexer(keys).tolist()
    assert positions(keys, pd.Series([], dtype=kind)).tolist() == [-1] * 6
    assert positions(pd.Series([], dtype=kind), values).tolist() == []
