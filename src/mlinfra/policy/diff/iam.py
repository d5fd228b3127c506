"""The IAM statement algebra: policy documents read as statements, and what one statement
allows that another does not.

Pure: documents in, values out. IAM's wildcards (`*` any run of characters, `?` one; actions
ignore case) decide what a pattern covers. What a difference means for security (weakened,
strengthened) is the compliance diff's judge's to say (`policy.diff.security`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from mlinfra.ir.graph import Json
from mlinfra.policy.values import as_tuple, json_document, same, show

# Actions AWS grants only on `*`; a statement allowing them on `*` is not broad.
ACCOUNT_WIDE_ACTIONS = (
    "ecr:GetAuthorizationToken",
    "ec2:Describe*",
    "cloudwatch:PutMetricData",
    "sagemaker:ListModelPackages",
)


@dataclass(frozen=True)
class Statement:
    """One statement of a policy document, as written (`NotAction` and `NotResource` read as
    its actions and resources)."""

    sid: str | None
    effect: str
    actions: tuple[str, ...]
    resources: tuple[Any, ...]
    data: Any  # the whole statement, as written

    @property
    def deny(self) -> bool:
        return self.effect == "Deny"

    @property
    def condition(self) -> Any:
        return self.data.get("Condition") if isinstance(self.data, Mapping) else None

    @property
    def broad(self) -> bool:
        """Allows a wildcard action, or an action on every resource that needs not be."""
        if self.deny:
            return False
        if any("*" in a for a in self.actions if not account_wide(a)):
            return True
        return any(show(r) == "*" for r in self.resources) and not all(
            account_wide(a) for a in self.actions
        )

    def describe(
        self, actions: Iterable[str] | None = None, resources: Iterable[Any] | None = None
    ) -> str:
        """`s3:GetObject, s3:PutObject on arn:...`: the statement's actions and resources, or
        those given."""
        verbs = ", ".join(actions if actions is not None else self.actions) or "nothing"
        targets = ", ".join(
            show(r) for r in (resources if resources is not None else self.resources)
        )
        return f"{verbs} on {targets or 'nothing'}"


def matches(value: str, pattern: str) -> bool:
    """IAM wildcard matching: `*` any run, `?` one character; actions ignore case."""
    regex = re.escape(pattern).replace(r"\*", ".*").replace(r"\?", ".")
    return re.fullmatch(regex, value, re.IGNORECASE) is not None


def covers(pattern: Any, resource: Any) -> bool:
    """Whether a statement's resource `pattern` takes in `resource`: the same value, or a
    wildcard that matches it as written."""
    if same(pattern, resource):
        return True
    return isinstance(pattern, str) and "*" in pattern and matches(show(resource), pattern)


def account_wide(action: str) -> bool:
    """An action AWS grants only on `*` (`ecr:GetAuthorizationToken`, EC2's Describe calls)."""
    return any(matches(action, p) for p in ACCOUNT_WIDE_ACTIONS)


def _document(value: Any) -> Any:
    # A `Json` marker, JSON text, or the document itself.
    return json_document(value.value if isinstance(value, Json) else value)


def statements(document: Any) -> list[Statement]:
    """The statements of a policy document (a `Json` marker, JSON text or a mapping); none
    when it is not a document."""
    document = _document(document)
    if not isinstance(document, Mapping):
        return []
    found = []
    for s in as_tuple(document.get("Statement")):
        if not isinstance(s, Mapping):
            continue
        found.append(
            Statement(
                sid=s.get("Sid") if isinstance(s.get("Sid"), str) else None,
                effect=str(s.get("Effect", "Allow")),
                actions=tuple(show(a) for a in as_tuple(s.get("Action") or s.get("NotAction"))),
                resources=as_tuple(s.get("Resource") or s.get("NotResource")),
                data=s,
            )
        )
    return found


def principals(trust: Any) -> set[str]:
    """Who a trust policy lets assume the role: `Service:sagemaker.amazonaws.com`, ..."""
    document = _document(trust)
    found: set[str] = set()
    for s in as_tuple(document.get("Statement") if isinstance(document, Mapping) else None):
        if isinstance(s, Mapping) and s.get("Effect", "Allow") == "Allow":
            principal = s.get("Principal")
            if isinstance(principal, Mapping):
                for kind, values in principal.items():
                    found.update(f"{kind}:{show(v)}" for v in as_tuple(values))
            elif principal is not None:
                found.add(show(principal))
    return found


def pair(
    old: list[Statement], new: list[Statement]
) -> tuple[list[tuple[Statement, Statement]], list[Statement], list[Statement]]:
    """The statements of two versions of a policy as (pairs, gone, added): matched by Sid,
    then by effect and actions, then unnamed ones in order."""
    pairs: list[tuple[Statement, Statement]] = []
    left, right = list(old), list(new)
    for match in (
        lambda s: ("sid", s.sid) if s.sid else None,
        lambda s: ("actions", s.effect, tuple(sorted(s.actions))),
        # Unnamed statements, in order: a policy without Sids edited in place.
        lambda s: None if s.sid else ("unnamed", s.effect),
    ):
        for a in list(left):
            key = match(a)
            if key is None:
                continue
            b = next((b for b in right if match(b) == key), None)
            if b is not None:
                pairs.append((a, b))
                left.remove(a)
                right.remove(b)
    return pairs, left, right


@dataclass(frozen=True)
class Difference:
    """What a statement's new version names that its old one does not cover, and back."""

    gained_actions: list[str]
    lost_actions: list[str]
    gained_resources: list[Any]
    lost_resources: list[Any]
    condition_dropped: bool  # the old version had a condition, the new one has none
    condition_added: bool

    @property
    def broadens(self) -> bool:
        return bool(self.gained_actions or self.gained_resources or self.condition_dropped)

    @property
    def narrows(self) -> bool:
        return bool(self.lost_actions or self.lost_resources or self.condition_added)


def difference(old: Statement, new: Statement) -> Difference:
    """Compare two versions of a statement, wildcards included: an action an old pattern
    already covered is not gained."""
    return Difference(
        gained_actions=[x for x in new.actions if not any(matches(x, p) for p in old.actions)],
        lost_actions=[x for x in old.actions if not any(matches(x, p) for p in new.actions)],
        gained_resources=[r for r in new.resources if not any(covers(p, r) for p in old.resources)],
        lost_resources=[r for r in old.resources if not any(covers(p, r) for p in new.resources)],
        condition_dropped=old.condition is not None and new.condition is None,
        condition_added=old.condition is None and new.condition is not None,
    )
