"""Benchmark: what CloudWatch metric collection costs InvokeEndpoint's throughput.

Run it as `.venv/bin/python benchmarks/metrics_bench.py` (about a minute and a half). A
measurement to read, not a timed unit test: nothing here fails on a slow number.

Two emulators serve the same scikit-learn model (`serving_bench.fit_model`, StandardScaler +
LogisticRegression on churn-like data, saved with joblib), each in its own process started by
this script (`--serve`), on 127.0.0.1: one records SageMaker's six per-minute metrics on every
invocation, as the emulator always does, the other is started with `metrics=False` and records
none. Everything else is the same code path, and requests are SigV4-signed and checked.

Then, in one interleaved run, the same client (`serving_bench.run_threads`: Python threads
with keep-alive `http.client` connections, one signed CSV body replayed) drives each for
`--seconds` at `--concurrency`, alternating which goes first, for `--rounds` rounds (after a
warm-up of each); medians over the rounds. Finally it checks the metrics were recorded on one
and not on the other (GetMetricStatistics through boto3).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import joblib
from serving_bench import FEATURES, churn_frame, deploy, fit_model, http_caller, run_threads

from mlinfra.emulator.access import Access

BENCH = Path(__file__).resolve()


def serve(root: Path, metrics: bool) -> None:
    """The `--serve` child: an emulator for `root`; prints its URL, serves until stdin ends."""
    from mlinfra.emulator.server import EmulatorServer

    server = EmulatorServer(root, root / ".state", 0, metrics=metrics)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    print(server.url, flush=True)
    sys.stdin.read()  # the parent closes it, or dies
    server.shutdown()
    server.server_close()


@contextlib.contextmanager
def emulator(root: Path, metrics: bool) -> Iterator[Access]:
    child = subprocess.Popen(  # noqa: S603 - this script, with our interpreter
        [sys.executable, str(BENCH), "--serve", str(root), "--metrics", "on" if metrics else "off"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        url = child.stdout.readline().strip() if child.stdout else ""
        if not url:
            sys.exit("the emulator did not start")
        yield Access.for_state(url, root / ".state")
    finally:
        if child.stdin:
            child.stdin.close()
        try:
            child.wait(30)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()


def caller(access: Access, body: bytes):
    path = "/endpoints/bench/invocations"
    headers = access.signed_headers("POST", path, body, {"Content-Type": "text/csv"})
    port = int(access.url.rsplit(":", 1)[1])
    return http_caller(port, path, body, headers)


def recorded(access: Access) -> float:
    """How many invocations the emulator's CloudWatch counted."""
    cloudwatch = access.client("cloudwatch")
    now = datetime.now(UTC).timestamp()
    points = cloudwatch.get_metric_statistics(
        Namespace="AWS/SageMaker",
        MetricName="Invocations",
        Dimensions=[
            {"Name": "EndpointName", "Value": "bench"},
            {"Name": "VariantName", "Value": "AllTraffic"},
        ],
        StartTime=now - 3600,
        EndTime=now + 120,
        Period=3600,
        Statistics=["Sum"],
    )["Datapoints"]
    return sum(p["Sum"] for p in points)


def recording_cost(calls: int = 200_000) -> float:
    """Microseconds one invocation's metrics cost, in this process (what the invoke path adds,
    without the noise of a server on a shared machine): `Metrics.record_invocation`, timed."""
    import time

    from mlinfra.emulator.kit.clock import Clock
    from mlinfra.emulator.services.cloudwatch.metrics import Metrics
    from mlinfra.emulator.store import Store

    with tempfile.TemporaryDirectory() as folder:
        store = Store(Path(folder) / "s.sqlite3")
        metrics = Metrics(store, Clock())
        record = metrics.record_invocation
        began = time.perf_counter()
        for _ in range(calls):
            record("bench", "AllTraffic", 0.0004, 0.0001, 2)
        elapsed = time.perf_counter() - began
        store.close()
    return elapsed / calls * 1e6


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--serve", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--metrics", choices=("on", "off"), default="on", help=argparse.SUPPRESS)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=6.0)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--instances", type=int, default=2)
    args = parser.parse_args(argv)
    if args.serve:
        serve(args.serve, args.metrics == "on")
        return

    work = Path(tempfile.mkdtemp(prefix="metrics-bench-"))
    try:
        model_dir = work / "model"
        model_dir.mkdir()
        joblib.dump(fit_model("logreg", 1), model_dir / "model.joblib")
        row = churn_frame(1, 2)[FEATURES]
        body = row.to_csv(index=False, header=False).encode()
        results: dict[str, list[dict]] = {"on": [], "off": []}
        with contextlib.ExitStack() as stack:
            servers = {}
            for mode in ("on", "off"):
                root = work / mode
                root.mkdir()
                shutil.copytree(model_dir, root / "model")
                access = stack.enter_context(emulator(root, mode == "on"))
                deploy(access, "bench", root / "model", args.instances)
                servers[mode] = access
            callers = {mode: caller(access, body) for mode, access in servers.items()}
            for mode in ("on", "off"):  # warm-up
                run_threads(callers[mode], args.concurrency, 2.0)
            for index in range(args.rounds):
                order = ("on", "off") if index % 2 == 0 else ("off", "on")
                for mode in order:
                    results[mode].append(run_threads(callers[mode], args.concurrency, args.seconds))
            counted = {mode: recorded(access) for mode, access in servers.items()}
    finally:
        shutil.rmtree(work, ignore_errors=True)

    print(f"# InvokeEndpoint with and without metric collection ({datetime.now(UTC):%Y-%m-%d})")
    print(
        f"machine: {platform.machine()}, {platform.python_version()}; rounds {args.rounds} x "
        f"{args.seconds:g} s, concurrency {args.concurrency}, {args.instances} instances"
    )
    print("| metrics | requests/s (median) | p50 ms | p99 ms | errors | Invocations counted |")
    print("|---|---:|---:|---:|---:|---:|")
    medians = {}
    for mode in ("on", "off"):
        runs = results[mode]
        medians[mode] = statistics.median(r["rps"] for r in runs)
        print(
            f"| {mode} | {medians[mode]:.0f} | "
            f"{statistics.median(r['p50_ms'] for r in runs):.2f} | "
            f"{statistics.median(r['p99_ms'] for r in runs):.2f} | "
            f"{sum(r['errors'] for r in runs)} | {counted[mode]:.0f} |"
        )
    cost = (medians["off"] - medians["on"]) / medians["off"] * 100
    print(f"\nthroughput cost of collection: {cost:.1f}% (aim: under 5%)")
    micros = recording_cost()
    request = 1e6 / medians["off"] * args.concurrency  # one request's latency, on average
    print(
        f"record_invocation: {micros:.2f} us a call, {micros / request * 100:.3f}% of a "
        f"request's {request:.0f} us latency (metrics off)"
    )
    print(
        "per-round requests/s:",
        json.dumps({m: [round(r["rps"]) for r in results[m]] for m in results}),
    )


if __name__ == "__main__":
    main()
