"""Waivers: findings a spec accepts under `policies.waivers`, and the warnings they earn.

A waiver suppresses a finding when its rule is the finding's rule, it covers the environment
(it lists it, or lists none), its `resource` is the finding's address or an address above it
(`endpoint.churn-api` covers `endpoint.churn-api/config`), and it has not expired (`expires`
is the last day it applies). Expired waivers, and waivers that match no finding in an
environment they cover, become warnings that point at the waiver's line.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from types import MappingProxyType

from mlinfra.diagnostics import SourceRange
from mlinfra.policy.errors import AuditError
from mlinfra.policy.model import Finding, Rule
from mlinfra.spec.model import EnvSpec


class AuditWarning(str):
    """A warning about the audit itself (a stale waiver), as `file:line:col: message`.

    It is a `str`, so it prints as is; `message` and `source` keep its parts for the reports
    that place it (SARIF notifications, JSON).
    """

    message: str
    source: SourceRange | None

    def __new__(cls, message: str, source: SourceRange | None = None) -> AuditWarning:
        made = super().__new__(cls, f"{source}: {message}" if source is not None else message)
        made.message = message
        made.source = source
        return made


@dataclass(frozen=True)
class Waiver:
    """One entry of `policies.waivers`, parsed."""

    index: int  # its position under `policies.waivers`, from 0
    rule: str
    resource: str
    environments: tuple[str, ...]
    reason: str
    owner: str
    expires: date | None
    source: SourceRange | None
    written: Mapping  # the waiver as written: what `Finding.waiver` holds

    @property
    def name(self) -> str:
        return f"waiver #{self.index + 1} for {self.rule} on {self.resource}"

    def covers_environment(self, env: str) -> bool:
        return not self.environments or env in self.environments

    def covers(self, finding: Finding) -> bool:
        return finding.rule.id == self.rule and (
            finding.address == self.resource or finding.address.startswith(self.resource + "/")
        )

    def expired(self, today: date) -> bool:
        return self.expires is not None and today > self.expires


def waivers_of(spec: EnvSpec) -> tuple[Waiver, ...]:
    """The spec's waivers, in the order written; `AuditError` for an impossible date."""
    found = []
    for i, waiver in enumerate(spec.policies.waivers):
        source = waiver.range_of()
        expires = waiver.expires
        try:
            day = date.fromisoformat(str(expires)) if expires is not None else None
        except ValueError:
            raise AuditError(
                f"{source}: waiver #{i + 1} expires on {expires!r}, which is not a date "
                "(write YYYY-MM-DD)"
            ) from None
        # What reports show of the waiver: its fields as written (none left out as None).
        written = {
            "rule": waiver.rule,
            "resource": waiver.resource,
            "environments": waiver.environments,
            "reason": waiver.reason,
            "owner": waiver.owner,
            "expires": waiver.expires,
        }
        written = {name: value for name, value in written.items() if waiver.written(name)}
        found.append(
            Waiver(
                index=i,
                rule=waiver.rule,
                resource=waiver.resource,
                environments=waiver.environments,
                reason=waiver.reason,
                owner=waiver.owner,
                expires=day,
                source=source,
                written=MappingProxyType(written),
            )
        )
    return tuple(found)


def apply_waivers(
    spec: EnvSpec,
    findings: Sequence[Finding],
    applied: tuple[Rule, ...],
    packs: tuple[str, ...],
    today: date,
) -> tuple[list[Finding], list[AuditWarning]]:
    """The findings with the waiver that suppresses each set (`Finding.waiver`), and the
    warnings about waivers: expired, or matching nothing (`applied` are the rules of the
    environment's `packs`, which a waiver of another rule cannot match)."""
    env = spec.env
    covering = [w for w in waivers_of(spec) if w.covers_environment(env)]
    live = [w for w in covering if not w.expired(today)]
    matched: set[int] = set()
    out = []
    for finding in findings:
        matching = [w for w in live if w.covers(finding)]
        matched.update(w.index for w in matching)
        if matching:
            written = matching[0].written
            if not isinstance(written, MappingProxyType):
                written = MappingProxyType(dict(written))
            finding = dataclasses.replace(finding, waiver=written)
        out.append(finding)

    applied_ids = {r.id for r in applied}
    warnings = []
    for w in covering:
        if w.expired(today):
            covered = sum(1 for f in findings if w.covers(f))
            effect = (
                f"{covered} finding(s) in {env} it covered count again: renew it or fix them"
                if covered
                else f"it matches no finding in {env} anyway: remove it"
            )
            warnings.append(
                AuditWarning(
                    f"{w.name} (owner {w.owner}) expired on {w.expires.isoformat()}; {effect}",
                    w.source,
                )
            )
        elif w.index not in matched:
            why = (
                ""
                if w.rule in applied_ids
                else f" (rule {w.rule} is not in the packs applied: {', '.join(packs)})"
            )
            warnings.append(
                AuditWarning(f"{w.name} matched no finding in {env}{why}: remove it", w.source)
            )
    return out, warnings
