"""Addresses of the IR's resources, typed (as Terraform's `addrs` package types its own).

An address is written `<kind>.<name>` for what a spec component (or the environment) is
itself, `endpoint.churn-api` or `kms.key`, and `<kind>.<name>/<part>` for a resource lowered
from it, `endpoint.churn-api/config`. The text is the address everywhere it is stored (state
files, plans, findings, Pulumi's resource names); `Address` is what code reads it as, so no
reader splits the text by hand.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass


class AddressError(ValueError):
    """Text that is not an address: a bug in mlinfra, or a hand-edited file."""


@dataclass(frozen=True)
class Address:
    kind: str  # the spec's word for the component's kind (`endpoint`), or `kms`, `bucket`
    name: str  # the component's name in the spec (`churn-api`), or the shared one's (`key`)
    part: str | None = None  # which of its resources (`config`), None for the component's own

    @staticmethod
    def parse(text: str) -> Address:
        return _parse(text)

    @property
    def component(self) -> Address:
        """The address of the component this resource was lowered from."""
        return Address(self.kind, self.name) if self.part is not None else self

    def joinpath(self, part: str) -> Address:
        """The address of one of this component's resources: `endpoint.x` -> `endpoint.x/config`."""
        return Address(self.kind, self.name, part)

    def __str__(self) -> str:
        own = f"{self.kind}.{self.name}"
        return own if self.part is None else f"{own}/{self.part}"


@functools.lru_cache(maxsize=4096)
def _parse(text: str) -> Address:
    # Cached: the same few hundred addresses are read again by every consumer of a graph.
    own, slash, part = text.partition("/")
    kind, dot, name = own.partition(".")
    if not (kind and dot and name) or (slash and not part):
        raise AddressError(f"{text!r} is not a resource address (<kind>.<name>[/<part>])")
    return Address(kind, name, part if slash else None)
