"""Endpoints: the `CreateEndpointConfig` and `CreateEndpoint` requests a spec endpoint becomes.

One production variant serves the endpoint's model; data capture, when on, writes where the
target says (a bucket prefix per endpoint on AWS, a folder in the emulator). A configuration
is immutable, so its name is a hash of what the target creates, and the target names it.
"""

from __future__ import annotations

from typing import Any

from mlinfra.ir.graph import Ref
from mlinfra.ir.requests.tags import tags
from mlinfra.ir.sagemaker.context import LoweringContext
from mlinfra.spec.model import Endpoint

VARIANT = "primary"
CAPTURE_MODES = {"input": "Input", "output": "Output"}


def endpoint_name(ctx: LoweringContext, component: Endpoint) -> str:
    return ctx.name(component, "endpoint")


def production_variant(ctx: LoweringContext, component: Endpoint) -> dict[str, Any]:
    model = ctx.spec.models[component.model]
    return {
        "VariantName": VARIANT,
        "ModelName": Ref(model.address, "name"),
        "InitialInstanceCount": component.instance_count,
        "InstanceType": component.instance_type,
        "InitialVariantWeight": 1.0,
    }


def data_capture_config(
    ctx: LoweringContext, component: Endpoint, destination: Any
) -> dict[str, Any] | None:
    """Capture into `destination` (the target's place for this endpoint), if it is on."""
    capture = component.data_capture
    if capture is None or not capture.enabled:
        return None
    return {
        "EnableCapture": True,
        "InitialSamplingPercentage": capture.sampling_percent,
        "DestinationS3Uri": destination,
        "CaptureOptions": [{"CaptureMode": CAPTURE_MODES[mode]} for mode in capture.capture],
    }


def create_endpoint_config(
    ctx: LoweringContext, component: Endpoint, capture_destination: Any
) -> dict[str, Any]:
    """`CreateEndpointConfig`'s request, but for its name."""
    request: dict[str, Any] = {"ProductionVariants": [production_variant(ctx, component)]}
    capture = data_capture_config(ctx, component, capture_destination)
    if capture is not None:
        request["DataCaptureConfig"] = capture
    request["Tags"] = tags(ctx, component)
    return request


def create_endpoint(ctx: LoweringContext, component: Endpoint, config: str) -> dict[str, Any]:
    """`CreateEndpoint`'s request, serving the configuration at address `config`."""
    return {
        "EndpointName": endpoint_name(ctx, component),
        "EndpointConfigName": Ref(config, "name"),
        "Tags": tags(ctx, component),
    }
