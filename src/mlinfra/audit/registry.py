"""Where rules are declared: `@rule(...)` on a check function makes it a `Rule`.

Each module of `mlinfra.audit.rules` declares the rules of one area; importing
`mlinfra.audit.rules` registers them all, in a stable order (module order, then declaration
order), which is the order `mlinfra audit rules` lists them in.
"""

from __future__ import annotations

from collections.abc import Callable

from mlinfra.audit.model import PACKS, Check, References, Rule, Severity

_RULES: dict[str, Rule] = {}


def rule(
    id: str,  # noqa: A002 - the rule's id, as users and tools call it
    *,
    title: str,
    severity: Severity,
    packs: tuple[str, ...],
    resource_types: tuple[str, ...],
    rationale: str,
    remediation: str,
    references: References | None = None,
) -> Callable[[Check], Rule]:
    """Declare a rule whose check is the decorated function."""
    unknown = [p for p in packs if p not in PACKS]
    if unknown or not packs:
        raise ValueError(f"rule {id}: packs must be some of {', '.join(PACKS)}, not {unknown}")

    def declare(check: Check) -> Rule:
        if id in _RULES:
            raise ValueError(f"two rules with id {id!r}")
        declared = Rule(
            id=id,
            title=title,
            severity=severity,
            packs=tuple(packs),
            resource_types=tuple(resource_types),
            rationale=rationale,
            remediation=remediation,
            check=check,
            references=references or References(),
        )
        _RULES[id] = declared
        return declared

    return declare


def all_rules() -> tuple[Rule, ...]:
    """Every rule, once the rule modules are imported."""
    import mlinfra.audit.rules  # noqa: F401 - registers them

    return tuple(_RULES.values())
