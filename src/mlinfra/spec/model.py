"""The typed, frozen result of validation: one `EnvSpec` per environment.

Later stages (lowering, audit, previews) read these and never the raw YAML. Values are
deep-frozen (maps become read-only, lists tuples), and every component keeps the ranged tree
beside it so any property can be traced back to the line that set it.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from mlinfra.diagnostics import SourceRange
from mlinfra.frozen import freeze
from mlinfra.spec.resolve import SECTION_KIND
from mlinfra.syntax.nodes import Mapping, locate


@dataclass(frozen=True)
class Component:
    """A feature store, model, pipeline, endpoint or monitor, as one environment sees it."""

    kind: str  # feature_store | model | pipeline | endpoint | monitor
    name: str
    props: MappingProxyType
    source: SourceRange  # the component's key in the spec

    @property
    def address(self) -> str:
        return f"{self.kind}.{self.name}"

    def get(self, key: str, default: Any = None) -> Any:
        return self.props.get(key, default)

    def __getitem__(self, key: str) -> Any:
        return self.props[key]


@dataclass(frozen=True)
class EnvSpec:
    """The spec resolved for one environment: defaults, its settings and overrides applied."""

    project: str
    env: str
    target: str  # local | sagemaker
    region: str
    account: str | None
    protect: bool
    security: MappingProxyType
    tags: MappingProxyType
    components: tuple[Component, ...]
    policies: MappingProxyType
    previews: MappingProxyType
    tree: Mapping  # the merged, ranged tree this was built from
    base: str | None = None  # for a preview: the environment it is based on

    def of_kind(self, kind: str) -> tuple[Component, ...]:
        return self._by_kind.get(kind, ())

    def component(self, address: str) -> Component | None:
        return self._by_address.get(address)

    # Lowering looks components up per component: indexes keep that linear in spec size.
    @functools.cached_property
    def _by_address(self) -> dict[str, Component]:
        return {c.address: c for c in self.components}

    @functools.cached_property
    def _by_kind(self) -> dict[str, tuple[Component, ...]]:
        found: dict[str, list[Component]] = {}
        for c in self.components:
            found.setdefault(c.kind, []).append(c)
        return {kind: tuple(items) for kind, items in found.items()}

    def range_of(self, *path: str | int) -> SourceRange:
        """Where a resolved value was written (override or default), or its nearest key."""
        found = locate(self.tree, path)
        return found.value_range if found.complete else found.key_range

    def setting_range(self, *path: str | int) -> SourceRange:
        """Where an environment setting (`"security", "kms_key"`) comes from: the
        environment's own value (its base's, for a preview), else `defaults`, else the
        environment's key."""
        env = self.base or self.env
        for where in (("environments", env, *path), ("defaults", *path)):
            if path and locate(self.tree, where).complete:
                return self.range_of(*where)
        return locate(self.tree, ("environments", env)).key_range


def build_env_spec(
    data: dict, tree: Mapping, env: str, settings_from: str, preview: bool
) -> EnvSpec:
    settings = data["environments"][settings_from]
    defaults = data.get("defaults", {})
    security = {**defaults.get("security", {}), **settings.get("security", {})}
    components = []
    for section, kind in SECTION_KIND.items():
        for name, props in (data.get(section) or {}).items():
            source = locate(tree, (section, name)).key_range
            components.append(Component(kind, name, freeze(props), source))
    return EnvSpec(
        project=data["project"],
        env=env,
        target=settings["target"],
        region=settings.get("region") or defaults.get("region", "us-east-1"),
        account=settings.get("account"),
        protect=settings.get("protect", False),
        security=freeze(security),
        tags=freeze({**defaults.get("tags", {}), **settings.get("tags", {})}),
        components=tuple(components),
        policies=freeze(data.get("policies", {})),
        previews=freeze(data.get("previews", {})),
        tree=tree,
        base=settings_from if preview else None,
    )
