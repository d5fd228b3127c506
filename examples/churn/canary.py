"""The canary chapter of `make run`: new model versions for the churn endpoint, and traffic
while they deploy. Plain boto3, pointed at the emulator by the environment that
`mlinfra emulator env` prints (as send_traffic.py is):

    eval "$(mlinfra emulator env -f examples/churn/mlinfra.yaml)"
    python examples/churn/canary.py register            # a second version, served as is
    python examples/churn/canary.py register --slow     # one that answers a second late
    python examples/churn/canary.py traffic             # until the next deployment ends
    python examples/churn/canary.py status              # the endpoint and its last deployment
    python examples/churn/canary.py reject              # the newest version: Rejected

A registered version is approved at once (the local environment's `approval: auto`), so the
next `mlinfra apply` deploys it the way the spec's `deployment` says: a canary.
"""

from __future__ import annotations

import argparse
import random
import sys
import threading
import time
from pathlib import Path

import boto3

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))  # generate_data.py, beside this file

from generate_data import generate_baseline  # noqa: E402

ENDPOINT = "churn-local-churn-api"
GROUP = "churn-local-churn"
SLOW = {
    "SAGEMAKER_PROGRAM": "slow_serving.py",
    "SAGEMAKER_SUBMIT_DIRECTORY": "file:canary/slow_serving.py",
}


def newest(sagemaker, status: str | None = "Approved") -> dict:
    """The group's newest version (of that approval status)."""
    request = {"ModelPackageGroupName": GROUP, "SortBy": "CreationTime",
               "SortOrder": "Descending", "MaxResults": 1}  # fmt: skip
    if status:
        request["ModelApprovalStatus"] = status
    found = sagemaker.list_model_packages(**request)["ModelPackageSummaryList"]
    if not found:
        sys.exit(f"{GROUP} has no {status or ''} version: run the training pipeline first")
    return sagemaker.describe_model_package(ModelPackageName=found[0]["ModelPackageArn"])


def register(sagemaker, slow: bool) -> None:
    """A new version of the serving model: its container, slowed down with --slow."""
    serving = newest(sagemaker)
    container = dict(serving["InferenceSpecification"]["Containers"][0])
    environment = dict(container.get("Environment") or {})
    if slow:
        environment.update(SLOW)
    container["Environment"] = environment
    for generated in ("ImageDigest", "ModelDataETag"):
        container.pop(generated, None)
    what = "slow (a second a prediction)" if slow else "served as the last one"
    arn = sagemaker.create_model_package(
        ModelPackageGroupName=GROUP,
        ModelPackageDescription=f"canary chapter: {what}",
        InferenceSpecification={**serving["InferenceSpecification"], "Containers": [container]},
        ModelApprovalStatus="Approved",
    )["ModelPackageArn"]
    print(f"registered and approved {arn}: {what}")


def reject(sagemaker) -> None:
    version = newest(sagemaker)
    sagemaker.update_model_package(
        ModelPackageArn=version["ModelPackageArn"],
        ModelApprovalStatus="Rejected",
        ApprovalDescription="rolled back: its canary tripped the endpoint's latency alarm",
    )
    print(f"rejected {version['ModelPackageArn']}; the newest approved version serves")


def deployed(sagemaker, stop: threading.Event, seconds: float) -> None:
    """Set `stop` once a deployment of the endpoint has begun and ended, or after `seconds`."""
    deadline = time.monotonic() + seconds
    began = False
    while time.monotonic() < deadline and not stop.is_set():
        status = sagemaker.describe_endpoint(EndpointName=ENDPOINT)["EndpointStatus"]
        began = began or status != "InService"
        if began and status == "InService":
            break
        time.sleep(0.5)
    stop.set()


def traffic(runtime, stop: threading.Event, threads: int, rate: float) -> None:
    """Customers sent until `stop`, on `threads` threads, each at most `rate` a second (as an
    application's steady traffic, not a load test); how many answered, how fast."""
    rows = generate_baseline(200, seed=7)
    lines = [",".join(str(v) for v in row) for row in rows.itertuples(index=False)]
    answered, slow, errors = [], [], []
    started = time.monotonic()

    def send(seed: int) -> None:
        pick = random.Random(seed)  # noqa: S311 - sample data, not security
        due = time.monotonic()
        while not stop.is_set():
            time.sleep(max(0.0, due - time.monotonic()))
            due += 1.0 / rate
            started = time.perf_counter()
            try:
                runtime.invoke_endpoint(
                    EndpointName=ENDPOINT, ContentType="text/csv", Body=pick.choice(lines)
                )
            except runtime.exceptions.ClientError as exc:
                errors.append(exc.response["Error"]["Code"])
                continue
            took = time.perf_counter() - started
            answered.append(took)
            if took > 0.25:
                slow.append(took)

    workers = [threading.Thread(target=send, args=(i,)) for i in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    seconds = time.monotonic() - started
    print(f"traffic: {len(answered)} answered in {seconds:.0f} s, {len(slow)} of them slower "
          f"than 250 ms, {len(errors)} errors")  # fmt: skip


def status(sagemaker) -> None:
    found = sagemaker.describe_endpoint(EndpointName=ENDPOINT)
    print(f"endpoint {ENDPOINT}: {found['EndpointStatus']} on {found['EndpointConfigName']}")
    routing = (found.get("LastDeploymentConfig") or {}).get("BlueGreenUpdatePolicy", {})
    if routing:
        shift = routing["TrafficRoutingConfiguration"]
        print(f"  last deployment: {shift['Type']}, waits {shift['WaitIntervalInSeconds']} s "
              "between steps (of the emulator's clock)")  # fmt: skip
    if found.get("FailureReason"):
        print(f"  rolled back: {found['FailureReason']}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    registering = commands.add_parser("register")
    registering.add_argument("--slow", action="store_true")
    commands.add_parser("reject")
    commands.add_parser("status")
    sending = commands.add_parser("traffic")
    sending.add_argument(
        "--seconds", type=float, default=120.0, help="at most; it stops when a deployment ends"
    )
    sending.add_argument("--threads", type=int, default=1)
    sending.add_argument("--rate", type=float, default=8.0, help="requests a second a thread")
    args = parser.parse_args(argv)
    sagemaker = boto3.client("sagemaker")
    if args.command == "register":
        register(sagemaker, args.slow)
    elif args.command == "reject":
        reject(sagemaker)
    elif args.command == "status":
        status(sagemaker)
    else:
        # Until the endpoint's next deployment has begun and ended (apply runs meanwhile).
        stop = threading.Event()
        watcher = threading.Thread(target=deployed, args=(sagemaker, stop, args.seconds))
        watcher.start()
        traffic(boto3.client("sagemaker-runtime"), stop, args.threads, args.rate)
        watcher.join()
    return 0


if __name__ == "__main__":
    sys.exit(main())
