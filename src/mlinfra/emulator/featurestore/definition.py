"""Feature group definitions: what a group is, and the checks CreateFeatureGroup makes on one."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Literal

from mlinfra.emulator.featurestore.errors import FeatureStoreError

FeatureType = Literal["String", "Integral", "Fractional"]
FEATURE_TYPES = ("String", "Integral", "Fractional")

# The offline store adds these columns itself, so SageMaker refuses them as feature names.
RESERVED_FEATURE_NAMES = frozenset({"is_deleted", "write_time", "api_invocation_time"})
# CreateFeatureGroup's FeatureDefinitions hold at most 2,500 (botocore's model), and
# DescribeFeatureGroup returns 2,500 a page: adding features never goes past one page.
MAX_FEATURES = 2500

# Patterns of botocore's `FeatureGroupName` and `FeatureName` shapes.
_GROUP_NAME = re.compile(r"^[a-zA-Z0-9]([_-]*[a-zA-Z0-9]){0,63}$")
_FEATURE_NAME = re.compile(r"^[a-zA-Z0-9]([-_]*[a-zA-Z0-9]){0,63}$")


@dataclass(frozen=True)
class FeatureGroupDefinition:
    """A feature group as CreateFeatureGroup declares it, with SageMaker's FeatureType names."""

    name: str
    record_identifier: str
    event_time: str
    features: dict[str, FeatureType]
    online: bool = True
    online_ttl_seconds: int | None = None
    offline: bool = True

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "record_identifier": self.record_identifier,
            "event_time": self.event_time,
            "features": dict(self.features),
            "online": self.online,
            "online_ttl_seconds": self.online_ttl_seconds,
            "offline": self.offline,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> FeatureGroupDefinition:
        return cls(
            name=data["name"],
            record_identifier=data["record_identifier"],
            event_time=data["event_time"],
            features=dict(data["features"]),
            online=bool(data["online"]),
            online_ttl_seconds=data["online_ttl_seconds"],
            offline=bool(data["offline"]),
        )


@dataclass(frozen=True)
class FeatureGroup:
    """A created feature group: its definition and when it was created (Unix seconds)."""

    definition: FeatureGroupDefinition
    created_at: float
    feature_names: tuple[str, ...] = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "feature_names", tuple(self.definition.features))

    @property
    def name(self) -> str:
        return self.definition.name


def check_definition(definition: FeatureGroupDefinition) -> None:
    """Refuse a definition SageMaker's CreateFeatureGroup would refuse (ValidationError)."""
    problems = list(_definition_problems(definition))
    if problems:
        raise FeatureStoreError("ValidationError", "; ".join(problems))


def _definition_problems(d: FeatureGroupDefinition):
    if not isinstance(d.name, str) or not _GROUP_NAME.match(d.name):
        yield (
            f"feature group name {d.name!r} must be 1-64 letters, digits, '-' or '_', "
            "starting and ending with a letter or digit"
        )
    if not d.features:
        yield "a feature group needs at least one feature"
    if len(d.features) > MAX_FEATURES:
        yield f"a feature group has at most {MAX_FEATURES:,} features, not {len(d.features):,}"
    for name, kind in d.features.items():
        if not isinstance(name, str) or not _FEATURE_NAME.match(name):
            yield f"feature name {name!r} must be 1-64 letters, digits, '-' or '_'"
        elif name.lower() in RESERVED_FEATURE_NAMES:
            yield f"feature name {name!r} is reserved by the offline store"
        if kind not in FEATURE_TYPES:
            yield f"feature {name!r} has type {kind!r}; expected one of {', '.join(FEATURE_TYPES)}"
    identifier_type = d.features.get(d.record_identifier)
    if identifier_type is None:
        yield f"record identifier {d.record_identifier!r} is not one of the features"
    elif identifier_type not in ("String", "Integral"):
        yield f"record identifier {d.record_identifier!r} must be String or Integral"
    event_time_type = d.features.get(d.event_time)
    if event_time_type is None:
        yield f"event time feature {d.event_time!r} is not one of the features"
    elif event_time_type not in ("String", "Fractional"):
        yield f"event time feature {d.event_time!r} must be String or Fractional"
    if d.record_identifier == d.event_time:
        yield "the record identifier and the event time must be different features"
    if not (d.online or d.offline):
        yield "a feature group needs an online store, an offline store or both"
    if d.online_ttl_seconds is not None and (
        isinstance(d.online_ttl_seconds, bool)
        or not isinstance(d.online_ttl_seconds, int)
        or d.online_ttl_seconds <= 0
    ):
        yield f"online TTL {d.online_ttl_seconds!r} must be a positive whole number of seconds"
    if d.online_ttl_seconds is not None and not d.online:
        yield "an online TTL needs the online store enabled"
