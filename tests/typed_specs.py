"""Typed specs changed for a test, as the spec would have written the change.

`changed(spec, address, field=value, ...)` gives `spec` with one component's fields replaced
(None leaves a field out), written as plain spec values: the schema fills what they leave out,
as validation does, and every other field keeps its place in the spec's text.
`with_settings(spec, ...)` does the same for the environment's settings (`security` as plain
values too). Lowering and audit tests use them to try what one spec cannot show at once.
"""

from __future__ import annotations

import dataclasses
from types import MappingProxyType
from typing import Any

from mlinfra.spec import build, schema
from mlinfra.spec.model import Component, EnvSpec, declared

# Each kind of component: the schema definition it is checked against, and its builder.
KINDS = {
    "feature_store": ("featureStore", build.feature_store),
    "model": ("model", build.model),
    "pipeline": ("pipeline", build.pipeline),
    "endpoint": ("endpoint", build.endpoint),
    "monitor": ("monitor", build.monitor),
}


def _unset(value: Any) -> Any:
    """`value` without the fields it leaves unset (None), at every depth."""
    if isinstance(value, dict):
        return {k: _unset(v) for k, v in value.items() if v is not None}
    return value


def _written(values: dict[str, Any]) -> dict[str, Any]:
    """A node's declared values as the spec would write them: no name, nothing unset."""
    return {k: v for k, v in _unset(values).items() if k != "name"}


def plain(component: Component) -> dict[str, Any]:
    """The component's values as its spec section would write them."""
    values = _written(declared(component))
    if "steps" in values:
        values["steps"] = {name: _written(step) for name, step in values["steps"].items()}
    return values


def rebuilt(component: Component, **changes: Any) -> Component:
    """`component` with `changes` (plain spec values; None removes a field) and the schema's
    defaults filled in again."""
    definition, make = KINDS[component.kind]
    values = _written({**plain(component), **changes})
    return make(component.name, schema.fill(definition, values), component.ranges)


def with_component(spec: EnvSpec, component: Component) -> EnvSpec:
    section = getattr(spec, component.section)
    replaced = MappingProxyType({**section, component.name: component})
    return dataclasses.replace(spec, **{component.section: replaced})


def changed(spec: EnvSpec, address: str, **changes: Any) -> EnvSpec:
    """`spec` with the fields of component `address` changed (see `rebuilt`)."""
    return with_component(spec, rebuilt(spec.component(address), **changes))


def with_settings(spec: EnvSpec, security: dict | None = None, **changes: Any) -> EnvSpec:
    """`spec` with environment settings replaced (`account=None`, `target=...`) and, given as
    plain values over the environment's own, `security` settings."""
    environment = spec.environment
    if security is not None:
        values = {**_written(declared(environment.security)), **security}
        values = {k: v for k, v in values.items() if v is not None}
        filled = schema.fill("security", values)
        vpc = filled.get("vpc")
        new = dataclasses.replace(
            environment.security,
            kms_key=filled["kms_key"],
            network_isolation=filled["network_isolation"],
            encrypt_inter_container_traffic=filled["encrypt_inter_container_traffic"],
            vpc=build.vpc(vpc, environment.security.ranges.child("vpc")) if vpc else None,
        )
        changes["security"] = new
    return dataclasses.replace(spec, environment=dataclasses.replace(environment, **changes))
