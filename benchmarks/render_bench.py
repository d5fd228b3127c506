"""Benchmark: how long mlinfra takes to compile a large spec to a Pulumi project, by size.

Run it as `.venv/bin/python benchmarks/render_bench.py` (sizes 100, 500, 1000, 2000 and 5000
components), or with `--sizes 100,500,1000` for a shorter run. These are measurements to read,
not timed unit tests: nothing here fails on a slow number.

"Compile" is what `mlinfra render --env ENV` does for one environment after validating:
`mlinfra.ir.lower.lower` (EnvSpec -> ResourceGraph) then
`mlinfra.render.pulumi.render_project` (ResourceGraph -> file name -> text), called as
`mlinfra.cli.render` calls them. The target this checks: a 1,000-component spec compiles in
under 2 s.

For each size, on the spec of `validate_bench.generate_spec` (imported, not copied; its
monitors pointed at a small local baseline CSV, so lowering builds their violation alarms):

1. checks the spec is valid (no errors) and has a `sagemaker` environment `prod`;
2. times, in this process with `time.perf_counter`, interleaved round-robin (the order
   rotating per round, so a noisy patch on the machine hits every case alike):
     (a) PyYAML's C loader, `yaml.load(text, Loader=yaml.CSafeLoader)` - the reference point;
     (b) `validate_file` of the spec;
     (e) compile = `lower()` of prod + `render_project()` of its graph, in one call, with the
         clock read between the two, which gives (c) `lower` and (d) `render_project` of the
         same run (so (c) + (d) = (e));
   after one warm-up each (the validity check is (b)'s; the first compile, which also gives
   the resource count and the program's size, is (e)'s). Every run's `__main__.py` is
   checked to be byte-identical to the first one. `--separate` adds (c) and (d) as cases of
   their own (lower alone; render of an already-lowered graph), to check the split.
3. times the cold CLI, `mlinfra render --env prod -f SPEC --out DIR`, a fresh process per run,
   with its peak RSS (through GNU `time`, when /usr/bin/time exists), and checks it wrote the
   same `__main__.py` as the in-process compile.
4. prints a table per size and a scaling table (resources, compile ms, ms per component, the
   local exponent between consecutive sizes: 1 is linear, 2 quadratic).
5. profiles one compile with cProfile at 1,000 components (`--profile-size`): the top
   functions by cumulative time and the shares of named hot spots; the same hot spots are
   profiled at 100 components too, to show which grow faster than the spec;
6. at the same size, times the program check `mlinfra render --check` runs (until issue 22
   part 2, every render ran it last)
   (`symtable.symtable(program)`: the parser of `ast.parse`, then scopes) next to the other
   ways to parse it: `compile(program)` (what the check did before), `ast.parse(program)`
   alone (which the issue names) and `compile(ast.parse(program))`.
"""

from __future__ import annotations

import argparse
import ast
import cProfile
import gc
import hashlib
import io
import math
import os
import pstats
import re
import shutil
import statistics
import subprocess
import symtable
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))

from validate_bench import (  # noqa: E402  (benchmarks/ is not a package)
    CLI,
    generate_spec,
    load_average,
    machine,
    write_spec,
)

from mlinfra.diagnostics import Severity  # noqa: E402
from mlinfra.ir.lower import lower  # noqa: E402
from mlinfra.render.pulumi import render_project  # noqa: E402
from mlinfra.spec.validate import validate_file  # noqa: E402

ENV = "prod"
SIZES = (100, 500, 1000, 2000, 5000)
# Every monitor's baseline: a local CSV whose header names the features (8, so one alarm of
# each kind per monitor: an alarm takes at most 10 metrics). An s3:// baseline would leave
# the monitors without alarms, alerts or retraining (and the validator warns about that).
BASELINE = "data/baseline.csv"
BASELINE_CSV = (
    "tenure_months,monthly_charges,total_charges,contract,support_calls,"
    "payment_method,num_products,region\n"
    "55,55.11,2924.73,one-year,1,card,2,eu\n"
    "32,67.1,2177.47,month-to-month,0,transfer,1,us\n"
    "12,59.83,711.05,month-to-month,1,card,3,us\n"
)
GNU_TIME = Path("/usr/bin/time")
TARGET_COMPONENTS, TARGET_MS = 1000, 2000.0

C_LOAD = "(a) yaml.load CSafeLoader"
VALIDATE = "(b) validate_file"
LOWER = "(c) lower(prod)"
RENDER = "(d) render_project(prod)"
COMPILE = "(e) compile = lower + render_project"
LOWER_ALONE = "(c') lower(prod), timed alone"
RENDER_ALONE = "(d') render_project(prod), timed alone"
CLI_CASE = f"(f) mlinfra render --env {ENV} (cold CLI)"


def ms_since(start: float) -> float:
    return (time.perf_counter() - start) * 1000


def digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


# --------------------------------------------------------------------------------------------
# One size
# --------------------------------------------------------------------------------------------


class Case:
    """A generated spec written to a temp dir, validated, and its prod environment."""

    def __init__(self, components: int, seed: int, directory: Path) -> None:
        self.components = components
        self.text = generate_spec(components, seed, baseline=BASELINE)
        self.spec = write_spec(directory, self.text).resolve()
        baseline = directory / BASELINE
        baseline.parent.mkdir(parents=True, exist_ok=True)
        baseline.write_text(BASELINE_CSV, encoding="utf-8")
        # As `mlinfra render` calls lower and render_project (cli/render.py): the spec's
        # folder, and the spec's path from the output folder (default stacks/<env>/).
        self.spec_dir = self.spec.parent
        self.spec_from_out = relpath(self.spec, self.spec_dir / "stacks" / ENV)

    def validate(self) -> tuple[object, int]:
        """Fail loudly unless the spec is valid with a sagemaker `prod`; returns (validation,
        warning count)."""
        result = validate_file(self.spec)
        errors = [d for d in result.diagnostics if d.severity is Severity.ERROR]
        if not result.ok or errors:
            shown = "\n".join(f"  {d.code}: {d.summary} ({d.range})" for d in errors)
            raise SystemExit(f"the generated spec ({self.components}) is not valid:\n{shown}")
        env = result.environments.get(ENV)
        if env is None or env.target != "sagemaker":
            raise SystemExit(f"the generated spec has no sagemaker environment {ENV!r}")
        return result, sum(d.severity is Severity.WARNING for d in result.diagnostics)


def relpath(path: Path, start: Path) -> str:
    """`path` from `start`, posix, as `mlinfra.cli.common.posix_relpath` computes it."""
    return Path(os.path.relpath(os.path.abspath(path), os.path.abspath(start))).as_posix()


def rounds(cases: dict[str, Callable[[], dict[str, float]]], reps: int) -> dict[str, list[float]]:
    """`reps` rounds, each running every case once, the order rotating per round.

    A case returns its own timings (ms by name): the compile case reports lower, render and
    their sum from one run. A full collection runs before each case, untimed, so that one
    case's garbage is not collected on another's clock.
    """
    names = list(cases)
    times: dict[str, list[float]] = {}
    for rep in range(reps):
        shift = rep % len(names)
        for name in names[shift:] + names[:shift]:
            gc.collect()
            for key, ms in cases[name]().items():
                times.setdefault(key, []).append(ms)
    return times


def measure(components: int, seed: int, reps: int, warmup: bool, cli_reps: int, separate: bool):
    """Everything measured at one size; returns a dict for the tables."""
    with tempfile.TemporaryDirectory(prefix="mlinfra-render-bench-") as tmp:
        case = Case(components, seed, Path(tmp))
        started = time.perf_counter()
        result, warnings = case.validate()
        first_validate = ms_since(started)
        env_spec = result.environments[ENV]

        def compile_once() -> tuple[dict[str, float], object, dict[str, str]]:
            start = time.perf_counter()
            graph = lower(env_spec, case.spec_dir)
            middle = time.perf_counter()
            files = render_project(graph, env_spec, case.spec_from_out)
            end = time.perf_counter()
            times = {
                LOWER: (middle - start) * 1000,
                RENDER: (end - middle) * 1000,
                COMPILE: (end - start) * 1000,
            }
            return times, graph, files

        gc.collect()
        first_compile, graph, files = compile_once()
        program = files["__main__.py"]
        info = {
            "components": components,
            "spec_bytes": len(case.text.encode()),
            "warnings": warnings,
            "resources": len(graph.resources),
            "main_lines": program.count("\n"),
            "main_bytes": len(program.encode()),
            "files_bytes": sum(
                len(text if isinstance(text, bytes) else text.encode()) for text in files.values()
            ),  # the monitor job archive is bytes
            "first_validate": first_validate,
            "first_compile": first_compile[COMPILE],
        }
        expected = digest(program)
        del graph, files, program

        def compile_case() -> dict[str, float]:
            times, _, files = compile_once()
            if digest(files["__main__.py"]) != expected:
                raise SystemExit(f"{components}: __main__.py differs between two compiles")
            return times

        cases: dict[str, Callable[[], dict[str, float]]] = {
            C_LOAD: lambda: timed(lambda: yaml.load(case.text, Loader=yaml.CSafeLoader), C_LOAD),
            VALIDATE: lambda: timed(lambda: validate_file(case.spec), VALIDATE),
            COMPILE: compile_case,
        }
        if separate:
            graph = lower(env_spec, case.spec_dir)
            cases[LOWER_ALONE] = lambda: timed(lambda: lower(env_spec, case.spec_dir), LOWER_ALONE)
            cases[RENDER_ALONE] = lambda: timed(
                lambda: render_project(graph, env_spec, case.spec_from_out), RENDER_ALONE
            )
        if warmup:  # (b) and (e) were warmed by the validity check and the first compile
            yaml.load(case.text, Loader=yaml.CSafeLoader)
            if separate:
                render_project(graph, env_spec, case.spec_from_out)
            times = rounds(cases, reps)
        else:  # no warm-up: the validity check and the first compile are timed runs
            times = rounds(cases, max(reps - 1, 0)) if reps > 1 else {}
            times.setdefault(VALIDATE, []).insert(0, first_validate)
            for key, ms in first_compile.items():
                times.setdefault(key, []).insert(0, ms)
            if C_LOAD not in times:
                times[C_LOAD] = list(cases[C_LOAD]().values())
        del result, cases
        gc.collect()
        info["cli"] = cold_cli(case, cli_reps, expected)
    info["times"] = ordered(times)
    return info


def timed(fn: Callable[[], object], name: str) -> dict[str, float]:
    start = time.perf_counter()
    fn()
    return {name: ms_since(start)}


def ordered(times: dict[str, list[float]]) -> dict[str, list[float]]:
    order = [C_LOAD, VALIDATE, LOWER, RENDER, COMPILE, LOWER_ALONE, RENDER_ALONE]
    return {name: times[name] for name in order if name in times}


def peak_rss_kib() -> int:
    """VmHWM: this process's peak resident set (see validate_bench._peak_rss_kib)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0


_WROTE = re.compile(r"\((?P<env>[a-z0-9-]+): (?P<resources>\d+) resources, (?P<ms>\d+) ms\)")


def cold_cli(case: Case, reps: int, expected: str) -> dict:
    """`mlinfra render --env prod -f SPEC --out DIR` in a fresh process per run.

    DIR is `<tmp>/cli-<n>/prod`, as deep under the spec's folder as the default
    `stacks/prod`, so the program names the spec by the same relative path as the in-process
    compile and must be byte-identical to it. Returns wall ms, the CLI's own report of its
    lower + render + write time, and the peak RSS GNU time reports (KiB), per run.
    """
    found: dict[str, list[float]] = {"wall": [], "reported": [], "rss_kib": []}
    for rep in range(reps):
        out = case.spec_dir / f"cli-{rep}" / ENV
        args = [str(CLI), "render", "--env", ENV, "-f", str(case.spec), "--out", str(out)]
        if GNU_TIME.exists():
            args = [str(GNU_TIME), "-f", "peak-rss-kib %M", *args]
        gc.collect()
        start = time.perf_counter()
        done = subprocess.run(args, capture_output=True, text=True, check=False)
        wall = ms_since(start)
        if done.returncode != 0:
            raise SystemExit(f"mlinfra render failed ({done.returncode}):\n{done.stderr}")
        written = (out / "__main__.py").read_text(encoding="utf-8")
        if digest(written) != expected:
            raise SystemExit("the CLI wrote a different __main__.py than the in-process compile")
        found["wall"].append(wall)
        wrote = _WROTE.search(done.stdout)
        if wrote:
            found["reported"].append(float(wrote["ms"]))
        rss = re.search(r"^peak-rss-kib (\d+)$", done.stderr, re.MULTILINE)
        if rss:
            found["rss_kib"].append(float(rss[1]))
        shutil.rmtree(out.parent, ignore_errors=True)
    return found


# --------------------------------------------------------------------------------------------
# Profile
# --------------------------------------------------------------------------------------------

# Named hot spots: (file suffix, function, label). Cumulative time, so they overlap.
HOT_SPOTS = (
    ("mlinfra/ir/lower.py", "lower", "lower (all of it)"),
    ("mlinfra/ir/sagemaker/pipelines.py", "lower_pipeline", "  lower_pipeline"),
    (
        "mlinfra/ir/sagemaker/pipeline_definition/check.py",
        "check_definition",
        "    check_definition",
    ),
    ("mlinfra/ir/sagemaker/monitors.py", "lower_monitor", "  lower_monitor"),
    ("mlinfra/ir/sagemaker/endpoints.py", "lower_endpoint", "  lower_endpoint"),
    ("mlinfra/ir/sagemaker/models.py", "lower_model", "  lower_model"),
    ("mlinfra/ir/sagemaker/feature_stores.py", "lower_feature_store", "  lower_feature_store"),
    ("mlinfra/frozen.py", "freeze", "  freeze (properties made immutable)"),
    ("mlinfra/ir/graph.py", "build_graph", "  build_graph (check + topological sort)"),
    ("mlinfra/spec/model.py", "component", "  EnvSpec.component (linear search)"),
    ("mlinfra/spec/model.py", "of_kind", "  EnvSpec.of_kind (linear filter)"),
    ("mlinfra/ir/graph.py", "get", "  ResourceGraph.get (linear search)"),
    ("mlinfra/render/pulumi.py", "render_project", "render_project (all of it)"),
    ("mlinfra/render/pulumi.py", "_resource_statement", "  _resource_statement (formatting)"),
    ("mlinfra/render/pulumi.py", "sections", "  sections (grouping, component order)"),
    ("mlinfra/ir/graph.py", "dependencies", "Resource.dependencies (lower + render)"),
)


def compile_project(env_spec, spec_dir: Path, spec_from_out: str) -> dict[str, str]:
    """lower + render_project, as one function: the profile's 100%."""
    return render_project(lower(env_spec, spec_dir), env_spec, spec_from_out)


def profile_compile(components: int, seed: int) -> tuple[str, dict[str, tuple[int, float]], float]:
    """One compile (lower + render_project of prod) under cProfile, after a warm-up."""
    with tempfile.TemporaryDirectory(prefix="mlinfra-render-bench-") as tmp:
        case = Case(components, seed, Path(tmp))
        result, _ = case.validate()
        env_spec = result.environments[ENV]
        compile_project(env_spec, case.spec_dir, case.spec_from_out)  # warm-up
        gc.collect()
        profiler = cProfile.Profile()
        profiler.enable()
        compile_project(env_spec, case.spec_dir, case.spec_from_out)
        profiler.disable()
    stream = io.StringIO()
    pstats.Stats(profiler, stream=stream).strip_dirs().sort_stats("cumulative").print_stats(15)
    raw = pstats.Stats(profiler).stats  # not stripped: match on the package path
    total = next(
        ct
        for (filename, _, name), (_, _, _, ct, _) in raw.items()
        if name == "compile_project" and filename.endswith("render_bench.py")
    )
    spots = {}
    for suffix, func, label in HOT_SPOTS:
        calls, cumulative = 0, 0.0
        for (filename, _, name), (_, nc, _, ct, _) in raw.items():
            if name == func and filename.replace(os.sep, "/").endswith(suffix):
                calls += nc
                cumulative += ct
        spots[label] = (calls, cumulative * 1000)
    return stream.getvalue(), spots, total * 1000


CHECK_NOW = "symtable.symtable(program): what check_program (render --check) does"
# Each form of the check, and how a fresh process runs it (`child_check`).
CHECK_FORMS = {
    CHECK_NOW: lambda program: symtable.symtable(program, "__main__.py", "exec"),
    "compile(program, ...) from the source text": lambda program: compile(
        program, "__main__.py", "exec"
    ),
    "ast.parse(program) alone": ast.parse,
    "compile(ast.parse(program))": lambda program: compile(
        ast.parse(program), "__main__.py", "exec"
    ),
}
CHECK_CASES = tuple(CHECK_FORMS)


def check_cost(components: int, seed: int, reps: int) -> tuple[int, dict, dict[str, tuple]]:
    """The program check of `render --check` (`check_program`, render/pulumi.py), on the program
    rendered at `components`, next to the other ways to parse it (`CHECK_FORMS`).

    All of them run the same parser and raise the same SyntaxError for the same text;
    `ast.parse` then builds the whole tree as Python objects (which the cyclic garbage
    collector walks while they are being made), `compile` generates bytecode, and `symtable`
    only resolves names and scopes. Returns the program's size, the times (`reps`
    interleaved rounds, no warm-up: C code, nothing to warm), and the peak RSS (MiB, before
    and after) of each form of the check in a fresh process that only reads the program and
    checks it.
    """
    with tempfile.TemporaryDirectory(prefix="mlinfra-render-bench-") as tmp:
        case = Case(components, seed, Path(tmp))
        result, _ = case.validate()
        env_spec = result.environments[ENV]
        program = compile_project(env_spec, case.spec_dir, case.spec_from_out)["__main__.py"]
        saved = Path(tmp) / "program.py"
        saved.write_text(program, encoding="utf-8")
        memory = {}
        for form, label in enumerate(CHECK_CASES):
            done = subprocess.run(
                [sys.executable, __file__, "--child-check", str(form), str(saved)],
                capture_output=True,
                text=True,
                check=False,
            )
            if done.returncode != 0:
                raise SystemExit(f"check child {form} failed:\n{done.stderr}")
            before, after = done.stdout.split()
            memory[label] = (int(before) / 1024, int(after) / 1024)
    del result, env_spec

    cases = {
        name: (lambda f=check, n=name: timed(lambda: f(program), n))
        for name, check in CHECK_FORMS.items()
    }
    return len(program.encode()), rounds(cases, reps), memory


def child_check(form: str, path: str) -> None:
    """In a fresh process: peak RSS (KiB) before and after one form of the program check
    (`form`: its index in `CHECK_CASES`)."""
    program = Path(path).read_text(encoding="utf-8")
    before = peak_rss_kib()
    CHECK_FORMS[CHECK_CASES[int(form)]](program)
    print(before, peak_rss_kib())


# --------------------------------------------------------------------------------------------
# Reporting
# --------------------------------------------------------------------------------------------


def stats_cells(ms: list[float]) -> str:
    return f"{statistics.median(ms):.1f} | {min(ms):.1f} | {max(ms):.1f} | {len(ms)}"


def size_table(info: dict) -> str:
    times = info["times"]
    base = statistics.median(times[C_LOAD])
    lines = [
        "| case | median ms | min ms | max ms | runs | vs C loader |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for name, ms in times.items():
        lines.append(f"| {name} | {stats_cells(ms)} | {statistics.median(ms) / base:.1f}x |")
    cli = info["cli"]
    if cli["wall"]:
        lines.append(
            f"| {CLI_CASE} | {stats_cells(cli['wall'])} | "
            f"{statistics.median(cli['wall']) / base:.1f}x |"
        )
    if cli["reported"]:
        lines.append(
            "| (f) of which the CLI's own `wrote ... ms` (lower + render + write) | "
            f"{stats_cells(cli['reported'])} | - |"
        )
    return "\n".join(lines)


def size_heading(info: dict) -> str:
    cli_rss = info["cli"]["rss_kib"]
    rss = f"; cold CLI peak RSS {statistics.median(cli_rss) / 1024:,.0f} MiB" if cli_rss else ""
    return (
        f"### {info['components']:,} components: {info['resources']:,} resources in {ENV}\n\n"
        f"Spec {info['spec_bytes']:,} bytes ({info['warnings']} warning(s)); rendered "
        f"`__main__.py` {info['main_lines']:,} lines, {info['main_bytes']:,} bytes (all files "
        f"{info['files_bytes']:,} bytes); warm-up runs: validate_file "
        f"{info['first_validate']:.0f} ms, compile {info['first_compile']:.0f} ms{rss}."
    )


def scaling_table(infos: list[dict]) -> str:
    lines = [
        "| components | resources | `__main__.py` MB | validate ms | lower ms | render ms "
        "| compile ms (min-max) | compile ms / component | vs smallest | exponent "
        "| cold CLI ms | CLI peak RSS MiB |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    first = None
    previous = None
    for info in infos:
        times = info["times"]
        compile_ms = statistics.median(times[COMPILE])
        per = compile_ms / info["components"]
        first = first or per
        exponent = "-"
        if previous:
            growth = math.log(compile_ms / previous[1]) / math.log(info["components"] / previous[0])
            exponent = f"{growth:.2f}"
        previous = (info["components"], compile_ms)
        cli = info["cli"]
        cli_ms = f"{statistics.median(cli['wall']):,.0f}" if cli["wall"] else "-"
        rss = f"{statistics.median(cli['rss_kib']) / 1024:,.0f}" if cli["rss_kib"] else "-"
        lines.append(
            f"| {info['components']:,} | {info['resources']:,} | {info['main_bytes'] / 1e6:.1f} "
            f"| {statistics.median(times[VALIDATE]):,.0f} "
            f"| {statistics.median(times[LOWER]):,.0f} | {statistics.median(times[RENDER]):,.0f} "
            f"| {compile_ms:,.0f} ({min(times[COMPILE]):,.0f}-{max(times[COMPILE]):,.0f}) "
            f"| {per:.2f} | {per / first:.2f}x | {exponent} | {cli_ms} | {rss} |"
        )
    return "\n".join(lines)


def verdict(infos: list[dict]) -> list[str]:
    out = []
    smallest, largest = infos[0], infos[-1]
    if len(infos) > 1:

        def per(info: dict) -> float:
            return statistics.median(info["times"][COMPILE]) / info["components"]

        ratio = per(largest) / per(smallest)
        out.append(
            f"Compile time per component at {largest['components']:,} vs "
            f"{smallest['components']:,}: {ratio:.2f}x "
            f"({per(smallest):.2f} -> {per(largest):.2f} ms/component; 1.0x is linear)."
        )
    at = next((i for i in infos if i["components"] == TARGET_COMPONENTS), None)
    if at is not None:
        compile_ms = statistics.median(at["times"][COMPILE])
        met = "MET" if compile_ms < TARGET_MS else "NOT met"
        out.append(
            f"Target (compile {TARGET_COMPONENTS:,} components in < {TARGET_MS / 1000:.0f} s): "
            f"{met}: median {compile_ms:,.0f} ms, {compile_ms / TARGET_MS:.1f}x the target."
        )
        if at["cli"]["wall"]:
            wall = statistics.median(at["cli"]["wall"])
            out.append(
                f"Cold CLI end to end (start-up, validate, lower, render, write) at "
                f"{TARGET_COMPONENTS:,}: median {wall:,.0f} ms."
            )
    return out


def hot_spot_table(
    spots: dict[str, tuple[int, float]],
    total: float,
    small: dict[str, tuple[int, float]] | None,
    small_size: int,
    size: int,
) -> str:
    header = "| function | calls | cumulative ms | share | µs per component |"
    rule = "|---|---:|---:|---:|---:|"
    if small is not None:
        header += f" µs per component at {small_size:,} | growth |"
        rule += "---:|---:|"
    lines = [header, rule]
    for label, (calls, ms) in spots.items():
        per = ms * 1000 / size
        row = f"| {label} | {calls:,} | {ms:,.0f} | {ms / total * 100:.0f}% | {per:,.0f} |"
        if small is not None:
            small_per = small[label][1] * 1000 / small_size
            growth = f"{per / small_per:.1f}x" if small_per else "-"
            row += f" {small_per:,.0f} | {growth} |"
        lines.append(row)
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default=",".join(map(str, SIZES)), metavar="N,N,...")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--reps", type=int, default=5, help="timed in-process rounds")
    parser.add_argument("--cli-reps", type=int, default=3, help="cold CLI runs")
    parser.add_argument(
        "--large",
        type=int,
        default=1000,
        help="sizes above this get --large-reps in-process runs, with no separate warm-up "
        "(the validity check and the first compile are the timed runs), and --large-cli-reps",
    )
    parser.add_argument("--large-reps", type=int, default=1)
    parser.add_argument("--large-cli-reps", type=int, default=1)
    parser.add_argument(
        "--separate",
        action="store_true",
        help="also time lower and render_project as cases of their own",
    )
    parser.add_argument(
        "--profile-size", type=int, default=1000, help="profile a compile at this size (0: no)"
    )
    parser.add_argument(
        "--profile-small", type=int, default=100, help="and at this size, for growth (0: no)"
    )
    parser.add_argument(
        "--check-reps",
        type=int,
        default=3,
        help="time render's program check and cheaper forms of it at --profile-size (0: no)",
    )
    parser.add_argument("--child-check", nargs=2, metavar=("FORM", "FILE"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child_check:
        child_check(*args.child_check)
        return
    sizes = [int(n) for n in args.sizes.split(",") if n.strip()]  # "": the profile only

    started = time.perf_counter()
    print(f"# mlinfra render benchmark ({time.strftime('%Y-%m-%d %H:%M %Z')})")
    print(f"machine: {machine()}")
    print(f"argv: {' '.join(sys.argv[1:]) or '(defaults)'}")
    if not getattr(yaml, "CSafeLoader", None):
        raise SystemExit("PyYAML is built without libyaml: the C loader reference is missing")

    infos = []
    for size in sizes:
        large = size > args.large
        reps = args.large_reps if large else args.reps
        cli_reps = args.large_cli_reps if large else args.cli_reps
        info = measure(size, args.seed, reps, not large, cli_reps, args.separate)
        infos.append(info)
        how = (
            f"{reps} timed run(s), no separate warm-up"
            if large
            else f"1 warm-up + {reps} timed rounds, interleaved"
        )
        print(f"\n{size_heading(info)} In process: {how}; cold CLI: {cli_reps} run(s).\n")
        print(size_table(info))
        elapsed = time.perf_counter() - started
        print(f"\n(elapsed {elapsed:.0f} s, load {load_average()})", flush=True)

    if infos:
        print("\n## Scaling: compile (lower + render_project) of prod\n")
        print(scaling_table(infos))
        print()
        for line in verdict(infos):
            print(f"- {line}")

    if args.profile_size:
        print(
            f"\n## Profile of one compile at {args.profile_size:,} components "
            "(cProfile, after a warm-up)\n"
        )
        listing, spots, total = profile_compile(args.profile_size, args.seed)
        small = None
        if args.profile_small:
            small = profile_compile(args.profile_small, args.seed)[1]
        print(f"total under the profiler: {total:,.0f} ms (cProfile inflates Python-heavy code)\n")
        print(hot_spot_table(spots, total, small, args.profile_small, args.profile_size))
        print("\n```")
        print(listing.strip())
        print("```")
        if args.check_reps:
            size, times, memory = check_cost(args.profile_size, args.seed, args.check_reps)
            print(
                f"\n## The program check of render_project at {args.profile_size:,} components "
                f"({size:,} bytes of `__main__.py`), {args.check_reps} interleaved rounds\n"
            )
            now = statistics.median(times[CHECK_NOW])
            print("| what | median ms | min ms | max ms | runs | vs now |")
            print("|---|---:|---:|---:|---:|---:|")
            for name, ms in times.items():
                print(f"| {name} | {stats_cells(ms)} | {statistics.median(ms) / now:.2f}x |")
            print("\n| check, in a fresh process that only reads the program | peak RSS MiB |")
            print("|---|---:|")
            for name, (before, after) in memory.items():
                print(f"| {name} | {before:,.0f} -> {after:,.0f} (+{after - before:,.0f}) |")
    print(f"\nbenchmark wall time: {time.perf_counter() - started:.1f} s")
    print(f"load average at the end: {load_average()}")


if __name__ == "__main__":
    main()
