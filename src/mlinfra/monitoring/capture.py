"""Reading what an endpoint captured: SageMaker data-capture files, as a table of requests.

Data capture writes JSON Lines under `<endpoint>/<variant>/yyyy/mm/dd/hh/*.jsonl`, one event a
line::

    {"captureData": {"endpointInput": {"observedContentType": "text/csv", "mode": "INPUT",
                                       "data": "42,70.5,one-year", "encoding": "CSV"},
                     "endpointOutput": {...}},
     "eventMetadata": {"eventId": "...", "inferenceTime": "2026-01-01T12:00:00Z"},
     "eventVersion": "0"}

`read_capture` reads the request (`endpointInput`); `read_predictions` reads the response
(`endpointOutput`, one prediction an event) with the event's id, the `inferenceId` the
caller gave else the `eventId`, as SageMaker's ground-truth merge keys them;
`read_prediction_values` reads every predicted value of the responses, batches included, for
prediction drift. A request's
`data` is CSV (rows without a header, values in
feature order; a header row naming the features is skipped), JSON (`{"instances": [...]}`, a
list of instances or a single record; an instance is a record keyed by feature name or a list in
feature order), JSON Lines (one instance a line), or any of those in base64, whose
`observedContentType` then says which.

Requests are untrusted: a line or payload that cannot be read is skipped and counted (in the
frame's `attrs[MALFORMED]`), never fatal. A row with fewer values than features is padded with
missing values, surplus values are dropped.
"""

from __future__ import annotations

import base64
import binascii
import io
import json
import logging
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pandas as pd

from mlinfra.monitoring import MonitoringError

log = logging.getLogger(__name__)

MALFORMED = "malformed"  # key in the returned frame's attrs: how many events or payloads skipped
# Large enough for a line holding a big batch request; pyarrow fails on a line longer than this,
# and the file is then read line by line instead.
_ARROW_BLOCK_BYTES = 1 << 24


def read_capture(
    folder: Path,
    features: list[str],
    *,
    since: datetime | None = None,
    until: datetime | None = None,
) -> pd.DataFrame:
    """Every request captured under `folder` with since < inferenceTime <= until, one row each.

    The window is open at `since` because an execution analyses the records after the previous
    one, which already counted a record at exactly its end. Naive datetimes are taken as UTC.
    Columns are `features`, values their text as sent (missing as NaN), so that the analysis
    sees a number sent as "abc" as such.
    """
    if not features:
        raise MonitoringError("no features to read the captured requests as")
    events = _Events()
    for path in sorted(folder.rglob("*.jsonl")) if folder.is_dir() else []:
        events.read(path)
    events.keep_window(since, until)
    reader = _Payloads(features)
    for encoding, content_type, data in zip(
        events.encodings, events.content_types, events.data, strict=True
    ):
        reader.add(encoding, content_type, data)
    frame = reader.frame()
    frame.attrs[MALFORMED] = events.malformed + reader.malformed
    if frame.attrs[MALFORMED]:
        log.info("skipped %d malformed capture records", frame.attrs[MALFORMED])
    return frame


def read_predictions(
    folder: Path, *, since: datetime | None = None, until: datetime | None = None
) -> pd.DataFrame:
    """Every prediction captured under `folder` with since < inferenceTime <= until: columns
    `id` (the inferenceId the caller gave, else the eventId) and `prediction` (its text).

    A prediction is one value: a CSV response's first value (SageMaker's inference attribute
    defaults to the first column), or a JSON response's number or text, the first of a list,
    or the first of `{"predictions": [...]}`. An event without a response or an id, or whose
    response holds several rows (a batch: its labels cannot be told apart by one id), is
    skipped and counted in `attrs[MALFORMED]`.
    """
    events = _Events(part="endpointOutput")
    for path in sorted(folder.rglob("*.jsonl")) if folder.is_dir() else []:
        events.read(path)
    events.keep_window(since, until)
    ids: list[str] = []
    predictions: list[str] = []
    malformed = events.malformed
    for key, encoding, content_type, data in zip(
        events.ids, events.encodings, events.content_types, events.data, strict=True
    ):
        value = _one_value(encoding, content_type, data)
        if key is None or value is None:
            malformed += 1
            continue
        ids.append(key)
        predictions.append(value)
    frame = pd.DataFrame({"id": ids, "prediction": predictions}, dtype=str)
    frame.attrs[MALFORMED] = malformed
    return frame


def read_prediction_values(
    folder: Path, *, since: datetime | None = None, until: datetime | None = None
) -> pd.Series:
    """Every predicted value captured under `folder` with since < inferenceTime <= until, as
    text: what a data-quality monitor compares with its baseline's prediction column.

    Unlike `read_predictions`, a batch's response gives all its values (one a row: a CSV
    line's first value, or each item of a JSON list or `{"predictions": [...]}`), since the
    distribution is what matters here, not which request each belongs to. A response that
    cannot be read is skipped and counted in `attrs[MALFORMED]`.
    """
    events = _Events(part="endpointOutput")
    for path in sorted(folder.rglob("*.jsonl")) if folder.is_dir() else []:
        events.read(path)
    events.keep_window(since, until)
    values: list[str] = []
    malformed = events.malformed
    for encoding, content_type, data in zip(
        events.encodings, events.content_types, events.data, strict=True
    ):
        found = _values(encoding, content_type, data)
        if found is None:
            malformed += 1
            continue
        values += found
    series = pd.Series(values, dtype=str, name="prediction")
    series.attrs[MALFORMED] = malformed
    return series


def _one_value(encoding: str | None, content_type: str | None, data: str | None) -> str | None:
    """The one value of a response or label payload (see `read_predictions`), else None."""
    values = _values(encoding, content_type, data)
    return values[0] if values is not None and len(values) == 1 else None


def _values(encoding: str | None, content_type: str | None, data: str | None) -> list[str] | None:
    """The values of a response or label payload, one a row; None when it cannot be read.

    A CSV line gives its first value (SageMaker's inference attribute defaults to the first
    column); JSON gives its number or text, or each item of a list or of
    `{"predictions": [...]}`, an item that is a list of one value counting as that value.
    """
    if data is None:
        return None
    kind = (encoding or "").upper()
    if kind == "BASE64":
        try:
            data = base64.b64decode(data, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return None
        kind = _format_of(content_type) or "CSV"
    elif kind not in ("CSV", "JSON"):
        kind = _format_of(content_type) or "CSV"
    if kind == "JSON":
        try:
            document = json.loads(data)
        except ValueError:
            return None
        if isinstance(document, dict):
            document = document.get("predictions")
        while isinstance(document, list) and len(document) == 1:
            document = document[0]
        items = document if isinstance(document, list) else [document]
        values = [_scalar(item) for item in items]
        if not values or None in values:
            return None  # {"predictions": [{"score": ...}]}, rows of several: no one value a row
        return [value for value in values if value is not None]
    lines = [line for line in data.strip().splitlines() if line.strip()]
    values = [line.split(",", 1)[0].strip().strip('"') for line in lines]
    if not values or not all(values):
        return None
    return values


def _scalar(item: Any) -> str | None:
    """A JSON item as one value's text: a number or text, or a list of just one; else None."""
    while isinstance(item, list) and len(item) == 1:
        item = item[0]
    if isinstance(item, bool) or not isinstance(item, (int, float, str)):
        return None
    return str(item)


# --- events --------------------------------------------------------------------------------


@dataclass
class _Events:
    """One part of capture events (`endpointInput` or `endpointOutput`), as parallel lists."""

    part: str = "endpointInput"
    ids: list[str | None] = field(default_factory=list)  # inferenceId, else eventId
    times: list[str | None] = field(default_factory=list)
    encodings: list[str | None] = field(default_factory=list)
    content_types: list[str | None] = field(default_factory=list)
    data: list[str | None] = field(default_factory=list)
    malformed: int = 0

    def read(self, path: Path) -> None:
        try:
            raw = path.read_bytes()
        except OSError as error:
            log.warning("cannot read capture file %s: %s", path, error.strerror)
            self.malformed += 1
            return
        if not self._read_arrow(raw):
            self._read_lines(raw)

    def _read_arrow(self, raw: bytes) -> bool:
        """Read a whole file at C speed; False when pyarrow cannot, e.g. for a malformed line."""
        try:
            import pyarrow as pa
            import pyarrow.json as pa_json
        except ImportError:
            return False
        text = pa.string()
        schema = pa.schema(
            [
                (
                    "captureData",
                    pa.struct(
                        [
                            (
                                self.part,
                                pa.struct(
                                    [
                                        ("observedContentType", text),
                                        ("data", text),
                                        ("encoding", text),
                                    ]
                                ),
                            )
                        ]
                    ),
                ),
                (
                    "eventMetadata",
                    pa.struct([("inferenceTime", text), ("eventId", text), ("inferenceId", text)]),
                ),
            ]
        )
        options = pa_json.ParseOptions(explicit_schema=schema, unexpected_field_behavior="ignore")
        try:
            table = pa_json.read_json(
                io.BytesIO(raw),
                read_options=pa_json.ReadOptions(block_size=_ARROW_BLOCK_BYTES),
                parse_options=options,
            )
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError):
            return False
        columns = table.flatten().flatten()
        self.times += columns.column("eventMetadata.inferenceTime").to_pylist()
        inference_ids = columns.column("eventMetadata.inferenceId").to_pylist()
        event_ids = columns.column("eventMetadata.eventId").to_pylist()
        self.ids += [
            i if i is not None else e for i, e in zip(inference_ids, event_ids, strict=True)
        ]
        prefix = f"captureData.{self.part}."
        self.encodings += columns.column(prefix + "encoding").to_pylist()
        self.content_types += columns.column(prefix + "observedContentType").to_pylist()
        self.data += columns.column(prefix + "data").to_pylist()
        return True

    def _read_lines(self, raw: bytes) -> None:
        for line in raw.splitlines():
            if not line.strip():
                continue
            try:
                event = json.loads(line)
                request = event["captureData"][self.part]
                metadata = event.get("eventMetadata") or {}
                time = metadata.get("inferenceTime")
                row = (time, request.get("encoding"), request.get("observedContentType"))
                data = request["data"]
                key = metadata.get("inferenceId") or metadata.get("eventId")
            except (ValueError, KeyError, TypeError, AttributeError):
                self.malformed += 1
                continue
            self.ids.append(key if isinstance(key, str) else None)
            self.times.append(row[0] if isinstance(row[0], str) else None)
            self.encodings.append(row[1] if isinstance(row[1], str) else None)
            self.content_types.append(row[2] if isinstance(row[2], str) else None)
            self.data.append(data if isinstance(data, str) else None)

    def keep_window(self, since: datetime | None, until: datetime | None) -> None:
        if since is None and until is None:
            return
        times = pd.to_datetime(
            pd.Series(self.times, dtype=object), format="ISO8601", utc=True, errors="coerce"
        )
        keep = times.notna()
        # An event without a readable time cannot be placed in the window.
        self.malformed += int((~keep).sum())
        if since is not None:
            keep &= times > pd.Timestamp(_utc(since))
        if until is not None:
            keep &= times <= pd.Timestamp(_utc(until))
        mask = keep.to_list()
        for name in ("ids", "times", "encodings", "content_types", "data"):
            values = getattr(self, name)
            setattr(self, name, [value for value, kept in zip(values, mask, strict=True) if kept])


def _utc(moment: datetime) -> datetime:
    # timezone.utc, not datetime.UTC: this module also runs in the monitor job's image, on
    # Python 3.10.
    return moment.replace(tzinfo=timezone.utc) if moment.tzinfo is None else moment


# --- payloads ------------------------------------------------------------------------------


class _Payloads:
    """Request payloads, gathered by format and parsed into rows of feature values."""

    def __init__(self, features: list[str]) -> None:
        self.features = features
        self.csv: list[str] = []
        self.rows: list[list[Any]] = []
        self.malformed = 0

    def add(self, encoding: str | None, content_type: str | None, data: str | None) -> None:
        if data is None:
            self.malformed += 1
            return
        kind = (encoding or "").upper()
        if kind == "BASE64":
            try:
                data = base64.b64decode(data, validate=True).decode("utf-8")
            except (binascii.Error, UnicodeDecodeError):
                self.malformed += 1
                return
            kind = _format_of(content_type)
        elif kind not in ("CSV", "JSON"):
            kind = _format_of(content_type)
        if kind == "CSV":
            # One read_csv over every CSV payload is what keeps a million requests fast.
            self.csv.append(data.rstrip("\r\n"))
        elif kind == "JSON":
            self._add_json(data, content_type)
        else:
            self.malformed += 1

    def _add_json(self, data: str, content_type: str | None) -> None:
        try:
            if "jsonlines" in (content_type or "").lower():
                instances = [json.loads(line) for line in data.splitlines() if line.strip()]
            else:
                instances = _instances(json.loads(data))
        except ValueError:
            self.malformed += 1
            return
        width = len(self.features)
        for instance in instances:
            if isinstance(instance, dict):
                self.rows.append([instance.get(name) for name in self.features])
            elif isinstance(instance, list):
                self.rows.append((instance + [None] * width)[:width])
            else:
                self.malformed += 1

    def frame(self) -> pd.DataFrame:
        parts = [self._csv_frame(), self._json_frame()]
        frames = [part for part in parts if len(part)]
        if not frames:
            return _empty(self.features)
        return pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]

    def _csv_frame(self) -> pd.DataFrame:
        if not self.csv:
            return _empty(self.features)
        try:
            frame = _parse_csv("\n".join(self.csv), self.features)
        except (pd.errors.ParserError, ValueError):
            # One broken payload (an unclosed quote) spoils the batch: parse each on its own.
            good = []
            for payload in self.csv:
                try:
                    good.append(_parse_csv(payload, self.features))
                except (pd.errors.ParserError, ValueError):
                    self.malformed += 1
            frame = pd.concat(good, ignore_index=True) if good else _empty(self.features)
        return _without_header(frame, self.features)

    def _json_frame(self) -> pd.DataFrame:
        if not self.rows:
            return _empty(self.features)
        frame = pd.DataFrame(self.rows, columns=self.features, dtype=object)
        # Text like the CSV path gives: 3 -> "3", null -> missing; the analysis parses it.
        return frame.astype("str")


def _format_of(content_type: str | None) -> str | None:
    content_type = (content_type or "").lower()
    if "csv" in content_type:
        return "CSV"
    if "json" in content_type:
        return "JSON"
    return None


def _instances(document: Any) -> list[Any]:
    """The instances of a JSON request: {"instances": [...]}, a list of them, or one."""
    if isinstance(document, dict):
        if isinstance(document.get("instances"), list):
            return document["instances"]
        return [document]
    if isinstance(document, list):
        if all(isinstance(item, (dict, list)) for item in document):
            return document
        return [document]  # a bare list of values is one instance
    raise ValueError("a JSON request must be an object or a list")


def _parse_csv(text: str, features: list[str]) -> pd.DataFrame:
    width = len(features)
    frame = pd.read_csv(
        io.StringIO(text),
        header=None,
        # names and usecols together pad short rows and drop surplus values.
        names=list(range(width)),
        usecols=list(range(width)),
        dtype=str,
        keep_default_na=False,
        na_values=[""],
        skip_blank_lines=True,
    )
    frame.columns = features
    return frame


def _without_header(frame: pd.DataFrame, features: list[str]) -> pd.DataFrame:
    """The frame without rows that only repeat the feature names (clients that send headers)."""
    header = frame[features[0]] == features[0]
    if not header.any():
        return frame
    for name in features[1:]:
        header &= frame[name] == name
    return frame[~header.to_numpy(dtype=bool, na_value=False)].reset_index(drop=True)


def _empty(features: list[str]) -> pd.DataFrame:
    return pd.DataFrame({name: pd.Series([], dtype="str") for name in features})
