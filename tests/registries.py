"""A local emulator's model registry before any version is registered (a helper module, not
tests): what plan and apply look up, for tests that run no emulator."""

from __future__ import annotations

from typing import Any

from mlinfra.engines.providers.local import ProviderError


class EmptyRegistry:
    """Stands in for `LocalProvider`: no version of any group is approved, and its client
    lists no versions."""

    def call(self, function: str, args: tuple) -> str:
        raise ProviderError(f"model package group {args[0]!r} has no approved version")

    @property
    def client(self) -> Any:
        return self

    def get_paginator(self, operation: str) -> Any:
        return self

    def paginate(self, **request: Any) -> list[dict[str, Any]]:
        return [{"ModelPackageSummaryList": []}]
