"""Offline catalogues of what SageMaker offers: instance types, regions and framework images.

Every answer comes from data files that ship inside mlinfra's pinned dependencies, so
validation needs no network and no AWS credentials:

- botocore's SageMaker service model (`data/sagemaker/<api-version>/service-2.json.gz`):
  the instance-type enums the SageMaker API accepts for each kind of job;
- botocore's endpoint data (`data/endpoints.json`, `data/partitions.json`): the AWS regions,
  and those with a SageMaker endpoint;
- sagemaker-core's `sagemaker/core/image_uri_config/<framework>.json`: the prebuilt
  framework images, their versions and the ECR registry of each region.

The files are read directly rather than through `botocore.loaders` or `sagemaker.core`:
importing `botocore.loaders` costs ~150 ms (it pulls in urllib3 and http.client) and importing
`sagemaker.core` over 2 s, while `mlinfra validate` should answer in a blink. The tests
check these readers against botocore's loader, its endpoint resolver and
`sagemaker.core.image_uris.retrieve`, so a change in either library's data layout fails loudly
instead of drifting. Every lookup is cached: the data cannot change within a process.
"""

from __future__ import annotations

import functools
import gzip
import importlib.util
import json
import re
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal

InstanceKind = Literal["endpoint", "processing", "training", "transform", "monitoring"]

# The service-model shapes whose enums list the instance types each API accepts.
# Monitoring schedules run as processing jobs, so they take processing instance types.
_INSTANCE_TYPE_SHAPES: dict[str, str] = {
    "endpoint": "ProductionVariantInstanceType",
    "processing": "ProcessingInstanceType",
    "training": "TrainingInstanceType",
    "transform": "TransformInstanceType",
    "monitoring": "ProcessingInstanceType",
}
INSTANCE_KINDS: tuple[str, ...] = tuple(_INSTANCE_TYPE_SHAPES)

MODEL_FRAMEWORKS: tuple[str, ...] = ("sklearn", "xgboost", "pytorch", "tensorflow")
MODEL_MONITOR = "model-monitor"
# Only these configs are read: the framework name comes from user text and must never
# become an arbitrary file path, and the tag rules below are checked for these alone.
FRAMEWORKS: tuple[str, ...] = (*MODEL_FRAMEWORKS, MODEL_MONITOR)

# botocore keys endpoint data by endpoint prefix, and SageMaker's API lives at
# api.sagemaker.<region>.<dnsSuffix>; the "sagemaker" key does not exist in endpoints.json.
_SAGEMAKER_ENDPOINT_PREFIX = "api.sagemaker"

# What sagemaker.core.image_uris and fw_utils hard-code rather than keep in the JSON configs.
_GRAVITON_FAMILIES = frozenset({"m6g", "m6gd", "c6g", "c6gd", "c6gn", "c7g", "r6g", "r6gd"})
_GRAVITON_FRAMEWORKS = frozenset({"tensorflow", "pytorch", "xgboost", "sklearn"})
_GRAVITON_SCOPE = "inference_graviton"
_ARM64_TAGS = {
    "xgboost": {"1.5-1": "1.5-1-arm64", "1.3-1": "1.3-1-arm64"},
    "sklearn": {"1.0-1": "1.0-1-arm64-cpu-py3"},
}
# Older GPU images on p4d instances need a CUDA 11 build, picked by retrieve() by tag.
_P4D_CONTAINER_VERSIONS = {
    "tensorflow-2.3-gpu-py37": "cu110-ubuntu18.04-v3",
    "tensorflow-2.3.1-gpu-py37": "cu110-ubuntu18.04",
    "tensorflow-2.3.2-gpu-py37": "cu110-ubuntu18.04",
    "tensorflow-1.15-gpu-py37": "cu110-ubuntu18.04-v8",
    "tensorflow-1.15.4-gpu-py37": "cu110-ubuntu18.04",
    "tensorflow-1.15.5-gpu-py37": "cu110-ubuntu18.04",
    "pytorch-1.6-gpu-py36": "cu110-ubuntu18.04-v3",
    "pytorch-1.6.0-gpu-py36": "cu110-ubuntu18.04",
    "pytorch-1.6-gpu-py3": "cu110-ubuntu18.04-v3",
    "pytorch-1.6.0-gpu-py3": "cu110-ubuntu18.04",
}
_INSTANCE_FAMILY = re.compile(r"^ml[\._]([a-z\d\-]+)\.?\w*$")


class CatalogError(ValueError):
    """A lookup the catalogues cannot answer: unknown kind, framework, scope, version or region."""


# --- locating and reading the data files -------------------------------------------------


def _package_dirs(name: str) -> list[Path]:
    # find_spec on a top-level name locates the package without executing its __init__,
    # which for "sagemaker" would import sagemaker.core.
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        raise CatalogError(f"the {name!r} package is not installed")
    return [Path(location) for location in spec.submodule_search_locations]


def _read_json(path: Path) -> Any:
    # botocore's loader prefers a plain .json over a .json.gz of the same name; so do we.
    if path.is_file():
        return json.loads(path.read_bytes())
    gz = path.with_name(path.name + ".gz")
    if gz.is_file():
        with gzip.open(gz, "rb") as stream:
            return json.loads(stream.read())
    raise CatalogError(f"catalogue file not found: {path}")


@functools.cache
def _botocore_data() -> Path:
    return _package_dirs("botocore")[0] / "data"


@functools.cache
def _service_model(service: str) -> dict[str, Any]:
    service_dir = _botocore_data() / service
    # botocore loads the newest API version, and API versions are ISO dates.
    api_version = max(entry.name for entry in service_dir.iterdir() if entry.is_dir())
    return _read_json(service_dir / api_version / "service-2.json")


def _sagemaker_service_model() -> dict[str, Any]:
    return _service_model("sagemaker")


@functools.cache
def _endpoint_partitions() -> tuple[dict[str, Any], ...]:
    return tuple(_read_json(_botocore_data() / "endpoints.json")["partitions"])


@functools.cache
def _framework_config(framework: str) -> dict[str, Any]:
    if framework not in FRAMEWORKS:
        raise CatalogError(
            f"unsupported framework {framework!r}; supported: {', '.join(FRAMEWORKS)}"
        )
    for location in _package_dirs("sagemaker"):
        path = location / "core" / "image_uri_config" / f"{framework}.json"
        if path.is_file():
            return _read_json(path)
    raise CatalogError(f"sagemaker-core ships no image config for {framework!r}")


# --- API shapes and instance types --------------------------------------------------------


def sagemaker_shape(name: str) -> Mapping[str, Any]:
    """Shape `name` of SageMaker's API model, e.g. "EndpointName": its pattern, min and max."""
    return api_shape("sagemaker", name)


def api_shape(service: str, name: str) -> Mapping[str, Any]:
    """Shape `name` of an AWS service's API model (botocore's name for the service, e.g.
    "cloudwatch"), e.g. "ResourceList": its min and max."""
    try:
        shape = _service_model(service)["shapes"][name]
    except KeyError:
        raise CatalogError(f"{service}'s API has no shape {name!r}") from None
    # Read-only, because every caller shares the one cached model.
    return MappingProxyType(shape)


@functools.cache
def instance_types(kind: InstanceKind) -> frozenset[str]:
    """The instance types SageMaker accepts for `kind` of workload."""
    try:
        shape = _INSTANCE_TYPE_SHAPES[kind]
    except KeyError:
        raise CatalogError(
            f"unknown instance kind {kind!r}; known: {', '.join(INSTANCE_KINDS)}"
        ) from None
    return frozenset(_sagemaker_service_model()["shapes"][shape]["enum"])


# --- regions ------------------------------------------------------------------------------


@functools.cache
def all_regions() -> frozenset[str]:
    """Every AWS region botocore knows, in every partition (aws, aws-cn, aws-us-gov, ...)."""
    regions: set[str] = set()
    # partitions.json (the endpoint-ruleset data) lists regions newer than endpoints.json.
    rulesets = _read_json(_botocore_data() / "partitions.json")["partitions"]
    for partition in (*_endpoint_partitions(), *rulesets):
        # The regex drops pseudo-regions such as "aws-global", which no resource lives in.
        pattern = re.compile(partition["regionRegex"])
        regions.update(name for name in partition["regions"] if pattern.match(name))
    return frozenset(regions)


@functools.cache
def sagemaker_regions() -> frozenset[str]:
    """The regions with a SageMaker API endpoint."""
    regions: set[str] = set()
    for partition in _endpoint_partitions():
        endpoints = partition["services"].get(_SAGEMAKER_ENDPOINT_PREFIX, {}).get("endpoints", {})
        # The same test as botocore's get_available_regions: a name that is a region of the
        # partition, so "us-east-1-fips" and "us-gov-west-1-secondary" drop out.
        regions.update(name for name in endpoints if name in partition["regions"])
    return frozenset(regions)


@functools.cache
def _ecr_hostname(region: str) -> str:
    # The same resolution as botocore's EndpointResolver.construct_endpoint("ecr", region),
    # which is what sagemaker's image_uris.retrieve asks for.
    for partition in _endpoint_partitions():
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


# --- framework images ---------------------------------------------------------------------


def _scope_config(framework: str, scope: str) -> dict[str, Any]:
    # Mirrors image_uris._config_for_framework_and_scope: a config with a single scope
    # (model-monitor's is "monitoring") serves every request, whatever scope was asked.
    config = _framework_config(framework)
    scopes = config.get("scope", list(config))
    if len(scopes) == 1:
        scope = scopes[0]
    if scope not in scopes:
        raise CatalogError(
            f"{framework} has no {scope!r} images; scopes: {', '.join(sorted(scopes))}"
        )
    return config if "scope" in config else config[scope]


@functools.cache
def framework_versions(framework: str, scope: str = "inference") -> frozenset[str]:
    """The versions of `framework`'s prebuilt images for `scope`, aliases included.

    Aliases such as pytorch "2.6" (for "2.6.0") or xgboost "latest" are accepted by SageMaker
    wherever a version is. model-monitor has one unversioned image, so its only version is "".
    """
    config = _scope_config(framework, scope)
    return frozenset(config["versions"]) | frozenset(config.get("version_aliases", {}))


def _version_config(config: dict[str, Any], version: str | None) -> dict[str, Any] | None:
    versions = config["versions"]
    aliases = config.get("version_aliases", {})
    # Like retrieve(): a single-version config (model-monitor) answers whatever was asked.
    if len(versions) == 1 and version not in aliases:
        return next(iter(versions.values()))
    return versions.get(aliases.get(version, version))


@functools.cache
def framework_regions(framework: str, version: str, scope: str = "inference") -> frozenset[str]:
    """The regions that host an image of `framework` `version` for `scope` (empty if none)."""
    version_config = _version_config(_scope_config(framework, scope), version)
    if version_config is None:
        return frozenset()
    if "registries" in version_config:
        return frozenset(version_config["registries"])
    # A few old versions keep one registry map per Python version.
    return frozenset(
        region
        for per_python in version_config.values()
        if isinstance(per_python, dict)
        for region in per_python.get("registries", {})
    )


def _instance_family(instance_type: str | None) -> str:
    match = _INSTANCE_FAMILY.match(instance_type or "")
    return match[1] if match else ""


def _processor(instance_type: str | None, available: list[str] | None) -> str | None:
    # Mirrors image_uris._processor: the processor token of the tag, from the instance family.
    if not available:
        return None
    if len(available) == 1 and not instance_type:
        return available[0]
    if not instance_type:
        raise CatalogError(f"an instance type is needed to choose among {', '.join(available)}")
    if instance_type.startswith("local"):
        processor = "cpu" if instance_type == "local" else "gpu"
    else:
        family = _instance_family(instance_type)
        if not family:
            raise CatalogError(f"{instance_type!r} is not a SageMaker instance type")
        if family in available:
            processor = family
        elif family.startswith("inf"):
            processor = "inf"
        elif family.startswith("trn"):
            processor = "trn"
        elif family[0] in ("g", "p"):
            processor = "gpu"
        else:
            processor = "cpu"
    if processor not in available:
        raise CatalogError(
            f"no {processor} image for {instance_type}; processors: {', '.join(available)}"
        )
    return processor


def _python_version(version_config: dict[str, Any], py_version: str | None) -> str | None:
    if "repository" in version_config:
        available = version_config.get("py_versions") or []
    else:
        available = list(version_config)
    if not available:
        return None
    if py_version is None and len(available) == 1:
        return available[0]
    if py_version not in available:
        raise CatalogError(f"choose a Python version among {', '.join(available)}")
    return py_version


def _release(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", version))


@functools.cache
def image_uri(
    framework: str,
    version: str | None,
    region: str,
    scope: str = "inference",
    instance_type: str | None = None,
    py_version: str | None = None,
) -> str:
    """The ECR URI of SageMaker's prebuilt `framework` image, as `image_uris.retrieve` builds it.

    `instance_type` picks the cpu or gpu image where a framework has both (pytorch,
    tensorflow) and the Graviton image on Graviton families. `py_version` is needed only
    where an old version has images for several Pythons. Neuron (inf/trn) images are not
    covered. Raises CatalogError for a combination that has no image.
    """
    family = _instance_family(instance_type)
    if instance_type and framework == "pytorch" and family.startswith(("inf", "trn")):
        raise CatalogError("Neuron (inf/trn) images are not in mlinfra's catalogue")
    if instance_type and "trn" in instance_type and framework != "pytorch":
        raise CatalogError(f"{framework} has no images for Trainium instances")
    if family in _GRAVITON_FAMILIES:
        if framework not in _GRAVITON_FRAMEWORKS:
            raise CatalogError(f"{framework} has no images for Graviton instances")
        # retrieve() switches to the Graviton images whatever scope was asked.
        scope = _GRAVITON_SCOPE
    elif family and scope == _GRAVITON_SCOPE and framework in _ARM64_TAGS:
        raise CatalogError(f"{instance_type} is not a Graviton instance type")

    config = _scope_config(framework, scope)
    version_config = _version_config(config, version)
    if version_config is None:
        known = ", ".join(sorted(framework_versions(framework, scope)))
        raise CatalogError(f"{framework} has no {scope} image {version!r}; versions: {known}")
    if len(config["versions"]) == 1 and version not in config.get("version_aliases", {}):
        version = next(iter(config["versions"]))

    py = _python_version(version_config, py_version)
    # A few old versions nest one config per Python version.
    version_config = version_config.get(py) or version_config
    registries = version_config["registries"]
    if region not in registries:
        raise CatalogError(f"{framework} {version} has no {scope} image in {region!r}")
    registry = registries[region]
    hostname = _ecr_hostname(region)
    repository = version_config["repository"]

    processor = _processor(
        instance_type, config.get("processors") or version_config.get("processors")
    )
    container_version = (version_config.get("container_version") or {}).get(processor)
    # Aliases stay in the tag: "2.6-cpu-py312" is a published floating tag of 2.6.x.
    tag_prefix = version_config.get("tag_prefix", version)
    if repository in (f"{framework}-inference-graviton", f"{framework}-inference-arm64"):
        container_version = f"{container_version}-sagemaker"
    if not version_config.get("processor_in_tag", True):
        processor = None
    if family == "p2" and (
        (framework == "pytorch" and _release(version) >= (1, 13))
        or (framework == "tensorflow" and _release(version) >= (2, 12))
    ):
        raise CatalogError(f"{framework} {version} images do not run on p2 instances")

    parts = (tag_prefix, processor, py, container_version)
    tag = "-".join(part for part in parts if part)
    if framework in _ARM64_TAGS and (family in _GRAVITON_FAMILIES or scope == _GRAVITON_SCOPE):
        # The arm64 xgboost and sklearn images carry hand-picked tags, not the usual pattern.
        if version not in _ARM64_TAGS[framework]:
            raise CatalogError(f"{framework} {version} has no Graviton image")
        tag = _ARM64_TAGS[framework][version]
    elif family == "p4d":
        tag = "-".join(filter(None, (tag, _P4D_CONTAINER_VERSIONS.get(f"{framework}-{tag}"))))

    uri = f"{registry}.dkr.{hostname}/{repository}"
    return f"{uri}:{tag}" if tag else uri
