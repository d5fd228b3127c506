"""The report of one monitoring execution: read its output folder, show it in a terminal or as
one self-contained HTML page.

An execution's folder holds SageMaker Model Monitor's `statistics.json` and
`constraint_violations.json`, and mlinfra's `drift.json` (per feature: PSI against its
threshold, missing values, type mismatches, and the proportions per bin that the PSI compares).
The report reads the last two; `statistics.json` has nothing a reader needs that `drift.json`
lacks.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2
from rich.console import Console
from rich.table import Table
from rich.text import Text

from mlinfra.monitoring import MonitoringError

DRIFT_FILE = "drift.json"
VIOLATIONS_FILE = "constraint_violations.json"
DRIFT_VERSION = 1
PREDICTION = "prediction"  # a drift.json entry's role, as `analysis` writes it

_RERUN = "run the monitoring execution again to write it anew"


class ReportError(MonitoringError):
    """An execution's folder cannot be reported on; the message names the file and what to do."""

    def __init__(self, path: Path, problem: str, remedy: str = _RERUN) -> None:
        super().__init__(f"{path}: {problem}; {remedy}")
        self.path = path


@dataclass(frozen=True)
class FeatureDrift:
    """One feature as `drift.json` describes it."""

    name: str
    kind: str  # "numeric" or "categorical"
    inferred_type: str
    psi: float | None  # None when the feature had no usable values
    threshold: float
    drifted: bool
    missing_percent: float
    missing_threshold: float | None  # None when the baseline sets no completeness constraint
    type_mismatches: int
    bins: tuple[str, ...]
    baseline: tuple[float, ...]  # proportion of the baseline's records per bin
    current: tuple[float, ...]  # proportion of the analysed records per bin
    role: str = "feature"  # "prediction": the model's output, from the captured responses

    @property
    def is_prediction(self) -> bool:
        return self.role == PREDICTION

    @property
    def missing_exceeded(self) -> bool:
        return self.missing_threshold is not None and self.missing_percent > self.missing_threshold


@dataclass(frozen=True)
class Violation:
    """One entry of `constraint_violations.json`."""

    feature_name: str
    check_type: str
    description: str


@dataclass(frozen=True)
class Result:
    """What one monitoring execution found."""

    folder: Path
    item_count: int
    baseline_item_count: int | None  # None when the baseline's statistics do not say
    features: tuple[FeatureDrift, ...]
    violations: tuple[Violation, ...]
    notes: tuple[str, ...] = ()  # what the run says once, e.g. that predictions were not analysed

    @property
    def drifted(self) -> tuple[FeatureDrift, ...]:
        return tuple(feature for feature in self.features if feature.drifted)

    @property
    def prediction_drifted(self) -> bool:
        return any(feature.is_prediction and feature.drifted for feature in self.features)


# Reading ---------------------------------------------------------------------------------


def load_result(folder: Path) -> Result:
    """Read an execution's `drift.json` and `constraint_violations.json`.

    Raises `ReportError` naming the file when the folder or a file is missing, is not JSON, or
    does not have the shape this version writes.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise ReportError(
            folder,
            "no such folder",
            "give the folder of one monitoring execution (it holds drift.json)",
        )
    drift_path = folder / DRIFT_FILE
    violations_path = folder / VIOLATIONS_FILE
    drift = _read_json(drift_path)
    violations = _read_json(violations_path)
    reader = _Reader(drift_path)
    document = reader.mapping(drift, "the document")
    version = document.get("version")
    if version != DRIFT_VERSION:
        raise ReportError(
            drift_path,
            f"version {version!r}, this mlinfra reads version {DRIFT_VERSION}",
            "report on it with the mlinfra version that wrote it, or run the execution again",
        )
    features = tuple(
        _feature(reader, item, f"features[{index}]")
        for index, item in enumerate(reader.sequence(document, "features"))
    )
    return Result(
        folder=folder,
        item_count=reader.count(document, "item_count"),
        baseline_item_count=reader.optional_count(document, "baseline_item_count"),
        features=features,
        violations=_violations(violations_path, violations),
        notes=_notes(reader, document),
    )


def _notes(reader: _Reader, document: dict) -> tuple[str, ...]:
    notes = document.get("notes", [])
    if not isinstance(notes, list) or not all(isinstance(note, str) for note in notes):
        raise reader.fail("notes", "is not a list of strings")
    return tuple(notes)


def _read_json(path: Path) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ReportError(
            path,
            "missing",
            "the execution has not finished or failed before writing it: wait for it to end, "
            "or run it again",
        ) from None
    except (OSError, UnicodeDecodeError) as error:
        raise ReportError(path, f"cannot be read ({error})") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise ReportError(
            path, f"not valid JSON (line {error.lineno}, column {error.colno}: {error.msg})"
        ) from None


class _Reader:
    """Checks a parsed file's values, naming the file and the field in its errors."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def fail(self, where: str, problem: str) -> ReportError:
        return ReportError(self.path, f"{where} {problem}")

    def mapping(self, value: Any, where: str) -> dict:
        if not isinstance(value, dict):
            raise self.fail(where, f"is {_kind(value)}, expected an object")
        return value

    def field(self, data: dict, key: str, where: str = "") -> Any:
        if key not in data:
            raise self.fail(where or "the document", f"has no {key!r}")
        return data[key]

    def sequence(self, data: dict, key: str, where: str = "") -> list:
        value = self.field(data, key, where)
        if not isinstance(value, list):
            raise self.fail(_at(where, key), f"is {_kind(value)}, expected a list")
        return value

    def text(self, data: dict, key: str, where: str = "") -> str:
        value = self.field(data, key, where)
        if not isinstance(value, str):
            raise self.fail(_at(where, key), f"is {_kind(value)}, expected a string")
        return value

    def flag(self, data: dict, key: str, where: str = "") -> bool:
        value = self.field(data, key, where)
        if not isinstance(value, bool):
            raise self.fail(_at(where, key), f"is {_kind(value)}, expected true or false")
        return value

    def number(self, value: Any, where: str) -> float:
        # bool is an int to Python, never a measurement here.
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not math.isfinite(value)
        ):
            raise self.fail(where, f"is {_kind(value)}, expected a finite number")
        return float(value)

    def optional_count(self, data: dict, key: str, where: str = "") -> int | None:
        return None if data.get(key) is None else self.count(data, key, where)

    def optional_number(self, data: dict, key: str, where: str = "") -> float | None:
        value = self.field(data, key, where)
        return None if value is None else self.number(value, _at(where, key))

    def count(self, data: dict, key: str, where: str = "") -> int:
        value = self.field(data, key, where)
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise self.fail(_at(where, key), f"is {_kind(value)}, expected a count")
        return value


def _feature(reader: _Reader, item: Any, where: str) -> FeatureDrift:
    data = reader.mapping(item, where)
    bins = reader.sequence(data, "bins", where)
    if not all(isinstance(label, str) for label in bins):
        raise reader.fail(_at(where, "bins"), "has a label that is not a string")
    proportions = {}
    for key in ("baseline", "current"):
        values = [
            reader.number(value, f"{where}.{key}[{index}]")
            for index, value in enumerate(reader.sequence(data, key, where))
        ]
        if len(values) != len(bins):
            raise reader.fail(
                _at(where, key), f"has {len(values)} proportion(s) for {len(bins)} bin(s)"
            )
        proportions[key] = tuple(values)
    return FeatureDrift(
        name=reader.text(data, "name", where),
        kind=reader.text(data, "kind", where),
        inferred_type=reader.text(data, "inferred_type", where),
        psi=reader.optional_number(data, "psi", where),
        threshold=reader.number(reader.field(data, "threshold", where), _at(where, "threshold")),
        drifted=reader.flag(data, "drifted", where),
        missing_percent=reader.number(
            reader.field(data, "missing_percent", where), _at(where, "missing_percent")
        ),
        missing_threshold=reader.optional_number(data, "missing_threshold", where),
        type_mismatches=reader.count(data, "type_mismatches", where),
        bins=tuple(bins),
        baseline=proportions["baseline"],
        current=proportions["current"],
        role=reader.text(data, "role", where) if "role" in data else "feature",
    )


def _violations(path: Path, document: Any) -> tuple[Violation, ...]:
    reader = _Reader(path)
    entries = reader.sequence(reader.mapping(document, "the document"), "violations")
    found = []
    for index, entry in enumerate(entries):
        where = f"violations[{index}]"
        data = reader.mapping(entry, where)
        found.append(
            Violation(
                feature_name=reader.text(data, "feature_name", where),
                check_type=reader.text(data, "constraint_check_type", where),
                description=reader.text(data, "description", where),
            )
        )
    return tuple(found)


def _at(where: str, key: str) -> str:
    return f"{where}.{key}" if where else key


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return f"{value!r}"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


# Terminal --------------------------------------------------------------------------------


def summary(result: Result) -> str:
    """One line: how much was analysed, and what was found."""
    drifted = len(result.drifted)
    line = (
        f"{result.item_count:,} record(s) analysed against a baseline of "
        f"{_records(result.baseline_item_count)}; {len(result.violations)} violation(s); "
        f"{drifted} of {len(result.features)} feature(s) drifted"
    )
    if result.prediction_drifted:
        line += ", the prediction among them (prediction drift)"
    return line


def _records(count: int | None) -> str:
    return "unknown size" if count is None else f"{count:,}"


def render_text(result: Result, console: Console, *, title: str, features: bool = True) -> None:
    """Print the summary, a table of the features (unless `features` is false), then the
    violations."""
    # Every user value goes in as Text: names may contain [brackets] that rich would read
    # as markup.
    console.print(Text(title, style="bold"))
    found = result.violations or result.drifted
    console.print(Text(summary(result), style="red" if found else "green"))
    for note in result.notes:
        console.print(Text(note, style="yellow"))
    if features:
        console.print(_feature_table(result))
    if not result.violations:
        console.print(Text("no violations", style="green"))
        return
    listing = Table(title=Text("violations"), title_justify="left")
    listing.add_column("feature", overflow="fold")
    listing.add_column("check")
    listing.add_column("description", overflow="fold")
    for violation in result.violations:
        listing.add_row(
            Text(violation.feature_name),
            Text(violation.check_type, style="red"),
            Text(violation.description),
        )
    console.print(listing)


def _feature_table(result: Result) -> Table:
    # Narrow columns, values "found (limit)": it must read on an 80-column terminal.
    table = Table(title=Text("features"), title_justify="left")
    table.add_column("feature", no_wrap=True)
    table.add_column("kind")
    table.add_column("PSI (limit)", justify="right")
    table.add_column("drift")
    table.add_column("missing % (limit)", justify="right")
    table.add_column("wrong type", justify="right")
    for feature in result.features:
        table.add_row(
            Text(feature.name),
            Text(f"{feature.kind} prediction" if feature.is_prediction else feature.kind),
            Text(
                f"{_psi(feature.psi)} ({feature.threshold:g})",
                style="bold red" if feature.drifted else "",
            ),
            _drift_mark(feature),
            Text(
                f"{feature.missing_percent:.1f} ({_missing(feature.missing_threshold)})",
                style="bold red" if feature.missing_exceeded else "",
            ),
            Text(str(feature.type_mismatches), style="bold red" if feature.type_mismatches else ""),
        )
    return table


def _drift_mark(feature: FeatureDrift) -> Text:
    if feature.drifted:
        return Text("DRIFTED", style="bold red")
    if feature.psi is None:
        return Text("no values", style="yellow")
    return Text("ok", style="green")


def _missing(threshold: float | None) -> str:
    return "none" if threshold is None else f"{threshold:g}"


def _psi(psi: float | None) -> str:
    return "n/a" if psi is None else f"{psi:.3f}"


# HTML ------------------------------------------------------------------------------------

# Chart geometry, in SVG user units (pixels at 100 %).
_PLOT_HEIGHT = 180
_BAR_WIDTH = 16
_BAR_GAP = 2  # between a bin's baseline and current bars
_GROUP_GAP = 14  # between bins
_LEFT = 70  # room for the y axis' tick labels and title
_RIGHT = 16
_TOP = 34  # room for the legend
_CHAR_WIDTH = 6.2  # of an 11 px sans-serif label, for sizing the room below the axis
_MAX_LABEL = 28  # characters of a bin label drawn; the whole label is in its tooltip


@dataclass(frozen=True)
class _Bar:
    series: str  # "baseline" or "current"
    x: float
    y: float
    height: float
    proportion: float
    label: str  # the bin's label


@dataclass(frozen=True)
class _Tick:
    y: float
    label: str


@dataclass(frozen=True)
class _BinLabel:
    x: float
    text: str
    full: str


@dataclass(frozen=True)
class _LegendEntry:
    series: str
    x: float
    text: str


@dataclass(frozen=True)
class _Chart:
    width: float
    height: float
    bar_width: float
    left: float
    top: float
    plot_width: float
    plot_height: float
    axis_y: float  # the x axis' y
    bars: tuple[_Bar, ...]
    ticks: tuple[_Tick, ...]
    labels: tuple[_BinLabel, ...]
    legend: tuple[_LegendEntry, ...]
    rotate: bool  # bin labels slanted, when they do not fit under their bars
    y_title_x: float
    x_title_y: float
    x_title: str


def _percent(share: float) -> str:
    return f"{share * 100:.1f}".removesuffix(".0") + " %"


def _chart(feature: FeatureDrift, baseline_count: int | None, current_count: int) -> _Chart:
    group = 2 * _BAR_WIDTH + _BAR_GAP
    count = len(feature.bins)
    labels = tuple(
        label if len(label) <= _MAX_LABEL else label[: _MAX_LABEL - 1] + "…"
        for label in feature.bins
    )
    longest = max((len(label) for label in labels), default=0)
    rotate = longest * _CHAR_WIDTH > group + _GROUP_GAP - 4
    # A slanted label reaches left of its bin by its width times cos(40°); the first one must
    # stay inside the picture.
    reach = longest * _CHAR_WIDTH * 0.77 if rotate else 0
    left = max(_LEFT, reach - _GROUP_GAP / 2 - group / 2 + 4)
    label_room = (longest * _CHAR_WIDTH * 0.65 + 14) if rotate else 18
    baseline_text = (
        "baseline" if baseline_count is None else f"baseline ({baseline_count:,} records)"
    )
    legend = (
        _LegendEntry("baseline", left, baseline_text),
        _LegendEntry(
            "current",
            left + 34 + len(baseline_text) * _CHAR_WIDTH,
            f"current ({current_count:,} records)",
        ),
    )
    legend_width = legend[1].x - left + 18 + len(legend[1].text) * _CHAR_WIDTH
    plot_width = max(count * (group + _GROUP_GAP), legend_width, 160)
    top_value = max((*feature.baseline, *feature.current, 0.0))
    # The axis ends at the next tenth above the tallest bar (at least 10 %); every bar's height
    # is its proportion times one scale per chart.
    axis_max = max(math.ceil(top_value * 10 - 1e-9) / 10, 0.1)
    scale = _PLOT_HEIGHT / axis_max
    axis_y = _TOP + _PLOT_HEIGHT
    bars = []
    bin_labels = []
    for index, label in enumerate(feature.bins):
        start = left + _GROUP_GAP / 2 + index * (group + _GROUP_GAP)
        for offset, series, values in (
            (0, "baseline", feature.baseline),
            (_BAR_WIDTH + _BAR_GAP, "current", feature.current),
        ):
            height = values[index] * scale
            bars.append(_Bar(series, start + offset, axis_y - height, height, values[index], label))
        bin_labels.append(_BinLabel(start + group / 2, labels[index], label))
    ticks = tuple(
        _Tick(axis_y - step / 4 * _PLOT_HEIGHT, _percent(axis_max * step / 4)) for step in range(5)
    )
    height = axis_y + label_room + 24
    return _Chart(
        width=left + plot_width + _RIGHT,
        height=height,
        bar_width=_BAR_WIDTH,
        left=left,
        top=_TOP,
        plot_width=plot_width,
        plot_height=_PLOT_HEIGHT,
        axis_y=axis_y,
        bars=tuple(bars),
        ticks=ticks,
        labels=tuple(bin_labels),
        legend=legend,
        rotate=rotate,
        y_title_x=left - 56,
        x_title_y=height - 6,
        x_title="value range" if feature.kind == "numeric" else "category",
    )


_ENVIRONMENT = jinja2.Environment(
    loader=jinja2.PackageLoader("mlinfra.monitoring", "templates"),
    # Feature names, bin labels, descriptions and the context are user data.
    autoescape=True,
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


def render_html(result: Result, *, title: str, context: dict | None = None) -> str:
    """One HTML page, with no external scripts, styles or fonts: the summary, the violations,
    then a chart per feature of its baseline and current proportions per bin.

    `context` (e.g. monitor, endpoint, execution, time) is shown in the header, in its order.
    """
    template = _ENVIRONMENT.get_template("report.html.j2")
    return template.render(
        title=title,
        context={str(key): str(value) for key, value in (context or {}).items()},
        summary=summary(result),
        result=result,
        features=[
            (feature, _chart(feature, result.baseline_item_count, result.item_count))
            for feature in result.features
        ],
        psi=_psi,
        missing=_missing,
    )
