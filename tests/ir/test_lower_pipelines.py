"""Pipelines lower to their uploaded code, a role, the SageMaker Pipeline and its schedule.

The last tests build every resource that feature stores, pipelines and monitors lower to
with the real pulumi_aws classes, under Pulumi's mocks (the engine and AWS cannot run here),
so a wrong keyword argument or `...Args` field fails here instead of in `pulumi up`.
"""

from __future__ import annotations

import functools
import hashlib
import json
import shutil
from pathlib import Path
from types import MappingProxyType

import pulumi
import pulumi_aws
import pytest

from mlinfra.frozen import thaw
from mlinfra.ir.graph import Args, Concat, FileAsset, GraphError, Json, Ref
from mlinfra.ir.requests import pipelines as requests_pipelines
from mlinfra.ir.sagemaker.context import LoweringContext
from mlinfra.ir.sagemaker.feature_stores import lower_feature_store
from mlinfra.ir.sagemaker.monitors import lower_monitor
from mlinfra.ir.sagemaker.pipeline_definition.check import check_definition
from mlinfra.ir.sagemaker.pipeline_definition.document import all_steps
from mlinfra.ir.sagemaker.pipelines import lower_pipeline
from mlinfra.spec.validate import validate_file
from typed_specs import plain, rebuilt

EXAMPLE = Path(__file__).parents[2] / "examples" / "churn"
ADDRESS = "pipeline.train-churn"


@functools.cache
def spec(env: str, spec_dir: Path = EXAMPLE):
    return validate_file(str(spec_dir / "mlinfra.yaml")).environments[env]


def lowered(env: str, spec_dir: Path = EXAMPLE, steps: dict | None = None) -> dict:
    component = spec(env, spec_dir).component(ADDRESS)
    if steps is not None:
        component = rebuilt(component, steps=steps)
    ctx = LoweringContext(spec(env, spec_dir), spec_dir)
    return {r.address: r for r in lower_pipeline(ctx, component)}


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def policy(resources: dict, address: str) -> list[dict]:
    return list(resources[address].properties["policy"].value["Statement"])


# --- resources --------------------------------------------------------------------------------


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_a_pipeline_is_its_code_role_pipeline_and_schedule(env):
    assert {a: r.type for a, r in lowered(env).items()} == {
        f"{ADDRESS}/script-prepare": "aws.s3.BucketObjectv2",
        f"{ADDRESS}/script-train": "aws.s3.BucketObjectv2",
        f"{ADDRESS}/script-evaluate": "aws.s3.BucketObjectv2",
        f"{ADDRESS}/role": "aws.iam.Role",
        f"{ADDRESS}/role-policy": "aws.iam.RolePolicy",
        ADDRESS: "aws.sagemaker.Pipeline",
        f"{ADDRESS}/schedule-role": "aws.iam.Role",
        f"{ADDRESS}/schedule-role-policy": "aws.iam.RolePolicy",
        f"{ADDRESS}/schedule": "aws.cloudwatch.EventRule",
        f"{ADDRESS}/schedule-target": "aws.cloudwatch.EventTarget",
    }


def test_the_pipeline_carries_its_name_role_definition_and_tags():
    resources = lowered("prod")
    properties = resources[ADDRESS].properties
    assert properties["pipeline_name"] == "churn-prod-train-churn"
    assert properties["pipeline_display_name"] == "churn-prod-train-churn"
    assert properties["pipeline_description"] == (
        "Nightly retraining from the customer feature store"
    )
    assert properties["role_arn"] == Ref(f"{ADDRESS}/role", "arn")
    assert isinstance(properties["pipeline_definition"], Json)
    assert properties["tags"]["mlinfra:component"] == ADDRESS
    # Frozen, and still sound.
    assert check_definition(properties["pipeline_definition"].value) == []


def test_the_pipeline_waits_for_what_its_definition_names_by_name():
    assert lowered("dev")[ADDRESS].depends_on == (
        f"{ADDRESS}/role-policy",
        "feature_store.customers",
        "model.churn-model/registry",
    )


def test_its_definition_refers_to_the_uploaded_scripts():
    resources = lowered("dev")
    refs = set(resources[ADDRESS].dependencies())
    assert {f"{ADDRESS}/script-{s}" for s in ("prepare", "train", "evaluate")} <= refs


# --- code -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("step", "script", "name"),
    [
        ("prepare", "pipelines/prepare.py", "prepare.py"),
        ("evaluate", "pipelines/evaluate.py", "evaluate.py"),
        # A training step's object is its script-mode source archive.
        ("train", "pipelines/train.py", "sourcedir.tar.gz"),
    ],
)
def test_scripts_are_uploaded_under_their_content_hash(step, script, name):
    digest = sha256(EXAMPLE / script)
    properties = lowered("dev")[f"{ADDRESS}/script-{step}"].properties
    assert properties["bucket"] == Ref("bucket.artifacts", "bucket")
    assert properties["key"] == f"pipelines/train-churn/code/{digest[:16]}/{name}"
    packed = name if name == "sourcedir.tar.gz" else None
    assert properties["source"] == FileAsset(script, digest, packed_as=packed)
    assert "kms_key_id" not in properties


def test_prod_scripts_are_encrypted_with_the_key():
    properties = lowered("prod")[f"{ADDRESS}/script-prepare"].properties
    assert properties["kms_key_id"] == Ref("kms.key", "arn")


def test_a_changed_script_is_a_new_key_and_a_new_definition(tmp_path):
    copy = tmp_path / "churn"
    shutil.copytree(EXAMPLE, copy)
    before = lowered("dev", copy)
    script = copy / "pipelines" / "prepare.py"
    script.write_text(script.read_text() + "\n# changed\n")
    spec.cache_clear()
    after = lowered("dev", copy)
    key = f"{ADDRESS}/script-prepare"
    assert after[key].properties["key"] != before[key].properties["key"]
    assert after[key].properties["source"].sha256 == sha256(script)
    for unchanged in ("train", "evaluate"):
        address = f"{ADDRESS}/script-{unchanged}"
        assert after[address].properties["key"] == before[address].properties["key"]
    definition = after[ADDRESS].properties["pipeline_definition"]
    assert definition != before[ADDRESS].properties["pipeline_definition"]


def test_steps_running_the_same_script_share_one_upload():
    steps = plain(spec("dev").component(ADDRESS))["steps"]
    steps["report"] = {**steps["prepare"], "after": ["prepare"]}
    resources = lowered("dev", steps=steps)
    assert f"{ADDRESS}/script-report" not in resources
    report = next(
        s
        for s in all_steps(
            thaw(resources[ADDRESS].properties["pipeline_definition"].value)["Steps"]
        )
        if s["Name"] == "report"
    )
    code = report["Arguments"]["ProcessingInputs"][-1]["S3Input"]["S3Uri"]
    key = resources[f"{ADDRESS}/script-prepare"].properties["key"]
    assert code == Concat(("s3://", Ref(f"{ADDRESS}/script-prepare", "bucket"), f"/{key}"))


def test_local_input_files_and_folders_are_uploaded(tmp_path):
    copy = tmp_path / "churn"
    shutil.copytree(EXAMPLE, copy)
    steps = plain(spec("dev", copy).component(ADDRESS))["steps"]
    steps["prepare"]["inputs"] = ["feature_store.customers", "data/customers.csv", "data"]
    resources = lowered("dev", copy, steps)
    uploads = {
        a: r.properties["source"].path
        for a, r in resources.items()
        if "/input-" in a and r.type == "aws.s3.BucketObjectv2"
    }
    assert sorted(uploads.values()) == [
        "data/baseline.csv",
        "data/customers.csv",
        "data/customers.csv",
    ]
    assert set(uploads) <= set(resources[ADDRESS].depends_on)
    prepare = next(
        s
        for s in all_steps(
            thaw(resources[ADDRESS].properties["pipeline_definition"].value)["Steps"]
        )
        if s["Name"] == "prepare"
    )
    names = [i["InputName"] for i in prepare["Arguments"]["ProcessingInputs"]]
    assert names == ["customers", "customers-2", "data", "code"]


# --- roles ------------------------------------------------------------------------------------


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_no_statement_allows_every_action_on_every_resource(env):
    resources = lowered(env)
    for address in (f"{ADDRESS}/role-policy", f"{ADDRESS}/schedule-role-policy"):
        for statement in policy(resources, address):
            assert not ("*" in statement["Action"] and "*" in statement["Resource"])
            assert all(not action.endswith(":*") for action in statement["Action"])


def test_the_role_reads_and_writes_only_its_own_prefixes():
    found = {s["Sid"]: s for s in policy(lowered("prod"), f"{ADDRESS}/role-policy")}
    artifacts = Ref("bucket.artifacts", "arn")
    assert found["PipelineData"]["Resource"] == (Concat((artifacts, "/pipelines/train-churn/*")),)
    assert found["ReadFeatureStores"]["Resource"] == (
        Concat((artifacts, "/feature-store/customers/*")),
    )
    assert found["ListPipelineData"]["Condition"] == {
        "StringLike": {"s3:prefix": ("pipelines/train-churn/*", "feature-store/customers/*")}
    }
    assert found["PassOwnRole"]["Resource"] == (Ref(f"{ADDRESS}/role", "arn"),)
    assert found["RegisterModels"]["Resource"] == (
        "arn:aws:sagemaker:eu-west-1:222222222222:model-package-group/churn-prod-churn",
        "arn:aws:sagemaker:eu-west-1:222222222222:model-package/churn-prod-churn/*",
    )
    assert found["ProcessingJobs"]["Resource"] == (
        "arn:aws:sagemaker:eu-west-1:222222222222:processing-job/*",
    )
    assert found["EcrPull"]["Resource"] == (
        "arn:aws:ecr:eu-west-1:141502667606:repository/sagemaker-scikit-learn",
    )
    assert found["UseKmsKey"]["Resource"] == (Ref("kms.key", "arn"),)
    assert "VpcNetworkInterfaces" in found


def test_dev_role_has_no_key_and_no_vpc_statements():
    sids = {s["Sid"] for s in policy(lowered("dev"), f"{ADDRESS}/role-policy")}
    assert not sids & {"UseKmsKey", "GrantForVolumes", "VpcDescribe", "VpcNetworkInterfaces"}


# --- schedule ---------------------------------------------------------------------------------


def test_the_schedule_starts_the_pipeline_at_3am():
    resources = lowered("prod")
    rule = resources[f"{ADDRESS}/schedule"].properties
    assert rule["schedule_expression"] == "cron(0 3 * * ? *)"
    assert rule["name"] == "churn-prod-train-churn-schedule"
    target = resources[f"{ADDRESS}/schedule-target"]
    assert target.properties["rule"] == Ref(f"{ADDRESS}/schedule", "name")
    assert target.properties["arn"] == Ref(ADDRESS, "arn")
    assert target.properties["role_arn"] == Ref(f"{ADDRESS}/schedule-role", "arn")
    assert target.depends_on == (f"{ADDRESS}/schedule-role-policy",)


def test_the_schedule_role_is_for_eventbridge_and_may_only_start_this_pipeline():
    resources = lowered("prod")
    trust = resources[f"{ADDRESS}/schedule-role"].properties["assume_role_policy"].value
    [statement] = trust["Statement"]
    assert statement["Principal"] == {"Service": "events.amazonaws.com"}
    assert statement["Condition"] == {"StringEquals": {"aws:SourceAccount": "222222222222"}}
    [allowed] = policy(resources, f"{ADDRESS}/schedule-role-policy")
    assert allowed["Action"] == ("sagemaker:StartPipelineExecution",)
    assert allowed["Resource"] == (Ref(ADDRESS, "arn"),)


def test_a_pipeline_without_schedule_has_no_rule():
    component = spec("dev").component(ADDRESS)
    component = rebuilt(component, schedule=None)
    found = lower_pipeline(LoweringContext(spec("dev"), EXAMPLE), component)
    assert not any("schedule" in r.address for r in found)


def test_a_definition_that_fails_the_check_stops_the_lowering(monkeypatch):
    # Both targets build the request, and check its definition, in one place.
    monkeypatch.setattr(requests_pipelines, "check_definition", lambda definition: ["broken"])
    with pytest.raises(GraphError, match="invalid pipeline definition: broken"):
        lowered("dev")


# --- every resource against the real SDK ------------------------------------------------------


class Mocks(pulumi.runtime.Mocks):
    def __init__(self):
        self.created: list[tuple[str, str]] = []

    def new_resource(self, args):
        self.created.append((args.typ, args.name))
        return [f"{args.name}-id", {**args.inputs, "arn": f"arn:aws:mock:::{args.name}"}]

    def call(self, args):
        return {}


def _sdk(dotted: str):
    _, module, name = dotted.split(".")
    return getattr(getattr(pulumi_aws, module), name)


def _text(value):
    """Markers as the crude text a running program would see."""
    if isinstance(value, Ref):
        return f"<{value.address}.{value.attribute}>"
    if isinstance(value, Concat):
        return "".join(_text(part) for part in value.parts)
    if isinstance(value, MappingProxyType | dict):
        return {k: _text(v) for k, v in value.items()}
    if isinstance(value, tuple | list):
        return [_text(v) for v in value]
    return value


def _sdk_value(value, spec_dir: Path):
    if isinstance(value, Args):
        return _sdk(value.type)(**{k: _sdk_value(v, spec_dir) for k, v in value.fields.items()})
    if isinstance(value, Json):
        return json.dumps(_text(value.value))
    if isinstance(value, FileAsset):
        return pulumi.FileAsset(str(spec_dir / value.path))
    if isinstance(value, Ref | Concat):
        return _text(value)
    if isinstance(value, MappingProxyType | dict):
        return {k: _sdk_value(v, spec_dir) for k, v in value.items()}
    if isinstance(value, tuple | list):
        return [_sdk_value(v, spec_dir) for v in value]
    return value


def mine(env: str) -> list:
    ctx = LoweringContext(spec(env), EXAMPLE)
    found = []
    for kind, lower in (
        ("feature_store", lower_feature_store),
        ("pipeline", lower_pipeline),
        ("monitor", lower_monitor),
    ):
        for component in spec(env).of_kind(kind):
            found.extend(lower(ctx, component))
    return found


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # pulumi_aws's own, on import
@pytest.mark.parametrize("env", ["dev", "prod"])
def test_every_resource_constructs_with_the_real_pulumi_aws_classes(env):
    resources = mine(env)
    mocks = Mocks()
    pulumi.runtime.set_mocks(mocks, preview=False)

    @pulumi.runtime.test
    def construct():
        made = [
            _sdk(r.type)(r.address, **{k: _sdk_value(v, EXAMPLE) for k, v in r.properties.items()})
            for r in resources
        ]
        return pulumi.Output.all(*[m.urn for m in made])

    construct()
    assert sorted(name for _, name in mocks.created) == sorted(r.address for r in resources)


def test_the_guard_fails_on_a_wrong_argument_or_args_field():
    with pytest.raises(TypeError):
        _sdk_value(Args("aws.sagemaker.FeatureGroupOnlineStoreConfigArgs", {"ttl": 1}), EXAMPLE)
    pulumi.runtime.set_mocks(Mocks(), preview=False)

    @pulumi.runtime.test
    def construct():
        pulumi_aws.sagemaker.Pipeline("p", pipeline_nam="x", role_arn="r")

    with pytest.raises(TypeError):
        construct()
