"""Endpoints: an endpoint in the emulator and its configuration.

The emulator serves each endpoint from its own worker processes, one per instance, and
writes captured requests as JSON Lines in SageMaker's capture format under
`.mlinfra/emulator/capture/<endpoint>/` beside the spec. What only AWS has is not lowered
here: blue/green deployment with canary or linear traffic shifting, CloudWatch SLO alarms
and autoscaling. A changed configuration moves the endpoint to it at once.
"""

from __future__ import annotations

from mlinfra.ir.graph import Resource, content_hash
from mlinfra.ir.local.api import ENDPOINT, ENDPOINT_CONFIG
from mlinfra.ir.local.models import model_name, registry_lookup
from mlinfra.ir.requests.endpoints import create_endpoint, create_endpoint_config, endpoint_name
from mlinfra.ir.sagemaker.context import LoweringContext
from mlinfra.ir.sagemaker.models import VERSION_SUFFIX_LENGTH, served_version, with_version
from mlinfra.naming import fit
from mlinfra.sagemaker.names import name_rule
from mlinfra.spec.model import Endpoint

CAPTURE_FOLDER = ".mlinfra/emulator/capture"


def lower_endpoint(ctx: LoweringContext, component: Endpoint) -> list[Resource]:
    config = endpoint_config(ctx, component)
    endpoint = ctx.resource(
        component.address,
        ENDPOINT,
        create_endpoint(ctx, component, config.address),
        component.key_range,
    )
    return [config, endpoint]


def endpoint_config(ctx: LoweringContext, component: Endpoint) -> Resource:
    model = ctx.spec.models[component.model]
    capture = f"file:{CAPTURE_FOLDER}/{endpoint_name(ctx, component)}"
    request = create_endpoint_config(ctx, component, capture)
    # Immutable, so named by a hash of its content and of its model's name (itself a hash
    # of the model's content, plus the version it serves once that is known).
    model_named = model_name(ctx, model)
    base = ctx.name(component, "endpoint_config")
    version = served_version(ctx, model, registry_lookup)
    if version is not None:
        base = fit(base, name_rule("endpoint_config").max_length - 9 - VERSION_SUFFIX_LENGTH)
    name = with_version(
        ctx,
        model,
        f"{base}-{content_hash({'request': request, 'model': model_named})}",
        registry_lookup,
    )
    return ctx.resource(
        f"{component.address}/config",
        ENDPOINT_CONFIG,
        {"EndpointConfigName": name, **request},
        component.range_of("instance_type"),
        replace_on_change=True,
    )
