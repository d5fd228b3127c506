"""The report of a model-quality monitor: its metric over its runs against the alert and
rollback lines, and what the endpoint predicted in the latest window, in the terminal and as
one self-contained HTML page (`mlinfra monitor report` of a model_quality monitor).

It reads the runs' quality.json (`quality`), oldest first. A relative line is a share of the
metric the serving version was registered with, so it moves when another version serves
(after a rollback): each run's line is drawn as that run judged it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2
from rich.console import Console
from rich.table import Table
from rich.text import Text

from mlinfra.monitoring.quality_metrics import QUALITY_FILE, lower_is_better
from mlinfra.monitoring.report import ReportError


@dataclass(frozen=True)
class QualityRun:
    """One run: its job, the window it judged and what it found (its quality.json), and
    what its rollback did (the emulator's record of it), if it rolled back."""

    job: str
    document: dict[str, Any]
    rollback: str | None = None

    @property
    def end(self) -> str:
        return str((self.document.get("window") or {}).get("end", ""))

    @property
    def value(self) -> float | None:
        return _number(self.document.get("value"))

    def line(self, name: str) -> float | None:
        return _number((self.document.get(name) or {}).get("threshold"))

    def crossed(self, name: str) -> bool:
        return bool((self.document.get(name) or {}).get("crossed"))

    @property
    def state(self) -> str:
        if self.crossed("rollback"):
            return "rollback"
        if self.crossed("alert"):
            return "alert"
        return "no value" if self.value is None else "ok"


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def read_quality(folder: Path, job: str, rollback: str | None = None) -> QualityRun:
    """The run whose quality.json is in `folder`; a ReportError naming it when unreadable."""
    path = folder / QUALITY_FILE
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ReportError(path, "is missing") from None
    except (OSError, ValueError) as exc:
        raise ReportError(path, f"cannot be read ({exc})") from None
    if not isinstance(document, dict) or not isinstance(document.get("metric"), str):
        raise ReportError(path, "is not a quality result (no metric)")
    return QualityRun(job, document, rollback)


# --- terminal -------------------------------------------------------------------------------


def _show(value: float | None) -> str:
    return "-" if value is None else f"{value:.4f}"


def summary(run: QualityRun) -> str:
    document = run.document
    side = "above" if lower_is_better(document["metric"]) else "below"
    found = {
        "rollback": f"{side} the rollback line {_show(run.line('rollback'))}",
        "alert": f"{side} the alert line {_show(run.line('alert'))}",
        "ok": "within its lines",
        "no value": "no labelled predictions yet",
    }[run.state]
    return (
        f"{document['metric']} {_show(run.value)} over {document.get('labelled', 0):,} labelled "
        f"of {document.get('predictions', 0):,} predictions: {found}"
    )


def render_quality_text(runs: list[QualityRun], console: Console, *, title: str) -> None:
    """The latest run in one line, the metric of every run against its lines (oldest first),
    and what the latest rollback did."""
    latest = runs[-1]
    console.print(Text(title, style="bold"))
    bad = latest.state in ("alert", "rollback")
    console.print(Text(summary(latest), style="red" if bad else "green"))
    metric = latest.document["metric"]
    table = Table(title=Text(f"{metric} over time"), title_justify="left")
    table.add_column("window end", no_wrap=True)
    table.add_column(metric, justify="right")
    table.add_column("alert line", justify="right")
    table.add_column("rollback line", justify="right")
    table.add_column("labelled", justify="right")
    table.add_column("")
    styles = {"rollback": "bold red", "alert": "yellow", "ok": "green", "no value": "dim"}
    for run in runs:
        table.add_row(
            Text(run.end[:19].replace("T", " ")),
            Text(_show(run.value), style=styles[run.state]),
            Text(_show(run.line("alert"))),
            Text(_show(run.line("rollback"))),
            Text(f"{run.document.get('labelled', 0):,}"),
            Text(run.state, style=styles[run.state]),
        )
    console.print(table)
    if latest.rollback:
        console.print(Text(f"rollback: {latest.rollback}", style="bold red"))
    distribution = latest.document.get("prediction_distribution") or []
    if distribution:
        console.print(Text("predictions in the latest window: ", style="bold"), end="")
        console.print(Text(", ".join(f"{b['bin']}: {b['count']}" for b in distribution)))


# --- HTML -----------------------------------------------------------------------------------

_WIDTH, _HEIGHT = 760, 260
_LEFT, _RIGHT, _TOP, _BOTTOM = 60, 20, 30, 40


@dataclass(frozen=True)
class _Series:
    name: str
    css: str
    points: str  # SVG polyline points


def _y_range(runs: list[QualityRun]) -> tuple[float, float]:
    values = [v for run in runs for v in (run.value, run.line("alert"), run.line("rollback"))]
    found = [v for v in values if v is not None]
    if not found:
        return 0.0, 1.0
    low, high = min(found), max(found)
    pad = max((high - low) * 0.15, 0.01)
    return low - pad, high + pad


def _metric_chart(runs: list[QualityRun]) -> dict[str, Any]:
    low, high = _y_range(runs)
    plot_w, plot_h = _WIDTH - _LEFT - _RIGHT, _HEIGHT - _TOP - _BOTTOM
    step = plot_w / max(len(runs) - 1, 1)

    def x(i: int) -> float:
        return _LEFT + (i * step if len(runs) > 1 else plot_w / 2)

    def y(value: float) -> float:
        return _TOP + plot_h * (1 - (value - low) / (high - low))

    def series(name: str, css: str, values: list[float | None]) -> _Series:
        points = " ".join(f"{x(i):.1f},{y(v):.1f}" for i, v in enumerate(values) if v is not None)
        return _Series(name, css, points)

    metric = runs[-1].document["metric"]
    lines = [
        series(metric, "metric", [run.value for run in runs]),
        series("alert line", "alert", [run.line("alert") for run in runs]),
        series("rollback line", "rollback", [run.line("rollback") for run in runs]),
    ]
    ticks = [low + (high - low) * i / 4 for i in range(5)]
    return {
        "width": _WIDTH,
        "height": _HEIGHT,
        "left": _LEFT,
        "right": _WIDTH - _RIGHT,
        "top": _TOP,
        "bottom": _HEIGHT - _BOTTOM,
        "series": [line for line in lines if line.points],
        "ticks": [(f"{tick:.3f}", y(tick)) for tick in ticks],
        "dots": [
            (x(i), y(run.value), run.state, f"{run.end[:19]}: {_show(run.value)}")
            for i, run in enumerate(runs)
            if run.value is not None
        ],
        "labels": [(x(i), run.end[11:16]) for i, run in enumerate(runs)],
    }


def _distribution_chart(run: QualityRun) -> dict[str, Any]:
    bins = run.document.get("prediction_distribution") or []
    most = max((b["count"] for b in bins), default=0) or 1
    plot_h = _HEIGHT - _TOP - _BOTTOM
    width = (_WIDTH - _LEFT - _RIGHT) / max(len(bins), 1)
    bars = [
        {
            "x": _LEFT + i * width + 2,
            "y": _HEIGHT - _BOTTOM - plot_h * b["count"] / most,
            "width": max(width - 4, 1),
            "height": plot_h * b["count"] / most,
            "label": str(b["bin"]),
            "count": int(b["count"]),
            "center": _LEFT + (i + 0.5) * width,
        }
        for i, b in enumerate(bins)
    ]
    return {"width": _WIDTH, "height": _HEIGHT, "bars": bars, "bottom": _HEIGHT - _BOTTOM}


_ENVIRONMENT = jinja2.Environment(
    loader=jinja2.PackageLoader("mlinfra.monitoring", "templates"),
    autoescape=True,  # monitor names, metric names, messages and bin labels are data
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


def render_quality_html(runs: list[QualityRun], *, title: str, context: dict | None = None) -> str:
    """One page, no scripts or external files: the latest run in words, the metric over the
    runs against both lines, every run in a table, and the latest window's predictions."""
    latest = runs[-1]
    return _ENVIRONMENT.get_template("quality.html.j2").render(
        title=title,
        context={str(key): str(value) for key, value in (context or {}).items()},
        summary=summary(latest),
        bad=latest.state in ("alert", "rollback"),
        latest=latest,
        runs=runs,
        show=_show,
        metric_chart=_metric_chart(runs),
        distribution=_distribution_chart(latest),
    )
