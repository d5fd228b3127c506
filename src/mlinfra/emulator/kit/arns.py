"""The emulator's account and the ARNs of what it holds.

The emulator answers for one account, the one AWS's documentation uses in its examples
(`mlinfra.sagemaker.arns.EXAMPLE_ACCOUNT`), in every ARN and message (endpoint not found "of
account ..."), as SageMaker does for the caller's account.
"""

from __future__ import annotations

from mlinfra.emulator.credentials import DEFAULT_REGION
from mlinfra.sagemaker.arns import EXAMPLE_ACCOUNT, resource_part

ACCOUNT = EXAMPLE_ACCOUNT  # the account the emulator answers for


def arn(region: str, kind: str, name: str) -> str:
    """The ARN SageMaker gives a resource of `kind` (`model`, `processing-job`...)."""
    return prefix(region) + resource_part(kind, name)


def prefix(region: str) -> str:
    """What every SageMaker ARN of the emulator's account in `region` starts with."""
    return f"arn:aws:sagemaker:{region}:{ACCOUNT}:"


def region_of(arn_: str) -> str:
    """The region an ARN names, or the default region for one that names none."""
    parts = arn_.split(":")
    return parts[3] if len(parts) > 3 and parts[3] else DEFAULT_REGION
