"""Physical names: `{project}-{env}-{component}`, fitted to SageMaker's limits.

The name rules (pattern and maximum length) come from botocore's SageMaker service model, so
the validator checks exactly what the API will enforce. A name too long for its resource is
shortened to a prefix plus a stable hash of the full name: deterministic, and distinct
for distinct components.
"""

from __future__ import annotations

import functools
import hashlib
import re
from dataclasses import dataclass

# mlinfra resource kind -> the botocore shape that constrains its name.
NAME_SHAPES = {
    "model": "ModelName",
    "endpoint": "EndpointName",
    "endpoint_config": "EndpointConfigName",
    "feature_group": "FeatureGroupName",
    "pipeline": "PipelineName",
    "model_package_group": "EntityName",
    "monitoring_schedule": "MonitoringScheduleName",
    "monitoring_job_definition": "MonitoringJobDefinitionName",
}

# Endpoint configs get a content-hash suffix (`-1a2b3c4d`) so a change creates a new config
# before the old one is deleted; their base name leaves room for it.
SUFFIX_RESERVE = {"endpoint_config": 9}
HASH_LENGTH = 8


@dataclass(frozen=True)
class NameRule:
    pattern: re.Pattern[str]
    max_length: int


@functools.cache
def name_rule(kind: str) -> NameRule:
    from mlinfra.spec.catalog import sagemaker_shape

    shape = sagemaker_shape(NAME_SHAPES[kind])
    return NameRule(re.compile(shape["pattern"]), int(shape["max"]))


@dataclass(frozen=True)
class PhysicalName:
    kind: str
    wanted: str  # the name the convention gives, before fitting
    name: str  # the name that will be deployed

    @property
    def shortened(self) -> bool:
        return self.name != self.wanted

    def is_valid(self) -> bool:
        rule = name_rule(self.kind)
        return len(self.name) <= rule.max_length and rule.pattern.fullmatch(self.name) is not None


def stable_hash(text: str, length: int = HASH_LENGTH) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:length]


def fit(wanted: str, limit: int) -> str:
    """`wanted` if it fits in `limit` characters, else a prefix and a hash of the whole."""
    if len(wanted) <= limit:
        return wanted
    prefix = wanted[: limit - HASH_LENGTH - 1].rstrip("-_")
    return f"{prefix}-{stable_hash(wanted)}"


def physical_name(project: str, env: str, component: str, kind: str) -> PhysicalName:
    wanted = f"{project}-{env}-{component}"
    limit = name_rule(kind).max_length - SUFFIX_RESERVE.get(kind, 0)
    return PhysicalName(kind, wanted, fit(wanted, limit))
