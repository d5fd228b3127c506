"""Benchmark: GetRecord on the mlinfra emulator next to Feast's SQLite online store, same data.

Run it as `.venv/bin/python benchmarks/featurestore_bench.py` after `make bench-peers` (which
puts Feast in `benchmarks/.peers-venv`, never in the project's venv). These are measurements to
read, not timed unit tests: nothing here fails on a slow number.

1. Makes `--records` churn-like customers (`serving_bench.churn_frame`: 8 numeric features and
   the churn label, plus a string id `C000001`... and an event time).
2. Feast (`peers/feast_online.py`, a subprocess in the peers venv): a repo in a temp folder with
   the local provider and the SQLite online store, an entity and a feature view over a Parquet
   file of those rows, applied (`FeatureStore.apply`, what `feast apply` does) and materialized.
3. The emulator (a detached `python -m mlinfra.emulator`, what `mlinfra emulator start` runs):
   a feature group with the same features (online store only) created through boto3, and every
   customer written with boto3 `put_record`.
4. Checks both return the same values for a few customers, then times single-entity lookups of
   the same random keys (drawn with replacement), interleaved in rounds with the order rotating:
     - Feast `get_online_features(features=[all 9], entity_rows=[{customer_id: key}]).to_dict()`,
       in its process, as Feast users call it;
     - boto3 `sagemaker-featurestore-runtime` `get_record` against the running emulator, as our
       users call it (one client, keep-alive);
     - the same GetRecord over plain HTTP (`http.client`, keep-alive, no SDK): the server's part
       (each request SigV4-signed before the clock starts; the server checks every signature);
     - boto3 `get_record` against a stub socket server that answers every request at once with
       the emulator's own response bytes for one key: boto3's floor, what its client side
       costs however fast a server is;
     - `FeatureStore.get_record` in this process on the emulator's files, for reference.
   p50/p99 are over every timed lookup of all rounds.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import random
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
from pathlib import Path
from urllib.parse import quote

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))

from serving_bench import (  # noqa: E402  (benchmarks/ is not a package)
    BENCH_DIR,
    ROLE,
    boto3_client,
    churn_frame,
    emulator,
    load_average,
    machine,
    peer_python,
    percentile,
    versions,
)

from mlinfra.emulator.access import Access  # noqa: E402
from mlinfra.emulator.featurestore.store import FeatureStore  # noqa: E402

GROUP = "customers"
EPOCH = 1_767_225_600.0  # 2026-01-01T00:00:00Z: every record's event time, give or take


def customers(n: int, seed: int) -> pd.DataFrame:
    frame = churn_frame(n, seed)
    frame.insert(0, "customer_id", [f"C{i:06d}" for i in range(1, n + 1)])
    frame.insert(1, "event_time", EPOCH + frame.index.to_numpy() % 86_400)
    return frame


def feature_type(series: pd.Series) -> str:
    return "Fractional" if series.dtype.kind == "f" else "Integral"


def load_emulator(access: Access, frame: pd.DataFrame) -> float:
    """Create the feature group and put every record with boto3; returns the seconds taken."""
    features = [c for c in frame.columns if c not in ("customer_id", "event_time")]
    boto3_client(access, "sagemaker").create_feature_group(
        FeatureGroupName=GROUP,
        RecordIdentifierFeatureName="customer_id",
        EventTimeFeatureName="event_time",
        FeatureDefinitions=[
            {"FeatureName": "customer_id", "FeatureType": "String"},
            {"FeatureName": "event_time", "FeatureType": "Fractional"},
        ]
        + [{"FeatureName": f, "FeatureType": feature_type(frame[f])} for f in features],
        OnlineStoreConfig={"EnableOnlineStore": True},
        RoleArn=ROLE,
    )
    runtime = boto3_client(access, "sagemaker-featurestore-runtime")
    columns = list(frame.columns)
    began = time.perf_counter()
    for values in frame.itertuples(index=False):
        runtime.put_record(
            FeatureGroupName=GROUP,
            Record=[
                {"FeatureName": name, "ValueAsString": str(value)}
                for name, value in zip(columns, values, strict=True)
            ],
        )
    return time.perf_counter() - began


class Feast:
    """The Feast subprocess: set up on start, then timed lookups on request."""

    def __init__(self, repo: Path, parquet: Path) -> None:
        script = BENCH_DIR / "peers" / "feast_online.py"
        self.child = subprocess.Popen(
            [str(peer_python()), str(script), str(repo), str(parquet)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        self.setup = self._read()

    def _read(self) -> dict:
        line = self.child.stdout.readline()
        if not line:
            sys.exit(f"the Feast subprocess exited with {self.child.wait()}")
        return json.loads(line)

    def ask(self, command: str) -> dict:
        self.child.stdin.write(command + "\n")
        self.child.stdin.flush()
        return self._read()

    def close(self) -> None:
        if self.child.poll() is None:
            self.child.stdin.write("quit\n")
            self.child.stdin.close()
            self.child.wait(30)


class Case:
    """A timed call per key; `prepare` runs first, untimed, over the same keys (signing)."""

    def __init__(
        self, call: Callable[[str], object], prepare: Callable[[list[str]], None] | None = None
    ) -> None:
        self.call = call
        self.prepare = prepare or (lambda keys: None)


def timed(case: Callable[[str], object] | Case, keys: list[str]) -> list[float]:
    if isinstance(case, Case):
        case.prepare(keys)
        case = case.call
    clock = time.perf_counter
    out = []
    for key in keys:
        began = clock()
        case(key)
        out.append((clock() - began) * 1e6)
    return out


def get_record_target(key: str) -> str:
    return f"/FeatureGroup/{GROUP}?RecordIdentifierValueAsString={quote(key)}"


def http_get_record(access: Access) -> Case:
    """GetRecord over plain HTTP, each request signed beforehand (untimed), as boto3 signs."""
    port = int(access.url.rsplit(":", 1)[1])
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    headers: dict[str, dict[str, str]] = {}

    def prepare(keys: list[str]) -> None:
        headers.clear()
        for key in keys:
            headers[key] = access.signed_headers("GET", get_record_target(key))

    def call(key: str) -> object:
        conn.request("GET", get_record_target(key), headers=headers[key])
        response = conn.getresponse()
        body = response.read()
        if response.status != 200:
            raise RuntimeError(f"GetRecord answered {response.status}: {body[:300]!r}")
        return json.loads(body)

    return Case(call, prepare)


def get_record_response(access: Access, key: str) -> bytes:
    """The emulator's whole HTTP response to one GetRecord, as bytes on the wire."""
    host = access.url.removeprefix("http://")
    signed = access.signed_headers("GET", get_record_target(key))
    lines = [f"GET {get_record_target(key)} HTTP/1.1", f"Host: {host}", "Connection: close"]
    lines += [f"{name}: {value}" for name, value in signed.items()]
    with socket.create_connection(("127.0.0.1", int(host.rsplit(":", 1)[1]))) as sock:
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    head, _, body = b"".join(chunks).partition(b"\r\n\r\n")
    kept = [h for h in head.split(b"\r\n") if not h.lower().startswith(b"connection:")]
    return b"\r\n".join(kept) + b"\r\n\r\n" + body


@contextlib.contextmanager
def stub_server(response: bytes) -> Iterator[int]:
    """A loopback server answering every body-less request with `response`: yields its port."""
    listener = socket.create_server(("127.0.0.1", 0))

    def answer(conn: socket.socket) -> None:
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        pending = b""
        with conn:
            while True:
                while b"\r\n\r\n" not in pending:
                    chunk = conn.recv(65536)
                    if not chunk:
                        return
                    pending += chunk
                pending = pending.split(b"\r\n\r\n", 1)[1]
                conn.sendall(response)

    def accept() -> None:
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            threading.Thread(target=answer, args=(conn,), daemon=True).start()

    threading.Thread(target=accept, daemon=True).start()
    try:
        yield listener.getsockname()[1]
    finally:
        listener.close()


def as_values(record: list[dict]) -> dict[str, float]:
    """A record's features as numbers, without its identifier and event time."""
    skip = ("customer_id", "event_time")
    return {
        f["FeatureName"]: float(f["ValueAsString"]) for f in record if f["FeatureName"] not in skip
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=10_000)
    parser.add_argument("--lookups", type=int, default=2_000, help="per case and round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--warmup", type=int, default=200, help="untimed lookups per case")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--keep", type=Path, help="work in this folder and keep it")
    args = parser.parse_args(argv)

    work = args.keep or Path(tempfile.mkdtemp(prefix="featurestore-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    print(f"# featurestore_bench {datetime.now(UTC).isoformat(timespec='seconds')}\n")
    print(f"machine: {machine()}, load average {load_average()}")
    print(
        f"mlinfra side: {versions(('mlinfra', 'boto3', 'botocore'))}, SQLite "
        f"{__import__('sqlite3').sqlite_version}"
    )

    frame = customers(args.records, args.seed)
    parquet = work / "customers.parquet"
    feast_frame = frame.drop(columns=["event_time"])
    feast_frame.insert(
        1, "event_timestamp", pd.to_datetime(frame["event_time"], unit="s", utc=True)
    )
    feast_frame.to_parquet(parquet, index=False)
    rng = random.Random(args.seed)
    ids = list(frame["customer_id"])
    per_round = args.warmup + args.lookups
    keys = [rng.choice(ids) for _ in range(per_round * args.rounds)]
    keys_file = work / "keys.json"
    keys_file.write_text(json.dumps(keys))

    feast = Feast(work / "feast-repo", parquet)
    try:
        setup = feast.setup
        print(f"peer side: {', '.join(f'{k} {v}' for k, v in setup['versions'].items())}")
        print(
            f"data: {args.records:,} customers, {len(setup['features'])} features each "
            f"({', '.join(setup['features'])}) plus customer_id and the event time"
        )
        print(f"Feast: apply {setup['apply_s']:.2f} s, materialize {setup['materialize_s']:.2f} s")
        with contextlib.ExitStack() as stack:
            stack.enter_context(emulator(work / "emulator"))
            access = Access.for_spec(work / "emulator")
            put_s = load_emulator(access, frame)
            print(
                f"emulator: {args.records:,} boto3 put_record calls {put_s:.2f} s "
                f"({put_s / args.records * 1e3:.2f} ms each)"
            )
            local = FeatureStore(work / "emulator" / ".mlinfra" / "emulator" / "featurestore")
            runtime = boto3_client(access, "sagemaker-featurestore-runtime")

            def boto3_get(key: str) -> object:
                return runtime.get_record(FeatureGroupName=GROUP, RecordIdentifierValueAsString=key)

            stub = stack.enter_context(stub_server(get_record_response(access, keys[0])))
            stub_access = Access(f"http://127.0.0.1:{stub}", access.credentials)
            floor = boto3_client(stub_access, "sagemaker-featurestore-runtime")
            cases: dict[str, Callable[[str], object] | Case] = {
                "boto3 get_record (emulator)": boto3_get,
                "plain HTTP GetRecord (emulator)": http_get_record(access),
                "boto3 get_record (stub server: boto3's floor)": lambda key: floor.get_record(
                    FeatureGroupName=GROUP, RecordIdentifierValueAsString=key
                ),
                "in-process FeatureStore.get_record": lambda key: local.get_record(GROUP, key),
            }
            for key in keys[:5]:
                theirs = feast.ask(f"values {key}")
                ours = as_values(boto3_get(key)["Record"])
                mine = as_values(local.get_record(GROUP, key))
                theirs = {k: float(v) for k, v in theirs.items() if k != "customer_id"}
                if theirs != ours or ours != mine:
                    sys.exit(f"different values for {key}: Feast {theirs}, emulator {ours}")
            print(f"same values for {keys[:5]} in Feast and the emulator\n")

            latencies: dict[str, list[float]] = {"Feast get_online_features": []}
            latencies.update({name: [] for name in cases})
            names = list(latencies)
            for round_ in range(args.rounds):
                block = keys[round_ * per_round : (round_ + 1) * per_round]
                for name in names[round_ % len(names) :] + names[: round_ % len(names)]:
                    if name.startswith("Feast"):
                        found = feast.ask(f"time {keys_file} {round_ * per_round} {per_round}")
                        measured = found["latencies_us"]
                    else:
                        measured = timed(cases[name], block)
                    latencies[name] += measured[args.warmup :]
                    print(
                        f"  round {round_ + 1} {name}: median "
                        f"{statistics.median(measured[args.warmup :]):.1f} µs",
                        flush=True,
                    )
            local.close()
    finally:
        feast.close()

    feast_p50 = percentile(latencies["Feast get_online_features"], 50)
    feast_p99 = percentile(latencies["Feast get_online_features"], 99)
    print(f"\n## Results (load average after {load_average()})\n")
    print(
        f"{args.rounds} interleaved rounds of {args.warmup} untimed + {args.lookups} timed "
        "single-key lookups per case, the same random keys for every case\n"
    )
    print("| case | p50 µs | p99 µs | mean µs | lookups | p50 speed-up vs Feast | p99 speed-up |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for name, values in latencies.items():
        p50, p99 = percentile(values, 50), percentile(values, 99)
        print(
            f"| {name} | {p50:,.1f} | {p99:,.1f} | {statistics.fmean(values):,.1f} "
            f"| {len(values):,} | {feast_p50 / p50:.1f}x | {feast_p99 / p99:.1f}x |"
        )
    users = latencies["boto3 get_record (emulator)"]
    ratio = feast_p50 / percentile(users, 50)
    print(
        f"\nAim (GetRecord as users call it, boto3, 5x faster than Feast at p50): "
        f"{ratio:.1f}x, {'met' if ratio >= 5 else 'NOT met'}"
    )
    if args.keep is None:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
