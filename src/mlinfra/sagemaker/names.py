"""SageMaker's name rules: the pattern and maximum length of each resource's name, from its
API model, so the validator checks exactly what the API will enforce."""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

from mlinfra.sagemaker.api import sagemaker_shape

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


@dataclass(frozen=True)
class NameRule:
    pattern: re.Pattern[str]
    max_length: int

    def allows(self, name: str) -> bool:
        return len(name) <= self.max_length and self.pattern.fullmatch(name) is not None


@functools.cache
def name_rule(kind: str) -> NameRule:
    """The rule names of `kind` (a key of `NAME_SHAPES`) keep."""
    shape = sagemaker_shape(NAME_SHAPES[kind])
    return NameRule(re.compile(shape["pattern"]), int(shape["max"]))
