"""What every semantic check reads: one environment's typed spec, and the document as written."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlinfra.diagnostics import SourceRange
from mlinfra.spec.model import EnvSpec
from mlinfra.spec.resolve import Resolved
from mlinfra.syntax.nodes import Mapping, locate, to_data


@dataclass(frozen=True)
class CheckContext:
    """One environment's typed spec, plus the document for checks of what was written."""

    resolved: Resolved
    root: Mapping  # the document as written (for checks of every environment and override)
    spec_dir: Path | None  # where relative paths in the spec are resolved; None for text input
    spec: EnvSpec  # the environment's resolved, typed spec

    @property
    def env(self) -> str:
        return self.resolved.name

    @property
    def target(self) -> str:
        return self.spec.target

    @property
    def region(self) -> str:
        return self.spec.region

    def written(self, *path: str | int) -> Any:
        """The value the document wrote at `path` (None when it wrote none)."""
        found = locate(self.root, path)
        return to_data(found.node) if found.complete else None

    def at(self, *path: str | int) -> SourceRange:
        """The range of the document's value at `path`, or of the nearest key when missing."""
        found = locate(self.root, path)
        return found.value_range if found.complete else found.key_range

    def key_at(self, *path: str | int) -> SourceRange:
        return locate(self.root, path).key_range
