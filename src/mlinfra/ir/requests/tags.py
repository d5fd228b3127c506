"""Tags as the SageMaker API takes them: a list of `{Key, Value}`."""

from __future__ import annotations

from mlinfra.ir.sagemaker.context import LoweringContext
from mlinfra.spec.model import Component


def tags(ctx: LoweringContext, component: Component) -> list[dict[str, str]]:
    """The environment's and mlinfra's tags, as the SageMaker API takes them."""
    return [{"Key": key, "Value": value} for key, value in ctx.tags(component).items()]
