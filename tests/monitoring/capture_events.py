"""SageMaker data-capture events, as an endpoint writes them to its capture files."""

from __future__ import annotations

import json


def capture_event(
    data: str, encoding: str = "CSV", content_type: str = "text/csv", time: str = ""
) -> str:
    """One line of a capture file: the request `data`, captured at `time`."""
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
                    "observedContentType": "text/csv",
                    "mode": "OUTPUT",
                    "data": "0.5",
                    "encoding": "CSV",
                },
            },
            "eventMetadata": {"eventId": "e", "inferenceTime": time or "2026-01-01T12:00:00Z"},
            "eventVersion": "0",
        }
    )
