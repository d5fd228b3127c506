"""Stored records as SageMaker's responses: output shapes, and List* filtering and paging.

Services keep whole request dicts (plus what they add) in the `Store`; a Describe* answer is
that record projected onto the operation's output shape, so it carries exactly the members
boto3 expects. Every List* filters, sorts and pages the same way (`Listing.list`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from mlinfra.emulator.kit.paging import Pager, descending
from mlinfra.emulator.kit.times import epoch
from mlinfra.emulator.protocol import CONTROL_SERVICE, project
from mlinfra.emulator.store import Store
from mlinfra.sagemaker.api import service_model
from mlinfra.sagemaker.resources import ResourceType


def output(operation: str, record: dict) -> dict:
    """A stored record as `operation` (a control-plane operation) answers it."""
    shape = service_model(CONTROL_SERVICE).operation_model(operation).output_shape
    return project(record, shape)


def shaped(shape_name: str, record: dict) -> dict:
    """A stored record as the control plane's shape `shape_name` has it."""
    return project(record, service_model(CONTROL_SERVICE).shape_for(shape_name))


@dataclass(frozen=True)
class Kind:
    """A kind of record a service keeps: the field holding its ARN, and its key in the store."""

    name: str  # the store's kind: "model", "endpoint-config", ...
    arn_field: str
    key: Callable[[dict], str]

    @classmethod
    def of(cls, resource: ResourceType, key: Callable[[dict], str] | None = None) -> Kind:
        """The records of a SageMaker resource type, stored under its ARN kind and keyed by
        its name (or by `key`), as the catalogue (`mlinfra.sagemaker.resources`) has them."""
        name_field = resource.name_field
        return cls(resource.arn_kind, resource.arn_field, key or (lambda r: r[name_field]))


# The bounds every List* may take, and what each compares.
_TIME_BOUNDS = (
    ("CreationTimeBefore", lambda r, t: r["CreationTime"] < t),
    ("CreationTimeAfter", lambda r, t: r["CreationTime"] > t),
    ("LastModifiedTimeBefore", lambda r, t: r.get("LastModifiedTime", 0) < t),
    ("LastModifiedTimeAfter", lambda r, t: r.get("LastModifiedTime", 0) > t),
)


def created_between(records: list[dict], p: dict, field: str = "CreationTime") -> list[dict]:
    """The records a List* keeps for its `CreatedAfter` and `CreatedBefore` bounds (the
    spelling of the pipeline, lineage and experiment operations), by their time `field`."""
    if "CreatedAfter" in p:
        records = [r for r in records if r[field] > epoch(p["CreatedAfter"])]
    if "CreatedBefore" in p:
        records = [r for r in records if r[field] < epoch(p["CreatedBefore"])]
    return records


class Listing:
    """Filters, sorts and pages records as SageMaker's List* operations do, over one store.

    One per emulator: its `Pager` signs the NextTokens that process issues."""

    def __init__(self, store: Store, pager: Pager | None = None) -> None:
        self.store = store
        self.pager = pager or Pager()

    def list(
        self,
        operation: str,
        kind: str,
        p: dict,
        name_key: str,
        keep: Callable[[dict], bool] = lambda r: True,
        prefix: str = "",
        status_field: str = "EndpointStatus",
    ) -> dict:
        """Filter, sort and page records as every SageMaker List* operation does;
        `SortBy: Status` sorts by `status_field`."""
        records = [r for r in self.store.all(kind, prefix) if keep(r)]
        if "NameContains" in p:
            needle = p["NameContains"].lower()
            records = [r for r in records if needle in r[name_key].lower()]
        for bound, test in _TIME_BOUNDS:
            if bound in p:
                limit = epoch(p[bound])
                records = [r for r in records if test(r, limit)]
        sort_by = p.get("SortBy", "CreationTime")
        if sort_by == "Name":
            records.sort(key=lambda r: (r[name_key], r.get("ModelPackageVersion", 0)))
        elif sort_by == "CreationTime":
            records.sort(key=lambda r: (r["CreationTime"], r.get("ModelPackageVersion", 0)))
        else:  # Status, FeatureGroupStatus, OfflineStoreStatus: the enum's own field
            field = {"Status": status_field}.get(sort_by, sort_by)
            records.sort(key=lambda r: str(r.get(field)))
        if descending(operation, p):
            records.reverse()
        return self.page(operation, records, p)

    def page(self, operation: str, records: list, p: dict) -> dict:
        """One page of sorted records, projected onto the List* output and its NextToken."""
        page, token = self.pager.page(operation, records, p)
        shape = service_model(CONTROL_SERVICE).operation_model(operation).output_shape
        member = next(n for n, s in shape.members.items() if s.type_name == "list")
        result: dict[str, Any] = {member: project(page, shape.members[member])}
        if token is not None:
            result["NextToken"] = token
        return result
