"""`mlinfra emulator start|stop|status`: real detached processes, one per spec folder."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from pathlib import Path

import boto3
import pytest
import wire

from mlinfra.emulator.access import Access
from mlinfra.emulator.process import _alive

ROLE = "arn:aws:iam::123456789012:role/emulator"


def mlinfra(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mlinfra.cli.main", *args],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=cwd,
    )


def status_of(folder: Path) -> dict:
    result = mlinfra("emulator", "status", "-f", str(folder / "mlinfra.yaml"), "--json")
    return json.loads(result.stdout)


@pytest.fixture()
def folders(tmp_path: Path):
    made: list[Path] = []

    def make(name: str) -> Path:
        folder = tmp_path / name
        folder.mkdir()
        made.append(folder)
        return folder

    yield make
    for folder in made:  # never leave an emulator behind, whatever the test did
        mlinfra("emulator", "stop", "-f", str(folder / "mlinfra.yaml"))


def start(folder: Path) -> str:
    result = mlinfra("emulator", "start", "-f", str(folder / "mlinfra.yaml"))
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def sagemaker(folder: Path, service: str = "sagemaker"):
    """A boto3 client of the emulator running for `folder`, with the credentials it made."""
    return Access.for_spec(folder / "mlinfra.yaml").client(service)


def test_start_picks_a_free_port_and_status_reports_it(folders):
    folder = folders("a")
    url = start(folder)
    assert url.startswith("http://127.0.0.1:")
    status = status_of(folder)
    assert status["running"] is True
    assert status["url"] == url
    assert status["port"] == int(url.rsplit(":", 1)[1])
    assert status["state_dir"] == str(folder / ".mlinfra" / "emulator")
    assert status["log_file"] == str(folder / ".mlinfra" / "emulator" / "emulator.log")
    assert status["started_at"]
    os.kill(status["pid"], 0)
    assert sagemaker(folder).list_models()["Models"] == []


def test_the_spec_need_not_exist_only_its_folder_matters(folders):
    folder = folders("no-spec")
    assert not (folder / "mlinfra.yaml").exists()
    start(folder)
    assert (folder / ".mlinfra" / "emulator" / "emulator.json").is_file()


def test_a_second_start_in_the_same_folder_is_refused(folders):
    folder = folders("a")
    url = start(folder)
    again = mlinfra("emulator", "start", "-f", str(folder / "mlinfra.yaml"))
    assert again.returncode == 1
    assert "already running" in again.stderr
    assert url in again.stderr


def test_default_spec_is_mlinfra_yaml_in_the_working_directory(folders):
    folder = folders("cwd")
    assert mlinfra("emulator", "start", cwd=folder).returncode == 0
    assert status_of(folder)["running"] is True
    assert mlinfra("emulator", "stop", cwd=folder).returncode == 0


def test_two_folders_run_two_emulators_on_two_ports(folders):
    a, b = folders("a"), folders("b")
    url_a, url_b = start(a), start(b)
    assert url_a != url_b
    sagemaker(a).create_model(
        ModelName="only-in-a", PrimaryContainer={"Image": "x"}, ExecutionRoleArn=ROLE
    )
    assert sagemaker(b).list_models()["Models"] == []


def test_stop_ends_the_process_and_removes_the_run_file(folders):
    folder = folders("a")
    start(folder)
    pid = status_of(folder)["pid"]
    stopped = mlinfra("emulator", "stop", "-f", str(folder / "mlinfra.yaml"))
    assert stopped.returncode == 0
    assert "stopped" in stopped.stdout
    assert not (folder / ".mlinfra" / "emulator" / "emulator.json").exists()
    # Gone or a zombie awaiting its reaper: `_alive` treats both as ended.
    assert not _alive(pid)
    status = mlinfra("emulator", "status", "-f", str(folder / "mlinfra.yaml"), "--json")
    assert status.returncode == 1
    assert json.loads(status.stdout)["running"] is False
    again = mlinfra("emulator", "stop", "-f", str(folder / "mlinfra.yaml"))
    assert again.returncode == 0
    assert "not running" in again.stdout


def test_a_restart_keeps_the_control_plane_state(folders):
    folder = folders("a")
    start(folder)
    sm = sagemaker(folder)
    sm.create_model(ModelName="kept", PrimaryContainer={"Image": "x"}, ExecutionRoleArn=ROLE)
    sm.create_model_package_group(ModelPackageGroupName="churn")
    mlinfra("emulator", "stop", "-f", str(folder / "mlinfra.yaml"))
    start(folder)
    sm = sagemaker(folder)
    assert [m["ModelName"] for m in sm.list_models()["Models"]] == ["kept"]
    assert sm.describe_model_package_group(ModelPackageGroupName="churn")


def test_a_stale_run_file_is_cleaned_up(folders):
    folder = folders("a")
    state = folder / ".mlinfra" / "emulator"
    state.mkdir(parents=True)
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    (state / "emulator.json").write_text(
        json.dumps(
            {
                "format": 1,
                "url": "http://127.0.0.1:1",
                "pid": dead.pid,
                "port": 1,
                "state_dir": str(state),
                "log_file": str(state / "emulator.log"),
                "started_at": "2026-01-01T00:00:00+00:00",
            }
        )
    )
    assert status_of(folder)["running"] is False
    assert not (state / "emulator.json").exists()
    start(folder)
    assert status_of(folder)["running"] is True


def test_the_emulator_listens_on_loopback_only(folders):
    folder = folders("a")
    start(folder)
    status = status_of(folder)
    tcp = Path("/proc/net/tcp")
    if not tcp.exists():
        pytest.skip("needs Linux /proc/net/tcp to read listening sockets")
    listening = []
    for line in tcp.read_text().splitlines()[1:]:
        local, state = line.split()[1], line.split()[3]
        address, port = local.split(":")
        if state == "0A" and int(port, 16) == status["port"]:
            listening.append(address)
    assert listening == ["0100007F"]  # 127.0.0.1, little-endian hex
    v6 = Path("/proc/net/tcp6")
    if v6.exists():
        ports = [
            int(line.split()[1].rsplit(":", 1)[1], 16) for line in v6.read_text().splitlines()[1:]
        ]
        assert status["port"] not in ports


def test_the_state_folder_is_readable_by_its_user_only(folders):
    # Features, captured requests, models and logs are the user's: even a folder made earlier
    # with the usual umask is closed to other users once the emulator starts in it.
    folder = folders("shared")
    state = folder / ".mlinfra" / "emulator"
    state.mkdir(parents=True, mode=0o755)
    state.chmod(0o755)
    start(folder)
    assert state.stat().st_mode & 0o777 == 0o700


def test_start_on_a_taken_port_fails_clearly(folders):
    a, b = folders("a"), folders("b")
    url = start(a)
    port = url.rsplit(":", 1)[1]
    result = mlinfra("emulator", "start", "-f", str(b / "mlinfra.yaml"), "--port", port)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert "exited" in result.stderr or "listen" in result.stderr


def test_a_restart_brings_in_service_endpoints_back(folders):
    import joblib
    import numpy as np
    from sklearn.linear_model import LogisticRegression

    folder = folders("a")
    rng = np.random.default_rng(0)
    x = rng.normal(size=(50, 2))
    (folder / "model").mkdir()
    joblib.dump(
        LogisticRegression().fit(x, (x[:, 0] > 0).astype(int)), folder / "model" / "model.joblib"
    )
    start(folder)
    sm = sagemaker(folder)
    # A relative ModelDataUrl is relative to the spec's folder.
    sm.create_model(
        ModelName="m",
        PrimaryContainer={"Image": "x", "ModelDataUrl": "model"},
        ExecutionRoleArn=ROLE,
    )
    sm.create_endpoint_config(
        EndpointConfigName="cfg",
        ProductionVariants=[
            {"VariantName": "AllTraffic", "ModelName": "m", "InitialInstanceCount": 1}
        ],
    )
    sm.create_endpoint(EndpointName="api", EndpointConfigName="cfg")
    assert sm.describe_endpoint(EndpointName="api")["EndpointStatus"] == "InService"
    mlinfra("emulator", "stop", "-f", str(folder / "mlinfra.yaml"))
    start(folder)
    # The credentials made at the first start are still the emulator's after a restart.
    runtime = sagemaker(folder, "sagemaker-runtime")
    answer = runtime.invoke_endpoint(EndpointName="api", Body=b"1.0,0.0", ContentType="text/csv")
    assert answer["InvokedProductionVariant"] == "AllTraffic"
    assert float(answer["Body"].read().decode().strip()) > 0.5


def test_foreground_prints_the_url_and_stops_cleanly_on_ctrl_c(folders):
    import signal

    folder = folders("fg")
    child = subprocess.Popen(
        [sys.executable, "-m", "mlinfra.cli.main", "emulator", "start", "--foreground"],
        cwd=folder,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        url = child.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:")
        assert status_of(folder)["url"] == url
        child.send_signal(signal.SIGINT)
        assert child.wait(timeout=20) == 0
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    assert not (folder / ".mlinfra" / "emulator" / "emulator.json").exists()


# --- only its user: the detached process -------------------------------------------------


def test_the_detached_emulator_refuses_a_rebound_host_and_unsigned_requests(folders):
    folder = folders("a")
    port = int(start(folder).rsplit(":", 1)[1])
    access = Access.for_spec(folder / "mlinfra.yaml")
    body = b'{"ModelPackageGroupName": "planted"}'
    headers = {
        "Content-Type": "application/x-amz-json-1.1",
        "X-Amz-Target": "SageMaker.CreateModelPackageGroup",
    }
    rebound = Access(f"http://evil.example:{port}", access.credentials)
    status, _, answer = wire.send(
        port,
        wire.request("POST", "/", {"Host": f"evil.example:{port}",
                                   **rebound.signed_headers("POST", "/", body, headers)}, body),
    )  # fmt: skip
    assert (status, wire.error_of(answer)[0]) == (403, "AccessDeniedException")
    unsigned = {"Host": f"127.0.0.1:{port}", **headers}
    status, _, answer = wire.send(port, wire.request("POST", "/", unsigned, body))
    assert (status, wire.error_of(answer)[0]) == (403, "MissingAuthenticationTokenException")
    groups = access.client("sagemaker").list_model_package_groups()
    assert groups["ModelPackageGroupSummaryList"] == []
    assert status_of(folder)["auth"] == "sigv4"
    credentials_file = folder / ".mlinfra" / "emulator" / "credentials.json"
    assert oct(credentials_file.stat().st_mode & 0o777) == "0o600"


ENV_SPEC = """\
version: 1
project: hello
defaults:
  region: eu-west-1
environments:
  local:
    target: local
"""
PLAIN_BOTO3 = """\
import boto3
sagemaker = boto3.client("sagemaker")
sagemaker.create_model_package_group(ModelPackageGroupName="from-env")
groups = sagemaker.list_model_package_groups()["ModelPackageGroupSummaryList"]
runtime = boto3.client("sagemaker-runtime")
try:
    runtime.invoke_endpoint(EndpointName="none", Body=b"1", ContentType="text/csv")
except runtime.exceptions.ValidationError as error:
    print("runtime:", error.response["Error"]["Message"])
store = boto3.client("sagemaker-featurestore-runtime")
try:
    store.get_record(FeatureGroupName="none", RecordIdentifierValueAsString="1")
except store.exceptions.ResourceNotFound as error:
    print("featurestore:", error.response["Error"]["Code"])
print("groups:", [g["ModelPackageGroupArn"] for g in groups])
"""


def test_emulator_env_is_all_plain_boto3_needs(folders):
    folder = folders("a")
    (folder / "mlinfra.yaml").write_text(ENV_SPEC)
    url = start(folder)
    result = mlinfra("emulator", "env", "-f", str(folder / "mlinfra.yaml"), "--format", "json")
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    variables = document["set"]
    assert set(variables) == {
        "AWS_ENDPOINT_URL_SAGEMAKER",
        "AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME",
        "AWS_ENDPOINT_URL_SAGEMAKER_FEATURESTORE_RUNTIME",
        "AWS_ENDPOINT_URL_CLOUDWATCH",
        "AWS_ENDPOINT_URL_APPLICATION_AUTO_SCALING",
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_DEFAULT_REGION",
        "AWS_REGION",
    }
    assert "AWS_SESSION_TOKEN" in document["unset"] and "AWS_PROFILE" in document["unset"]
    # Exactly that environment (HOME an empty folder: no ~/.aws to fall back on).
    (folder / "home").mkdir()
    run = subprocess.run(
        [sys.executable, "-c", PLAIN_BOTO3],
        env={**variables, "HOME": str(folder / "home")},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 0, run.stderr
    assert "runtime: Endpoint none of account" in run.stdout
    assert "featurestore: ResourceNotFound" in run.stdout
    # The spec's region, as mlinfra apply names its resources.
    assert "groups: ['arn:aws:sagemaker:eu-west-1:" in run.stdout and "from-env" in run.stdout
    assert variables["AWS_ENDPOINT_URL_SAGEMAKER"] == url


def test_eval_of_emulator_env_overrides_a_shell_set_up_for_aws(folders):
    folder = folders("a")
    start(folder)
    (folder / "home").mkdir()
    stale = {
        "PATH": os.environ["PATH"],
        "HOME": str(folder / "home"),
        "AWS_ACCESS_KEY_ID": "AKIAIOSFODNN7EXAMPLE",
        "AWS_SECRET_ACCESS_KEY": "real-aws-secret",
        "AWS_SESSION_TOKEN": "stale-session-token",
        "AWS_PROFILE": "no-such-profile",
        "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS": "true",
        "AWS_ENDPOINT_URL": "https://sagemaker.example.invalid",
    }
    command = (
        f'eval "$({shlex.quote(sys.executable)} -m mlinfra.cli.main emulator env -f '
        f'{shlex.quote(str(folder / "mlinfra.yaml"))})" && '
        f"{shlex.quote(sys.executable)} -c "
        + shlex.quote(
            "import boto3; print(boto3.client('sagemaker').list_models()['Models'], "
            "boto3.client('cloudwatch').list_metrics()['Metrics'], "
            "boto3.client('application-autoscaling').describe_scalable_targets("
            "ServiceNamespace='sagemaker')['ScalableTargets'])"
        )
    )
    run = subprocess.run(
        ["sh", "-c", command], env=stale, capture_output=True, text=True, timeout=60
    )
    assert run.returncode == 0, run.stderr
    # SageMaker, CloudWatch (CBOR, signed for `monitoring`) and Application Auto Scaling, all
    # reached through the variables `emulator env` sets.
    assert run.stdout.strip() == "[] [] []"


def test_emulator_env_quotes_its_values_for_the_shell(folders):
    folder = folders("it's here")
    url = start(folder)
    result = mlinfra("emulator", "env", "-f", str(folder / "mlinfra.yaml"))
    assert result.returncode == 0, result.stderr
    exports = [line for line in result.stdout.splitlines() if line.startswith("export ")]
    assert f"export AWS_ENDPOINT_URL_SAGEMAKER={url}" in exports
    assert "export AWS_DEFAULT_REGION=us-east-1" in exports  # no spec: the default
    assert result.stdout.splitlines()[-1].startswith("unset AWS_SESSION_TOKEN ")
    for line in exports:
        name, _, value = line.removeprefix("export ").partition("=")
        assert shlex.split(value) == [shlex.split(value)[0]]


def test_emulator_env_without_an_emulator_says_to_start_one(folders):
    folder = folders("a")
    result = mlinfra("emulator", "env", "-f", str(folder / "mlinfra.yaml"))
    assert result.returncode == 1
    assert result.stdout == ""
    assert "no emulator is running" in result.stderr
    assert "mlinfra emulator start" in result.stderr


def test_insecure_mode_says_what_it_opens_and_status_shows_it(folders):
    folder = folders("a")
    spec = str(folder / "mlinfra.yaml")
    result = mlinfra("emulator", "start", "-f", spec, "--insecure-any-credentials")
    assert result.returncode == 0, result.stderr
    assert "--insecure-any-credentials" in result.stderr
    assert "any process or user on this machine can drive it" in result.stderr.lower()
    assert status_of(folder)["auth"] == "insecure-any-credentials"
    shown = mlinfra("emulator", "status", "-f", spec)
    assert "auth:  none (--insecure-any-credentials)" in shown.stdout
    url = result.stdout.strip()
    anyone = boto3.client(
        "sagemaker",
        endpoint_url=url,
        region_name="us-east-1",
        aws_access_key_id="anything",
        aws_secret_access_key="at-all",
    )
    assert anyone.list_models()["Models"] == []
    # Web pages are still refused.
    port = int(url.rsplit(":", 1)[1])
    status, _, answer = wire.send(
        port, wire.request("GET", "/_mlinfra/health", {"Host": f"evil.example:{port}"})
    )
    assert (status, wire.error_of(answer)[0]) == (403, "AccessDeniedException")
