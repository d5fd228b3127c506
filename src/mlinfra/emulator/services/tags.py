"""Tags: AddTags, DeleteTags and ListTags on any record a service keeps, named by its ARN.

Which records may be tagged, and where each keeps its ARN, is what the services declare in
their `KINDS`; a new service's records are taggable by declaring theirs.
"""

from __future__ import annotations

from collections.abc import Iterable

from mlinfra.emulator.kit.errors import invalid
from mlinfra.emulator.kit.records import Kind, Listing
from mlinfra.emulator.store import Store


class Tags:
    """The tag operations over the records of `kinds`."""

    OPERATIONS = ("AddTags", "DeleteTags", "ListTags")
    KINDS: tuple[Kind, ...] = ()

    def __init__(self, store: Store, listing: Listing, kinds: Iterable[Kind]) -> None:
        self.store = store
        self.listing = listing
        self.kinds = tuple(kinds)

    def add_tags(self, p: dict, region: str) -> dict:
        kind, record = self._tagged(p["ResourceArn"])
        tags = {t["Key"]: t["Value"] for t in record.get("Tags", [])}
        tags.update({t["Key"]: t["Value"] for t in p["Tags"]})
        self._retag(kind, record, tags)
        return {"Tags": p["Tags"]}

    def delete_tags(self, p: dict, region: str) -> None:
        kind, record = self._tagged(p["ResourceArn"])
        tags = {t["Key"]: t["Value"] for t in record.get("Tags", [])}
        for removed in p["TagKeys"]:
            tags.pop(removed, None)
        self._retag(kind, record, tags)

    def list_tags(self, p: dict, region: str) -> dict:
        return self.listing.page("ListTags", self._tagged(p["ResourceArn"])[1].get("Tags", []), p)

    def _tagged(self, arn: str) -> tuple[Kind, dict]:
        """The record an ARN names, searched by each kind's ARN field."""
        for kind in self.kinds:
            for record in self.store.all(kind.name):
                if record.get(kind.arn_field) == arn:
                    return kind, record
        raise invalid(f"Resource {arn} does not exist.")

    def _retag(self, kind: Kind, record: dict, tags: dict[str, str]) -> None:
        record = dict(record, Tags=[{"Key": k, "Value": v} for k, v in tags.items()])
        self.store.put(kind.name, kind.key(record), record, record["CreationTime"])
