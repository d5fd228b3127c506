"""The constraint validator: botocore's max, enum and pattern rules, as AWS words them."""

from __future__ import annotations

import re
import string

import pytest
from botocore.exceptions import ClientError
from hypothesis import given, settings
from hypothesis import strategies as st
from test_server import ROLE, client

from mlinfra.emulator import constraints
from mlinfra.emulator.protocol import (
    CONTROL_SERVICE,
    FEATURESTORE_SERVICE,
    RUNTIME_SERVICE,
    ApiError,
    validate,
)
from mlinfra.sagemaker.api import service_model

SERVICES = (CONTROL_SERVICE, RUNTIME_SERVICE, FEATURESTORE_SERVICE)
# Each botocore pattern whose Java syntax has no translation, and so goes unchecked. None of
# the three services' models has one today; a new botocore that brings one fails this test,
# which then names it.
UNTRANSLATED: set[str] = set()


def all_shapes():
    for service in SERVICES:
        model = service_model(service)
        for name in model.shape_names:
            yield model.shape_for(name)


def shape(name: str, service: str = CONTROL_SERVICE):
    return service_model(service).shape_for(name)


def input_shape(operation: str, service: str = CONTROL_SERVICE):
    return service_model(service).operation_model(operation).input_shape


def test_every_pattern_of_the_three_services_is_checked_except_the_counted_ones():
    patterns = {s.metadata["pattern"] for s in all_shapes() if "pattern" in s.metadata}
    assert len(patterns) > 200
    assert constraints.untranslatable(all_shapes()) == UNTRANSLATED


@pytest.mark.parametrize(
    ("java", "accepted", "refused"),
    [
        (r"[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}", ["abc", "a-b", "a--b"], ["a/b", "../x", "-a", ""]),
        (r"([\p{L}\p{Z}\p{N}_.:/=+\-@]*)", ["héllo wörld 1", "a/b"], ["a;b", "a\tb"]),
        (r"\A\S[\p{Print}]*\z", ["abc def", "é"], [" abc", "abc\n", "aé"]),
        (r"\p{ASCII}*", ["text/csv"], ["é"]),
        (r"[\u0020-\uD7FF\uE000-\uFFFD\uD800\uDC00-\uDBFF\uDFFF\t]*", ["ab\t😀"], ["\x01"]),
        (r"([\p{L}\p{Z}\p{N}_.:\/=+\-@]*)${1,128}", ["abc"], ["a;"]),
        (r"[\p{L}\p{M}\p{S}\p{N}\p{P}]+", ["a-b_ü!"], ["a b", ""]),
        (r"\d+", ["123"], ["١٢٣"]),  # Java's \d is ASCII
        (r"https://([^/]+)/?(.*)$|^[a-zA-Z0-9](-*[a-zA-Z0-9])*", ["https://x/y", "r-1"], ["r/x"]),
    ],
)
def test_java_patterns_match_whole_values_as_java_does(java, accepted, refused):
    pattern = constraints.python_pattern(java)
    assert [v for v in accepted if not pattern.fullmatch(v)] == []
    assert [v for v in refused if pattern.fullmatch(v)] == []


@pytest.mark.parametrize("java", [r"\Qa.b\E", r"[a-z&&[^b]]", r"[a-z[0-9]]", r"\p{InGreek}"])
def test_java_only_syntax_is_reported_untranslatable(java):
    with pytest.raises(constraints.Untranslatable):
        constraints.python_pattern(java)
    assert constraints.compiled(java) is None


def test_a_broken_pattern_is_worded_as_aws_words_it():
    with pytest.raises(ApiError) as excinfo:
        validate({"EndpointName": "a/b"}, input_shape("DescribeEndpoint"), "ValidationException")
    assert excinfo.value.message == (
        "1 validation error detected: Value 'a/b' at 'endpointName' failed to satisfy "
        "constraint: Member must satisfy regular expression pattern: "
        "[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}"
    )


def test_every_broken_constraint_is_listed_with_its_path():
    params = {
        "EndpointConfigName": "c" * 64,
        "ProductionVariants": [
            {"VariantName": "ok", "ModelName": "m", "InstanceType": "ml.nope.huge"},
            {"VariantName": "v", "ModelName": "m"},
        ],
        "DataCaptureConfig": {
            "InitialSamplingPercentage": 101,
            "DestinationS3Uri": "file:capture",
            "CaptureOptions": [{"CaptureMode": "Input"}],
        },
    }
    with pytest.raises(ApiError) as excinfo:
        validate(params, input_shape("CreateEndpointConfig"), "ValidationException")
    message = excinfo.value.message
    # The long name breaks both its length and its pattern ({0,62} after the first).
    assert message.startswith("4 validation errors detected: ")
    assert "at 'endpointConfigName' failed to satisfy constraint: Member must have length " \
        "less than or equal to 63" in message  # fmt: skip
    assert "at 'productionVariants.1.member.instanceType' failed to satisfy constraint: " \
        "Member must satisfy enum value set: [" in message  # fmt: skip
    assert "Value '101' at 'dataCaptureConfig.initialSamplingPercentage' failed to satisfy " \
        "constraint: Member must have value less than or equal to 100" in message  # fmt: skip


def test_a_list_longer_than_its_max_is_refused_without_echoing_it():
    params = {"ResourceArn": "arn:aws:sagemaker:us-east-1:123456789012:model/m",
              "Tags": [{"Key": f"k{i}", "Value": "v"} for i in range(51)]}  # fmt: skip
    with pytest.raises(ApiError) as excinfo:
        validate(params, input_shape("AddTags"), "ValidationException")
    assert "Value at 'tags' failed to satisfy constraint: Member must have length less than " \
        "or equal to 50" in excinfo.value.message  # fmt: skip


def test_a_sensitive_value_is_never_echoed():
    params = {"EndpointName": "e", "Body": b"x", "CustomAttributes": "é secret"}
    with pytest.raises(ApiError) as excinfo:
        validate(params, input_shape("InvokeEndpoint", RUNTIME_SERVICE), "ValidationError")
    assert "secret" not in excinfo.value.message
    assert "at 'customAttributes'" in excinfo.value.message


def test_s3_location_fields_also_take_local_locations():
    uri = shape("S3Uri")
    for local in ("file:data/x.csv", "file:///abs/x.csv", "data/x.csv"):
        assert constraints.check_value(local, uri, "s3Uri") is None
    assert constraints.check_value("s3://bucket/key", uri, "s3Uri") is None
    assert "regular expression" in constraints.check_value("ftp://host/x", uri, "s3Uri")
    assert "length" in constraints.check_value("file:" + "x" * 1024, uri, "s3Uri")


def test_the_runtime_refuses_a_target_variant_with_a_slash(server):
    runtime = client(server, "sagemaker-runtime")
    with pytest.raises(ClientError) as excinfo:
        runtime.invoke_endpoint(
            EndpointName="e", Body=b"1", ContentType="text/csv", TargetVariant="../a"
        )
    assert excinfo.value.response["Error"]["Code"] == "ValidationError"
    assert "targetVariant" in excinfo.value.response["Error"]["Message"]


def test_an_enum_is_enforced_through_boto3(server):
    sm = client(server, "sagemaker")
    with pytest.raises(ClientError) as excinfo:
        sm.list_endpoints(SortBy="Color")
    assert "Member must satisfy enum value set" in excinfo.value.response["Error"]["Message"]


def test_a_valid_model_is_still_accepted(server):
    sm = client(server, "sagemaker")
    sm.create_model(
        ModelName="fine-1",
        PrimaryContainer={"Image": "sklearn", "ModelDataUrl": "file:model"},
        ExecutionRoleArn=ROLE,
        Tags=[{"Key": "team", "Value": "growth ünïcode"}],
    )
    assert sm.describe_model(ModelName="fine-1")["ModelName"] == "fine-1"


NAME = re.compile(r"[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}")


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=string.ascii_letters + string.digits + "-_./%\\ \x00é", max_size=70))
def test_an_endpoint_name_passes_exactly_when_it_is_a_plain_name(name):
    problem = constraints.check_value(name, shape("EndpointName"), "endpointName")
    plain = bool(NAME.fullmatch(name)) and len(name) <= 63
    assert (problem is None) == plain
    if problem is None:  # what passes can name a folder: no separator, no dot
        assert "/" not in name and "." not in name and "\\" not in name
