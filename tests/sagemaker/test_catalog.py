"""The offline catalogues agree with AWS's data as botocore and sagemaker-core ship it."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from mlinfra.sagemaker import api, images, instances, regions
from mlinfra.sagemaker.api import CatalogError

# --- instance types -------------------------------------------------------------------------


def test_ml_m5_large_is_an_endpoint_instance_type():
    assert "ml.m5.large" in instances.instance_types("endpoint")


def test_ml_m5_xlarge_is_a_training_instance_type():
    assert "ml.m5.xlarge" in instances.instance_types("training")


def test_ml_t2_medium_serves_endpoints_but_runs_no_jobs():
    assert "ml.t2.medium" in instances.instance_types("endpoint")
    for kind in ("processing", "training", "transform", "monitoring"):
        assert "ml.t2.medium" not in instances.instance_types(kind)


def test_monitoring_jobs_take_processing_instance_types():
    assert instances.instance_types("monitoring") == instances.instance_types("processing")


def test_a_bogus_instance_type_is_in_no_catalogue():
    for kind in instances.INSTANCE_KINDS:
        assert "ml.m5.huge" not in instances.instance_types(kind)
        assert "m5.large" not in instances.instance_types(kind)


def test_an_unknown_instance_kind_is_rejected():
    with pytest.raises(CatalogError, match="unknown instance kind"):
        instances.instance_types("notebook")  # type: ignore[arg-type]


def test_instance_types_are_the_enums_botocore_loads():
    from botocore.loaders import Loader

    shapes = Loader().load_service_model("sagemaker", "service-2")["shapes"]
    for kind, shape in [
        ("endpoint", "ProductionVariantInstanceType"),
        ("processing", "ProcessingInstanceType"),
        ("training", "TrainingInstanceType"),
        ("transform", "TransformInstanceType"),
    ]:
        assert instances.instance_types(kind) == set(shapes[shape]["enum"])


def test_api_shapes_carry_the_name_rules_sagemaker_enforces():
    shape = api.sagemaker_shape("EndpointName")
    assert shape["max"] == 63
    assert shape["pattern"] == "[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}"


def test_api_shapes_are_read_only():
    with pytest.raises(TypeError):
        api.sagemaker_shape("EndpointName")["max"] = 1  # type: ignore[index]


def test_an_unknown_api_shape_is_rejected():
    with pytest.raises(CatalogError, match="no shape 'EndpointNam'"):
        api.sagemaker_shape("EndpointNam")


# --- regions --------------------------------------------------------------------------------


@pytest.mark.parametrize("region", ["us-east-1", "eu-west-1", "cn-north-1", "us-gov-west-1"])
def test_sagemaker_is_available_in(region):
    assert region in regions.sagemaker_regions()


def test_xx_west_9_is_not_a_region():
    assert "xx-west-9" not in regions.all_regions()
    assert "xx-west-9" not in regions.sagemaker_regions()


def test_fips_and_pseudo_regions_are_not_regions():
    for name in ("us-east-1-fips", "us-gov-west-1-secondary", "aws-global", "aws-cn-global"):
        assert name not in regions.all_regions()
        assert name not in regions.sagemaker_regions()


def test_every_sagemaker_region_is_an_aws_region():
    assert regions.sagemaker_regions() <= regions.all_regions()


def test_some_aws_regions_have_no_sagemaker():
    # partitions.json knows regions that endpoints.json gives no SageMaker endpoint yet.
    assert regions.all_regions() - regions.sagemaker_regions()


def test_sagemaker_regions_are_those_botocore_lists_in_every_partition():
    import botocore.session

    session = botocore.session.get_session()
    expected = {
        region
        for partition in session.get_available_partitions()
        for region in session.get_available_regions("sagemaker", partition)
    }
    assert regions.sagemaker_regions() == expected


def test_every_region_botocore_lists_for_ec2_is_an_aws_region():
    import botocore.session

    session = botocore.session.get_session()
    for partition in session.get_available_partitions():
        assert set(session.get_available_regions("ec2", partition)) <= regions.all_regions()


# --- framework versions -----------------------------------------------------------------------


def test_sklearn_1_2_1_is_a_known_inference_version():
    assert "1.2-1" in images.framework_versions("sklearn", "inference")


def test_bogus_versions_are_unknown():
    assert "1.2-9" not in images.framework_versions("sklearn")
    assert "9.9.9" not in images.framework_versions("pytorch")
    assert images.framework_regions("sklearn", "1.2-9", "inference") == frozenset()


def test_versions_depend_on_the_scope():
    # sklearn "1.4-2" is published for training only; inference has "1.4-2-py312".
    assert "1.4-2" in images.framework_versions("sklearn", "training")
    assert "1.4-2" not in images.framework_versions("sklearn", "inference")


def test_version_aliases_count_as_versions():
    assert "2.6" in images.framework_versions("pytorch", "inference")
    assert "latest" in images.framework_versions("xgboost", "inference")
    assert images.framework_regions("pytorch", "2.6") == images.framework_regions(
        "pytorch", "2.6.0"
    )


def test_the_model_monitor_image_is_unversioned_and_serves_any_scope():
    assert images.framework_versions("model-monitor") == {""}
    assert "us-east-1" in images.framework_regions("model-monitor", "", "monitoring")


@pytest.mark.parametrize("framework", ["mxnet", "../../etc/passwd", "sklearn.json"])
def test_an_unsupported_framework_is_rejected(framework):
    with pytest.raises(CatalogError, match="unsupported framework"):
        images.framework_versions(framework)


def test_an_unknown_scope_is_rejected():
    with pytest.raises(CatalogError, match="no 'eia' images"):
        images.framework_versions("sklearn", "eia")


def test_sklearn_1_2_1_has_images_in_both_reference_regions():
    hosting = images.framework_regions("sklearn", "1.2-1", "inference")
    assert {"us-east-1", "eu-west-1"} <= hosting
    assert hosting <= regions.sagemaker_regions()


# --- image URIs ---------------------------------------------------------------------------


def test_sklearn_image_uri_in_us_east_1():
    assert (
        images.image_uri("sklearn", "1.2-1", "us-east-1")
        == "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3"
    )


def test_china_regions_use_the_amazonaws_com_cn_domain():
    assert images.image_uri("sklearn", "1.2-1", "cn-north-1").startswith(
        "450853457545.dkr.ecr.cn-north-1.amazonaws.com.cn/"
    )


def test_a_region_without_the_image_is_rejected():
    with pytest.raises(CatalogError, match="no inference image in 'ap-southeast-7'"):
        images.image_uri("sklearn", "1.2-1", "ap-southeast-7")


def test_an_unknown_version_is_rejected():
    with pytest.raises(CatalogError, match="no inference image '1.2-9'"):
        images.image_uri("sklearn", "1.2-9", "us-east-1")


def test_a_gpu_framework_needs_an_instance_type():
    with pytest.raises(CatalogError, match="instance type is needed"):
        images.image_uri("pytorch", "2.6.0", "us-east-1")


# (framework, version, region, scope, instance_type), each compared with sagemaker itself.
RETRIEVE_CASES = [
    ("sklearn", "1.2-1", "us-east-1", "inference", None),
    ("sklearn", "1.2-1", "eu-west-1", "inference", None),
    ("sklearn", "1.2-1", "eu-west-1", "training", "ml.m5.xlarge"),
    ("sklearn", "1.0-1", "us-east-1", "inference", "ml.m6g.large"),
    ("xgboost", "1.7-1", "us-east-1", "inference", None),
    ("xgboost", "1.7-1", "eu-west-1", "training", "ml.m5.xlarge"),
    ("xgboost", "latest", "us-east-1", "inference", None),
    ("model-monitor", "", "us-east-1", "monitoring", None),
    ("model-monitor", "", "eu-west-1", "monitoring", None),
    ("model-monitor", "", "cn-north-1", "monitoring", None),
    ("pytorch", "2.6", "us-east-1", "inference", "ml.m5.large"),
    ("pytorch", "2.6.0", "eu-west-1", "inference", "ml.g5.xlarge"),
    ("pytorch", "2.6.0", "us-east-1", "inference", "ml.c7g.xlarge"),
    ("pytorch", "1.6.0", "us-east-1", "training", "ml.p4d.24xlarge"),
    ("tensorflow", "2.19.0", "us-east-1", "training", "ml.p3.2xlarge"),
    ("tensorflow", "2.16", "eu-west-1", "inference", "ml.m5.large"),
]


@pytest.fixture(scope="module")
def image_uris():
    # The one place sagemaker.core is imported: it takes seconds, which is why mlinfra doesn't.
    return pytest.importorskip("sagemaker.core.image_uris")


@pytest.mark.parametrize(
    ("framework", "version", "region", "scope", "instance_type"), RETRIEVE_CASES
)
def test_image_uri_is_what_sagemaker_retrieves(
    image_uris, framework, version, region, scope, instance_type
):
    py_version = "py3" if (framework, version) == ("pytorch", "1.6.0") else None
    expected = image_uris.retrieve(
        framework,
        region,
        version=version,
        image_scope=scope,
        instance_type=instance_type,
        py_version=py_version,
    )
    actual = images.image_uri(framework, version, region, scope, instance_type, py_version)
    assert actual == expected


# --- cost ---------------------------------------------------------------------------------


def test_the_catalogues_do_not_import_sagemaker_core():
    # A fresh interpreter, since this test session may already have imported sagemaker.core.
    program = textwrap.dedent(
        """
        import sys
        from mlinfra.sagemaker import images, instances, regions
        instances.instance_types("endpoint")
        regions.sagemaker_regions()
        regions.all_regions()
        images.framework_versions("sklearn")
        images.image_uri("sklearn", "1.2-1", "us-east-1")
        images.image_uri("model-monitor", "", "eu-west-1")
        print(sorted(name for name in sys.modules if name.split(".")[0] == "sagemaker"))
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", program], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"


# --- the API models, loaded once ------------------------------------------------------------

SERVICES = ("sagemaker", "sagemaker-runtime", "sagemaker-featurestore-runtime", "cloudwatch")


@pytest.mark.parametrize("service", SERVICES)
def test_service_data_is_the_document_botocore_loads(service):
    from botocore.loaders import Loader

    assert api.service_data(service) == Loader().load_service_model(service, "service-2")


@pytest.mark.parametrize("service", SERVICES)
def test_service_model_is_the_model_a_botocore_session_builds(service):
    import botocore.session

    expected = botocore.session.get_session().get_service_model(service)
    found = api.service_model(service)
    assert found.service_name == expected.service_name
    assert found.service_id == expected.service_id
    assert found.api_version == expected.api_version
    assert found.operation_names == expected.operation_names
    assert found.shape_names == expected.shape_names


def test_each_service_model_is_loaded_once():
    assert api.service_model("sagemaker") is api.service_model("sagemaker")
    assert api.service_model("sagemaker")._service_description is api.service_data("sagemaker")


def test_a_service_botocore_does_not_know_is_a_catalog_error():
    with pytest.raises(CatalogError, match="no API model"):
        api.service_data("no-such-service")
