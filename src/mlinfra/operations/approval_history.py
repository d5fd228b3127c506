"""Every approval decision on a model version, kept: SageMaker keeps only the last one on
the version (`ApprovalDescription`), so each decision is also a lineage action
(`ActionType: ModelApproval`) whose source is the version's ARN, with the decision and who
made it in its properties and the reason as its description. `mlinfra model show` lists them.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from mlinfra.operations.emulator import call
from mlinfra.operations.registry import Registry

ACTION_TYPE = "ModelApproval"
REASON_LIMIT = 3072  # botocore: an action's Description, at most 3072 characters


@dataclass(frozen=True)
class Approval:
    """One recorded decision on a version."""

    status: str
    by: str
    reason: str
    at: datetime

    def to_json(self) -> dict[str, Any]:
        return {**self.__dict__, "at": self.at.isoformat()}


def approval_history(found: Registry, arn: str) -> tuple[Approval, ...]:
    """Every decision recorded on version `arn`, oldest first."""
    pages = found.sagemaker.get_paginator("list_actions").paginate(
        SourceUri=arn, ActionType=ACTION_TYPE, SortBy="CreationTime", SortOrder="Ascending"
    )
    try:
        actions = [a for page in pages for a in page["ActionSummaries"]]
    except found.sagemaker.exceptions.ClientError:
        return ()  # no lineage where the registry is: the last decision still shows
    history = []
    for summary in actions:
        action = call(found.sagemaker.describe_action, ActionName=summary["ActionName"])
        properties = action.get("Properties") or {}
        history.append(
            Approval(
                properties.get("Status", "unknown"),
                properties.get("By", "unknown"),
                action.get("Description", ""),
                action["CreationTime"],
            )
        )
    return tuple(history)


def record(found: Registry, arn: str, number: int, status: str, by: str, reason: str) -> None:
    """The decision as a lineage action whose source is the version."""
    name = re.sub(r"[^a-zA-Z0-9]+", "-", f"{found.group}-{number}-{status}")
    name = f"{name[:90]}-{time.time_ns()}"
    call(
        found.sagemaker.create_action,
        ActionName=name,
        ActionType=ACTION_TYPE,
        Source={"SourceUri": arn, "SourceType": "ModelPackage"},
        Status="Completed",
        Description=reason[:REASON_LIMIT],
        Properties={"Status": status, "By": by, "Version": str(number)},
    )
