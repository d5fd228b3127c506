"""Benchmark: compile (lower + render_project) of one generated spec with this tree and with
another commit's, side by side, interleaved in fresh processes.

    .venv/bin/python benchmarks/render_vs_commit.py --commit main --components 1000

The other commit's `src/` is exported with `git archive` into a temporary folder and put
first on `PYTHONPATH`; both sides run with this venv's Python and libraries. Each round starts
one fresh process per side (the order alternating per round); a process generates the spec of
`render_bench.Case` (this tree's generator, the same text for both sides), validates it,
compiles `prod` once as a warm-up and then `--reps` times, and reports each run's lower and
render times (ms) and the `__main__.py` digest. The table gives medians over every timed run
of every round. Measurements to read, not tests.
"""

from __future__ import annotations

import argparse
import gc
import hashlib
import json
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent


def child(components: int, reps: int) -> None:
    """In a fresh process: time `reps` compiles, print them as JSON."""
    sys.path.insert(0, str(HERE))
    from render_bench import ENV, Case  # noqa: PLC0415  (benchmarks/ is not a package)

    import mlinfra  # noqa: PLC0415
    from mlinfra.ir.lower import lower  # noqa: PLC0415
    from mlinfra.render.pulumi import render_project  # noqa: PLC0415

    with tempfile.TemporaryDirectory(prefix="mlinfra-render-vs-") as tmp:
        case = Case(components, 1, Path(tmp))
        result, _ = case.validate()
        spec = result.environments[ENV]
        render_project(lower(spec, case.spec_dir), spec, case.spec_from_out)  # warm-up
        runs = []
        for _ in range(reps):
            gc.collect()
            start = time.perf_counter()
            graph = lower(spec, case.spec_dir)
            lowered = time.perf_counter()
            files = render_project(graph, spec, case.spec_from_out)
            done = time.perf_counter()
            runs.append(((lowered - start) * 1000, (done - lowered) * 1000))
    digest = hashlib.sha256(files["__main__.py"].encode()).hexdigest()[:16]
    print(json.dumps({"src": mlinfra.__file__, "runs": runs, "main": digest}))


def export(commit: str, into: Path) -> Path:
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", "--format=tar", commit, "src"],
        capture_output=True,
        check=True,
    ).stdout
    path = into / "archive.tar"
    path.write_bytes(archive)
    with tarfile.open(path) as tar:
        tar.extractall(into, filter="data")
    return into / "src"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--commit", default="main", help="the commit to compare with")
    parser.add_argument("--components", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=3, help="fresh processes per side")
    parser.add_argument("--reps", type=int, default=3, help="timed compiles per process")
    parser.add_argument("--child", nargs=2, type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(*args.child)
        return
    rev = subprocess.run(
        ["git", "-C", str(ROOT), "rev-parse", "--short", args.commit],
        capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
    head = subprocess.run(
        ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
        capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="mlinfra-render-vs-") as tmp:
        sides = {
            f"{args.commit} ({rev})": export(args.commit, Path(tmp)),
            f"this tree ({head})": ROOT / "src",
        }
        found: dict[str, list] = {name: [] for name in sides}
        digests: dict[str, set] = {name: set() for name in sides}
        names = list(sides)
        for round_ in range(args.rounds):
            for name in names if round_ % 2 == 0 else names[::-1]:
                done = subprocess.run(
                    [sys.executable, __file__, "--child", str(args.components), str(args.reps)],
                    capture_output=True,
                    text=True,
                    check=True,
                    env={"PYTHONPATH": str(sides[name]), "PATH": "/usr/bin:/bin"},
                )
                report = json.loads(done.stdout.strip().splitlines()[-1])
                assert report["src"].startswith(str(sides[name])), report["src"]
                found[name] += report["runs"]
                digests[name].add(report["main"])
    print(
        f"# compile of {args.components:,} components (prod), {args.rounds} fresh processes "
        f"per side x {args.reps} timed runs, interleaved"
    )
    print("\n| code | lower ms | render ms | lower + render ms (min-max) | runs |")
    print("|---|---:|---:|---:|---:|")
    for name, runs in found.items():
        total = [a + b for a, b in runs]
        print(
            f"| {name} | {statistics.median(a for a, _ in runs):,.0f} "
            f"| {statistics.median(b for _, b in runs):,.0f} "
            f"| {statistics.median(total):,.0f} ({min(total):,.0f}-{max(total):,.0f}) "
            f"| {len(runs)} |"
        )
    same = len(set().union(*digests.values())) == 1
    print(f"\n`__main__.py` identical on both sides: {'yes' if same else 'NO'}")


if __name__ == "__main__":
    main()
