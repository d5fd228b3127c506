"""What every local resource shares: its type names and the API's tag shape."""

from __future__ import annotations

from mlinfra.ir.sagemaker.context import LoweringContext
from mlinfra.spec.model import Component

# The resource types of the local target, one per emulator API noun. The providers of
# `mlinfra.providers.local` know exactly these.
MODEL = "local.Model"
ENDPOINT_CONFIG = "local.EndpointConfig"
ENDPOINT = "local.Endpoint"
FEATURE_GROUP = "local.FeatureGroup"
MODEL_PACKAGE_GROUP = "local.ModelPackageGroup"
PIPELINE = "local.Pipeline"
MONITORING_SCHEDULE = "local.MonitoringSchedule"


def tags(ctx: LoweringContext, component: Component) -> list[dict[str, str]]:
    """The environment's and mlinfra's tags, as the SageMaker API takes them."""
    return [{"Key": key, "Value": value} for key, value in ctx.tags(component).items()]


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
