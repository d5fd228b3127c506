"""Data capture: write sampled requests and responses as SageMaker's capture JSON Lines.

The layout and record format are SageMaker's, so Model Monitor style tooling reads them
unchanged: ``<destination>/<endpoint>/<variant>/<yyyy>/<mm>/<dd>/<hh>/<mm-ss-mmm>-<id>.jsonl``,
one record per line::

    {"captureData": {"endpointInput": {"observedContentType": "text/csv", "mode": "INPUT",
     "data": "...", "encoding": "CSV"}, "endpointOutput": {...,"mode": "OUTPUT"}},
     "eventMetadata": {"eventId": "<uuid>", "inferenceTime": "2026-01-01T12:00:00Z"},
     "eventVersion": "0"}

Records are written by the serving parent process, not the model worker, so a crashing
model loses nothing already captured; each is appended and flushed on its own.
"""

from __future__ import annotations

import base64
import json
import random
import threading
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO


@dataclass(frozen=True)
class Capture:
    """An endpoint's DataCaptureConfig, as the emulator needs it."""

    destination: Path
    sampling_percent: int  # InitialSamplingPercentage, which the API requires
    capture_input: bool = True
    capture_output: bool = True
    # CaptureContentTypeHeader: which content types are written as text rather than base64.
    csv_content_types: tuple[str, ...] = ("text/csv",)
    json_content_types: tuple[str, ...] = ("application/json",)


class CaptureWriter:
    """Samples and appends capture records for one endpoint. Safe to call from many threads."""

    def __init__(self, capture: Capture, endpoint: str, seed: str | None = None) -> None:
        self.capture = capture
        self.endpoint = endpoint
        self._rng = random.Random(seed)  # noqa: S311 - sampling, not security
        self._csv_types = {t.lower() for t in capture.csv_content_types}
        self._json_types = {t.lower() for t in capture.json_content_types}
        self._lock = threading.Lock()
        # One open file per variant and hour, as SageMaker rolls its files at least hourly.
        self._files: dict[str, tuple[str, IO[str]]] = {}

    def sampled(self) -> bool:
        with self._lock:
            return self._rng.random() * 100 < self.capture.sampling_percent

    def record(
        self,
        variant: str,
        request: bytes,
        request_type: str,
        response: bytes,
        response_type: str,
        inference_id: str | None = None,
        when: datetime | None = None,
    ) -> None:
        when = when or datetime.now(UTC)
        data: dict[str, dict[str, str]] = {}
        if self.capture.capture_input:
            data["endpointInput"] = self._payload("INPUT", request, request_type)
        if self.capture.capture_output:
            data["endpointOutput"] = self._payload("OUTPUT", response, response_type)
        metadata = {
            "eventId": str(uuid.uuid4()),
            "inferenceTime": when.strftime("%Y-%m-%dT%H:%M:%SZ"),
        }
        if inference_id is not None:
            metadata["inferenceId"] = inference_id
        event = {"captureData": data, "eventMetadata": metadata, "eventVersion": "0"}
        line = json.dumps(event, separators=(",", ":")) + "\n"
        with self._lock:
            handle = self._file(variant, when)
            handle.write(line)
            handle.flush()

    def close(self) -> None:
        with self._lock:
            for _, handle in self._files.values():
                handle.close()
            self._files.clear()

    def _payload(self, mode: str, body: bytes, content_type: str) -> dict[str, str]:
        # Parsed here, not via codec, so the serving parent never imports pandas.
        kind = content_type.split(";")[0].strip().lower()
        encoding = "BASE64"
        if kind in self._csv_types:
            encoding = "CSV"
        elif kind in self._json_types:
            encoding = "JSON"
        text = None
        if encoding != "BASE64":
            try:
                text = body.decode("utf-8")
            except UnicodeDecodeError:
                encoding = "BASE64"  # not text after all: keep it lossless
        if text is None:
            text = base64.b64encode(body).decode("ascii")
        return {
            "observedContentType": content_type,
            "mode": mode,
            "data": text,
            "encoding": encoding,
        }

    def _file(self, variant: str, when: datetime) -> IO[str]:
        hour = when.strftime("%Y/%m/%d/%H")
        current = self._files.get(variant)
        if current is not None and current[0] == hour:
            return current[1]
        if current is not None:
            current[1].close()
        folder = self.capture.destination / self.endpoint / variant / hour
        folder.mkdir(parents=True, exist_ok=True)
        name = f"{when.strftime('%M-%S')}-{when.microsecond // 1000:03d}-{uuid.uuid4()}.jsonl"
        handle = (folder / name).open("a", encoding="utf-8")
        self._files[variant] = (hour, handle)
        return handle
