"""What every local resource shares: its type names."""

from __future__ import annotations

from mlinfra.sagemaker import resources

# The resource types of the local target, one per emulator API noun (`local.Model`...);
# what each is (its name field, what updates in place) is in `mlinfra.sagemaker.resources`.
# The embedded engine's providers know exactly these.
MODEL = resources.local_type(resources.MODEL)
ENDPOINT_CONFIG = resources.local_type(resources.ENDPOINT_CONFIG)
ENDPOINT = resources.local_type(resources.ENDPOINT)
FEATURE_GROUP = resources.local_type(resources.FEATURE_GROUP)
MODEL_PACKAGE_GROUP = resources.local_type(resources.MODEL_PACKAGE_GROUP)
PIPELINE = resources.local_type(resources.PIPELINE)
MONITORING_SCHEDULE = resources.local_type(resources.MONITORING_SCHEDULE)
# Made through the emulator's CloudWatch and Application Auto Scaling APIs.
METRIC_ALARM = resources.local_type(resources.METRIC_ALARM)
SCALABLE_TARGET = resources.local_type(resources.SCALABLE_TARGET)
SCALING_POLICY = resources.local_type(resources.SCALING_POLICY)
TYPES = (
    MODEL,
    ENDPOINT_CONFIG,
    ENDPOINT,
    FEATURE_GROUP,
    MODEL_PACKAGE_GROUP,
    PIPELINE,
    MONITORING_SCHEDULE,
    METRIC_ALARM,
    SCALABLE_TARGET,
    SCALING_POLICY,
)
