"""What every semantic check reads: one environment's resolved spec, as data and as ranges."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlinfra.diagnostics import SourceRange
from mlinfra.spec.resolve import Resolved
from mlinfra.syntax.nodes import Mapping, locate

if TYPE_CHECKING:
    from mlinfra.spec.model import EnvSpec


@dataclass(frozen=True)
class CheckContext:
    """One environment's view, plus the raw document for checks of what was written."""

    resolved: Resolved
    data: dict[str, Any]  # the resolved spec as plain data, schema defaults filled in
    root: Mapping  # the document as written (for checks of overrides themselves)
    spec_dir: Path | None  # where relative paths in the spec are resolved; None for text input
    spec: EnvSpec  # the typed view of the same environment

    @property
    def env(self) -> str:
        return self.resolved.name

    @property
    def env_data(self) -> dict[str, Any]:
        """The `environments.<env>` settings (a preview's are its base environment's)."""
        return self.data.get("environments", {}).get(self.resolved.settings_from, {})

    @property
    def target(self) -> str:
        return self.spec.target

    @property
    def region(self) -> str:
        return self.spec.region

    def components(self, section: str) -> Iterator[tuple[str, dict[str, Any]]]:
        yield from (self.data.get(section) or {}).items()

    def names(self, section: str) -> list[str]:
        return list(self.data.get(section) or {})

    def at(self, *path: str | int) -> SourceRange:
        """The range of the value at `path`, or of the nearest key when it is missing."""
        found = locate(self.resolved.tree, path)
        return found.value_range if found.complete else found.key_range

    def key_at(self, *path: str | int) -> SourceRange:
        return locate(self.resolved.tree, path).key_range
