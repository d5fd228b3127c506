"""What every local resource shares: its type names and the request field naming it."""

from __future__ import annotations

# The resource types of the local target, one per emulator API noun. The providers of
# `mlinfra.providers.local` know exactly these.
MODEL = "local.Model"
ENDPOINT_CONFIG = "local.EndpointConfig"
ENDPOINT = "local.Endpoint"
FEATURE_GROUP = "local.FeatureGroup"
MODEL_PACKAGE_GROUP = "local.ModelPackageGroup"
PIPELINE = "local.Pipeline"
MONITORING_SCHEDULE = "local.MonitoringSchedule"


# The request field that names each resource: its physical name, and what `name` outputs.
NAME_FIELDS = {
    MODEL: "ModelName",
    ENDPOINT_CONFIG: "EndpointConfigName",
    ENDPOINT: "EndpointName",
    FEATURE_GROUP: "FeatureGroupName",
    MODEL_PACKAGE_GROUP: "ModelPackageGroupName",
    PIPELINE: "PipelineName",
    MONITORING_SCHEDULE: "MonitoringScheduleName",
}
