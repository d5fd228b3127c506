"""AWS's API models as botocore ships them, each loaded once per process.

botocore's `data/<service>/<api-version>/service-2.json(.gz)` is the source of truth for
SageMaker's API shapes, name rules, instance-type enums and error codes: the validator, the
lowering, the providers and the emulator all read it here.

Two views of the same cached document:

- `service_data(name)`: the model as plain JSON, read straight from the file. Validation
  needs only a few shapes, and importing `botocore.loaders` costs ~150 ms (it pulls in
  urllib3 and http.client), so this view imports no botocore at all.
- `service_model(name)`: botocore's `ServiceModel` over that same document, for code that
  walks operations and shapes (the emulator's protocol, request checks). It imports
  `botocore.model` when first asked.

The few shapes validation reads (`api_shape`) come first from `sagemaker/shapes.py`, a copy
generated from the pinned botocore (`sagemaker/catalogue.py`), so that validating a spec does
not read the 1 MB SageMaker model at all.

The files are found the way botocore's `Loader` finds them (the newest API version; a plain
`.json` before a `.json.gz`); `tests/sagemaker/test_catalog.py` checks both views against
botocore's own session, so a change in botocore's data layout fails loudly.
"""

from __future__ import annotations

import functools
import gzip
import importlib.util
import json
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from mlinfra.sagemaker.shapes import SHAPES

if TYPE_CHECKING:
    from botocore.model import ServiceModel

SAGEMAKER = "sagemaker"


class CatalogError(ValueError):
    """A lookup the catalogues cannot answer: unknown kind, framework, scope, version or region."""


def package_dirs(name: str) -> list[Path]:
    """The folders of an installed package, found without importing it."""
    # find_spec on a top-level name locates the package without executing its __init__,
    # which for "sagemaker" would import sagemaker.core.
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        raise CatalogError(f"the {name!r} package is not installed")
    return [Path(location) for location in spec.submodule_search_locations]


def read_json(path: Path) -> Any:
    """A data file, plain or gzipped."""
    # botocore's loader prefers a plain .json over a .json.gz of the same name; so do we.
    if path.is_file():
        return json.loads(path.read_bytes())
    gz = path.with_name(path.name + ".gz")
    if gz.is_file():
        with gzip.open(gz, "rb") as stream:
            return json.loads(stream.read())
    raise CatalogError(f"catalogue file not found: {path}")


@functools.cache
def botocore_data() -> Path:
    """botocore's `data` folder: service models and endpoint data."""
    return package_dirs("botocore")[0] / "data"


@functools.cache
def service_data(service: str) -> dict[str, Any]:
    """The API model of `service` (botocore's name, e.g. "sagemaker"), as plain JSON.

    Shared by every caller: treat it as read-only.
    """
    service_dir = botocore_data() / service
    if not service_dir.is_dir():
        raise CatalogError(f"botocore has no API model for {service!r}")
    # botocore loads the newest API version, and API versions are ISO dates.
    api_version = max(entry.name for entry in service_dir.iterdir() if entry.is_dir())
    return read_json(service_dir / api_version / "service-2.json")


@functools.cache
def service_model(service: str) -> ServiceModel:
    """botocore's `ServiceModel` of `service`, built once over `service_data(service)`."""
    from botocore.model import ServiceModel  # noqa: PLC0415 - heavy; validation never needs it

    return ServiceModel(service_data(service), service_name=service)


def api_shape(service: str, name: str) -> Mapping[str, Any]:
    """Shape `name` of an AWS service's API model (botocore's name for the service, e.g.
    "cloudwatch"), e.g. "ResourceList": its min and max."""
    # The shapes validation reads are checked in (`sagemaker/catalogue.py` says why).
    shape = SHAPES.get(service, {}).get(name)
    if shape is not None:
        return MappingProxyType(shape)
    try:
        shape = service_data(service)["shapes"][name]
    except KeyError:
        raise CatalogError(f"{service}'s API has no shape {name!r}") from None
    # Read-only, because every caller shares the one cached model.
    return MappingProxyType(shape)


def sagemaker_shape(name: str) -> Mapping[str, Any]:
    """Shape `name` of SageMaker's API model, e.g. "EndpointName": its pattern, min and max."""
    return api_shape(SAGEMAKER, name)
