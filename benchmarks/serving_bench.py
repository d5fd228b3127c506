"""Benchmark: InvokeEndpoint on the mlinfra emulator next to `mlflow models serve`, same model.

Run it as `.venv/bin/python benchmarks/serving_bench.py` after `make bench-peers` (which puts
MLflow in `benchmarks/.peers-venv`, never in the project's venv). These are measurements to
read, not timed unit tests: nothing here fails on a slow number.

1. Makes churn-like data (8 numeric features, a churn label) and fits one scikit-learn model
   in this process: `--model logreg` (StandardScaler + LogisticRegression, the default) or
   `--model forest` (RandomForestClassifier, 100 trees, depth 10).
2. Saves it once, in the peers venv, as an MLflow model (`mlflow.sklearn.save_model`, pickle
   serialisation, `pyfunc_predict_fn="predict_proba"`), and points the emulator's model at the
   very `model.pkl` file MLflow serves: both servers load the same bytes and score with
   `predict_proba`.
3. Starts `mlflow models serve -m DIR --env-manager local -h 127.0.0.1 -w N` from the peers
   venv, and the emulator as a detached subprocess (`mlinfra.emulator.process.start`, what
   `mlinfra emulator start` runs) on 127.0.0.1, deployed through boto3's control plane with
   `InitialInstanceCount=N`: N model processes on each side.
4. Checks both answer the same request with the same probability, then drives both with the
   same client and the same request (`POST` of one CSV body with a header row, `Content-Type:
   text/csv`, no `Accept`), only the path differs (`/invocations`, `/endpoints/NAME/invocations`)
   and the emulator's request carries a SigV4 signature with its credentials, which it checks on
   every request as users run it (signed once per timed run and replayed: a signature is valid
   for 15 minutes, so the client spends nothing on it and the server all it costs). The
   client is `wrk` (C,
   keep-alive connections, fixed concurrency; Debian's `wrk` package) when it is on PATH, else
   Python threads with `http.client` keep-alive connections (`--client python`). Per
   concurrency: a warm-up run, then a timed run, the servers' order alternating per round;
   medians over the rounds. The CPU time the server's processes used is read from /proc.
5. A boto3 `invoke_endpoint` row for the emulator: the call users write, Python threads with a
   client each, at `--boto3-concurrency`.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import math
import os
import pickle
import platform
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

import numpy as np
import pandas as pd

from mlinfra.emulator import process as emulator_process
from mlinfra.emulator.access import Access

BENCH_DIR = Path(__file__).resolve().parent
PEERS_VENV = BENCH_DIR / ".peers-venv"
ROLE = "arn:aws:iam::123456789012:role/benchmark"
FEATURES = [
    "tenure_months",
    "monthly_charges",
    "total_charges",
    "support_calls",
    "contract_months",
    "num_products",
    "age",
    "late_payments",
]
CLK_TCK = os.sysconf("SC_CLK_TCK")

WRK_SCRIPT = r"""
local f = assert(io.open(os.getenv("BENCH_BODY"), "rb"))
wrk.method = "POST"
wrk.body = f:read("*a")
f:close()
wrk.headers["Content-Type"] = "text/csv"
-- The emulator's SigV4 headers, one "Name: value" per line (none for MLflow).
local h = io.open(os.getenv("BENCH_HEADERS"), "rb")
if h then
  for line in h:lines() do
    local name, value = line:match("^([^:]+): (.*)$")
    if name then wrk.headers[name] = value end
  end
  h:close()
end
done = function(summary, latency, requests)
  io.write(string.format(
    'WRK_JSON {"requests": %d, "duration_us": %d, "p50_us": %d, "p99_us": %d, ' ..
    '"status_errors": %d, "socket_errors": %d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    summary.errors.status,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))
end
"""


# --- shared with featurestore_bench.py ------------------------------------------------------


def churn_frame(n: int, seed: int) -> pd.DataFrame:
    """Churn-like customers: the 8 numeric features and a label drawn from a logistic model."""
    rng = np.random.default_rng(seed)
    tenure = rng.integers(1, 73, n)
    monthly = rng.uniform(18, 120, n).round(2)
    frame = pd.DataFrame(
        {
            "tenure_months": tenure,
            "monthly_charges": monthly,
            "total_charges": (tenure * monthly * rng.uniform(0.9, 1.1, n)).round(2),
            "support_calls": rng.poisson(1.5, n),
            "contract_months": rng.choice([1, 12, 24], n),
            "num_products": rng.integers(1, 6, n),
            "age": rng.integers(18, 90, n),
            "late_payments": rng.poisson(0.5, n),
        }
    )
    logit = (
        -1.0
        + 0.6 * frame.support_calls
        - 0.04 * frame.tenure_months
        + 0.01 * frame.monthly_charges
        - 0.05 * frame.contract_months
        + 0.8 * frame.late_payments
    )
    frame["churned"] = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    return frame


def machine() -> str:
    cpu = "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return f"nproc {os.cpu_count()}, CPU {cpu}, Python {platform.python_version()}"


def load_average() -> str:
    return "/".join(f"{x:.2f}" for x in os.getloadavg())


def versions(packages: tuple[str, ...]) -> str:
    return ", ".join(f"{p} {metadata.version(p)}" for p in packages)


def peer_versions(packages: tuple[str, ...]) -> str:
    code = (
        "import sys; from importlib import metadata; "
        "print(', '.join(f'{p} {metadata.version(p)}' for p in sys.argv[1:]))"
    )
    return subprocess.run(
        [str(peer_python()), "-c", code, *packages], capture_output=True, text=True, check=True
    ).stdout.strip()


def peer_python() -> Path:
    python = PEERS_VENV / "bin" / "python"
    if not python.exists():
        sys.exit(f"{python} not found: run `make bench-peers` first")
    return python


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def boto3_client(access: Access, service: str, **config: object):
    """A boto3 client of an emulator, with its credentials (`Access.for_spec`)."""
    from botocore.config import Config

    return access.client(service, config=Config(**config) if config else None)


@contextlib.contextmanager
def emulator(root: Path, insecure: bool = False) -> Iterator[emulator_process.Status]:
    """The emulator as users run it: a detached `python -m mlinfra.emulator` for `root`
    (`insecure`: started with --insecure-any-credentials)."""
    root.mkdir(parents=True, exist_ok=True)
    status = emulator_process.start(root, timeout=60, insecure_any_credentials=insecure)
    try:
        yield status
    finally:
        emulator_process.stop(root)


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of unsorted values."""
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


def process_tree_cpu(pid: int) -> float:
    """CPU seconds (user + system) used so far by `pid` and its live descendants."""
    parents: dict[int, int] = {}
    ticks: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        parents[int(entry.name)] = int(fields[1])
        ticks[int(entry.name)] = int(fields[11]) + int(fields[12])
    tree, frontier = {pid}, [pid]
    while frontier:
        parent = frontier.pop()
        for child, ppid in parents.items():
            if ppid == parent and child not in tree:
                tree.add(child)
                frontier.append(child)
    return sum(ticks.get(p, 0) for p in tree) / CLK_TCK


# --- the model and the servers -------------------------------------------------------------


def fit_model(kind: str, seed: int):
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    data = churn_frame(5000, seed)
    if kind == "logreg":
        model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))
    else:
        model = RandomForestClassifier(n_estimators=100, max_depth=10, random_state=seed)
    return model.fit(data[FEATURES], data["churned"])


def save_mlflow_model(model: object, work: Path) -> Path:
    """The MLflow model directory, written by MLflow itself in the peers venv."""
    source = work / "fitted.pkl"
    source.write_bytes(pickle.dumps(model))
    target = work / "mlflow-model"
    code = (
        "import pickle, sys, mlflow.sklearn\n"
        "model = pickle.loads(open(sys.argv[1], 'rb').read())\n"
        "mlflow.sklearn.save_model(model, sys.argv[2], serialization_format='pickle',\n"
        "                          pyfunc_predict_fn='predict_proba')\n"
    )
    subprocess.run([str(peer_python()), "-c", code, str(source), str(target)], check=True)
    return target


@contextlib.contextmanager
def mlflow_server(model_dir: Path, workers: int, log: Path) -> Iterator[tuple[int, int]]:
    """`mlflow models serve` on 127.0.0.1: yields (port, pid)."""
    port = free_port()
    command = [
        str(PEERS_VENV / "bin" / "mlflow"),
        "models",
        "serve",
        "-m",
        str(model_dir),
        "--env-manager",
        "local",
        "-h",
        "127.0.0.1",
        "-p",
        str(port),
        "-w",
        str(workers),
    ]
    env = {**os.environ, "PATH": f"{PEERS_VENV / 'bin'}:{os.environ['PATH']}"}
    with open(log, "ab") as out:
        child = subprocess.Popen(command, stdout=out, stderr=out, env=env, start_new_session=True)
    try:
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            if child.poll() is not None:
                sys.exit(f"mlflow models serve exited with {child.returncode}; see {log}")
            with contextlib.suppress(OSError, http.client.HTTPException):
                if request("127.0.0.1", port, "GET", "/ping", b"")[0] == 200:
                    break
            time.sleep(0.2)
        else:
            sys.exit(f"mlflow models serve did not answer within 180 s; see {log}")
        yield port, child.pid
    finally:
        # Its workers share its session: end the group we started, and only it.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(child.pid, 15)
        try:
            child.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(child.pid, 9)
            child.wait(5)


def deploy(access: Access, name: str, model_file: Path, instances: int) -> None:
    sm = boto3_client(access, "sagemaker")
    sm.create_model(
        ModelName=name,
        PrimaryContainer={"Image": "sklearn", "ModelDataUrl": str(model_file)},
        ExecutionRoleArn=ROLE,
    )
    sm.create_endpoint_config(
        EndpointConfigName=name,
        ProductionVariants=[
            {
                "VariantName": "AllTraffic",
                "ModelName": name,
                "InitialInstanceCount": instances,
                "InstanceType": "ml.m5.large",
            }
        ],
    )
    sm.create_endpoint(EndpointName=name, EndpointConfigName=name)
    status = sm.describe_endpoint(EndpointName=name)
    if status["EndpointStatus"] != "InService":
        sys.exit(f"endpoint {name} is {status['EndpointStatus']}: {status.get('FailureReason')}")


def request(
    host: str, port: int, method: str, path: str, body: bytes, headers: dict | None = None
) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection(host, port, timeout=30)
    try:
        conn.request(method, path, body=body, headers=headers or {"Content-Type": "text/csv"})
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def signed(access: Access, path: str, body: bytes) -> dict[str, str]:
    """The headers of a CSV POST to the emulator, SigV4-signed now (valid for 15 minutes)."""
    return access.signed_headers("POST", path, body, {"Content-Type": "text/csv"})


def check_same_answer(mlflow_port: int, emulator: Access, path: str, body: bytes) -> str:
    status, mlflow_body = request("127.0.0.1", mlflow_port, "POST", "/invocations", body)
    if status != 200:
        sys.exit(f"mlflow answered {status}: {mlflow_body[:500]!r}")
    port = int(emulator.url.rsplit(":", 1)[1])
    status, ours = request("127.0.0.1", port, "POST", path, body, signed(emulator, path, body))
    if status != 200:
        sys.exit(f"the emulator answered {status}: {ours[:500]!r}")
    theirs = [row[1] for row in json.loads(mlflow_body)["predictions"]]
    mine = [float(line) for line in ours.decode().split()]
    if len(theirs) != len(mine) or any(abs(a - b) > 1e-9 for a, b in zip(theirs, mine)):  # noqa: B905
        sys.exit(f"different answers: mlflow {theirs} vs emulator {mine}")
    return f"mlflow {mlflow_body.decode().strip()} / emulator {ours.decode().strip()}"


# --- the load generators -------------------------------------------------------------------


def run_wrk(
    url: str,
    body_file: Path,
    script: Path,
    concurrency: int,
    seconds: float,
    headers: dict[str, str] | None = None,
) -> dict:
    threads = min(concurrency, 2)
    command = [
        "wrk",
        f"-t{threads}",
        f"-c{concurrency}",
        f"-d{seconds:g}s",
        "--timeout",
        "30s",
        "-s",
        str(script),
        url,
    ]
    headers_file = body_file.with_name("headers.txt")
    headers_file.write_text("".join(f"{k}: {v}\n" for k, v in (headers or {}).items()))
    done = subprocess.run(
        command,
        capture_output=True,
        text=True,
        env={**os.environ, "BENCH_BODY": str(body_file), "BENCH_HEADERS": str(headers_file)},
        check=True,
    )
    line = next(x for x in done.stdout.splitlines() if x.startswith("WRK_JSON "))
    found = json.loads(line[len("WRK_JSON ") :])
    return {
        "requests": found["requests"],
        "rps": found["requests"] / (found["duration_us"] / 1e6),
        "p50_ms": found["p50_us"] / 1000,
        "p99_ms": found["p99_us"] / 1000,
        "errors": found["status_errors"] + found["socket_errors"],
    }


def run_threads(call_factory: Callable[[], Callable[[], bool]], concurrency: int, seconds: float):
    """`concurrency` threads, each calling its own `call()` in a loop until the deadline."""
    latencies: list[list[float]] = [[] for _ in range(concurrency)]
    errors = [0] * concurrency
    calls = [call_factory() for _ in range(concurrency)]
    start_line = threading.Barrier(concurrency + 1)
    deadline = 0.0

    def loop(i: int) -> None:
        call, mine = calls[i], latencies[i]
        start_line.wait()
        clock = time.perf_counter
        while True:
            began = clock()
            if began >= deadline:
                return
            ok = call()
            mine.append(clock() - began)
            if not ok:
                errors[i] += 1

    workers = [threading.Thread(target=loop, args=(i,)) for i in range(concurrency)]
    for worker in workers:
        worker.start()
    began = time.perf_counter()
    deadline = began + seconds
    start_line.wait()
    for worker in workers:
        worker.join()
    elapsed = time.perf_counter() - began
    every = [x for part in latencies for x in part]
    return {
        "requests": len(every),
        "rps": len(every) / elapsed,
        "p50_ms": percentile(every, 50) * 1000,
        "p99_ms": percentile(every, 99) * 1000,
        "errors": sum(errors),
    }


def http_caller(
    port: int, path: str, body: bytes, headers: dict[str, str] | None = None
) -> Callable[[], Callable[[], bool]]:
    headers = headers or {"Content-Type": "text/csv"}

    def factory() -> Callable[[], bool]:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)

        def call() -> bool:
            conn.request("POST", path, body=body, headers=headers)
            response = conn.getresponse()
            response.read()
            return response.status == 200

        return call

    return factory


def boto3_caller(access: Access, endpoint: str, body: bytes) -> Callable[[], Callable[[], bool]]:
    def factory() -> Callable[[], bool]:
        runtime = boto3_client(access, "sagemaker-runtime", retries={"max_attempts": 1})

        def call() -> bool:
            answer = runtime.invoke_endpoint(
                EndpointName=endpoint, Body=body, ContentType="text/csv"
            )
            answer["Body"].read()
            return True

        return call

    return factory


# --- the run --------------------------------------------------------------------------------


def measure(
    target: dict, concurrency: int, args: argparse.Namespace, work: Path
) -> dict:  # one warm-up run, then one timed run, with the server tree's CPU time
    def once(seconds: float) -> dict:
        # The emulator's headers are signed afresh for each run: valid for its 15 minutes.
        access = target.get("access")
        headers = signed(access, target["path"], target["body"]) if access else None
        if args.client == "wrk":
            return run_wrk(
                target["url"], work / "body.csv", work / "bench.lua", concurrency, seconds, headers
            )
        caller = http_caller(target["port"], target["path"], target["body"], headers)
        return run_threads(caller, concurrency, seconds)

    once(args.warmup)
    cpu = process_tree_cpu(target["pid"])
    result = once(args.duration)
    result["cpu_ms_per_request"] = (
        (process_tree_cpu(target["pid"]) - cpu) * 1000 / max(result["requests"], 1)
    )
    return result


def summary_row(name: str, runs: list[dict]) -> dict:
    return {
        "name": name,
        "rps": statistics.median(r["rps"] for r in runs),
        "p50_ms": statistics.median(r["p50_ms"] for r in runs),
        "p99_ms": statistics.median(r["p99_ms"] for r in runs),
        "cpu_ms": statistics.median(r.get("cpu_ms_per_request", float("nan")) for r in runs),
        "requests": sum(r["requests"] for r in runs),
        "errors": sum(r["errors"] for r in runs),
        "runs": len(runs),
    }


def print_tables(results: dict, args: argparse.Namespace) -> None:
    for workers, by_concurrency in results.items():
        print(f"\n### {workers} model process(es) per server\n")
        print(
            "| concurrency | server | req/s | p50 ms | p99 ms | server CPU ms/req | requests "
            "| errors | runs |"
        )
        print("|---:|---|---:|---:|---:|---:|---:|---:|---:|")
        verdicts = []
        for concurrency, rows in by_concurrency.items():
            for row in rows.values():
                cpu = "-" if math.isnan(row["cpu_ms"]) else f"{row['cpu_ms']:.2f}"
                print(
                    f"| {concurrency} | {row['name']} | {row['rps']:,.0f} | {row['p50_ms']:.2f} "
                    f"| {row['p99_ms']:.2f} | {cpu} | {row['requests']:,} | {row['errors']} "
                    f"| {row['runs']} |"
                )
            ours, theirs = rows["emulator"], rows["mlflow"]
            ratio = ours["rps"] / theirs["rps"]
            met = ratio >= 1.5 and ours["p99_ms"] < theirs["p99_ms"]
            verdicts.append(
                f"| {concurrency} | {ratio:.2f}x | {ours['p99_ms']:.2f} vs {theirs['p99_ms']:.2f} "
                f"| {'met' if met else 'NOT met'} |"
            )
        print(
            "\n| concurrency | throughput emulator / mlflow | p99 ms emulator vs mlflow "
            "| aim (>= 1.5x and lower p99) |"
        )
        print("|---:|---:|---:|---|")
        print("\n".join(verdicts))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", choices=("logreg", "forest"), default="logreg")
    parser.add_argument("--concurrency", default="1,8,32", help="comma-separated")
    parser.add_argument("--workers", default="1,2", help="model processes per server, list")
    parser.add_argument("--rows", type=int, default=1, help="CSV rows per request")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per timed run")
    parser.add_argument("--warmup", type=float, default=2.0, help="seconds of warm-up per run")
    parser.add_argument("--rounds", type=int, default=2, help="interleaved rounds")
    parser.add_argument("--client", choices=("wrk", "python"), default=None)
    parser.add_argument("--boto3-concurrency", default="1,8", help="'' for none")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--keep", type=Path, help="work in this folder and keep it")
    args = parser.parse_args(argv)
    if args.client is None:
        args.client = "wrk" if shutil.which("wrk") else "python"
    concurrencies = [int(c) for c in args.concurrency.split(",")]
    worker_counts = [int(w) for w in args.workers.split(",")]
    boto3_concurrencies = [int(c) for c in args.boto3_concurrency.split(",") if c]

    work = args.keep or Path(tempfile.mkdtemp(prefix="serving-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    print(f"# serving_bench {datetime.now(UTC).isoformat(timespec='seconds')}\n")
    print(f"machine: {machine()}, load average {load_average()}")
    print(f"mlinfra side: {versions(('mlinfra', 'scikit-learn', 'pandas', 'numpy', 'boto3'))}")
    print(f"peer side: {peer_versions(('mlflow', 'scikit-learn', 'pandas', 'numpy'))}")
    wrk_version = "-"
    if args.client == "wrk":
        wrk_version = subprocess.run(["wrk", "-v"], capture_output=True, text=True).stdout
        wrk_version = wrk_version.split("Copyright")[0].strip()
    print(f"client: {args.client} ({wrk_version}); work folder {work}")

    model = fit_model(args.model, args.seed)
    model_dir = save_mlflow_model(model, work)
    model_file = model_dir / "model.pkl"
    rows = churn_frame(args.rows, args.seed + 1)[FEATURES]
    body = rows.to_csv(index=False).encode()
    (work / "body.csv").write_bytes(body)
    (work / "bench.lua").write_text(WRK_SCRIPT)
    print(
        f"model: {args.model} ({type(model).__name__}), file {model_file} "
        f"({model_file.stat().st_size:,} bytes), request {len(body)} bytes, {args.rows} row(s)"
    )
    print(
        f"runs: {args.warmup:g} s warm-up + {args.duration:g} s timed per server and concurrency, "
        f"{args.rounds} interleaved rounds\n"
    )

    results: dict[int, dict[int, dict[str, dict]]] = {}
    boto3_rows: list[tuple[int, int, dict]] = []
    # The work folder is the emulator's project: it serves models from its project only.
    with emulator(work) as emu:
        access = Access.for_spec(work)
        for workers in worker_counts:
            endpoint = f"churn-w{workers}"
            deploy(access, endpoint, model_file, workers)
            path = f"/endpoints/{endpoint}/invocations"
            with mlflow_server(model_dir, workers, work / "mlflow.log") as (port, pid):
                same = check_same_answer(port, access, path, body)
                print(f"{workers} worker(s): same answer: {same}")
                targets = {
                    "mlflow": {"url": f"http://127.0.0.1:{port}/invocations", "port": port,
                               "path": "/invocations", "pid": pid, "body": body},
                    "emulator": {"url": f"{emu.url}{path}", "port": emu.port, "path": path,
                                 "pid": emu.pid, "body": body, "access": access},
                }  # fmt: skip
                runs: dict[int, dict[str, list[dict]]] = {
                    c: {"mlflow": [], "emulator": []} for c in concurrencies
                }
                for round_ in range(args.rounds):
                    for concurrency in concurrencies:
                        order = (
                            ["mlflow", "emulator"] if round_ % 2 == 0 else ["emulator", "mlflow"]
                        )
                        for name in order:
                            found = measure(targets[name], concurrency, args, work)
                            runs[concurrency][name].append(found)
                            print(
                                f"  round {round_ + 1} c={concurrency} {name}: "
                                f"{found['rps']:,.0f} req/s p50 {found['p50_ms']:.2f} ms "
                                f"p99 {found['p99_ms']:.2f} ms errors {found['errors']}",
                                flush=True,
                            )
                results[workers] = {
                    c: {name: summary_row(name, r) for name, r in by_name.items()}
                    for c, by_name in runs.items()
                }
            for concurrency in boto3_concurrencies:
                caller = boto3_caller(access, endpoint, body)
                run_threads(caller, concurrency, args.warmup)
                found = run_threads(caller, concurrency, args.duration)
                boto3_rows.append((workers, concurrency, found))
                print(
                    f"  boto3 c={concurrency}: {found['rps']:,.0f} req/s "
                    f"p50 {found['p50_ms']:.2f} ms p99 {found['p99_ms']:.2f} ms",
                    flush=True,
                )

    print(f"\n## Results ({args.client} client, load average after {load_average()})")
    print_tables(results, args)
    if boto3_rows:
        print(
            "\n### boto3 `invoke_endpoint` against the emulator (Python threads, a client each)\n"
        )
        print("| model processes | concurrency | req/s | p50 ms | p99 ms | requests | errors |")
        print("|---:|---:|---:|---:|---:|---:|---:|")
        for workers, concurrency, row in boto3_rows:
            print(
                f"| {workers} | {concurrency} | {row['rps']:,.0f} | {row['p50_ms']:.2f} "
                f"| {row['p99_ms']:.2f} | {row['requests']:,} | {row['errors']} |"
            )
    if args.keep is None:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
