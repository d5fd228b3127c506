"""The model-quality metrics mlinfra computes, by problem type: the one list the spec's checks,
the monitor engine and its reports read.

The names are SageMaker Model Monitor's model-quality metrics (the developer guide's "Model
quality metrics and Amazon CloudWatch monitoring"): a multiclass model's precision, recall and
F1 are averages over the classes weighted by each class's support, hence `weighted_`. Error
metrics are worse when they grow, so their thresholds are `alert_above` and `rollback_above`.
This module imports nothing, so that the spec's checks can read it cheaply.
"""

from __future__ import annotations

BINARY = "binary_classification"
MULTICLASS = "multiclass_classification"
REGRESSION = "regression"

METRICS: dict[str, tuple[str, ...]] = {
    BINARY: ("accuracy", "precision", "recall", "f1", "auc"),
    MULTICLASS: ("accuracy", "weighted_precision", "weighted_recall", "weighted_f1"),
    REGRESSION: ("mae", "mse", "rmse", "r2"),
}
ERROR_METRICS = frozenset({"mae", "mse", "rmse"})


def lower_is_better(metric: str) -> bool:
    """Whether `metric` is an error, whose thresholds are the highest it may reach."""
    return metric in ERROR_METRICS


def problem_types_of(metric: str) -> list[str]:
    """The problem types `metric` fits, in the order METRICS lists them."""
    return [problem for problem, metrics in METRICS.items() if metric in metrics]
