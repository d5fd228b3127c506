"""What a model version records of how it was made: the `CustomerMetadataProperties` keys
mlinfra writes on a version and reads back, and SageMaker's limits on them.

A version carries its hyperparameters (`hyperparameter:<name>`), the content hash of each
step's code (`code:<step>`), of its inputs (`input:<name>:sha256`; a feature group's offline
snapshot also `:rows`, `:from`, `:to`, the event-time range), of its model artifact
(`artifact:sha256`) and the git commit and repository of the spec (`MetadataProperties`
`CommitId` and `Repository`). Keys and values must match SageMaker's pattern
(`CustomerMetadataKey`/`CustomerMetadataValue` in botocore's model): letters, digits, spaces
and `_.:/=+-@`, at most 128 and 256 characters, and at most 50 entries a version.
"""

from __future__ import annotations

import re
from typing import Any

HYPERPARAMETER = "hyperparameter:"
CODE = "code:"
INPUT = "input:"
ARTIFACT = "artifact:sha256"
MAX_ENTRIES = 50
MAX_KEY = 128
MAX_VALUE = 256
# botocore: `([\p{L}\p{Z}\p{N}_.:\/=+\-@]*)${1,256}`; Python's \w is letters, digits and _.
_ALLOWED = re.compile(r"[\w\s.:/=+\-@]+")


def metadata_value(value: Any, limit: int = MAX_VALUE) -> str | None:
    """`value` as SageMaker's customer metadata holds it, or None if it cannot."""
    if isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, (int, float, str)):
        text = str(value)
    else:
        return None
    if not text or len(text) > limit or not _ALLOWED.fullmatch(text):
        return None
    return text


def is_key(text: str) -> bool:
    """Whether `text` may be a customer metadata key."""
    return metadata_value(text, MAX_KEY) is not None


def sha256_value(hexdigest: str) -> str:
    """A content hash as versions record it (the form of `MetricsSource.ContentDigest`)."""
    return f"sha256:{hexdigest}"


def report_metrics(document: Any) -> dict[str, float]:
    """The metrics of an evaluation report in SageMaker's style
    (`{"metrics": {"accuracy": {"value": 0.9}}}`); none from anything else."""
    metrics = document.get("metrics") if isinstance(document, dict) else None
    found: dict[str, float] = {}
    for name, value in (metrics if isinstance(metrics, dict) else {}).items():
        number = value.get("value") if isinstance(value, dict) else None
        if isinstance(number, (int, float)) and not isinstance(number, bool):
            found[name] = float(number)
    return found
