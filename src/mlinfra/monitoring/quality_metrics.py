"""The model-quality metrics mlinfra computes, by problem type: the one list the spec's checks,
the monitor engine and its reports read.

The names are SageMaker Model Monitor's model-quality metrics (the developer guide's "Model
quality metrics and Amazon CloudWatch monitoring"): a multiclass model's precision, recall and
F1 are averages over the classes weighted by each class's support, hence `weighted_`. Error
metrics are worse when they grow, so their thresholds are `alert_above` and `rollback_above`.
The lines a metric is held to (`Line`, `judge`) are here too. This module imports nothing
heavy, so that the spec's checks and the emulator read it cheaply.
"""

from __future__ import annotations

from dataclasses import dataclass

from mlinfra.monitoring import MonitoringError

QUALITY_FILE = "quality.json"  # what a quality run writes, in its report folder

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


@dataclass(frozen=True)
class Line:
    """A threshold as the spec gives it: absolute, or a share of the registered metric."""

    value: float
    relative: bool

    @classmethod
    def parse(cls, text: str | None) -> Line | None:
        """`0.8` or `97%` (the spec's spelling), None for nothing."""
        if text is None or not text.strip():
            return None
        text = text.strip()
        try:
            if text.endswith("%"):
                return cls(float(text[:-1]) / 100, True)
            return cls(float(text), False)
        except ValueError:
            raise MonitoringError(f"not a threshold: {text!r}; write 0.8 or 97%") from None

    def threshold(self, reference: float | None) -> float | None:
        """The absolute line; None when relative and the registered metric is unknown."""
        if not self.relative:
            return self.value
        return None if reference is None else self.value * reference


def judge(metric: str, value: float | None, line: Line, reference: float | None) -> dict:
    """Whether `value` crossed `line`: fell below it, or rose above it for an error metric.
    Nothing is crossed without a value or, for a relative line, without the reference."""
    threshold = line.threshold(reference)
    crossed = False
    if value is not None and threshold is not None:
        crossed = value > threshold if lower_is_better(metric) else value < threshold
    return {"threshold": threshold, "crossed": crossed}
