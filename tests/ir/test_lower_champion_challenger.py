"""A `when:` comparing with the serving version lowers, on SageMaker, to a `serving`
Processing step running mlinfra's lookup script (uploaded beside the pipeline's own code,
with the permission to list the group's versions) and a condition that also holds when no
version serves. The script's own logic is tested here too, as the step runs it."""

from __future__ import annotations

import hashlib
from pathlib import Path

from mlinfra.ir.graph import FileAsset
from mlinfra.ir.sagemaker.context import LoweringContext
from mlinfra.ir.sagemaker.pipeline_definition.check import check_definition
from mlinfra.ir.sagemaker.pipelines import lower_pipeline
from mlinfra.sagemaker import registry, serving_lookup
from mlinfra.spec.validate import validate_file

FIXTURE = Path(__file__).parents[1] / "fixtures" / "valid" / "champion-challenger.yaml"


def lowered() -> dict:
    spec = validate_file(str(FIXTURE)).environments["prod"]
    ctx = LoweringContext(spec, FIXTURE.parent)
    return {r.address: r for r in lower_pipeline(ctx, spec.component("pipeline.retrain"))}


def test_the_serving_step_comes_first_and_the_condition_holds_when_none_serves():
    resources = lowered()
    definition = resources["pipeline.retrain"].properties["pipeline_definition"].value
    assert check_definition(definition) == []
    first = definition["Steps"][0]
    assert first["Name"] == "serving" and first["Type"] == "Processing"
    arguments = first["Arguments"]
    assert arguments["Environment"][serving_lookup.GROUP_VARIABLE] == "hello-prod-ranker"
    assert arguments["Environment"][serving_lookup.METRICS_VARIABLE] == "auc"
    assert arguments["AppSpecification"]["ContainerEntrypoint"][-1].endswith("/serving-lookup.py")
    assert arguments["NetworkConfig"]["EnableNetworkIsolation"] is False  # it calls APIs
    (gate,) = [s for s in _all(definition["Steps"]) if s["Name"] == "beats-champion"]
    compared, threshold = gate["Arguments"]["Conditions"]
    assert threshold["Type"] == "GreaterThan"  # `score.metrics.auc > 0.5`: as it was
    assert compared["Type"] == "Or"
    none_serves, challenge = compared["Conditions"]
    assert none_serves["RightValue"] is False
    assert none_serves["LeftValue"]["Std:JsonGet"]["Path"] == "serving.exists"
    assert challenge["Type"] == "GreaterThanOrEqualTo"
    assert challenge["RightValue"]["Std:JsonGet"]["Path"] == "metrics.auc.value"


def test_the_lookup_script_is_uploaded_and_the_role_may_list_versions():
    resources = lowered()
    upload = resources["pipeline.retrain/script-serving"]
    source = upload.properties["source"]
    assert isinstance(source, FileAsset) and source.content == serving_lookup.script()
    assert source.sha256 == hashlib.sha256(source.content).hexdigest()
    statements = resources["pipeline.retrain/role-policy"].properties["policy"].value
    sids = {s.get("Sid"): s for s in statements["Statement"]}
    assert list(sids["FindServingVersion"]["Action"]) == ["sagemaker:ListModelPackages"]


def _all(steps):
    for step in steps:
        yield step
        if step["Type"] == "Condition":
            yield from _all(step["Arguments"]["IfSteps"])


def version(number: int, report: str | None) -> dict:
    metrics = {"ModelQuality": {"Statistics": {"S3Uri": report}}} if report else {}
    return {"ModelPackageVersion": number, "ModelMetrics": metrics}


def test_the_lookup_reads_the_newest_approved_versions_report():
    reports = {"s3://b/3.json": {"metrics": {"auc": {"value": 0.9}}}}
    found = serving_lookup.serving_document(
        [version(3, "s3://b/3.json"), version(2, "s3://b/2.json")], reports.get, ["auc"]
    )
    assert found == {"serving": {"exists": True, "version": 3}, "metrics": {"auc": {"value": 0.9}}}


def test_with_nothing_to_compare_the_lookup_says_none_serves():
    none = serving_lookup.serving_document([], {}.get, ["auc"])
    assert none["serving"]["exists"] is False and none["metrics"] == {"auc": {"value": 0.0}}
    no_report = serving_lookup.serving_document([version(1, None)], {}.get, ["auc"])
    assert no_report["serving"] == {"exists": False, "version": 1}

    def unreadable(location):
        raise OSError("gone")

    broken = serving_lookup.serving_document([version(1, "s3://b/1.json")], unreadable, ["auc"])
    assert broken["serving"]["exists"] is False
    text = {"metrics": {"auc": {"value": "high"}}}
    hostile = serving_lookup.serving_document([version(1, "x")], lambda _: text, ["auc"])
    assert hostile["serving"]["exists"] is False


def test_the_lookup_asks_for_the_version_every_deployment_serves():
    assert serving_lookup.latest_approved("g") == registry.latest_approved("g")
