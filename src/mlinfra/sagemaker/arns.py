"""SageMaker's ARNs: the partition of a region, how AWS writes a resource's name in its ARN,
and the account AWS's documentation uses in its examples, which the local emulator answers
for (so the local target's requests name it too)."""

from __future__ import annotations

EXAMPLE_ACCOUNT = "123456789012"
# AWS lower-cases the resource name in the ARNs of these kinds; the others keep its case.
LOWER_CASED = frozenset({"model", "endpoint", "endpoint-config", "pipeline"})


def partition(region: str) -> str:
    """The AWS partition a region belongs to: `aws`, `aws-cn`, `aws-us-gov`, ..."""
    for prefix, name in (("cn-", "aws-cn"), ("us-gov-", "aws-us-gov"), ("us-isob-", "aws-iso-b")):
        if region.startswith(prefix):
            return name
    return "aws-iso" if region.startswith("us-iso-") else "aws"


def resource_part(kind: str, name: str) -> str:
    """`<kind>/<name>`, the end of the ARN SageMaker gives a resource of `kind` (`model`,
    `processing-job`...), with the name as AWS writes it there."""
    return f"{kind}/{name.lower() if kind in LOWER_CASED else name}"


def role_arn(account: str, role: str, partition_: str = "aws") -> str:
    """The ARN of IAM role `role` of `account`."""
    return f"arn:{partition_}:iam::{account}:role/{role}"
