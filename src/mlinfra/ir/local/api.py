"""What every local resource shares: its type names and the API's tag shape."""

from __future__ import annotations

from mlinfra.ir.sagemaker.context import LoweringContext
from mlinfra.sagemaker import resources
from mlinfra.spec.model import Component

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
TYPES = (
    MODEL,
    ENDPOINT_CONFIG,
    ENDPOINT,
    FEATURE_GROUP,
    MODEL_PACKAGE_GROUP,
    PIPELINE,
    MONITORING_SCHEDULE,
)


def tags(ctx: LoweringContext, component: Component) -> list[dict[str, str]]:
    """The environment's and mlinfra's tags, as the SageMaker API takes them."""
    return [{"Key": key, "Value": value} for key, value in ctx.tags(component).items()]
