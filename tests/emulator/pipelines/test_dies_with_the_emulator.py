"""The processes an emulator starts die with it, however it ends, and say so afterwards.

A real detached emulator (`process.start`) runs a pipeline step that forks, and serves an
endpoint; SIGKILLed, it leaves nothing running and nothing writing into the run, and after a
restart the interrupted execution and step read Failed with the reason. Stopped (SIGTERM),
it stops them too.
"""

from __future__ import annotations

import os
import shutil
import signal
import time
from pathlib import Path

import pytest
from pipeline_project import processing_definition

from mlinfra.emulator import process
from mlinfra.emulator.access import Access
from mlinfra.emulator.process import _alive

ROLE = "arn:aws:iam::123456789012:role/emulator"

pytestmark = pytest.mark.skipif(
    not Path("/proc/self/stat").exists(), reason="walks /proc for the emulator's descendants"
)

# The step forks a grandchild (itself, in "child" mode); both append to a file of the run
# every 50 ms until killed, and the step writes both pids.
STEP = """\
import os, subprocess, sys, time

def tick(label):
    while True:
        with open(os.environ["TICKS"], "a") as f:
            f.write(label + "\\n")
        time.sleep(0.05)

if sys.argv[1:] == ["child"]:
    tick("child")
child = subprocess.Popen([sys.executable, __file__, "child"])
with open(os.environ["PIDS"] + ".tmp", "w") as f:
    f.write(f"{os.getpid()} {child.pid}")
os.replace(os.environ["PIDS"] + ".tmp", os.environ["PIDS"])
tick("step")
"""


def descendants(root: int) -> set[int]:
    """Every process below `root`, from /proc's parent links."""
    parents = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
    found, frontier = set(), {root}
    while frontier:
        frontier = {pid for pid, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return found


def wait_for(check, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def definition(run_folder: Path) -> str:
    environment = {"TICKS": str(run_folder / "ticks.txt"), "PIDS": str(run_folder / "pids")}
    return processing_definition(environment, step="forever")


def clients(folder: Path):
    """The SageMaker and runtime clients of the emulator running for `folder`."""
    access = Access.for_spec(folder / "mlinfra.yaml")
    return access.client("sagemaker"), access.client("sagemaker-runtime")


@pytest.fixture()
def project(tmp_path: Path):
    """A folder with the forking step; its run folder. Stops the emulator, and kills what
    it started should a test fail, after the test."""
    (tmp_path / "steps").mkdir()
    (tmp_path / "steps" / "step.py").write_text(STEP)
    (tmp_path / "run").mkdir()
    started: list[int] = []  # filled by the test with what the emulator started
    yield tmp_path, started
    process.stop(tmp_path / "mlinfra.yaml")
    for pid in started:  # only what this test's emulator started
        if _alive(pid):
            os.kill(pid, signal.SIGKILL)


def run_forever(folder: Path, run_folder: Path) -> tuple[str, set[int]]:
    """Start the forking step; its execution ARN, once the step and its child are running."""
    sm, _ = clients(folder)
    sm.create_pipeline(PipelineName="p", RoleArn=ROLE, PipelineDefinition=definition(run_folder))
    arn = sm.start_pipeline_execution(PipelineName="p")["PipelineExecutionArn"]
    pids = wait_for(
        lambda: (
            (run_folder / "pids").exists()
            and {int(p) for p in (run_folder / "pids").read_text().split()}
        ),
        60,
        "the step to start",
    )
    return arn, pids


def test_a_sigkilled_emulator_takes_its_steps_workers_and_their_children_with_it(
    project, trained_model
):
    folder, started = project
    (folder / "model").mkdir()
    shutil.copy2(trained_model / "model.joblib", folder / "model" / "model.joblib")
    emulator = process.start(folder / "mlinfra.yaml")
    sm, _ = clients(folder)
    # A served endpoint: its worker is one more process that must die with the emulator.
    sm.create_model(ModelName="m", PrimaryContainer={"Image": "x", "ModelDataUrl": "model"},
                    ExecutionRoleArn=ROLE)  # fmt: skip
    sm.create_endpoint_config(
        EndpointConfigName="c", ProductionVariants=[{"VariantName": "All", "ModelName": "m"}]
    )
    sm.create_endpoint(EndpointName="api", EndpointConfigName="c")
    assert sm.describe_endpoint(EndpointName="api")["EndpointStatus"] == "InService"
    arn, step_pids = run_forever(folder, folder / "run")
    started.extend(descendants(emulator.pid))
    assert step_pids <= set(started) and len(started) >= 4  # + the supervisor, the worker

    os.kill(emulator.pid, signal.SIGKILL)

    wait_for(lambda: not any(_alive(pid) for pid in started), 10, "the processes to die")
    ticks = folder / "run" / "ticks.txt"
    size = ticks.stat().st_size
    time.sleep(0.5)
    assert ticks.stat().st_size == size  # nothing writes into the run any more

    process.start(folder / "mlinfra.yaml")
    sm, _ = clients(folder)
    execution = sm.describe_pipeline_execution(PipelineExecutionArn=arn)
    assert execution["PipelineExecutionStatus"] == "Failed"
    assert execution["FailureReason"] == "The emulator stopped while this execution ran."
    (step,) = sm.list_pipeline_execution_steps(PipelineExecutionArn=arn)["PipelineExecutionSteps"]
    assert step["StepStatus"] == "Failed"
    assert step["FailureReason"] == "The emulator stopped while this step ran."


def test_a_stopped_emulator_stops_its_steps_first(project):
    folder, started = project
    emulator = process.start(folder / "mlinfra.yaml")
    run_forever(folder, folder / "run")
    started.extend(descendants(emulator.pid))

    assert process.stop(folder / "mlinfra.yaml") is not None  # SIGTERM: a clean shutdown

    wait_for(lambda: not any(_alive(pid) for pid in started), 10, "the processes to die")
