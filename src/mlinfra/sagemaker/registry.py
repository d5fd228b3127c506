"""The model registry's "latest approved version": what a deployment that follows the
registry serves.

The choice is SageMaker's own: the first answer of ListModelPackages asked for the group's
approved versions, newest first by creation time. One request says it (`latest_approved`),
and everyone who chooses asks it: the local target's providers (of the emulator, whose
ListModelPackages sorts as SageMaker does) and `mlinfra plan`. The rendered SageMaker
program asks it too, from `render.runtime.serving_version`, whose text is copied into
programs that run with nothing of mlinfra installed and so writes the request out; a test
holds that text to this request.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

APPROVED = "Approved"
# Every version in the group, newest first: the order the choice is made in.
NEWEST_FIRST: Mapping[str, Any] = MappingProxyType(
    {"ModelPackageType": "Versioned", "SortBy": "CreationTime", "SortOrder": "Descending"}
)


def versions(group: str) -> dict[str, Any]:
    """The ListModelPackages request for every version of `group`, newest first."""
    return {"ModelPackageGroupName": group, **NEWEST_FIRST}


def latest_approved(group: str) -> dict[str, Any]:
    """The ListModelPackages request whose first summary is the version of `group` to serve:
    its newest approved one (none when the list is empty)."""
    return {**versions(group), "ModelApprovalStatus": APPROVED, "MaxResults": 1}
