"""Cold start of the `mlinfra` command: this tree against an earlier commit, side by side.

Each round starts a fresh Python process per side and command, interleaved and in rotating
order (load on a shared machine comes and goes within minutes), and times it from start to
exit. Both sides run the same interpreter and installed dependencies; only mlinfra's own source
differs: the baseline's `src/` is extracted with `git archive` and put first on `PYTHONPATH`,
and so is this tree's, so both are imported the same way (from source, bytecode compiled in
an untimed first run).

    .venv/bin/python benchmarks/cold_start_bench.py --baseline 8da9158 --rounds 30
"""

from __future__ import annotations

import argparse
import io
import os
import resource
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SPEC = "examples/churn/mlinfra.yaml"
COMMANDS = {
    "mlinfra --version": ["--version"],
    f"mlinfra validate -f {SPEC}": ["validate", "-f", SPEC],
}
# What the `mlinfra` console script runs, plus a count of the mlinfra modules it loaded
# (printed to stderr at exit), so a side that imports more shows why it is slower.
LAUNCH = (
    "import atexit, sys\n"
    "atexit.register(lambda: print('modules', sum(1 for m in sys.modules"
    " if m == 'mlinfra' or m.startswith('mlinfra.')), 'from', sys.modules['mlinfra'].__file__,"
    " file=sys.stderr))\n"
    "sys.argv[0] = 'mlinfra'\n"
    "from mlinfra.cli.main import main\n"
    "main()\n"
)


def extract(revision: str, into: Path) -> Path:
    """The `src/` folder of `revision`, extracted under `into`."""
    archive = subprocess.run(
        ["git", "archive", "--format=tar", revision, "src"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(into, filter="data")
    return into / "src"


def run(src: Path, args: list[str]) -> tuple[float, float, str]:
    """Wall and CPU (user + system) milliseconds of one fresh process, and what it loaded."""
    env = {**os.environ, "PYTHONPATH": str(src), "NO_COLOR": "1"}
    # Runs are one after another, so the reaped children's usage grows by this one's alone.
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", LAUNCH, *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    elapsed = (time.perf_counter() - start) * 1000
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime) * 1000
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(args)} failed with {src}:\n{done.stdout}{done.stderr}")
    loaded = next(line for line in done.stderr.splitlines() if line.startswith("modules "))
    return elapsed, cpu, loaded


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", required=True, help="the git revision to compare with")
    parser.add_argument("--rounds", type=int, default=30)
    options = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="mlinfra-cold-") as scratch:
        sides = {
            options.baseline: extract(options.baseline, Path(scratch)),
            "this tree": ROOT / "src",
        }
        times: dict[tuple[str, str], list[float]] = {}
        cpus: dict[tuple[str, str], list[float]] = {}
        loaded: dict[tuple[str, str], str] = {}
        for name, src in sides.items():  # untimed: compiles the bytecode of each side
            for label, args in COMMANDS.items():
                *_, loaded[name, label] = run(src, args)
        cases = [(n, label) for n in sides for label in COMMANDS]
        for round_ in range(options.rounds):
            shift = round_ % len(cases)
            for name, label in cases[shift:] + cases[:shift]:
                elapsed, cpu, _ = run(sides[name], COMMANDS[label])
                times.setdefault((name, label), []).append(elapsed)
                cpus.setdefault((name, label), []).append(cpu)

    print(f"load average {os.getloadavg()[0]:.2f}; {options.rounds} rounds; ms per process")
    print("| command | side | wall median | wall min | wall p90 | CPU median | mlinfra modules |")
    print("|---|---|---:|---:|---:|---:|---:|")
    for label in COMMANDS:
        for name in sides:
            values = sorted(times[name, label])
            p90 = values[int(0.9 * (len(values) - 1))]
            count = loaded[name, label].split()[1]
            print(
                f"| `{label}` | {name} | {statistics.median(values):.0f} | {values[0]:.0f} "
                f"| {p90:.0f} | {statistics.median(cpus[name, label]):.0f} | {count} |"
            )


if __name__ == "__main__":
    main()
