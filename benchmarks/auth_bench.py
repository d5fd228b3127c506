"""Benchmark: what checking request signatures costs, next to --insecure-any-credentials.

Run it as `.venv/bin/python benchmarks/auth_bench.py` (or `make bench-auth`). These are
measurements to read, not timed unit tests: nothing here fails on a slow number.

1. Starts two emulators side by side, as users run them (detached `python -m mlinfra.emulator`,
   what `mlinfra emulator start` runs): one checking SigV4 on every request (the default), one
   started with `--insecure-any-credentials`. Each gets the same endpoint (one model process
   serving a StandardScaler + LogisticRegression on 8 churn-like features, a one-row CSV
   request) and the same online feature group (`--records` customers, 9 features).
2. Times, one request after another on one keep-alive connection, for each emulator:
     - boto3 `invoke_endpoint` and `get_record`, one client each: the calls users write. boto3
       signs in both modes, so the difference is the server's check alone;
     - the same InvokeEndpoint and GetRecord over plain HTTP (`http.client`, no SDK), each
       request SigV4-signed before the clock starts: the server's part, where the check is
       the largest share.
   Cases run in interleaved rounds, their order rotating; p50/p99 are over every timed request
   of all rounds. The server's CPU time per request (its process and the model's, from
   /proc) is read around each block.
3. Times `auth.Verifier.verify` in this process on the same two requests: the check itself.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import shutil
import statistics
import sys
import tempfile
import timeit
from collections.abc import Callable
from datetime import UTC, datetime
from email import message_from_string
from pathlib import Path

import joblib

sys.path.insert(0, str(Path(__file__).resolve().parent))

from featurestore_bench import (  # noqa: E402  (benchmarks/ is not a package)
    GROUP,
    Case,
    customers,
    get_record_target,
    http_get_record,
    load_emulator,
    timed,
)
from serving_bench import (  # noqa: E402
    FEATURES,
    boto3_client,
    churn_frame,
    deploy,
    emulator,
    fit_model,
    load_average,
    machine,
    percentile,
    process_tree_cpu,
    signed,
    versions,
)

from mlinfra.emulator import process as emulator_process  # noqa: E402
from mlinfra.emulator.access import Access  # noqa: E402
from mlinfra.emulator.auth import Verifier  # noqa: E402

ENDPOINT = "churn"
MODES = ("auth on", "insecure")


def http_invoke(access: Access, body: bytes) -> Case:
    """InvokeEndpoint over plain HTTP, signed once per block (untimed; valid 15 minutes)."""
    path = f"/endpoints/{ENDPOINT}/invocations"
    conn = http.client.HTTPConnection("127.0.0.1", int(access.url.rsplit(":", 1)[1]), timeout=30)
    headers: dict[str, str] = {}

    def prepare(keys: list[str]) -> None:
        headers.clear()
        headers.update(signed(access, path, body))

    def call(key: str) -> object:
        conn.request("POST", path, body=body, headers=headers)
        response = conn.getresponse()
        answer = response.read()
        if response.status != 200:
            raise RuntimeError(f"InvokeEndpoint answered {response.status}: {answer[:300]!r}")
        return answer

    return Case(call, prepare)


def boto3_cases(access: Access, body: bytes) -> dict[str, Callable[[str], object]]:
    runtime = boto3_client(access, "sagemaker-runtime", retries={"max_attempts": 1})
    store = boto3_client(access, "sagemaker-featurestore-runtime", retries={"max_attempts": 1})

    def invoke(key: str) -> object:
        answer = runtime.invoke_endpoint(EndpointName=ENDPOINT, Body=body, ContentType="text/csv")
        return answer["Body"].read()

    def get(key: str) -> object:
        return store.get_record(FeatureGroupName=GROUP, RecordIdentifierValueAsString=key)

    return {"InvokeEndpoint boto3": invoke, "GetRecord boto3": get}


def verify_cost(access: Access, body: bytes, repeat: int) -> dict[str, float]:
    """µs per `Verifier.verify` of a signed InvokeEndpoint and GetRecord, in this process."""
    verifier = Verifier(access.credentials)
    host = access.url.removeprefix("http://")
    found = {}
    for name, method, target, payload, extra in (
        ("InvokeEndpoint", "POST", f"/endpoints/{ENDPOINT}/invocations", body,
         {"Content-Type": "text/csv"}),
        ("GetRecord", "GET", get_record_target("C000001"), b"", {}),
    ):  # fmt: skip
        headers = {"Host": host, **access.signed_headers(method, target, payload, extra)}
        message = message_from_string(
            "".join(f"{k}: {v}\r\n" for k, v in headers.items()), _class=http.client.HTTPMessage
        )
        verifier.verify(method, target, message, payload)  # warm the signing key cache
        seconds = timeit.timeit(
            lambda m=method, t=target, h=message, p=payload: verifier.verify(m, t, h, p),
            number=repeat,
        )
        found[name] = seconds / repeat * 1e6
    return found


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    # Many short rounds: on a shared machine, load comes and goes within minutes.
    parser.add_argument("--requests", type=int, default=250, help="timed, per case and round")
    parser.add_argument("--warmup", type=int, default=25, help="untimed, per case and round")
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--records", type=int, default=1_000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)

    work = Path(tempfile.mkdtemp(prefix="auth-bench-"))
    print(f"# auth_bench {datetime.now(UTC).isoformat(timespec='seconds')}\n")
    print(f"machine: {machine()}, load average {load_average()}")
    print(f"mlinfra side: {versions(('mlinfra', 'boto3', 'botocore', 'scikit-learn'))}")
    model = fit_model("logreg", args.seed)
    body = churn_frame(1, args.seed + 1)[FEATURES].to_csv(index=False).encode()
    frame = customers(args.records, args.seed)
    keys_needed = (args.warmup + args.requests) * args.rounds
    ids = list(frame["customer_id"])
    keys = [ids[(i * 7919) % len(ids)] for i in range(keys_needed)]  # spread, repeatable
    print(
        f"request: {len(body)}-byte CSV (1 row) to one model process; GetRecord of "
        f"{args.records:,} customers; {args.rounds} rounds of {args.warmup} untimed + "
        f"{args.requests} timed requests per case\n"
    )

    cases: dict[tuple[str, str], Callable[[str], object] | Case] = {}
    pids: dict[str, int] = {}
    with contextlib.ExitStack() as stack:
        for mode in MODES:
            root = work / mode.replace(" ", "-")
            (root / "model").mkdir(parents=True)
            joblib.dump(model, root / "model" / "model.joblib")
            status = stack.enter_context(emulator(root, insecure=mode == "insecure"))
            access = Access.for_spec(root)
            wanted = emulator_process.AUTH_INSECURE if mode == "insecure" else "sigv4"
            if emulator_process.status(root).auth != wanted:
                sys.exit(f"the {mode} emulator runs with auth {status.auth!r}")
            deploy(access, ENDPOINT, root / "model" / "model.joblib", 1)
            load_emulator(access, frame)
            pids[mode] = status.pid
            for name, call in boto3_cases(access, body).items():
                cases[(name, mode)] = call
            cases[("InvokeEndpoint HTTP", mode)] = http_invoke(access, body)
            cases[("GetRecord HTTP", mode)] = http_get_record(access)
            if mode == "auth on":
                checked = verify_cost(access, body, 20_000)

        latencies: dict[tuple[str, str], list[float]] = {case: [] for case in cases}
        cpu: dict[tuple[str, str], float] = dict.fromkeys(cases, 0.0)  # seconds, all rounds
        names = list(cases)
        per_round = args.warmup + args.requests
        for round_ in range(args.rounds):
            block = keys[round_ * per_round : (round_ + 1) * per_round]
            shift = round_ % len(names)
            for case in names[shift:] + names[:shift]:
                before = process_tree_cpu(pids[case[1]])
                measured = timed(cases[case], block)
                used = process_tree_cpu(pids[case[1]]) - before
                latencies[case] += measured[args.warmup :]
                cpu[case] += used
                print(
                    f"  round {round_ + 1} {case[0]} ({case[1]}): median "
                    f"{statistics.median(measured[args.warmup :]):,.0f} µs",
                    flush=True,
                )

    print(f"\n## Results (load average after {load_average()})\n")
    print(
        "| request | client | p50 µs auth on | p50 µs insecure | p50 cost | p99 µs auth on "
        "| p99 µs insecure | p99 cost | server CPU µs/req auth on | insecure |"
    )
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for request in ("InvokeEndpoint", "GetRecord"):
        for client in ("boto3", "HTTP"):
            on = latencies[(f"{request} {client}", "auth on")]
            off = latencies[(f"{request} {client}", "insecure")]
            p50 = (percentile(on, 50), percentile(off, 50))
            p99 = (percentile(on, 99), percentile(off, 99))
            # Over every request of every round: /proc counts CPU time in 10 ms ticks.
            used = [
                cpu[(f"{request} {client}", m)] / (per_round * args.rounds) * 1e6 for m in MODES
            ]
            print(
                f"| {request} | {client} | {p50[0]:,.0f} | {p50[1]:,.0f} | {p50[0] - p50[1]:+,.0f} "
                f"| {p99[0]:,.0f} | {p99[1]:,.0f} | {p99[0] - p99[1]:+,.0f} "
                f"| {used[0]:,.0f} | {used[1]:,.0f} |"
            )
    print(
        "\n`Verifier.verify` in this process (20,000 calls each): "
        + ", ".join(f"{name} {us:.1f} µs" for name, us in checked.items())
    )
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
