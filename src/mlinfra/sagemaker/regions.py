"""The AWS regions, and those with a SageMaker API endpoint, from botocore's endpoint data
(`data/endpoints.json`, `data/partitions.json`), read without importing botocore."""

from __future__ import annotations

import functools
import re
from typing import Any

from mlinfra.sagemaker.api import CatalogError, botocore_data, read_json

# botocore keys endpoint data by endpoint prefix, and SageMaker's API lives at
# api.sagemaker.<region>.<dnsSuffix>; the "sagemaker" key does not exist in endpoints.json.
SAGEMAKER_ENDPOINT_PREFIX = "api.sagemaker"


@functools.cache
def endpoint_partitions() -> tuple[dict[str, Any], ...]:
    """The partitions of botocore's endpoints.json (aws, aws-cn, aws-us-gov, ...)."""
    return tuple(read_json(botocore_data() / "endpoints.json")["partitions"])


@functools.cache
def all_regions() -> frozenset[str]:
    """Every AWS region botocore knows, in every partition (aws, aws-cn, aws-us-gov, ...)."""
    regions: set[str] = set()
    # partitions.json (the endpoint-ruleset data) lists regions newer than endpoints.json.
    rulesets = read_json(botocore_data() / "partitions.json")["partitions"]
    for partition in (*endpoint_partitions(), *rulesets):
        # The regex drops pseudo-regions such as "aws-global", which no resource lives in.
        pattern = re.compile(partition["regionRegex"])
        regions.update(name for name in partition["regions"] if pattern.match(name))
    return frozenset(regions)


@functools.cache
def sagemaker_regions() -> frozenset[str]:
    """The regions with a SageMaker API endpoint."""
    regions: set[str] = set()
    for partition in endpoint_partitions():
        endpoints = partition["services"].get(SAGEMAKER_ENDPOINT_PREFIX, {}).get("endpoints", {})
        # The same test as botocore's get_available_regions: a name that is a region of the
        # partition, so "us-east-1-fips" and "us-gov-west-1-secondary" drop out.
        regions.update(name for name in endpoints if name in partition["regions"])
    return frozenset(regions)


@functools.cache
def ecr_hostname(region: str) -> str:
    """The ECR registry host of `region` (`ecr.us-east-1.amazonaws.com`)."""
    # The same resolution as botocore's EndpointResolver.construct_endpoint("ecr", region),
    # which is what sagemaker's image_uris.retrieve asks for.
    for partition in endpoint_partitions():
        service = partition["services"].get("ecr", {})
        endpoints = service.get("endpoints", {})
        if region not in endpoints and not (
            region in partition["regions"] or re.match(partition["regionRegex"], region)
        ):
            continue
        endpoint = endpoints.get(region, {})
        template = (
            endpoint.get("hostname")
            or service.get("defaults", {}).get("hostname")
            or partition["defaults"]["hostname"]
        )
        dns_suffix = endpoint.get("dnsSuffix", partition["dnsSuffix"])
        return template.format(service="ecr", region=region, dnsSuffix=dns_suffix)
    raise CatalogError(f"{region!r} is not an AWS region")
