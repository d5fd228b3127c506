"""The rendered programs run with the real Pulumi Python SDK and the real `pulumi_aws`, and
register the resources the compiler decided, with the settings the spec asks for, in an
account whose registry has an approved version (tests/render/program_runs.py says how they
run; test_program_accounts.py runs them in the other account states).
"""

from __future__ import annotations

import json
import os
import tarfile
from collections import Counter

import pytest
from moto import mock_aws
from program_runs import Registered, render_into, run_program
from render_cases import CHURN, Account, churn, churn_spec_from, handmade_graph

from accounts import register
from mlinfra.ir.graph import ResourceGraph

# Importing pulumi_aws.s3 warns about its own deprecated classes, which programs do not use.
pytestmark = pytest.mark.filterwarnings("ignore:.*deprecated in favor of:DeprecationWarning")

MLINFRA_TAGS = ("mlinfra:project", "mlinfra:environment", "mlinfra:component")


def token_to_type(token: str) -> str:
    """`aws:sagemaker/endpoint:Endpoint` -> `aws.sagemaker.Endpoint` (the IR's spelling)."""
    package, module, cls = token.split(":")
    return f"{package}.{module.split('/')[0]}.{cls}"


def is_taggable(token: str) -> bool:
    import importlib

    package, module, cls = token.split(":")
    args = getattr(importlib.import_module(f"pulumi_aws.{module.split('/')[0]}"), f"{cls}Args")
    return hasattr(args, "tags")


def assert_matches_graph(registered: list[Registered], graph: ResourceGraph) -> None:
    # Registration is asynchronous: the order is the engine's, not the program's.
    assert sorted(r.name for r in registered) == sorted(graph.addresses())
    assert Counter(token_to_type(r.type) for r in registered) == Counter(
        r.type for r in graph.resources
    )


# -- a hand-made graph: every kind of value through the real SDK ---------------------------


def approve_a_version(region: str, group: str) -> str:
    """`group` with an approved version and a newer pending one; the approved version's
    ARN, which the program must pick."""
    approved, _ = register(region, group, "Approved", "PendingManualApproval")
    return approved


def test_handmade_program_registers_every_resource(tmp_path, monkeypatch, aws_credentials):
    graph = handmade_graph()
    program = render_into(tmp_path, graph, Account(None), "../specs/mlinfra.yaml")
    with mock_aws():
        latest = approve_a_version(graph.region, "demo")
        registered = run_program(program, graph, monkeypatch).registered
    assert_matches_graph(registered, graph)
    by_name = {r.name: r for r in registered}

    container = by_name["model.scorer"].inputs["primaryContainer"]
    assert container["modelPackageName"] == latest
    assert container["environment"]["GREETING"] == "'''\"\"\"\\n\x00é"
    pinned = by_name["model.pinned"].inputs["primaryContainer"]["modelPackageName"]
    assert pinned.endswith(":model-package/demo/2")

    config = by_name["endpoint.api/config"].inputs
    assert config["dataCaptureConfig"]["destinationS3Uri"] == "s3://demo-dev-artifacts/capture/api"
    assert config["productionVariants"][0]["modelName"] == "demo-dev-scorer-v1"
    policy = json.loads(by_name["model.scorer/role-policy"].inputs["policy"])
    assert policy["Statement"][0]["Resource"] == [
        "arn:aws:mock:::aws:s3/bucket:Bucket/bucket.artifacts/*",
        "arn:aws:s3:::shared-123456789012",  # moto's account
    ]


# -- the churn example ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def churn_runs(tmp_path_factory):
    """Each sagemaker environment of the churn example, rendered and run once."""
    runs = {}
    with pytest.MonkeyPatch.context() as monkeypatch:
        for key, value in {
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_SESSION_TOKEN": "testing",
        }.items():
            monkeypatch.setenv(key, value)
        for env in ("dev", "prod"):
            graph, spec = churn(env)
            out = tmp_path_factory.mktemp(env)
            program = render_into(out, graph, spec, churn_spec_from(out / "stack"))
            with mock_aws():
                for group in graph.of_type("aws.sagemaker.ModelPackageGroup"):
                    approve_a_version(graph.region, group.properties["model_package_group_name"])
                found = run_program(program, graph, monkeypatch)
                runs[env] = (graph, found.registered, program.parent)
    return runs


def of_type(registered: list[Registered], token: str) -> list[Registered]:
    return [r for r in registered if r.type == token]


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_churn_program_registers_exactly_the_graph(churn_runs, env: str) -> None:
    graph, registered, _ = churn_runs[env]
    assert_matches_graph(registered, graph)


def test_prod_endpoint_config_is_encrypted_and_captures_a_fifth_of_requests(churn_runs):
    _, registered, _ = churn_runs["prod"]
    (config,) = of_type(registered, "aws:sagemaker/endpointConfiguration:EndpointConfiguration")
    assert config.inputs["kmsKeyArn"].startswith("arn:")
    assert config.inputs["dataCaptureConfig"]["initialSamplingPercentage"] == 20


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_no_iam_statement_allows_everything_on_everything(churn_runs, env: str) -> None:
    _, registered, _ = churn_runs[env]
    policies = [
        r.inputs["policy"]
        for r in registered
        if r.type in ("aws:iam/rolePolicy:RolePolicy", "aws:iam/policy:Policy")
    ]
    assert policies
    for text in policies:
        for statement in json.loads(text)["Statement"]:
            if statement.get("Effect") != "Allow":
                continue
            actions = statement["Action"]
            resources = statement["Resource"]
            actions = [actions] if isinstance(actions, str) else actions
            resources = [resources] if isinstance(resources, str) else resources
            assert not ("*" in actions and "*" in resources), statement


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_canary_endpoint_rolls_back_on_alarms(churn_runs, env: str) -> None:
    _, registered, _ = churn_runs[env]
    (endpoint,) = of_type(registered, "aws:sagemaker/endpoint:Endpoint")
    deployment = endpoint.inputs["deploymentConfig"]
    policy = deployment["blueGreenUpdatePolicy"]["trafficRoutingConfiguration"]
    assert policy["type"] == "CANARY"
    assert policy["canarySize"]["value"] == 10
    alarms = deployment["autoRollbackConfiguration"]["alarms"]
    assert len(alarms) == 2
    names = {
        r.inputs["name"] for r in of_type(registered, "aws:cloudwatch/metricAlarm:MetricAlarm")
    }
    assert {alarm["alarmName"] for alarm in alarms} <= names


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_every_taggable_resource_carries_the_mlinfra_tags(churn_runs, env: str) -> None:
    _, registered, _ = churn_runs[env]
    taggable = [r for r in registered if is_taggable(r.type)]
    assert taggable
    for resource in taggable:
        tags = resource.inputs.get("tags") or {}
        missing = [t for t in MLINFRA_TAGS if t not in tags]
        assert not missing, f"{resource.name} lacks {missing}"
        assert tags["mlinfra:environment"] == env


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_spread_tags_arrive_exactly_as_the_graph_has_them(churn_runs, env: str) -> None:
    graph, registered, _ = churn_runs[env]
    by_name = {r.name: r for r in registered}
    tagged = [r for r in graph.resources if "tags" in r.properties]
    assert tagged
    for resource in tagged:
        assert by_name[resource.address].inputs["tags"] == dict(resource.properties["tags"])


def test_prod_has_more_capacity_and_a_key(churn_runs) -> None:
    dev = Counter(r.type for r in churn_runs["dev"][1])
    prod = Counter(r.type for r in churn_runs["prod"][1])
    assert dev["aws:kms/key:Key"] == 0 and prod["aws:kms/key:Key"] == 1
    for counts in (dev, prod):
        assert counts["aws:sagemaker/endpoint:Endpoint"] == 1
        assert counts["aws:sagemaker/model:Model"] == 1
        assert counts["aws:s3/bucket:Bucket"] == 3


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_training_code_is_uploaded_as_a_script_mode_archive(churn_runs, env: str) -> None:
    _, registered, folder = churn_runs[env]
    (upload,) = [r for r in registered if r.inputs.get("key", "").endswith("/sourcedir.tar.gz")]
    archive = folder / upload.inputs["source"].path
    with tarfile.open(archive, "r:gz") as tar:
        assert tar.getnames() == ["train.py"]
        member = tar.getmember("train.py")
        assert (member.mtime, member.mode, member.uid) == (0, 0o644, 0)
        script = tar.extractfile(member).read()
    assert script == (CHURN.parent / "pipelines" / "train.py").read_bytes()


def test_source_archives_are_reproducible(tmp_path, monkeypatch) -> None:
    from mlinfra.render import helpers

    namespace: dict = {}
    exec(
        "import gzip, hashlib, io, pathlib, tarfile\n" + helpers.source("source_archive"), namespace
    )
    monkeypatch.chdir(tmp_path)
    script = tmp_path / "train.py"
    script.write_text("print('hi')\n")
    first = (tmp_path / namespace["source_archive"](str(script))).read_bytes()
    os.utime(script, (1, 1))
    assert (tmp_path / namespace["source_archive"](str(script))).read_bytes() == first


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_model_and_config_are_named_for_the_approved_version_they_serve(churn_runs, env):
    _, registered, _ = churn_runs[env]
    (model,) = of_type(registered, "aws:sagemaker/model:Model")
    (config,) = of_type(registered, "aws:sagemaker/endpointConfiguration:EndpointConfiguration")
    # Version 1 is approved and version 2 pending: the program serves 1, and names say so,
    # so approving a new version makes a new model and configuration.
    assert model.inputs["primaryContainer"]["modelPackageName"].endswith("/1")
    assert model.inputs["name"].endswith("-v1") and config.inputs["name"].endswith("-v1")
    assert config.inputs["productionVariants"][0]["modelName"] == model.inputs["name"]


def test_a_branch_previews_program_registers_its_graph_under_names_of_its_own(
    tmp_path, monkeypatch, aws_credentials
) -> None:
    """What `mlinfra preview up` hands to `pulumi up` for a preview of dev."""
    from mlinfra.ir.lower import lower
    from mlinfra.preview.environment import preview_spec
    from mlinfra.preview.inventory import graph_names
    from mlinfra.spec.validate import validate_file

    spec = preview_spec(validate_file(CHURN), "feat/cheaper-endpoint", None, str(CHURN)).spec
    graph = lower(spec, CHURN.parent)
    program = render_into(tmp_path, graph, spec, churn_spec_from(tmp_path / "stack"))
    with mock_aws():
        for group in graph.of_type("aws.sagemaker.ModelPackageGroup"):
            approve_a_version(graph.region, group.properties["model_package_group_name"])
        registered = run_program(program, graph, monkeypatch).registered
    assert_matches_graph(registered, graph)
    for resource in registered:
        if is_taggable(resource.type):
            assert resource.inputs["tags"]["mlinfra:environment"] == spec.env
    (config,) = of_type(registered, "aws:sagemaker/endpointConfiguration:EndpointConfiguration")
    assert config.inputs["productionVariants"][0]["instanceType"] == "ml.t2.medium"
    assert not set(graph_names(graph)) & set(graph_names(churn("dev")[0]))


# -- monitors on mlinfra's own engine --------------------------------------------------------


def by_address(registered: list[Registered]) -> dict[str, Registered]:
    return {r.name: r for r in registered}


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_the_monitor_job_archive_is_uploaded_from_the_project(churn_runs, env) -> None:
    from mlinfra.monitoring.bundle import job_archive, job_archive_sha256

    _, registered, folder = churn_runs[env]
    code = by_address(registered)["monitor.churn-drift/code"].inputs
    assert code["key"].endswith(f"/code/{job_archive_sha256()[:16]}/monitor-job.pyz")
    assert (folder / code["source"].path).read_bytes() == job_archive()


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_the_monitor_pipeline_runs_the_archive_with_the_job_role(churn_runs, env) -> None:
    _, registered, _ = churn_runs[env]
    found = by_address(registered)
    pipeline = found["monitor.churn-drift"].inputs
    assert pipeline["pipelineName"] == f"churn-{env}-churn-drift-monitor"
    (step,) = json.loads(pipeline["pipelineDefinition"])["Steps"]
    arguments = step["Arguments"]
    assert arguments["RoleArn"] == "arn:aws:mock:::aws:iam/role:Role/monitor.churn-drift/job-role"
    options = arguments["AppSpecification"]["ContainerArguments"]
    named = dict(zip(options[::2], options[1::2], strict=True))
    assert named["--until"] == {"Get": "Execution.StartDateTime"}
    account = {"dev": "111111111111", "prod": "222222222222"}[env]
    endpoint = f"churn-{env}-churn-api"
    assert named["--capture"] == f"s3://churn-{env}-capture-{account}/{endpoint}/{endpoint}/"
    assert named["--endpoint"] == f"churn-{env}-churn-api"
    code = found["monitor.churn-drift/code"].inputs
    (code_input,) = arguments["ProcessingInputs"]
    assert code_input["S3Input"]["S3Uri"] == f"s3://{code['bucket']}/{code['key']}"


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_the_monitor_alarm_watches_the_jobs_violations(churn_runs, env) -> None:
    _, registered, _ = churn_runs[env]
    alarm = by_address(registered)["monitor.churn-drift/alarm-violations"].inputs
    assert (alarm["namespace"], alarm["metricName"], alarm["statistic"]) == (
        "mlinfra/Monitoring",
        "violations",
        "Maximum",
    )
    assert alarm["dimensions"] == {
        "Monitor": f"churn-{env}-churn-drift",
        "Endpoint": f"churn-{env}-churn-api",
    }
    schedule = by_address(registered)["monitor.churn-drift/schedule"].inputs
    assert schedule["scheduleExpression"].startswith("cron(20 ")


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_the_quality_monitor_runs_the_archive_in_quality_mode_and_may_reject_its_group_only(
    churn_runs, env
) -> None:
    """The program, in an account with an approved version, registers the quality monitor's
    pipeline with the job's quality command line, and a job role whose registry permissions
    name the serving group's versions and this endpoint."""
    _, registered, _ = churn_runs[env]
    found = by_address(registered)
    pipeline = found["monitor.churn-quality"].inputs
    (step,) = json.loads(pipeline["pipelineDefinition"])["Steps"]
    options = step["Arguments"]["AppSpecification"]["ContainerArguments"]
    assert options[0] == "quality"
    named = dict(zip(options[1::2], options[2::2], strict=True))
    assert named["--ground-truth"] == "s3://churn-ground-truth/churn-api"
    assert (named["--alert"], named["--rollback"]) == ("97%", "95%")
    assert named["--endpoint"] == f"churn-{env}-churn-api"
    assert step["Arguments"]["RoleArn"].endswith("monitor.churn-quality/job-role")
    policy = json.loads(found["monitor.churn-quality/job-role-policy"].inputs["policy"])
    statements = {s["Sid"]: s for s in policy["Statement"]}
    account = {"dev": "111111111111", "prod": "222222222222"}[env]
    region = {"dev": "us-east-1", "prod": "eu-west-1"}[env]
    assert statements["ServingVersion"]["Resource"] == [
        f"arn:aws:sagemaker:{region}:{account}:model-package/churn-{env}-churn/*"
    ]
    assert "sagemaker:UpdateModelPackage" in statements["ServingVersion"]["Action"]
    assert statements["DescribeServingEndpoint"]["Resource"] == [
        f"arn:aws:sagemaker:{region}:{account}:endpoint/churn-{env}-churn-api"
    ]
    alarm = found["monitor.churn-quality/alarm-violations"].inputs
    assert alarm["dimensions"] == {
        "Monitor": f"churn-{env}-churn-quality",
        "Endpoint": f"churn-{env}-churn-api",
    }


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_the_batch_job_exports_the_latest_rows_then_scores_them_with_the_served_model(
    churn_runs, env
) -> None:
    from mlinfra.ir.requests.batch_jobs import export_script

    _, registered, folder = churn_runs[env]
    found = by_address(registered)
    pipeline = found["batch_job.churn-scores"].inputs
    assert pipeline["pipelineName"] == f"churn-{env}-churn-scores"
    export, score = json.loads(pipeline["pipelineDefinition"])["Steps"]
    assert (export["Name"], export["Type"], score["Name"], score["Type"]) == (
        "export", "Processing", "score", "Transform",
    )  # fmt: skip
    # The export runs mlinfra's own script, uploaded from beside the program.
    code = found["batch_job.churn-scores/script-export"].inputs
    assert (folder / code["source"].path).read_bytes() == export_script()
    assert export["Arguments"]["Environment"]["MLINFRA_EXPORT_GROUP"] == f"churn-{env}-customers"
    arguments = score["Arguments"]
    # The served model (its name as the program created it), not a candidate of the run.
    assert arguments["ModelName"] == found["model.churn-model"].inputs["name"]
    assert arguments["TransformInput"]["DataSource"]["S3DataSource"]["S3Uri"] == {
        "Std:Join": {
            "On": "/",
            "Values": [
                {"Get": "Steps.export.ProcessingOutputConfig.Outputs['export'].S3Output.S3Uri"},
                "rows",
            ],
        }
    }
    # The five features go to the model; each answer comes back beside its customer's id.
    assert arguments["DataProcessing"] == {
        "InputFilter": "$[2,3,4,5,6]",
        "JoinSource": "Input",
        "OutputFilter": "$[0,-1]",
    }
    keyed = "KmsKeyId" in arguments["TransformOutput"]
    assert keyed == (env == "prod") == ("VolumeKmsKeyId" in arguments["TransformResources"])


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_the_batch_job_runs_nightly_and_its_model_role_reaches_its_data(churn_runs, env) -> None:
    _, registered, _ = churn_runs[env]
    found = by_address(registered)
    rule = found["batch_job.churn-scores/schedule"].inputs
    assert rule["scheduleExpression"] == "cron(0 5 * * ? *)"
    target = found["batch_job.churn-scores/schedule-target"].inputs
    assert target["arn"].endswith("batch_job.churn-scores")
    policy = json.loads(found["model.churn-model/role-policy"].inputs["policy"])
    (data,) = [s for s in policy["Statement"] if s.get("Sid") == "TransformData"]
    assert data["Action"] == ["s3:GetObject", "s3:PutObject"]
    assert [r.endswith("/pipelines/churn-scores/*") for r in data["Resource"]] == [True]
