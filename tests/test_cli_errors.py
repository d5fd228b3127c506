"""Inputs that once ended in "internal error" (exit 3), a traceback or a hang end in a
diagnostic or a clear error with exit 1 (issue 16): non-finite and huge numbers, alert targets
over AWS's limits, control characters in `state:`, `render --out` on a file, `-f` on what is
not a file, deeply nested or foreign state files, locks naming impossible processes, and
`--state` on a file. Also `--lock-timeout` durations.

None of these needs an emulator: the commands stop before they would start one.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from mlinfra.cli.main import cli
from mlinfra.cli.options import Duration

ROOT = Path(__file__).resolve().parents[1]
CHURN = ROOT / "examples" / "churn"
STATEFUL = ("plan", "output", "apply", "destroy", "refresh")


def run(*args: str, stdin: str | None = None) -> Result:
    result = CliRunner().invoke(cli, list(args), input=stdin)
    # Exits are SystemExit; anything else escaped the command (as exit 3 would have).
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    assert "Traceback" not in result.output
    assert "internal error" not in result.output
    return result


def command(name: str, spec: Path, *more: str) -> list[str]:
    """`name` on the local environment, as a script would run it (no questions)."""
    args = [name, "-f", str(spec)]
    if name != "validate":
        args += ["--env", "local"]
    if name in ("apply", "destroy"):
        args.append("--auto-approve")
    return [*args, *more]


@pytest.fixture()
def churn(tmp_path: Path) -> Path:
    """A copy of the churn example, without what a run left beside it."""
    folder = tmp_path / "churn"
    shutil.copytree(CHURN, folder, ignore=shutil.ignore_patterns(".mlinfra", "stacks"))
    return folder / "mlinfra.yaml"


def edit(spec: Path, old: str, new: str) -> str:
    text = spec.read_text()
    assert old in text
    text = text.replace(old, new, 1)
    spec.write_text(text)
    return text


def line_of(text: str, fragment: str) -> int:
    return text[: text.index(fragment)].count("\n") + 1


# --- numbers ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("drift_psi: 0.2", "drift_psi: .inf"),
        ("min_accuracy: 0.75", "min_accuracy: .inf"),
        ("min_accuracy: 0.75", "min_accuracy: -.Inf"),
        ("drift_psi: 0.2", "drift_psi: 1.0e+309"),
        ("drift_psi: 0.2", f"drift_psi: {10**400}"),
        ("target_invocations_per_instance: 200", f"target_invocations_per_instance: {10**309}"),
        ("latency_p99_ms: 250", f"latency_p99_ms: 0x{'f' * 300}"),
    ],
)
def test_infinite_and_huge_numbers_are_refused_at_their_line(churn: Path, old: str, new: str):
    text = edit(churn, old, new)
    for args in (["validate", "-f", str(churn)], ["render", "--all", "-f", str(churn)]):
        result = run(*args)
        assert result.exit_code == 1, result.output
        assert f"{churn}:{line_of(text, new)}:" in result.output
        assert "error[invalid-number]" in result.output
    assert not (churn.parent / "stacks").exists()


def test_nan_is_refused_at_its_line(churn: Path):
    text = edit(churn, "min_accuracy: 0.75", "min_accuracy: .nan")
    result = run("render", "--env", "local", "-f", str(churn))
    assert result.exit_code == 1
    assert f"{churn}:{line_of(text, '.nan')}:" in result.output
    assert "NaN is not a valid value" in result.output


# --- alert targets ---------------------------------------------------------------------------


def test_local_alert_targets_longer_than_an_environment_value_are_refused(churn: Path):
    # The emulator's monitoring job reads them from one environment variable, which SageMaker
    # (ProcessingEnvironmentValue) limits to 256 characters.
    target = f"email:{'a' * 240}@example.com"
    text = edit(churn, '"email:ml-oncall@example.com"', f'"{target}"')
    for args in (["validate"], ["plan", "--env", "local"], ["apply", "--env", "local"]):
        result = run(*args, "-f", str(churn))
        assert result.exit_code == 1, result.output
        assert f"{churn}:{line_of(text, target)}:" in result.output
        assert "error[too-long]" in result.output
        assert "262 characters" in result.output and "256" in result.output
        assert "in environment: local" in result.output


@pytest.mark.parametrize(("topics", "ok"), [(4, True), (5, False)])
def test_more_alarm_actions_than_cloudwatch_takes_are_refused(churn: Path, topics: int, ok: bool):
    # An alarm takes at most 5 actions (botocore's cloudwatch ResourceList): the monitor's own
    # topic for its email and webhook targets, and each sns: topic.
    sns = ", ".join(f'"sns:arn:aws:sns:us-east-1:111111111111:t{i}"' for i in range(topics))
    edit(churn, '["email:ml-oncall@example.com"]', f'["email:ml-oncall@example.com", {sns}]')
    result = run("validate", "-f", str(churn))
    if ok:
        assert result.exit_code == 0, result.output
        return
    assert result.exit_code == 1
    assert "error[too-many-alert-targets]" in result.output
    assert "6 actions" in result.output and "at most 5" in result.output
    assert "in environment: dev, prod, preview" in result.output


# --- where the state is ----------------------------------------------------------------------


def test_a_control_character_in_the_spec_state_is_refused_at_its_line(churn: Path):
    text = churn.read_text() + 'state: "a\\0b"\n'
    churn.write_text(text)
    for name in ("validate", *STATEFUL):
        result = run(*command(name, churn))
        assert result.exit_code == 1, (name, result.output)
        assert f"{churn}:{line_of(text, 'state:')}:8: error[invalid-value]: state:" in (
            result.output
        )


@pytest.mark.parametrize("location", ["a\x00b", "state\nfolder"])
def test_a_control_character_in_the_state_option_is_refused(churn: Path, location: str):
    for name in STATEFUL:
        result = run(*command(name, churn, "--state", location))
        assert result.exit_code == 1, (name, result.output)
        assert "contains a control character" in result.stderr


@pytest.mark.parametrize("location", ["/dev/null", "a-file", "a-file/below"])
def test_a_state_location_that_is_a_file_is_refused(churn: Path, location: str):
    (churn.parent / "a-file").write_text("not a folder\n")
    where = Path(location) if location.startswith("/") else churn.parent / location
    blocking = "/dev/null" if location == "/dev/null" else str(churn.parent / "a-file")
    for name in STATEFUL:
        result = run(*command(name, churn, "--state", location))
        assert result.exit_code == 1, (name, result.output)
        assert f"{where}: the state location must be a folder" in result.stderr
        assert f"but {blocking} is a file" in result.stderr
    assert (churn.parent / "a-file").read_text() == "not a folder\n"


# --- render --out ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "args", [["--env", "dev", "--out", "a-file"], ["--all", "--out", "a-file"],
             ["--env", "dev", "--out", "a-file/below"]],
)  # fmt: skip
def test_render_out_on_a_file_is_a_clear_error(churn: Path, monkeypatch, args):
    monkeypatch.chdir(churn.parent)
    Path("a-file").write_text("mine\n")
    result = run("render", "-f", str(churn), *args)
    assert result.exit_code == 1, result.output
    assert "cannot write the Pulumi project to a-file" in result.stderr
    assert "a-file is a file, not a folder" in result.stderr
    assert Path("a-file").read_text() == "mine\n"


# --- -f on what is not a file ----------------------------------------------------------------


def test_spec_on_a_named_pipe_is_refused_without_waiting(tmp_path: Path):
    pipe = tmp_path / "spec.fifo"
    os.mkfifo(pipe)
    # A subprocess, so that a regression hangs it rather than the test run.
    done = subprocess.run(
        [sys.executable, "-m", "mlinfra.cli.main", "validate", "-f", str(pipe)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1, done.stderr
    assert f"error: {pipe} is a named pipe, not a file" in done.stderr


@pytest.mark.parametrize(
    ("path", "kind"), [("/dev/null", "a character device"), ("/dev/zero", "a character device")]
)
@pytest.mark.parametrize("name", ["validate", "render", "plan", "audit"])
def test_spec_on_a_device_or_directory_is_refused(tmp_path: Path, name, path, kind):
    for where, what in ((path, kind), (str(tmp_path), "a directory")):
        args = [name, "-f", where] + (["--env", "local"] if name in ("render", "plan") else [])
        result = run(*args)
        assert result.exit_code == 1, result.output
        assert f"{where} is {what}, not a file" in result.output


def test_an_unreadable_spec_is_refused(churn: Path, monkeypatch):
    if os.geteuid() != 0:
        churn.chmod(0)
    else:  # root reads any file: make opening it fail as it does for everyone else
        real_open = os.open

        def refusing_open(path, *args, **kwargs):
            if Path(path) == churn:
                raise PermissionError(13, "Permission denied", str(path))
            return real_open(path, *args, **kwargs)

        monkeypatch.setattr(os, "open", refusing_open)
    result = run("plan", "--env", "local", "-f", str(churn))
    assert result.exit_code == 1
    assert f"{churn} cannot be read: Permission denied" in result.output


# --- state files -----------------------------------------------------------------------------


def write_state(spec: Path, resources: dict, text: str | None = None) -> Path:
    folder = spec.parent / ".mlinfra" / "state"
    folder.mkdir(parents=True, exist_ok=True)
    document = {
        "format_version": 1,
        "project": "churn",
        "environment": "local",
        "serial": 1,
        "lineage": "0f7c4c9e-0000-4000-8000-000000000000",
        "resources": resources,
    }
    path = folder / "local.json"
    path.write_text(text if text is not None else json.dumps(document))
    return path


@pytest.mark.parametrize("depth", [101, 100_000])
def test_a_deeply_nested_state_file_is_refused(churn: Path, depth: int):
    nested = "[" * depth + "]" * depth
    head = '{"format_version": 1, "project": "churn", "environment": "local", "serial": 1, '
    text = head + '"lineage": "x", "resources": {"model.a": {"type": "local.Model", '
    path = write_state(churn, {}, text + f'"properties": {nested}}}}}}}')
    for name in STATEFUL:
        result = run(*command(name, churn))
        assert result.exit_code == 1, (name, result.output)
        assert f"{path}: the state file nests lists and maps more than 100 deep" in result.stderr
    assert path.read_text().endswith("]" * 10 + "}}}")  # left as it was


def test_a_nested_state_within_the_limit_is_read(churn: Path):
    nested = "[" * 90 + "]" * 90
    write_state(churn, {"model.gone": {"type": "local.Model", "properties": json.loads(nested)}})
    result = run("plan", "--env", "local", "-f", str(churn))
    assert result.exit_code == 0, result.output
    assert "- model.gone" in result.stdout


def test_a_state_resource_of_an_unknown_type_is_refused_by_plan_and_apply(churn: Path):
    path = write_state(
        churn,
        {
            "model.zzz": {"type": "local.Bogus", "properties": {}, "inputs": {"X": 1}},
            "endpoint.churn-api": {"type": "aws.sagemaker.Endpoint", "properties": {}},
        },
    )
    before = path.read_text()
    for name in ("plan", "apply", "destroy", "refresh"):
        result = run(*command(name, churn))
        assert result.exit_code == 1, (name, result.output)
        assert "records resources of types the local engine does not know: model.zzz " in (
            result.stderr
        )
        assert "(local.Bogus), endpoint.churn-api (aws.sagemaker.Endpoint)" in result.stderr
        assert "restore it from its .backup" in result.stderr
    assert path.read_text() == before
    assert not (churn.parent / ".mlinfra" / "emulator").exists()  # none was started


def test_output_shows_no_name_for_a_state_whose_outputs_hold_no_text(churn: Path):
    # Found by the property test: a name or ARN that is not text (a state edited by hand)
    # made `output` fail inside its table.
    write_state(
        churn,
        {
            "endpoint.churn-api": {
                "type": "local.Endpoint",
                "properties": {},
                "outputs": {"name": {"concat": ["x"]}, "arn": 7},
            },
            "model.churn-model": {
                "type": "local.Model",
                "properties": {},
                "outputs": {"name": "m"},
            },
        },
    )
    result = run("output", "--env", "local", "-f", str(churn))
    assert result.exit_code == 0, result.output
    assert "│ endpoint.churn-api │      │" in result.stdout
    document = json.loads(run("output", "--env", "local", "-f", str(churn), "--json").stdout)
    endpoint = document["components"]["endpoint.churn-api"]
    assert endpoint["name"] is None and "arn" not in endpoint
    assert document["components"]["model.churn-model"]["name"] == "m"


# --- locks -----------------------------------------------------------------------------------


def write_lock(spec: Path, pid, age: float = 0.0) -> Path:
    import socket

    path = spec.parent / ".mlinfra" / "state" / "local.lock"
    path.parent.mkdir(parents=True, exist_ok=True)
    holder = {"pid": pid, "host": socket.gethostname(), "since": "x", "command": "c", "id": "i"}
    path.write_text(json.dumps(holder) if not isinstance(pid, str) else pid)
    if age:
        stamp = time.time() - age
        os.utime(path, (stamp, stamp))
    return path


@pytest.mark.parametrize("pid", [2**64, 2**31, -(2**70), 1.5, "1e400", True])
def test_a_lock_naming_no_possible_process_is_unreadable_not_a_crash(churn: Path, pid):
    if pid == "1e400":
        pid = '{"pid": 1e400, "host": "h", "since": "x", "command": "c", "id": "i"}'
    path = write_lock(churn, pid)
    for name in ("apply", "destroy", "refresh"):
        result = run(*command(name, churn))
        assert result.exit_code == 1, (name, result.output)
        assert "the state is locked by an unknown holder (the lock is unreadable)" in (
            result.stderr
        )
    assert path.exists()


def test_an_old_unreadable_lock_is_taken_over(churn: Path):
    path = write_lock(churn, 2**64, age=60)
    result = run(*command("refresh", churn))
    # The lock is taken over; refresh then needs the emulator, which is not running.
    assert result.exit_code == 1
    assert "no emulator is running" in result.stderr
    assert not path.exists()


def test_a_deeply_nested_lock_is_unreadable(churn: Path):
    write_lock(churn, "[" * 100_000 + "]" * 100_000)
    result = run(*command("refresh", churn))
    assert result.exit_code == 1
    assert "the lock is unreadable" in result.stderr


# --- --lock-timeout --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("10s", 10), ("2m", 120), ("1h", 3600), ("1h30m", 5400), ("1d12h", 129600), ("30", 30),
     ("2.5", 2.5), ("0", 0), ("0s", 0), (" 5s ", 5)],
)  # fmt: skip
def test_lock_timeout_takes_seconds_or_durations(text: str, seconds: float):
    assert Duration().convert(text, None, None) == seconds


LOCKING = [
    ["apply", "--env", "local"],
    ["destroy", "--env", "local"],
    ["refresh", "--env", "local"],
    ["preview", "up"],
    ["preview", "down"],
    ["preview", "gc"],
]


@pytest.mark.parametrize("args", LOCKING, ids=lambda a: " ".join(a[:2]))
@pytest.mark.parametrize("value", ["abc", "-1", "1e5", "10x", "1m1h", "", "inf", "9" * 400])
def test_a_bad_lock_timeout_is_a_usage_error_naming_the_forms(churn: Path, args, value):
    result = run(*args, "-f", str(churn), "--lock-timeout", value)
    # These commands exit 1 on every usage error (see ExitOneOnUsageError).
    assert result.exit_code == 1, result.output
    assert "Invalid value for '--lock-timeout'" in result.stderr
    assert "seconds (30) or a duration such as 10s, 2m, 1h or 1h30m" in result.stderr


def test_lock_timeout_waits_for_the_holder_as_long_as_it_says(churn: Path):
    write_lock(churn, os.getpid())  # held by a live process: this one
    started = time.monotonic()
    result = run(*command("refresh", churn, "--lock-timeout", "1s"))
    waited = time.monotonic() - started
    assert result.exit_code == 1
    assert "after waiting 1s" in result.stderr
    assert waited >= 1.0


# --- featurestore ingest ---------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["named pipe", "device", "directory"])
def test_ingesting_what_is_not_a_file_is_refused_without_reading_it(churn: Path, kind: str):
    from mlinfra.emulator import process

    # A run file naming this (live) process: the CLI takes the emulator to be running, and
    # must refuse the source before sending anything to it.
    state_dir = process.state_dir_of(churn)
    state_dir.mkdir(parents=True)
    status = process.Status("http://127.0.0.1:9", os.getpid(), 9, str(state_dir), "", "")
    (state_dir / process.RUN_FILE).write_text(
        json.dumps({"format": process.FORMAT_VERSION, **status.to_json()})
    )
    source = {"named pipe": churn.parent / "rows.fifo", "device": Path("/dev/zero")}.get(
        kind, churn.parent / "data"
    )
    if kind == "named pipe":
        os.mkfifo(source)
    args = ["featurestore", "ingest", "customers", "--env", "local", "-f", str(churn)]
    result = run(*args, "--source", str(source))
    assert result.exit_code == 1, result.output
    assert f"{source} is not a file" in result.stderr
