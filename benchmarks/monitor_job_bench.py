"""Benchmark: one monitor run on 1,000,000 captured requests, three ways, in one run.

Run it as `make bench-monitor-job` (which sets up Evidently's venv, as `make bench-drift`
does). These are measurements to read, not timed unit tests: nothing here fails on a slow
number.

1. Makes the data of drift_bench.py (seeded numpy: 10 features, 3 drifted): a reference of
   `--reference-rows` rows, written as the baseline CSV, and `--rows` current rows, written
   as SageMaker data-capture files (one JSON event a line, the request as a CSV payload),
   spread over ten hour folders of `AllTraffic/2026/01/01/hh/`, and as Parquet for Evidently.
2. Interleaves, round by round (order rotating, one warm-up round first):
   - the monitor job as SageMaker runs it: `python3 -I monitor-job.pyz ...` (the archive
     `mlinfra.monitoring.bundle` builds, the Processing job's code path), on local folders in
     place of S3 and with `--metrics-file` in place of CloudWatch, in a fresh process each
     round. Its baseline is made by the warm-up (a monitor's first run) and reused after, so
     the rounds time what every later run does: read the window's capture files, analyse,
     write the three reports and the metric data;
   - the local monitor as the emulator runs it: `python -m mlinfra.monitoring.job analyse`
     over the same capture folder and window, with the baseline the job made, in a fresh
     process each round;
   - Evidently's data drift preset (`peers/evidently_drift.py`, its own venv), on the same
     current rows already in memory as typed columns (it cannot read capture files): its
     time excludes reading and parsing the requests, which the other two include.
   Both mlinfra sides are timed from process start to exit (os.wait4 gives each one's CPU
   time and peak RSS); Evidently's is its worker's `run`.
3. Checks that the job and the local monitor wrote the same violations and drift.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR))

from drift_bench import evidently_worker, make_frame  # noqa: E402

START = datetime(2026, 1, 1, tzinfo=UTC)
HOURS = 10
UNTIL = START + timedelta(hours=HOURS)
EVENT = (
    '{{"captureData":{{"endpointInput":{{"observedContentType":"text/csv","mode":"INPUT",'
    '"data":"{data}","encoding":"CSV"}},"endpointOutput":{{"observedContentType":"text/csv",'
    '"mode":"OUTPUT","data":"0.5","encoding":"CSV"}}}},"eventMetadata":{{"eventId":"{n}",'
    '"inferenceTime":"{time}"}},"eventVersion":"0"}}\n'
)


def write_data(folder: Path, reference_rows: int, rows: int, seed: int) -> dict[str, Path]:
    """The baseline CSV, the capture folder and Evidently's Parquet files."""
    reference = make_frame(reference_rows, seed, drifted=False)
    current = make_frame(rows, seed + 1, drifted=True)
    paths = {
        "baseline": folder / "baseline.csv",
        "capture": folder / "capture" / "churn-bench-api",
        "reference": folder / "reference.parquet",
        "current": folder / "current.parquet",
    }
    reference.to_csv(paths["baseline"], index=False)
    reference.to_parquet(paths["reference"], index=False)
    current.to_parquet(paths["current"], index=False)
    lines = current.to_csv(index=False, header=False).splitlines()
    per_hour = -(-len(lines) // HOURS)
    seconds = 3600 / per_hour
    for hour in range(HOURS):
        path = paths["capture"] / "AllTraffic" / f"2026/01/01/{hour:02d}" / "capture.jsonl"
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("w") as stream:
            for i, line in enumerate(lines[hour * per_hour : (hour + 1) * per_hour]):
                moment = START + timedelta(hours=hour, seconds=(i + 1) * seconds * 0.999)
                time_text = moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
                stream.write(EVENT.format(data=line, n=hour * per_hour + i, time=time_text))
    return paths


def timed(argv: list[str]) -> dict:
    """Run `argv` to its end: wall and CPU seconds, and peak RSS, of that process alone."""
    started = time.perf_counter()
    child = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(child.pid, 0)
    seconds = time.perf_counter() - started
    out, err = child.stdout.read().decode(), child.stderr.read().decode()
    child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode != 0:
        sys.exit(f"{argv[2]} failed ({child.returncode}): {err.strip()}")
    return {
        "seconds": seconds,
        "cpu_seconds": usage.ru_utime + usage.ru_stime,
        "peak_rss_mib": usage.ru_maxrss / 1024,
        "summary": out.strip(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--reference-rows", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seed", type=int, default=7)
    options = parser.parse_args()

    from mlinfra.monitoring.bundle import ARCHIVE_NAME, job_archive

    with tempfile.TemporaryDirectory(prefix="monitor-job-bench-") as scratch:
        folder = Path(scratch)
        print(f"writing {options.rows:,} captured requests ...", flush=True)
        paths = write_data(folder, options.reference_rows, options.rows, options.seed)
        archive = folder / ARCHIVE_NAME
        archive.write_bytes(job_archive())
        size = sum(p.stat().st_size for p in paths["capture"].rglob("*.jsonl"))
        print(f"capture: {size / 2**20:,.0f} MiB in {HOURS} files", flush=True)

        def job(round_: int) -> dict:
            reports = folder / f"reports-{round_}"
            return timed(
                [
                    sys.executable, "-I", str(archive),
                    "--capture", str(paths["capture"]),
                    "--baseline-dataset", str(paths["baseline"]),
                    "--baseline-results", str(folder / "baseline"),
                    "--reports", str(reports),
                    "--until", UNTIL.isoformat(), "--period-hours", str(HOURS),
                    "--monitor", "bench", "--endpoint", "churn-bench-api",
                    "--metrics-file", str(folder / f"metrics-{round_}.json"),
                ]
            )  # fmt: skip

        def local(round_: int) -> dict:
            return timed(
                [
                    sys.executable, "-m", "mlinfra.monitoring.job", "analyse",
                    "--baseline", str(folder / "baseline"),
                    "--capture", str(paths["capture"]),
                    "--features-from-baseline",
                    "--output", str(folder / f"local-{round_}"),
                    "--since", START.isoformat(), "--until", UNTIL.isoformat(),
                ]
            )  # fmt: skip

        evidently = evidently_worker(paths["reference"], paths["current"])

        def peer(_: int) -> dict:
            return evidently.ask("run")

        cases = {"job": job, "local": local, "evidently": peer}
        load = "/".join(f"{x:.2f}" for x in os.getloadavg())
        warmup = {name: run(0) for name, run in cases.items()}  # the job makes the baseline
        runs: dict[str, list[dict]] = {name: [] for name in cases}
        names = list(cases)
        for index in range(1, options.rounds + 1):
            shift = (index - 1) % len(names)
            for name in names[shift:] + names[:shift]:
                runs[name].append(cases[name](index))
            print(
                f"round {index}/{options.rounds}: "
                + ", ".join(f"{n} {runs[n][-1]['seconds']:.2f} s" for n in names),
                flush=True,
            )
        closing = evidently.close()
        job_report = folder / f"reports-{options.rounds}" / UNTIL.strftime("%Y%m%dT%H%M%SZ")
        local_report = folder / f"local-{options.rounds}"
        same = all(
            json.loads((job_report / name).read_text())
            == json.loads((local_report / name).read_text())
            for name in ("constraint_violations.json", "drift.json")
        )
        drift = json.loads((job_report / "drift.json").read_text())
        print_results(options, runs, warmup, closing, evidently.hello, load, same, drift)


LABELS = {
    "job": "monitor job (monitor-job.pyz, the Processing job's code path), whole process",
    "local": "local monitor (python -m mlinfra.monitoring.job analyse), whole process",
    "evidently": "Evidently Report([DataDriftPreset()]).run, frames already in memory",
}


def print_results(options, runs, warmup, closing, hello, load, same, drift) -> None:
    print(
        f"\n### {options.rows:,} captured requests x 10 features, baseline "
        f"{options.reference_rows:,} rows; Python {platform.python_version()}, "
        f"{os.cpu_count()} CPUs, load average {load} before\n"
    )
    print("| case | median s | min s | max s | CPU median s | peak RSS MiB | rounds |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for name, values in runs.items():
        wall = [v["seconds"] for v in values]
        cpu = [v.get("cpu_seconds", float("nan")) for v in values]
        rss = (
            max(v["peak_rss_mib"] for v in values)
            if name != "evidently"
            else closing["peak_rss_mib"]
        )
        print(
            f"| {LABELS[name]} | {statistics.median(wall):.2f} | {min(wall):.2f} "
            f"| {max(wall):.2f} | {statistics.median(cpu):.2f} | {rss:,.0f} | {len(values)} |"
        )
    print(
        f"\nThe job's first run, which also made the baseline from the CSV: "
        f"{warmup['job']['seconds']:.2f} s ({warmup['job']['summary']})."
    )
    print(f"Evidently loaded its frames in {hello['load_seconds']:.2f} s (untimed above).")
    drifted = sorted(f["name"] for f in drift["features"] if f["drifted"])
    print(
        f"Same violations and drift.json from the job and the local monitor: {same}; "
        f"drifted: {', '.join(drifted)}; {drift['violations']} violations."
    )


if __name__ == "__main__":
    main()
