"""SageMaker's prebuilt framework images: their versions, regions and ECR URIs.

Read from sagemaker-core's `sagemaker/core/image_uri_config/<framework>.json` directly, not
through `sagemaker.core` (importing it takes over 2 s); `tests/sagemaker/test_images.py`
checks `image_uri` against `sagemaker.core.image_uris.retrieve`, so a change in that
library's data layout fails loudly instead of drifting. Every lookup is cached.
"""

from __future__ import annotations

import functools
import re
from typing import Any

from mlinfra.sagemaker.api import CatalogError, package_dirs, read_json
from mlinfra.sagemaker.regions import ecr_hostname

MODEL_FRAMEWORKS: tuple[str, ...] = ("sklearn", "xgboost", "pytorch", "tensorflow")
MODEL_MONITOR = "model-monitor"
# Only these configs are read: the framework name comes from user text and must never
# become an arbitrary file path, and the tag rules below are checked for these alone.
FRAMEWORKS: tuple[str, ...] = (*MODEL_FRAMEWORKS, MODEL_MONITOR)

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


@functools.cache
def _framework_config(framework: str) -> dict[str, Any]:
    if framework not in FRAMEWORKS:
        raise CatalogError(
            f"unsupported framework {framework!r}; supported: {', '.join(FRAMEWORKS)}"
        )
    for location in package_dirs("sagemaker"):
        path = location / "core" / "image_uri_config" / f"{framework}.json"
        if path.is_file():
            return read_json(path)
    raise CatalogError(f"sagemaker-core ships no image config for {framework!r}")


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
    hostname = ecr_hostname(region)
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
