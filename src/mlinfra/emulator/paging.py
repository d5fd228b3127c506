"""List* defaults and paging as SageMaker documents them, and NextTokens only the emulator issues.

Defaults come from the docs strings of botocore's model (`service-2.json`): ListEndpoints,
ListMonitoringSchedules and ListMonitoringExecutions "default to 10" results a page, ListTags
takes `MaxResults` of 50 or more, so a page of 50; where AWS documents no default a page
holds the operation's maximum, 100. Every List* sorts by creation time, newest first, except
ListModelPackageGroups and ListModelPackages, whose default order is Ascending.

A NextToken is the position of the next page, bound to the operation that issued it and
signed with a key of this emulator process: a token from anywhere else (another operation,
an edited one, one from before a restart) is a ValidationException, as AWS answers a token
it did not issue.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from typing import Any

from mlinfra.emulator.protocol import ApiError

MAX_PAGE = 100
DEFAULT_PAGE = {
    "ListEndpoints": 10,
    "ListMonitoringSchedules": 10,
    "ListMonitoringExecutions": 10,
    "ListTags": 50,
}
ASCENDING_BY_DEFAULT = frozenset({"ListModelPackageGroups", "ListModelPackages"})


def descending(operation: str, p: dict[str, Any]) -> bool:
    """Whether a List* request's records come newest (or last) first."""
    default = "Ascending" if operation in ASCENDING_BY_DEFAULT else "Descending"
    return p.get("SortOrder", default) == "Descending"


class Pager:
    """Pages of sorted records, and the tokens between them, for one emulator process."""

    def __init__(self, key: bytes | None = None) -> None:
        self._key = key or secrets.token_bytes(32)

    def page(self, operation: str, records: list, p: dict[str, Any]) -> tuple[list, str | None]:
        """The page a request asks for and the NextToken of the one after it, if any."""
        start = self._start(operation, p.get("NextToken"), len(records))
        size = p.get("MaxResults") or DEFAULT_PAGE.get(operation, MAX_PAGE)
        end = start + size
        return records[start:end], self._token(operation, end) if end < len(records) else None

    def _token(self, operation: str, offset: int) -> str:
        return f"{offset}.{self._signature(operation, offset)}"

    def _start(self, operation: str, token: str | None, count: int) -> int:
        if not token:
            return 0
        offset, _, signature = token.partition(".")
        if offset.isdecimal() and len(offset) < 10:
            start = int(offset)
            if hmac.compare_digest(signature, self._signature(operation, start)):
                # Records deleted since the token was issued leave an empty last page.
                return min(start, count)
        raise ApiError(
            "ValidationException",
            f"Invalid pagination token: {operation} did not issue this NextToken.",
        )

    def _signature(self, operation: str, offset: int) -> str:
        message = f"{operation}:{offset}".encode()
        return hmac.new(self._key, message, hashlib.sha256).hexdigest()[:24]
