"""Benchmark: drift analysis of captured rows, mlinfra next to Evidently's data drift preset.

Run it as `.venv/bin/python benchmarks/drift_bench.py` after `make bench-drift`'s setup (which
puts Evidently in `benchmarks/.evidently-venv`, never in the project's venv nor in the other
peers' venv). These are measurements to read, not timed unit tests: nothing here fails on a
slow number.

1. Makes a deterministic data set (seeded numpy): a reference of `--reference-rows` rows and a
   current of the largest `--rows` rows, 10 features: 7 numeric (2 of them drifted, one with 1 %
   missing values in both) and 3 categorical (1 drifted). Smaller sizes are the first rows of
   the largest. Each is written to Parquet in a temp folder.
2. For each size, three worker processes load the Parquet files (untimed) and then answer
   commands, so that their rounds interleave (order rotating per round, `gc.collect()` untimed
   before each run):
     - mlinfra (this script with `--worker`, in the project's venv), twice: with the columns
       typed as Parquet gives them (as Evidently gets them), and with every value as text (the
       frames `.astype("str")`, untimed), which is what the monitoring job analyses: it reads
       captured requests and the baseline CSV as text and infers types itself. Each times
       `mlinfra.monitoring.baseline.suggest_baseline(reference, drift_psi=0.2,
       missing_percent=5.0)` and `mlinfra.monitoring.analysis.analyse(baseline, current)`: the
       analysis is the per-execution cost (a monitor's baseline is made once), so it is the
       headline; the baseline is reported beside it;
     - Evidently (`peers/evidently_drift.py`, in `benchmarks/.evidently-venv`):
       `Dataset.from_pandas` of both frames and `Report([DataDriftPreset()]).run(...)`, timed
       together. Evidently has no separate baseline step: every run reads the reference.
   One warm-up of each, then `--rounds` timed rounds; medians are reported. Each worker reports
   its peak RSS (`VmHWM` from /proc, read in the worker itself) and its RSS after loading.
3. Checks that both flag the same features as drifted (and that those are the ones drifted by
   construction), and, unless `--profile 0`, profiles one `analyse` of text values at the
   largest size with cProfile in a fresh worker.

mlinfra is imported only inside its worker: before `mlinfra.monitoring.analysis` exists the
benchmark says so and runs Evidently alone.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
EVIDENTLY_VENV = BENCH_DIR / ".evidently-venv"
EVIDENTLY_SCRIPT = BENCH_DIR / "peers" / "evidently_drift.py"

NUMERIC = [
    "tenure_months",
    "monthly_charges",
    "total_charges",
    "support_calls",
    "data_usage_gb",
    "age",
    "latency_ms",
]
CATEGORICAL = ["contract", "payment_method", "region"]
# The features whose distribution the current data changes; every other one is drawn from the
# reference's distribution.
DRIFTED = ["contract", "monthly_charges", "tenure_months"]
DRIFT_PSI = 0.2
MISSING_PERCENT = 5.0
CONTRACTS = ["month-to-month", "one-year", "two-year"]
PAYMENTS = ["electronic-check", "mailed-check", "bank-transfer", "credit-card"]
REGIONS = [f"region-{i:02d}" for i in range(10)]


# --- data ----------------------------------------------------------------------------------


def make_frame(rows: int, seed: int, drifted: bool):
    """`rows` customers; `drifted` moves tenure, monthly charges and contract mix."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    if drifted:
        # Half the customers are new: tenure piles up under a year.
        new = rng.random(rows) < 0.5
        tenure = np.where(new, rng.integers(0, 12, rows), rng.integers(0, 73, rows))
        charges = rng.normal(80.0, 20.0, rows)
        contract_p = [0.30, 0.30, 0.40]
    else:
        tenure = rng.integers(0, 73, rows)
        charges = rng.normal(65.0, 20.0, rows)
        contract_p = [0.55, 0.25, 0.20]
    usage = rng.gamma(2.0, 5.0, rows)
    usage[rng.random(rows) < 0.01] = np.nan
    region_p = np.arange(10, 0, -1) / np.arange(10, 0, -1).sum()
    return pd.DataFrame(
        {
            "tenure_months": tenure.astype("int64"),
            "monthly_charges": np.round(np.clip(charges, 18.0, None), 2),
            "total_charges": np.round(rng.lognormal(7.0, 0.8, rows), 2),
            "support_calls": rng.poisson(1.5, rows).astype("int64"),
            "data_usage_gb": np.round(usage, 3),
            "age": rng.integers(18, 81, rows).astype("int64"),
            "latency_ms": np.round(rng.lognormal(4.0, 0.5, rows), 1),
            "contract": rng.choice(CONTRACTS, rows, p=contract_p),
            "payment_method": rng.choice(PAYMENTS, rows, p=[0.35, 0.2, 0.25, 0.2]),
            "region": rng.choice(REGIONS, rows, p=region_p),
        }
    )


def write_data(folder: Path, reference_rows: int, sizes: list[int], seed: int) -> dict:
    """Parquet files of the reference and of each current size; their paths by name."""
    paths = {"reference": folder / "reference.parquet"}
    make_frame(reference_rows, seed, drifted=False).to_parquet(paths["reference"], index=False)
    current = make_frame(max(sizes), seed + 1, drifted=True)
    for size in sizes:
        paths[size] = folder / f"current-{size}.parquet"
        current.iloc[:size].to_parquet(paths[size], index=False)
    return paths


# --- the mlinfra worker --------------------------------------------------------------------


def memory_mib(field: str) -> float:
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    return float("nan")


def worker(form: str, reference_path: str, current_path: str) -> None:
    """mlinfra's side: the same protocol as peers/evidently_drift.py, plus `baseline` and
    `profile N`. `form` is `typed` (the frames as Parquet gives them, as Evidently gets them) or
    `text` (every value as a string, as the monitoring job reads captured requests and the
    baseline CSV: `capture.read_capture` and `baseline.read_dataset` keep the text)."""
    protocol = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)  # whatever a library prints goes to stderr: stdout carries the protocol

    def answer(message: dict) -> None:
        protocol.write(json.dumps(message) + "\n")

    try:
        from mlinfra.monitoring.analysis import analyse
        from mlinfra.monitoring.baseline import suggest_baseline
    except ImportError as error:
        answer({"unavailable": f"{error}"})
        return
    from importlib import metadata

    import pandas as pd

    started = time.perf_counter()
    reference = pd.read_parquet(reference_path)
    current = pd.read_parquet(current_path)
    if form == "text":
        # Missing values stay missing (NaN in pandas' str dtype), as in a captured request.
        reference, current = reference.astype("str"), current.astype("str")
        gc.collect()
    answer(
        {
            "ready": True,
            "load_seconds": time.perf_counter() - started,
            "rss_after_load_mib": memory_mib("VmRSS"),
            "peak_rss_after_load_mib": memory_mib("VmHWM"),
            "versions": {name: metadata.version(name) for name in ("mlinfra", "pandas", "numpy")},
        }
    )

    def make_baseline():
        return suggest_baseline(reference, drift_psi=DRIFT_PSI, missing_percent=MISSING_PERCENT)

    baseline = None
    for line in sys.stdin:
        command, *arguments = line.split()
        if command == "baseline":
            gc.collect()
            wall, cpu = time.perf_counter(), time.process_time()
            baseline = make_baseline()
            answer(
                {"seconds": time.perf_counter() - wall, "cpu_seconds": time.process_time() - cpu}
            )
        elif command == "run":
            baseline = baseline or make_baseline()
            gc.collect()
            wall, cpu = time.perf_counter(), time.process_time()
            analysis = analyse(baseline, current)
            seconds, cpu_seconds = time.perf_counter() - wall, time.process_time() - cpu
            features = analysis.drift["features"]
            answer(
                {
                    "seconds": seconds,
                    "cpu_seconds": cpu_seconds,
                    "drifted": sorted(f["name"] for f in features if f["drifted"]),
                    "columns": {f["name"]: {"psi": f["psi"], "kind": f["kind"]} for f in features},
                    "violations": len(analysis.violations),
                }
            )
        elif command == "profile":
            answer({"profile": profile(make_baseline(), current, analyse, int(arguments[0]))})
        elif command == "quit":
            answer({"peak_rss_mib": memory_mib("VmHWM")})
            return
        else:
            answer({"error": f"unknown command {command!r}"})


def profile(baseline, current, analyse, top: int) -> str:
    import cProfile
    import io
    import pstats

    gc.collect()
    profiler = cProfile.Profile()
    profiler.enable()
    analyse(baseline, current)
    profiler.disable()
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out).strip_dirs()
    stats.sort_stats("cumulative").print_stats(top)
    stats.sort_stats("tottime").print_stats(top)
    return out.getvalue()


# --- running the workers -------------------------------------------------------------------


class Worker:
    """A worker process answering one JSON line per command."""

    def __init__(self, name: str, argv: list[str]) -> None:
        self.name = name
        env = {**os.environ, "DO_NOT_TRACK": "1", "PYTHONUNBUFFERED": "1"}
        self.child = subprocess.Popen(
            argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env
        )
        self.hello = self._read()

    def _read(self) -> dict:
        line = self.child.stdout.readline()
        if not line:
            sys.exit(f"the {self.name} worker exited with {self.child.wait()}")
        return json.loads(line)

    def ask(self, command: str) -> dict:
        self.child.stdin.write(command + "\n")
        self.child.stdin.flush()
        answer = self._read()
        if "error" in answer:
            sys.exit(f"{self.name}: {answer['error']}")
        return answer

    def close(self) -> dict:
        answer = self.ask("quit")
        self.child.stdin.close()
        self.child.wait(timeout=60)
        return answer


def mlinfra_worker(form: str, reference: Path, current: Path) -> Worker | None:
    worker = Worker(
        f"mlinfra ({form})",
        [sys.executable, __file__, "--worker", form, str(reference), str(current)],
    )
    if "unavailable" in worker.hello:
        print(f"mlinfra's analysis is not available ({worker.hello['unavailable']}): skipped")
        worker.child.wait(timeout=60)
        return None
    return worker


def evidently_worker(reference: Path, current: Path) -> Worker:
    python = EVIDENTLY_VENV / "bin" / "python"
    if not python.exists():
        sys.exit(f"{python} not found: run `make bench-drift` (or its setup) first")
    argv = [str(python), str(EVIDENTLY_SCRIPT), str(reference), str(current)]
    return Worker("Evidently", [*argv, ",".join(NUMERIC), ",".join(CATEGORICAL)])


def load_average() -> str:
    return "/".join(f"{x:.2f}" for x in os.getloadavg())


def measure_size(paths: dict, size: int, rounds: int) -> dict:
    """Interleaved rounds of both sides on one current size."""
    load_before = load_average()
    workers = {
        "mlinfra": mlinfra_worker("typed", paths["reference"], paths[size]),
        "mlinfra_text": mlinfra_worker("text", paths["reference"], paths[size]),
        "evidently": evidently_worker(paths["reference"], paths[size]),
    }
    workers = {name: w for name, w in workers.items() if w is not None}
    runs: dict[str, list[dict]] = {case: [] for case in CASES}
    cases = [case for case, (side, _) in CASES.items() if side in workers]

    def step(case: str) -> dict:
        side, command = CASES[case]
        return workers[side].ask(command)

    warmup = {case: step(case) for case in cases}
    for index in range(rounds):
        order = cases[index % len(cases) :] + cases[: index % len(cases)]
        for case in order:
            runs[case].append(step(case))
        print(
            f"  {size:,} rows, round {index + 1}/{rounds}: "
            + ", ".join(f"{case} {runs[case][-1]['seconds']:.3f} s" for case in cases),
            flush=True,
        )
    closing = {name: worker.close() for name, worker in workers.items()}
    return {
        "rows": size,
        "load_average_before": load_before,
        "load_average_after": load_average(),
        "hello": {name: worker.hello for name, worker in workers.items()},
        "warmup": warmup,
        "runs": {case: values for case, values in runs.items() if values},
        "peak_rss_mib": {name: answer["peak_rss_mib"] for name, answer in closing.items()},
    }


# Each case: the worker that runs it, and the command.
CASES = {
    "mlinfra": ("mlinfra", "run"),
    "baseline": ("mlinfra", "baseline"),
    "mlinfra_text": ("mlinfra_text", "run"),
    "baseline_text": ("mlinfra_text", "baseline"),
    "evidently": ("evidently", "run"),
}


def summary(values: list[dict], key: str = "seconds") -> dict:
    series = [value[key] for value in values]
    return {"median": statistics.median(series), "min": min(series), "max": max(series)}


# --- printing ------------------------------------------------------------------------------


LABELS = {
    "mlinfra": "mlinfra analyse, typed columns (per execution)",
    "baseline": "mlinfra suggest_baseline, typed (once per monitor)",
    "mlinfra_text": "mlinfra analyse, values as text, as captured (per execution)",
    "baseline_text": "mlinfra suggest_baseline, values as text (once per monitor)",
    "evidently": "Evidently Report([DataDriftPreset()]).run, typed columns",
}


def print_size(result: dict, reference_rows: int) -> None:
    rows = result["rows"]
    runs = result["runs"]
    print(
        f"\n### {rows:,} current rows x 10 features, reference {reference_rows:,} rows "
        f"(load average {result['load_average_before']} before, "
        f"{result['load_average_after']} after)\n"
    )
    print(
        "| case | median s | min s | max s | CPU median s | rounds | peak RSS MiB "
        "| RSS after load MiB | peak RSS after load MiB | Evidently / case |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    evidently = summary(runs["evidently"])["median"] if "evidently" in runs else None
    for case in CASES:
        if case not in runs:
            continue
        wall, cpu = summary(runs[case]), summary(runs[case], "cpu_seconds")
        side = CASES[case][0]
        ratio = f"{evidently / wall['median']:.1f}x" if evidently else "-"
        print(
            f"| {LABELS[case]} | {wall['median']:.3f} | {wall['min']:.3f} | {wall['max']:.3f} "
            f"| {cpu['median']:.3f} | {len(runs[case])} "
            f"| {result['peak_rss_mib'][side]:,.0f} "
            f"| {result['hello'][side]['rss_after_load_mib']:,.0f} "
            f"| {result['hello'][side]['peak_rss_after_load_mib']:,.0f} | {ratio} |"
        )
    pairs = (("baseline", "mlinfra", "typed"), ("baseline_text", "mlinfra_text", "text"))
    for baseline, analysis, form in pairs:
        if analysis not in runs or not evidently:
            continue
        both = [
            b["seconds"] + r["seconds"] for b, r in zip(runs[baseline], runs[analysis], strict=True)
        ]
        median = statistics.median(both)
        print(
            f"| mlinfra suggest_baseline + analyse, {form} (same rounds) | {median:.3f} "
            f"| {min(both):.3f} | {max(both):.3f} | | {len(both)} | | | "
            f"| {evidently / median:.1f}x |"
        )


def agreement(result: dict) -> tuple[bool, str]:
    runs = result["runs"]
    flagged = {
        case: runs[case][-1]["drifted"]
        for case in ("mlinfra", "mlinfra_text", "evidently")
        if case in runs
    }
    same = len({tuple(f) for f in flagged.values()}) == 1
    expected = all(f == DRIFTED for f in flagged.values())
    verdict = "DISAGREE" if not same else "agree" if len(flagged) > 1 else "one side only"
    text = (
        f"drifted by construction: {', '.join(DRIFTED)}; "
        + "; ".join(f"{case} flags: {', '.join(f) or 'none'}" for case, f in flagged.items())
        + f" -> {verdict}"
        + (", as constructed" if expected else ", NOT as constructed")
    )
    return same and expected, text


def print_columns(result: dict) -> None:
    runs = result["runs"]
    if "mlinfra" not in runs or "evidently" not in runs:
        return
    ours, theirs = runs["mlinfra"][-1], runs["evidently"][-1]
    print(f"\nPer feature at {result['rows']:,} rows (last round):\n")
    print(
        "| feature | mlinfra PSI (threshold 0.2) | mlinfra drifted | Evidently method "
        "| Evidently score (threshold) | Evidently drifted |"
    )
    print("|---|---:|---|---|---:|---|")
    for name in NUMERIC + CATEGORICAL:
        mine, peer = ours["columns"].get(name, {}), theirs["columns"].get(name, {})
        psi = mine.get("psi")
        print(
            f"| {name} | {'n/a' if psi is None else f'{psi:.4f}'} "
            f"| {'yes' if name in ours['drifted'] else 'no'} | {peer.get('method', '?')} "
            f"| {peer.get('score', float('nan')):.4f} ({peer.get('threshold', float('nan'))}) "
            f"| {'yes' if name in theirs['drifted'] else 'no'} |"
        )


def machine() -> str:
    cpu = "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return f"nproc {os.cpu_count()}, CPU {cpu}, Python {platform.python_version()}"


# --- main ----------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", default="100000,1000000", help="current sizes, comma-separated")
    parser.add_argument("--reference-rows", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=5, help="timed rounds per size")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--profile",
        type=int,
        default=15,
        metavar="N",
        help="profile one analyse at the largest size, top N rows (0: no profile)",
    )
    parser.add_argument("--json", type=Path, help="also write the results to this file")
    parser.add_argument("--keep", type=Path, help="write the Parquet files here and keep them")
    parser.add_argument("--worker", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        worker(*args.worker)
        return

    sizes = sorted(int(size) for size in args.rows.split(",") if size)
    started = time.perf_counter()
    print(f"machine: {machine()}; load average {load_average()}")
    with contextlib.ExitStack() as stack:
        if args.keep:
            folder = args.keep
            folder.mkdir(parents=True, exist_ok=True)
        else:
            folder = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="drift-bench-")))
        begun = time.perf_counter()
        paths = write_data(folder, args.reference_rows, sizes, args.seed)
        files = ", ".join(f"{p.name} {p.stat().st_size / 2**20:.1f} MiB" for p in paths.values())
        print(
            f"data: reference {args.reference_rows:,} rows, current "
            f"{', '.join(f'{s:,}' for s in sizes)} rows x 10 features, seed {args.seed}, "
            f"written in {time.perf_counter() - begun:.1f} s ({files})"
        )
        results = []
        for size in sizes:
            results.append(measure_size(paths, size, args.rounds))
        profile_text = None
        if args.profile:
            mlinfra = mlinfra_worker("text", paths["reference"], paths[max(sizes)])
            if mlinfra:
                profile_text = mlinfra.ask(f"profile {args.profile}")["profile"]
                mlinfra.close()

    hello = results[0]["hello"]
    print(
        "\nversions: "
        + "; ".join(
            f"{side}: " + ", ".join(f"{k} {v}" for k, v in h["versions"].items())
            for side, h in hello.items()
        )
    )
    print(f"machine: {machine()}")
    all_agree = True
    for result in results:
        print_size(result, args.reference_rows)
        ok, text = agreement(result)
        all_agree &= ok
        print(f"\nAgreement: {text}")
    print_columns(results[-1])
    largest = results[-1]["runs"]
    for case in ("mlinfra", "mlinfra_text"):
        if case not in largest or "evidently" not in largest:
            continue
        ours = summary(largest[case])["median"]
        theirs = summary(largest["evidently"])["median"]
        ratio = theirs / ours
        print(
            f"\n**Headline ({LABELS[case]}):** at {results[-1]['rows']:,} rows, mlinfra's "
            f"analysis takes {ours:.2f} s, Evidently's data drift preset {theirs:.2f} s: "
            f"{ratio:.1f}x ({'meets' if ratio >= 5 else 'does not meet'} the 5x aim)."
        )
    if profile_text:
        print(
            f"\nProfile of one analyse of text values at {max(sizes):,} rows "
            "(cProfile inflates Python code):\n"
        )
        print(profile_text)
    elapsed = time.perf_counter() - started
    print(f"wall time {elapsed:.0f} s; agreement {'ok' if all_agree else 'NOT ok'}")
    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "machine": machine(),
                    "reference_rows": args.reference_rows,
                    "rounds": args.rounds,
                    "seed": args.seed,
                    "results": results,
                    "profile": profile_text,
                },
                indent=2,
            )
        )


if __name__ == "__main__":
    main()
