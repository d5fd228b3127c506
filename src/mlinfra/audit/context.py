"""What a rule sees: one environment's resolved spec and IR, and how to point at the spec."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

from mlinfra.audit.model import Finding, Rule
from mlinfra.diagnostics import SourceRange
from mlinfra.ir.graph import Resource, ResourceGraph
from mlinfra.spec.model import Component, EnvSpec, Policies, Security


@dataclass(frozen=True)
class AuditContext:
    spec: EnvSpec
    graph: ResourceGraph

    # -- the IR -----------------------------------------------------------------------------

    def resource(self, address: str) -> Resource | None:
        return self._by_address.get(address)

    def of_type(self, type_name: str) -> tuple[Resource, ...]:
        return self._by_type.get(type_name, ())

    def referring_to(self, address: str, type_name: str | None = None) -> tuple[Resource, ...]:
        """The resources whose properties refer to `address` (attached policies, alarms...)."""
        found = self._referrers.get(address, ())
        return found if type_name is None else tuple(r for r in found if r.type == type_name)

    @functools.cached_property
    def _referrers(self) -> dict[str, tuple[Resource, ...]]:
        # Built once: rules ask per resource, and a scan per question is quadratic in size.
        found: dict[str, list[Resource]] = {}
        for r in self.graph.resources:
            for address in dict.fromkeys(r.dependencies()):
                found.setdefault(address, []).append(r)
        return {address: tuple(items) for address, items in found.items()}

    @functools.cached_property
    def memo(self) -> dict[str, Any]:
        """Per-audit scratch space for rules that index the graph once (by rule id)."""
        return {}

    @functools.cached_property
    def _by_address(self) -> dict[str, Resource]:
        return {r.address: r for r in self.graph.resources}

    @functools.cached_property
    def _by_type(self) -> dict[str, tuple[Resource, ...]]:
        found: dict[str, list[Resource]] = {}
        for r in self.graph.resources:
            found.setdefault(r.type, []).append(r)
        return {t: tuple(items) for t, items in found.items()}

    # -- the spec ---------------------------------------------------------------------------

    def component_of(self, resource: Resource) -> Component | None:
        """The spec component a resource was lowered from (None for shared ones: buckets)."""
        return self.spec.component(resource.component)

    @property
    def security(self) -> Security:
        return self.spec.security

    @property
    def policies(self) -> Policies:
        return self.spec.policies

    @property
    def is_prod(self) -> bool:
        """Production-like: the environment is protected or named prod/production."""
        return self.spec.protect or self.spec.env in ("prod", "production")

    def at(self, component: Component | None, *path: str | int) -> SourceRange | None:
        """Where `path` of the component is written in the spec (override or default), or
        the nearest key above it when it is not written: the component's own key."""
        if component is None:
            return None
        return component.range_of(*path)

    def setting_at(self, *path: str | int) -> SourceRange:
        """Where an environment setting (`security`, `kms_key`...) comes from: the
        environment's own value, else `defaults`, else the environment's key."""
        return self.spec.environment.range_of(*path)

    def finding(
        self,
        rule: Rule,
        resource: Resource,
        message: str,
        source: SourceRange | None = None,
        subject: str = "",
    ) -> Finding:
        """A finding of `rule` on `resource` (on `subject` inside it, when one resource can
        fail a rule several times); `source` defaults to the resource's own."""
        return Finding(
            rule=rule,
            environment=self.spec.env,
            address=resource.address,
            component=resource.component,
            message=message,
            source=source if source is not None else resource.source,
            subject=subject,
        )
