"""The emulator's account and the ARNs of what it holds, written once.

The emulator answers for one account, the one AWS's documentation uses in its examples, in
every ARN and message (endpoint not found "of account ..."), as SageMaker does for the
caller's account.
"""

from __future__ import annotations

from mlinfra.emulator.credentials import DEFAULT_REGION

ACCOUNT = "123456789012"
# AWS lower-cases the resource name in the ARNs of these kinds; the others keep its case.
LOWER_CASED = frozenset({"model", "endpoint", "endpoint-config", "pipeline"})


def arn(region: str, kind: str, name: str) -> str:
    """The ARN SageMaker gives a resource of `kind` (`model`, `processing-job`...)."""
    if kind in LOWER_CASED:
        name = name.lower()
    return f"{prefix(region)}{kind}/{name}"


def prefix(region: str) -> str:
    """What every SageMaker ARN of the emulator's account in `region` starts with."""
    return f"arn:aws:sagemaker:{region}:{ACCOUNT}:"


def region_of(arn_: str) -> str:
    """The region an ARN names, or the default region for one that names none."""
    parts = arn_.split(":")
    return parts[3] if len(parts) > 3 and parts[3] else DEFAULT_REGION
