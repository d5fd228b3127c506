"""The churn `dev` and `prod` programs in every state an account can be in: empty (the first
deploy), one approved version, a newer one approved while the older serves, every version
rejected (with an endpoint serving, and without), after a partial failure, and with a
registry that cannot be read. Each run asserts what the program registers and what waits.

The programs run under Pulumi's mocks with the real `pulumi_aws` (tests/render/program_runs.py);
moto is the account, and answers every AWS call the programs make: ListModelPackages
(filtered by approval status, sorted by creation time), DescribeModelPackage,
DescribeEndpoint, DescribeEndpointConfig and DescribeModel. What waits is read as `mlinfra
apply` reads it, from the program's stack output `mlinfra:model-versions`; and `mlinfra
plan`, asking the same account with the same functions, finds the same.

moto's gaps, worked around here only: it has no UpdateEndpoint (an endpoint serving an older
version is made as an earlier apply made it: model, configuration, endpoint), and it cannot be
told to deny an action (the unreadable registry is moto's ListModelPackages replaced by one
answering AccessDeniedException).
"""

from __future__ import annotations

import boto3
import pytest
from moto import mock_aws
from moto.core.exceptions import JsonRESTError
from program_runs import render_into, run_program
from render_cases import churn, churn_spec_from

from accounts import register, serve, set_status
from mlinfra.plan.values import from_program, from_sagemaker

pytestmark = pytest.mark.filterwarnings("ignore:.*deprecated in favor of:DeprecationWarning")

ENVS = ("dev", "prod")
MODEL = "model.churn-model"
NO_VERSION = "has no approved version: register one (the pipeline's register_model step)"


@pytest.fixture(scope="module")
def programs(tmp_path_factory) -> dict:
    """Each sagemaker environment of the churn example: its graph and rendered program."""
    found = {}
    for env in ENVS:
        graph, spec = churn(env)
        out = tmp_path_factory.mktemp(env)
        found[env] = (graph, render_into(out, graph, spec, churn_spec_from(out / "stack")))
    return found


def group_of(env: str) -> str:
    return f"churn-{env}-churn"


def endpoint_of(env: str) -> str:
    return f"churn-{env}-churn-api"


def needs_a_model(graph) -> set[str]:
    """What the churn spec cannot create without a model version: the model, its endpoint
    with its alarms and autoscaling, the monitor on that endpoint and the batch job scoring
    with the model, whole."""
    whole = ("endpoint.churn-api", "monitor.churn-", "batch_job.churn-scores")
    return {a for a in graph.addresses() if a == MODEL or a.startswith(whole)}


def run(programs, env: str, monkeypatch):
    """Run `env`'s program in the account moto holds now: the run, and what waits (address
    -> why) as apply reads it from the run's outputs."""
    graph, program = programs[env]
    found = run_program(program, graph, monkeypatch)
    return found, from_program(graph, found.exports).waiting(graph)


def planned_waiting(programs, env: str) -> dict[str, str]:
    """What `mlinfra plan` finds waiting, asking the same account."""
    graph, _ = programs[env]
    client = boto3.client("sagemaker", region_name=graph.region)
    return from_sagemaker(graph, client).waiting(graph)


def served(found, env: str) -> tuple[str, str, str]:
    """The registered version the model serves, and the model's and configuration's names."""
    model = found.named(MODEL).inputs
    config = found.named("endpoint.churn-api/config").inputs
    assert config["productionVariants"][0]["modelName"] == model["name"]
    return model["primaryContainer"]["modelPackageName"], model["name"], config["name"]


# -- an empty account: the first deploy ----------------------------------------------------


@pytest.mark.parametrize("env", ENVS)
def test_a_first_deploy_creates_everything_that_needs_no_model(
    programs, env, monkeypatch, aws_credentials
):
    graph, _ = programs[env]
    with mock_aws():
        found, waiting = run(programs, env, monkeypatch)
        assert planned_waiting(programs, env) == waiting
    assert found.names == set(graph.addresses()) - needs_a_model(graph)
    assert set(waiting) == needs_a_model(graph)
    # The registry group, the pipeline that registers the first version, its schedule, the
    # feature store, buckets and roles: all made.
    for address in (
        f"{MODEL}/registry",
        f"{MODEL}/role",
        "pipeline.train-churn",
        "pipeline.train-churn/schedule",
        "feature_store.customers",
        "bucket.artifacts",
    ):
        assert address in found.names
    why = waiting[MODEL]
    assert why.startswith(f"model package group '{group_of(env)}' {NO_VERSION}")
    assert "--model-approval-status Approved" in why and "pin `version:`" in why
    assert waiting["endpoint.churn-api"] == f"waits for {MODEL}: {why}"
    assert waiting["monitor.churn-drift/alarm-violations"] == f"waits for {MODEL}: {why}"
    assert found.warnings == [why]
    assert MODEL not in found.exports  # its name is not known until it exists
    (lookup,) = found.exports["mlinfra:model-versions"]
    assert lookup == {
        "group": group_of(env),
        "endpoints": [endpoint_of(env)],
        "arn": None,
        "version": None,
        "why": why,
    }


# -- approved versions ---------------------------------------------------------------------


@pytest.mark.parametrize("env", ENVS)
def test_an_approved_version_is_deployed(programs, env, monkeypatch, aws_credentials):
    graph, _ = programs[env]
    with mock_aws():
        (v1,) = register(graph.region, group_of(env), "Approved")
        found, waiting = run(programs, env, monkeypatch)
        assert planned_waiting(programs, env) == {}
    assert found.names == set(graph.addresses()) and waiting == {}
    package, model, config = served(found, env)
    assert package == v1
    assert model.endswith("-v1") and config.endswith("-v1")
    assert found.warnings == []


@pytest.mark.parametrize("env", ENVS)
def test_a_newer_approved_version_replaces_the_one_serving(
    programs, env, monkeypatch, aws_credentials
):
    graph, _ = programs[env]
    with mock_aws():
        v1, v2 = register(graph.region, group_of(env), "Approved", "Approved")
        serve(graph.region, endpoint_of(env), v1)
        found, waiting = run(programs, env, monkeypatch)
    assert found.names == set(graph.addresses()) and waiting == {}
    package, model, config = served(found, env)
    # New names: Pulumi creates the new model and configuration, switches the endpoint to
    # them (blue/green), then deletes the old ones.
    assert package == v2
    assert model.endswith("-v2") and config.endswith("-v2")


@pytest.mark.parametrize("env", ENVS)
def test_a_pending_version_is_not_deployed_over_the_approved_one(
    programs, env, monkeypatch, aws_credentials
):
    graph, _ = programs[env]
    with mock_aws():
        v1, _ = register(graph.region, group_of(env), "Approved", "PendingManualApproval")
        found, _ = run(programs, env, monkeypatch)
    assert served(found, env)[0] == v1


# -- every version rejected ----------------------------------------------------------------


@pytest.mark.parametrize("env", ENVS)
def test_every_version_rejected_keeps_the_endpoint_serving_what_it_serves(
    programs, env, monkeypatch, aws_credentials
):
    graph, _ = programs[env]
    with mock_aws():
        v1, v2 = register(graph.region, group_of(env), "Approved", "Approved")
        serve(graph.region, endpoint_of(env), v1)
        set_status(graph.region, v1, "Rejected")
        set_status(graph.region, v2, "Rejected")
        found, waiting = run(programs, env, monkeypatch)
        assert planned_waiting(programs, env) == {}
        # What the same program declares while version 1 is approved: the same names.
        set_status(graph.region, v1, "Approved")
        approved, _ = run(programs, env, monkeypatch)
    # Everything is still declared, with version 1, exactly as when it was approved: Pulumi
    # sees no change, and deletes nothing.
    assert found.names == set(graph.addresses()) and waiting == {}
    assert served(found, env) == served(approved, env)
    assert served(found, env)[0] == v1
    (note,) = found.warnings
    assert note == (
        f"model package group '{group_of(env)}' has no approved version: endpoint "
        f"{endpoint_of(env)} keeps serving version 1, the one it serves now"
    )
    (lookup,) = found.exports["mlinfra:model-versions"]
    assert (lookup["arn"], lookup["version"], lookup["why"]) == (v1, "1", note)


@pytest.mark.parametrize("env", ENVS)
def test_every_version_rejected_with_nothing_serving_waits(
    programs, env, monkeypatch, aws_credentials
):
    graph, _ = programs[env]
    with mock_aws():
        register(graph.region, group_of(env), "Rejected", "Rejected")
        found, waiting = run(programs, env, monkeypatch)
    assert set(waiting) == needs_a_model(graph)
    assert found.names == set(graph.addresses()) - needs_a_model(graph)
    assert NO_VERSION in waiting[MODEL]


# -- after a partial failure ---------------------------------------------------------------


@pytest.mark.parametrize("env", ENVS)
def test_a_registry_without_an_endpoint_and_no_approved_version_waits(
    programs, env, monkeypatch, aws_credentials
):
    """An earlier apply created the registry group (and a model) and stopped before the
    endpoint; since then a version was registered, not approved."""
    graph, _ = programs[env]
    with mock_aws():
        (pending,) = register(graph.region, group_of(env), "PendingManualApproval")
        boto3.client("sagemaker", region_name=graph.region).create_model(
            ModelName=f"churn-{env}-churn-model-old",
            ExecutionRoleArn="arn:aws:iam::123456789012:role/model",
            PrimaryContainer={"ModelPackageName": pending},
        )
        found, waiting = run(programs, env, monkeypatch)
    assert set(waiting) == needs_a_model(graph)
    assert f"{MODEL}/registry" in found.names


@pytest.mark.parametrize("env", ENVS)
def test_a_registry_without_an_endpoint_and_an_approved_version_creates_it(
    programs, env, monkeypatch, aws_credentials
):
    graph, _ = programs[env]
    with mock_aws():
        (v1,) = register(graph.region, group_of(env), "Approved")
        found, waiting = run(programs, env, monkeypatch)
    assert found.names == set(graph.addresses()) and waiting == {}
    assert served(found, env)[0] == v1


# -- a registry that cannot be read --------------------------------------------------------


@pytest.fixture
def registry_denied(monkeypatch):
    """ListModelPackages answers AccessDeniedException (moto cannot be told to deny)."""
    from moto.sagemaker.models import SageMakerModelBackend

    def denied(self, *args, **kwargs):
        raise JsonRESTError("AccessDeniedException", "not authorized: sagemaker:ListModelPackages")

    monkeypatch.setattr(SageMakerModelBackend, "list_model_packages", denied)


@pytest.mark.parametrize("env", ENVS)
def test_an_unreadable_registry_keeps_the_endpoint_serving(
    programs, env, monkeypatch, aws_credentials, registry_denied
):
    graph, _ = programs[env]
    with mock_aws():
        (v1,) = register(graph.region, group_of(env), "Approved")
        serve(graph.region, endpoint_of(env), v1)
        found, waiting = run(programs, env, monkeypatch)
    assert found.names == set(graph.addresses()) and waiting == {}
    assert served(found, env)[0] == v1
    (note,) = found.warnings
    assert note.startswith(
        f"model package group '{group_of(env)}' could not be read (AccessDeniedException: "
    )
    assert note.endswith(
        f"endpoint {endpoint_of(env)} keeps serving version 1, the one it serves now"
    )


@pytest.mark.parametrize("env", ENVS)
def test_an_unreadable_registry_with_nothing_serving_waits(
    programs, env, monkeypatch, aws_credentials, registry_denied
):
    graph, _ = programs[env]
    with mock_aws():
        found, waiting = run(programs, env, monkeypatch)
    assert set(waiting) == needs_a_model(graph)
    assert "could not be read (AccessDeniedException" in waiting[MODEL]


def test_an_endpoint_whose_model_cannot_be_read_stops_the_run(
    programs, monkeypatch, aws_credentials
):
    """Nothing can be declared without risking what serves: the run stops, and a Pulumi run
    that stops deletes nothing."""
    graph, _ = programs["dev"]
    with mock_aws():
        v1, v2 = register(graph.region, group_of("dev"), "Rejected", "Rejected")
        serve(graph.region, endpoint_of("dev"), v1)
        client = boto3.client("sagemaker", region_name=graph.region)
        client.delete_model(ModelName=f"{endpoint_of('dev')}-model-v1")
        with pytest.raises(RuntimeError, match="stopped before changing anything"):
            run(programs, "dev", monkeypatch)
