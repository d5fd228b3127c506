"""SageMaker data-capture events, as an endpoint writes them to its capture files, and
ground-truth labels, as SageMaker's model-quality merge reads them."""

from __future__ import annotations

import json
from datetime import datetime


def capture_event(
    data: str,
    encoding: str = "CSV",
    content_type: str = "text/csv",
    time: str = "",
    output: str = "0.5",
    output_encoding: str = "CSV",
    output_type: str = "text/csv",
) -> str:
    """One line of a capture file: the request `data` and the response `output`, captured at
    `time`."""
    return json.dumps(
        {
            "captureData": {
                "endpointInput": {
                    "observedContentType": content_type,
                    "mode": "INPUT",
                    "data": data,
                    "encoding": encoding,
                },
                "endpointOutput": {
                    "observedContentType": output_type,
                    "mode": "OUTPUT",
                    "data": output,
                    "encoding": output_encoding,
                },
            },
            "eventMetadata": {"eventId": "e", "inferenceTime": time or "2026-01-01T12:00:00Z"},
            "eventVersion": "0",
        }
    )


def prediction_event(key: str, output: str, time: datetime, inference_id: str | None = None) -> str:
    """One captured request whose response (the prediction) is `output`: event id `key`."""
    metadata = {"eventId": key, "inferenceTime": time.strftime("%Y-%m-%dT%H:%M:%SZ")}
    if inference_id:
        metadata["inferenceId"] = inference_id
    return json.dumps(
        {
            "captureData": {
                "endpointInput": {"observedContentType": "text/csv", "mode": "INPUT",
                                  "data": "1,2", "encoding": "CSV"},
                "endpointOutput": {"observedContentType": "text/csv", "mode": "OUTPUT",
                                   "data": output, "encoding": "CSV"},
            },
            "eventMetadata": metadata,
            "eventVersion": "0",
        }
    )  # fmt: skip


def ground_truth_label(key: str, label: str) -> str:
    """One ground-truth line: `label` for the request whose inference (else event) id is `key`."""
    return json.dumps(
        {
            "groundTruthData": {"data": label, "encoding": "CSV"},
            "eventMetadata": {"eventId": key},
            "eventVersion": "0",
        }
    )
