"""`mlinfra plan`: formats, exit codes (with --detailed-exitcode), --out, --state, the guard,
and errors reported without a traceback."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner, Result

from mlinfra.cli.main import cli
from mlinfra.plan.file import load_plan
from mlinfra.state.file import FileBackend
from mlinfra.state.model import ResourceState, State
from registries import EmptyRegistry


def run(*args: str) -> Result:
    result = CliRunner().invoke(cli, ["plan", *args])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    return result


def record(churn: Path, graph, recorded, folder: str = ".mlinfra/state") -> None:
    """Write, as a first apply would, the state that records `graph`."""
    resources = recorded(graph).resources
    FileBackend(churn / folder).write(State(graph.project, graph.env, resources=resources))


def test_changes_exit_0_or_2_with_detailed_exitcode(graph_of, churn: Path) -> None:
    graph = graph_of("local")
    spec = str(churn / "mlinfra.yaml")
    plain = run("--env", "local", "-f", spec)
    assert plain.exit_code == 0, plain.output
    assert plain.stderr.startswith("state: none yet at ")
    assert plain.stdout.startswith(f"Plan: {len(graph.resources)} to create, 0 to update")
    assert run("--env", "local", "-f", spec, "--detailed-exitcode").exit_code == 2


def test_no_changes_exit_0_with_detailed_exitcode(graph_of, recorded, churn: Path) -> None:
    record(churn, graph_of("local"), recorded)
    result = run("--env", "local", "-f", str(churn / "mlinfra.yaml"), "--detailed-exitcode")
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("No changes.")
    assert "local.json (serial 1)" in result.stderr


def test_json_and_markdown_formats(graph_of, churn: Path) -> None:
    graph_of("dev")
    spec = str(churn / "mlinfra.yaml")
    document = json.loads(run("--env", "dev", "-f", spec, "--format", "json").output)
    assert document["summary"]["create"] == len(graph_of("dev").resources)
    assert document["target"] == "sagemaker"
    markdown = run("--env", "dev", "-f", spec, "--format", "markdown").output
    assert markdown.startswith("### mlinfra plan: `churn` / `dev`")


def test_out_saves_the_plan(graph_of, churn: Path, tmp_path: Path) -> None:
    graph = graph_of("local")
    out = tmp_path / "local.plan"
    result = run("--env", "local", "-f", str(churn / "mlinfra.yaml"), "--out", str(out))
    assert result.exit_code == 0
    assert "Saved the plan to" in result.output
    assert load_plan(out).counts()["create"] == len(graph.resources)


def test_state_option_names_another_folder(graph_of, recorded, churn: Path) -> None:
    record(churn, graph_of("local"), recorded, folder="elsewhere")
    spec = str(churn / "mlinfra.yaml")
    assert run("--env", "local", "-f", spec, "--detailed-exitcode").exit_code == 2
    moved = run("--env", "local", "-f", spec, "--detailed-exitcode", "--state", "elsewhere")
    assert moved.exit_code == 0


def test_a_corrupt_state_exits_1_naming_it(graph_of, churn: Path) -> None:
    graph_of("local")
    path = churn / ".mlinfra" / "state" / "local.json"
    path.parent.mkdir(parents=True)
    path.write_text('{"format_version": 1, "proj')
    result = run("--env", "local", "-f", str(churn / "mlinfra.yaml"), "--detailed-exitcode")
    assert result.exit_code == 1
    assert str(path) in result.output and "not valid JSON" in result.output
    assert path.read_text() == '{"format_version": 1, "proj'


def test_the_guard_exits_1_unless_removal_is_allowed(graph_of, recorded, churn: Path) -> None:
    graph = graph_of("prod")
    extra = ResourceState("aws.sagemaker.FeatureGroup", {"feature_group_name": "x"}, protect=True)
    state = State("churn", "prod", resources=recorded(graph).resources)
    FileBackend(churn / ".mlinfra" / "state").write(state.with_resource("feature_store.x", extra))
    spec = str(churn / "mlinfra.yaml")
    refused = run("--env", "prod", "-f", spec, "--detailed-exitcode")
    assert refused.exit_code == 1
    assert "would lose data" in refused.output and "feature_store.x" in refused.output
    allowed = run(
        "--env", "prod", "-f", spec, "--detailed-exitcode", "--allow-removal", "feature_store.x"
    )
    assert allowed.exit_code == 2, allowed.output


def test_errors_exit_1_without_a_traceback(graph_of, churn: Path, tmp_path: Path) -> None:
    graph_of("local")
    spec = str(churn / "mlinfra.yaml")
    unknown = run("--env", "locl", "-f", spec)
    assert unknown.exit_code == 1 and "did you mean 'local'?" in unknown.output
    missing = run("--env", "local", "-f", str(tmp_path / "nope.yaml"))
    assert missing.exit_code == 1 and "does not exist" in missing.output
    (tmp_path / "broken.yaml").write_text("version: [\n")
    assert run("--env", "local", "-f", str(tmp_path / "broken.yaml")).exit_code == 1
    s3 = run("--env", "local", "-f", spec, "--state", "s3://")
    assert s3.exit_code == 1 and "no bucket named" in s3.output


class Registry:
    """Stands in for the emulator's model registry (`LocalProvider.call`), which the
    provider tests exercise for real: here only the plan's use of its answers is tested."""

    def __init__(self, version: str) -> None:
        self.version = version

    def call(self, function: str, args: tuple) -> str:
        if function == "latest_approved_version":
            return self.version
        return f"arn:aws:sagemaker:us-east-1:000000000000:model-package/{args[0]}/{self.version}"


def test_a_newly_approved_version_in_the_emulator_is_a_change(
    graph_of, churn: Path, monkeypatch
) -> None:
    from mlinfra.engines.providers.local import LocalProvider
    from mlinfra.plan.diff import calls_in, recorded_properties

    graph = graph_of("local")
    applied = {key: Registry("1").call(*key) for key in calls_in(graph)}
    resources = {
        r.address: ResourceState(r.type, recorded_properties(r, applied), protect=r.protect)
        for r in graph.resources
    }
    FileBackend(churn / ".mlinfra" / "state").write(State("churn", "local", resources=resources))
    spec = str(churn / "mlinfra.yaml")
    assert run("--env", "local", "-f", spec, "--detailed-exitcode").exit_code == 0  # no emulator

    registry = Registry("1")
    monkeypatch.setattr(LocalProvider, "for_spec", classmethod(lambda cls, *a, **k: registry))
    assert run("--env", "local", "-f", spec, "--detailed-exitcode").exit_code == 0
    registry.version = "2"
    result = run("--env", "local", "-f", spec, "--detailed-exitcode")
    assert result.exit_code == 2
    # The model and its endpoint config are replaced; the endpoint, and the batch job whose
    # transform step names the model, are updated.
    assert result.stdout.startswith("Plan: 0 to create, 2 to update, 2 to replace")
    assert "PrimaryContainer.ModelPackageName" in result.output


def test_usage_errors_exit_1_not_2(graph_of, churn: Path, tmp_path: Path) -> None:
    graph_of("local")
    spec = str(churn / "mlinfra.yaml")
    assert run("-f", spec, "--detailed-exitcode").exit_code == 1  # no --env
    assert run("--env", "local", "-f", spec, "--format", "yaml").exit_code == 1
    into_a_folder = run("--env", "local", "-f", spec, "--out", str(tmp_path))
    assert into_a_folder.exit_code == 1 and "cannot write the plan" in into_a_folder.output


def test_a_model_without_an_approved_version_is_planned_as_waiting(
    graph_of, churn: Path, monkeypatch
) -> None:
    from mlinfra.engines.providers.local import LocalProvider

    graph_of("local")
    monkeypatch.setattr(
        LocalProvider, "for_spec", classmethod(lambda cls, *a, **k: EmptyRegistry())
    )
    spec = str(churn / "mlinfra.yaml")
    result = run("--env", "local", "-f", spec, "--detailed-exitcode")
    assert result.exit_code == 2
    assert "10 of them wait for a value that does not exist yet" in result.output
    assert "waiting: model churn-model has no version yet: run `mlinfra pipeline run" in (
        result.output
    )
    document = json.loads(run("--env", "local", "-f", spec, "--format", "json").output)
    waiting = [c["address"] for c in document["resource_changes"] if c["waiting"]]
    # The monitor too: SageMaker creates a monitoring schedule only on an existing endpoint;
    # and all the endpoint's parts (its SLO alarms, its autoscaling), which wait with it.
    assert waiting == [
        "model.churn-model",
        "endpoint.churn-api/config",
        "endpoint.churn-api/alarm-latency",
        "endpoint.churn-api/alarm-errors",
        "endpoint.churn-api",
        "endpoint.churn-api/scaling-target",
        "endpoint.churn-api/scaling-policy",
        "monitor.churn-drift",
        "monitor.churn-quality",
        "batch_job.churn-scores",
    ]
