"""Benchmark: the edit-one-component loop at 1,000 components, `mlinfra render` and `mlinfra
plan` cold, next to another commit (default `main`) and to a cold `cdk synth` of the same
resources, interleaved in fresh processes.

    .venv/bin/python benchmarks/incremental_bench.py                 # 1,000 components, 5 rounds
    .venv/bin/python benchmarks/incremental_bench.py --rounds 3 --no-cdk

The spec is `render_bench.Case` (validate_bench's generator with a local monitor baseline),
environment `prod` (sagemaker): 8,217 resources at 1,000 components. Every case has its own
copy of the project, so one case's cache is never another's. Before each run of an "edited"
case, one component of its copy is edited (`ep-000`'s `instance_count` toggles between 2 and
3: a real change of that endpoint's resources); "unchanged" cases run on their copy as it is.
Each run is a fresh process (`mlinfra` with this venv's Python and the tree's `src/` first on
PYTHONPATH), timed by wall clock and by CPU (user + system, from the reaped child's rusage);
every round runs every case once, the order rotating per round.

Cases:
- (a) `mlinfra render --env prod` after an edit, this tree (its compile cache misses);
- (b) `mlinfra render --env prod` unchanged since its last render, this tree (cache hit);
- (c) (a) with the other commit's `src/` (`git archive`);
- (d) `mlinfra plan --env prod` after an edit, this tree; (e) the same, other commit;
- (f) `cdk synth` of the same resources (`peers/cdk_export.py` exports prod's lowered graph
  once, `peers/cdk_app.js` builds one stack of `CfnResource`s with CDK tokens for the
  references), from `benchmarks/.cdk` (`make bench-incremental` installs it with npm; the
  stack resource limit lifted, see the app); (g) the same with `--no-validation`. CDK's app
  does not change between runs: it has no incremental mode, every synth is whole.

Checks: after the rounds, each edited render's output is compared byte for byte with a clean
render of the same spec (its cache deleted), and the hit's with a clean render of its copy.
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE / "peers"))

from cdk_export import export as export_for_cdk  # noqa: E402
from render_bench import ENV, Case  # noqa: E402
from validate_bench import load_average, machine  # noqa: E402

from mlinfra.ir.lower import lower  # noqa: E402
from mlinfra.spec.validate import validate_file  # noqa: E402

CDK_HOME = HERE / ".cdk"
CDK = CDK_HOME / "node_modules" / ".bin" / "cdk"
CDK_APP = HERE / "peers" / "cdk_app.js"
LAUNCH = "import sys\nsys.argv[0] = 'mlinfra'\nfrom mlinfra.cli.main import main\nsys.exit(main())"
EDITED = re.compile(r"(\nendpoints:\n  ep-0+:\n(?:    .*\n)*?    instance_count: )(\d+)")


def extract(commit: str, into: Path) -> Path:
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", "--format=tar", commit, "src"],
        capture_output=True,
        check=True,
    ).stdout
    into.mkdir(parents=True, exist_ok=True)
    path = into / "archive.tar"
    path.write_bytes(archive)
    with tarfile.open(path) as tar:
        tar.extractall(into, filter="data")
    return into / "src"


def edit(spec: Path) -> None:
    """Toggle the first endpoint's instance_count between 2 and 3."""
    text = spec.read_text()
    found = EDITED.search(text)
    if found is None:
        raise SystemExit("the generated spec's first endpoint has no instance_count to edit")
    other = "3" if found.group(2) == "2" else "2"
    spec.write_text(text[: found.start(2)] + other + text[found.end(2) :])


def timed(args: list[str], env: dict[str, str], cwd: Path) -> tuple[float, float, str]:
    """Wall and CPU ms of one fresh process, and its stdout."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(args, env=env, cwd=cwd, capture_output=True, text=True, check=False)
    wall = (time.perf_counter() - start) * 1000
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime) * 1000
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(args)} failed:\n{done.stdout[-2000:]}{done.stderr[-3000:]}")
    return wall, cpu, done.stdout


def mlinfra_case(src: Path, spec: Path, command: str, edits: bool) -> Callable[[], tuple]:
    env = {**os.environ, "PYTHONPATH": str(src), "NO_COLOR": "1"}
    for key in ("AWS_PROFILE", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        env.pop(key, None)
    args = [sys.executable, "-c", LAUNCH, command, "--env", ENV, "-f", str(spec)]

    def run() -> tuple:
        if edits:
            edit(spec)
        return timed(args, env, spec.parent)

    return run


def cdk_case(resources: Path, out: Path, validation: bool) -> Callable[[], tuple]:
    env = {
        **os.environ,
        "MLINFRA_CDK_RESOURCES": str(resources),
        "NODE_PATH": str(CDK_HOME / "node_modules"),
        "CDK_DISABLE_VERSION_CHECK": "1",
    }
    args = [str(CDK), "synth", "--app", f"node {CDK_APP}", "-o", str(out), "--quiet"]
    if not validation:
        args.append("--no-validation")

    def run() -> tuple:
        shutil.rmtree(out, ignore_errors=True)
        return timed(args, env, out.parent)

    return run


def program(spec: Path) -> bytes:
    return (spec.parent / "stacks" / ENV / "__main__.py").read_bytes()


def clean_program(spec: Path) -> bytes:
    """The program of a render of `spec` with its compile cache deleted."""
    shutil.rmtree(spec.parent / ".mlinfra" / "cache", ignore_errors=True)
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    args = [sys.executable, "-c", LAUNCH, "render", "--env", ENV, "-f", str(spec)]
    timed(args, env, spec.parent)
    return program(spec)


def row(name: str, walls: list[float], cpus: list[float], base: float | None) -> str:
    wall, cpu = statistics.median(walls), statistics.median(cpus)
    ratio = f"{base / cpu:.1f}x" if base else ""
    return (
        f"| {name} | {wall:,.0f} | {cpu:,.0f} | {min(cpus):,.0f}-{max(cpus):,.0f} "
        f"| {len(cpus)} | {ratio} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--components", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--commit", default="main", help="the commit to compare with")
    parser.add_argument("--no-cdk", action="store_true", help="leave CDK out")
    options = parser.parse_args()

    print(f"machine: {machine()}")
    started = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime())
    with tempfile.TemporaryDirectory(prefix="mlinfra-incremental-") as tmp:
        root = Path(tmp)
        case = Case(options.components, 1, root / "template")
        other_src = extract(options.commit, root / "other")
        copies = {}
        for name in "abcde":
            shutil.copytree(case.spec_dir, root / name)
            copies[name] = root / name / case.spec.name
        this_src = ROOT / "src"
        cases: dict[str, Callable[[], tuple]] = {
            "(a) render, one component edited, this tree": mlinfra_case(
                this_src, copies["a"], "render", True
            ),
            "(b) render, nothing changed, this tree (cache hit)": mlinfra_case(
                this_src, copies["b"], "render", False
            ),
            f"(c) render, one component edited, {options.commit}": mlinfra_case(
                other_src, copies["c"], "render", True
            ),
            "(d) plan, one component edited, this tree": mlinfra_case(
                this_src, copies["d"], "plan", True
            ),
            f"(e) plan, one component edited, {options.commit}": mlinfra_case(
                other_src, copies["e"], "plan", True
            ),
        }
        if not options.no_cdk:
            if not CDK.exists():
                raise SystemExit(f"no {CDK}: run `make bench-incremental` (it installs CDK)")
            validation = validate_file(case.spec, (ENV,))
            graph = lower(validation.environments[ENV], case.spec_dir)
            exported = root / "cdk-resources.json"
            count = export_for_cdk(graph, exported)
            print(f"CDK input: {count} resources, {exported.stat().st_size:,} bytes")
            cases["(f) cdk synth (default)"] = cdk_case(exported, root / "cdk.out", True)
            cases["(g) cdk synth --no-validation"] = cdk_case(exported, root / "cdk.out", False)

        # Untimed: each project rendered once, so that (a)'s first timed run is an edit
        # after a render and (b)'s a render with nothing changed.
        mlinfra_case(this_src, copies["a"], "render", False)()
        mlinfra_case(this_src, copies["b"], "render", False)()

        loads = [load_average()]
        walls: dict[str, list[float]] = {name: [] for name in cases}
        cpus: dict[str, list[float]] = {name: [] for name in cases}
        names = list(cases)
        for n in range(options.rounds):
            shift = n % len(names)
            for name in names[shift:] + names[:shift]:
                wall, cpu, _ = cases[name]()
                walls[name].append(wall)
                cpus[name].append(cpu)
            loads.append(load_average())
            print(f"round {n + 1}/{options.rounds} done, load {loads[-1]}", flush=True)

        same_a = program(copies["a"]) == clean_program(copies["a"])
        same_b = program(copies["b"]) == clean_program(copies["b"])

    cdk = "(f) cdk synth (default)"
    base = statistics.median(cpus[cdk]) if cdk in cpus else None
    print(f"\nstarted {started}; {options.components} components, {options.rounds} rounds")
    print("load averages (before, after each round): " + "; ".join(loads))
    print(
        "\n| case | wall ms (median) | CPU ms (median) | CPU ms min-max | runs | CDK / this (CPU) |"
    )
    print("|---|---:|---:|---:|---:|---:|")
    for name in cases:
        print(row(name, walls[name], cpus[name], base))
    print(f"\n(a)'s last program equals a clean render's, byte for byte: {same_a}")
    print(f"(b)'s program equals a clean render's, byte for byte: {same_b}")
    if not (same_a and same_b):
        raise SystemExit("a cached render differs from a clean one")


if __name__ == "__main__":
    main()
