"""The checked-in shapes validation reads are botocore's, as pinned."""

from __future__ import annotations

from mlinfra.sagemaker import shapes
from mlinfra.sagemaker.api import api_shape, service_data
from mlinfra.sagemaker.catalogue import GENERATED, VALIDATION_SHAPES, generate


def test_the_checked_in_shapes_are_what_the_pinned_botocore_generates() -> None:
    # Stale after a botocore upgrade: run `python -m mlinfra.sagemaker.catalogue`.
    assert GENERATED.read_text(encoding="utf-8") == generate()


def test_every_shape_validation_reads_is_checked_in_as_botocore_has_it() -> None:
    for service, name in VALIDATION_SHAPES:
        assert shapes.SHAPES[service][name] == service_data(service)["shapes"][name]
        assert dict(api_shape(service, name)) == service_data(service)["shapes"][name]


def test_a_shape_not_checked_in_is_read_from_botocore() -> None:
    assert "CreateEndpointInput" not in shapes.SHAPES["sagemaker"]
    assert api_shape("sagemaker", "CreateEndpointInput")["required"] == [
        "EndpointName",
        "EndpointConfigName",
    ]
