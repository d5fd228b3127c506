"""Benchmark: how long mlinfra takes to validate a large spec, next to PyYAML loading it.

Run it as `make bench`, or `.venv/bin/python benchmarks/validate_bench.py --components 1000`.
These are measurements to read, not timed unit tests: nothing here fails on a slow number.

What it does, on one generated spec (see `generate_spec`), in one run:

1. checks the spec is valid with no error diagnostics (and no names shortened), before timing;
2. times, in this process, interleaved round-robin so that machine noise hits every case alike,
   after one warm-up run of each (so imports, schema loading and the botocore catalogues are
   cached, as they are after the first validation in a long-lived process):
     (a) PyYAML's C loader alone, `yaml.load(text, Loader=yaml.CSafeLoader)` - the peer;
     (b) PyYAML's pure-Python `yaml.safe_load`, for reference;
     (c) mlinfra's parse only, `mlinfra.syntax.loader.parse_text`;
     (d) full `mlinfra.spec.validate.validate_file` (syntax, schema, every environment);
     (e) refusals: a billion-laughs alias bomb (9 levels x 9 aliases) and a file past 4 MiB;
3. times the cold CLI, `mlinfra validate -f FILE`, in a fresh process per repetition, next to a
   fresh `python -c "import yaml; yaml.load(..., CSafeLoader)"` process (same interleaving);
4. measures peak memory of a full validation in a fresh process: peak RSS (VmHWM; see
   `_peak_rss_kib`), and tracemalloc's peak of Python allocations during `validate_file` (in a
   separate process, as tracing slows everything down);
5. profiles one full validation with cProfile: the top functions by cumulative time, and the
   share of the main stages.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import platform
import pstats
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from importlib import metadata
from pathlib import Path

import yaml

import mlinfra
from mlinfra.diagnostics import Severity
from mlinfra.spec.validate import validate_file, validate_text
from mlinfra.syntax.loader import MAX_FILE_BYTES, parse_text

KINDS = ("feature_stores", "models", "pipelines", "endpoints", "monitors")
PROJECT = "bench"
# The local environment's model artifact: validation checks it exists and compiling hashes
# it; nothing here serves it.
LOCAL_ARTIFACT = "models/model.joblib"
# The local environment's monitor baseline: the emulator reads files, not S3 objects (the
# `not-on-local` check), so the local environment overrides every monitor's baseline with it,
# as the check's suggestion tells a user to.
LOCAL_BASELINE = "data/baseline.csv"
SCRIPTS = {
    "pipelines/prepare.py": "print('prepare')\n",
    "pipelines/train.py": "print('train')\n",
    "pipelines/evaluate.py": "print('evaluate')\n",
    LOCAL_ARTIFACT: "a placeholder model file\n",
    LOCAL_BASELINE: "f0,f1,f2,f3\n0.5,1,a,2\n",
}
CLI = Path(sys.executable).with_name("mlinfra")
CHURN = Path(__file__).resolve().parents[1] / "examples" / "churn" / "mlinfra.yaml"

# --------------------------------------------------------------------------------------------
# The spec generator
# --------------------------------------------------------------------------------------------

_FEATURE_TYPES = ("integral", "fractional", "string")
_INSTANCE_TYPES = ("ml.m5.large", "ml.m5.xlarge", "ml.c5.xlarge", "ml.m5.2xlarge")
# What SageMaker Model Monitor accepts (it cannot run weekly, or on chosen days).
_MONITOR_SCHEDULES = ("daily", "hourly", '"cron(0 3 ? * * *)"', '"cron(0 0/6 ? * * *)"')


def generate_spec(components: int, seed: int, baseline: str | None = None) -> str:
    """A valid mlinfra spec with about `components` components, shaped like the churn example.

    The components are split evenly over feature stores, models, pipelines (five steps each:
    processing, training, processing, condition, register), endpoints and monitors; component
    i of each kind is wired to component i of the others. Environments local, dev and prod,
    with overrides for some models (local, dev) and endpoints and monitors (prod), a preview
    block, and waivers. Data files are s3:// URIs, except in the local environment, whose
    overrides give every monitor the local baseline `LOCAL_BASELINE` (the emulator cannot read
    S3) and some models a local artifact; pipeline scripts are the relative paths in
    `SCRIPTS`, which must exist beside the spec (see `write_spec`) for it to be warning-free.
    `seed` varies feature lists, instance types, schedules and numbers, deterministically.
    `baseline` (opt-in; default None keeps the output above unchanged): a local CSV path,
    relative to the spec, that every monitor uses as its baseline instead of an s3:// URI, so
    that lowering reads the features from its header and builds the violation alarms; the
    caller writes that file beside the spec (the local environment then needs no override).
    """
    rng = random.Random(seed)
    n = max(1, components // len(KINDS))
    w = len(str(n))

    def name(prefix: str, i: int) -> str:
        return f"{prefix}-{i:0{w}d}"

    out: list[str] = [
        "# Generated by benchmarks/validate_bench.py; shaped like examples/churn/mlinfra.yaml.",
        "version: 1",
        f"project: {PROJECT}",
        "description: Generated benchmark spec",
        "",
        "defaults:",
        "  region: us-east-1",
        "  tags:",
        "    team: growth",
        "    cost-center: ml-1234",
        "",
        "environments:",
    ]
    # Some models are auto-approved outside prod, as in the example.
    auto = [i for i in range(n) if i % 4 == 0]
    for env, account in (("local", None), ("dev", "111111111111")):
        out += [f"  {env}:", f"    target: {'local' if env == 'local' else 'sagemaker'}"]
        if account:
            out += [f'    account: "{account}"', "    region: us-east-1"]
        out += ["    overrides:", "      models:"]
        # The local emulator serves files, not S3 objects: local artifacts there.
        served = [i for i in range(n) if i % 7 == 3] if env == "local" else []
        for i in sorted({*auto, *served}):
            out += [f"        {name('m', i)}:"]
            if i in auto:
                out += ["          approval: auto"]
            if i in served:
                out += [f"          artifact: {LOCAL_ARTIFACT}"]
        if env == "local" and baseline is None:
            out += ["      monitors:"]
            for i in range(n):
                out += [f"        {name('mon', i)}:", f"          baseline: {LOCAL_BASELINE}"]
    out += [
        "  prod:",
        "    target: sagemaker",
        '    account: "222222222222"',
        "    region: eu-west-1",
        "    protect: true",
        "    security:",
        "      kms_key: create",
        "      network_isolation: true",
        "      vpc:",
        "        subnets: [subnet-0a1b2c3d4e5f60718, subnet-1b2c3d4e5f6071829]",
        "        security_groups: [sg-0123456789abcdef0]",
        "    overrides:",
        "      endpoints:",
    ]
    for i in range(0, n, 5):
        out += [
            f"        {name('ep', i)}:",
            "          instance_count: 2",
            "          autoscaling:",
            "            min: 2",
            f"            max: {rng.randint(8, 16)}",
        ]
    out += ["      monitors:"]
    for i in range(0, n, 5):
        out += [f"        {name('mon', i)}:", "          schedule: hourly"]
    out += ["", "previews:", "  base: dev", "  ttl: 72h", "  overrides:", "    endpoints:"]
    for i in range(0, n, 10):
        out += [f"      {name('ep', i)}:", "        instance_type: ml.t2.medium"]

    out += ["", "feature_stores:"]
    for i in range(n):
        extra = rng.randint(4, 10)
        out += [
            f"  {name('fs', i)}:",
            f"    description: Customer features, segment {i}",
            "    record_identifier: customer_id",
            "    event_time: event_time",
            "    features:",
            "      customer_id: string",
            "      event_time: string",
        ]
        out += [f"      f{j}: {rng.choice(_FEATURE_TYPES)}" for j in range(extra)]
        out += [
            "    online:",
            "      enabled: true",
            f"      ttl: {rng.randint(1, 90)}d",
            "    offline:",
            "      enabled: true",
            "      format: parquet",
            f"    source: s3://bench-data/{name('fs', i)}/customers.csv",
        ]

    out += ["", "models:"]
    for i in range(n):
        out += [
            f"  {name('m', i)}:",
            f"    registry_group: {name('g', i)}",
            "    framework: sklearn",
            '    framework_version: "1.2-1"',
        ]
        if i % 7 == 3:  # a model served from an explicit artifact instead of the registry
            out += [f"    artifact: s3://bench-models/{name('m', i)}/model.tar.gz"]
        else:
            out += ["    version: latest-approved"]
        out += ["    approval: manual"]

    out += ["", "pipelines:"]
    for i in range(n):
        out += [
            f"  {name('p', i)}:",
            f"    description: Retraining of model {name('m', i)}",
            f'    schedule: "cron({rng.randint(0, 59)} {rng.randint(0, 23)} * * ? *)"',
            "    parameters:",
            f"      min_accuracy: {rng.randint(60, 90) / 100}",
            "    steps:",
            "      prepare:",
            "        type: processing",
            "        script: pipelines/prepare.py",
            f"        inputs: [feature_store.{name('fs', i)}]",
            f"        instance_type: {rng.choice(_INSTANCE_TYPES)}",
            "      train:",
            "        type: training",
            "        entry_point: pipelines/train.py",
            "        after: [prepare]",
            f"        instance_type: {rng.choice(_INSTANCE_TYPES)}",
            "        hyperparameters:",
            f"          n_estimators: {rng.randint(50, 500)}",
            f"          max_depth: {rng.randint(2, 12)}",
            "      evaluate:",
            "        type: processing",
            "        script: pipelines/evaluate.py",
            "        after: [train]",
            "      gate:",
            "        type: condition",
            "        after: [evaluate]",
            '        when: "evaluate.metrics.accuracy >= parameters.min_accuracy"',
            "      register:",
            "        type: register_model",
            "        after: [gate]",
            f"        model: {name('m', i)}",
        ]

    out += ["", "endpoints:"]
    for i in range(n):
        low = rng.randint(1, 2)
        out += [
            f"  {name('ep', i)}:",
            f"    model: {name('m', i)}",
            f"    instance_type: {rng.choice(_INSTANCE_TYPES)}",
            f"    instance_count: {low}",
            "    autoscaling:",
            f"      min: {low}",
            f"      max: {rng.randint(4, 8)}",
            f"      target_invocations_per_instance: {rng.randint(100, 500)}",
            "    data_capture:",
            f"      sampling_percent: {rng.randint(5, 50)}",
            "    deployment:",
            "      strategy: canary",
            f"      canary_percent: {rng.choice((5, 10, 20))}",
            "      wait_minutes: 10",
            "      rollback_on: [latency, errors]",
            "    slo:",
            f"      latency_p99_ms: {rng.randint(100, 500)}",
            "      error_rate_percent: 1",
        ]

    out += ["", "monitors:"]
    for i in range(n):
        uri = baseline or f"s3://bench-data/{name('fs', i)}/baseline.csv"
        out += [
            f"  {name('mon', i)}:",
            f"    endpoint: {name('ep', i)}",
            "    type: data_quality",
            f"    baseline: {uri}",
            f"    schedule: {rng.choice(_MONITOR_SCHEDULES)}",
            "    thresholds:",
            f"      drift_psi: {rng.randint(1, 4) / 10}",
            "      missing_percent: 5",
            "    on_violation:",
            '      alert: ["email:ml-oncall@example.com"]',
            f"      retrain: {name('p', i)}",
        ]

    out += [
        "",
        "policies:",
        "  packs: [baseline, sagemaker-security, prod-readiness]",
        "  waivers:",
    ]
    for i in range(0, n, 10):
        out += [
            "    - rule: endpoint-kms-key",
            f"      resource: endpoint.{name('ep', i)}",
            "      environments: [dev]",
            "      reason: The dev account holds synthetic data only",
            "      owner: ml-platform@example.com",
            "      expires: 2027-06-30",
        ]
    return "\n".join(out) + "\n"


def write_spec(directory: Path, text: str) -> Path:
    """Write the spec and the pipeline scripts it names into `directory`."""
    for relative, body in SCRIPTS.items():
        path = directory / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(body, encoding="utf-8")
    spec = directory / "mlinfra.yaml"
    spec.write_text(text, encoding="utf-8")
    return spec


def alias_bomb(levels: int = 9, fanout: int = 9) -> str:
    """A "billion laughs": each level is a list of `fanout` aliases of the level below."""
    lines = ["lol0: &l0 [" + ", ".join(['"lol"'] * fanout) + "]"]
    for level in range(1, levels):
        items = ", ".join([f"*l{level - 1}"] * fanout)
        lines.append(f"lol{level}: &l{level} [{items}]")
    return "\n".join(lines) + "\n"


def oversized(text: str) -> bytes:
    """The spec padded with comment lines to just past the 4 MiB limit."""
    pad = ("# " + "x" * 97 + "\n").encode()
    data = text.encode()
    missing = MAX_FILE_BYTES + 1 - len(data)
    return data + pad * (missing // len(pad) + 1)


# --------------------------------------------------------------------------------------------
# Measuring
# --------------------------------------------------------------------------------------------


def assert_valid(spec: Path, text: str) -> int:
    """Fail loudly unless both entry points find the spec valid; return the warning count."""
    for label, result in (
        ("validate_file", validate_file(spec)),
        ("validate_text", validate_text(text, str(spec), spec.parent)),
    ):
        errors = [d for d in result.diagnostics if d.severity is Severity.ERROR]
        shortened = [d for d in result.diagnostics if d.code == "name-shortened"]
        if not result.ok or errors or shortened:
            shown = "\n".join(f"  {d.code}: {d.summary} ({d.range})" for d in errors + shortened)
            raise SystemExit(f"{label}: the generated spec is not clean:\n{shown}")
        envs = sorted(result.environments)
        if envs != ["dev", "local", "prod"] or result.preview is None:
            raise SystemExit(f"{label}: unexpected environments {envs}")
    return sum(d.severity is Severity.WARNING for d in result.diagnostics)


# What in-process cases are timed with: wall time, or with --cpu this process's CPU time,
# which a machine shared with other work disturbs less (it is what the process itself spent).
clock = time.perf_counter


def timed(fn: Callable[[], object]) -> float:
    start = clock()
    fn()
    return (clock() - start) * 1000


def interleaved(
    cases: dict[str, Callable[[], object]], reps: int, warmup: int, warm: tuple[str, ...] = ()
) -> dict:
    """Run every case `warmup` times untimed, then `reps` timed rounds, one of each per round.

    Cases named in `warm` have just run already and get no further warm-up. The order inside
    a round rotates, so that no case always runs first (or after the slowest one); a slow
    patch on the machine then spreads over all cases, not one.
    """
    for name, fn in cases.items():
        for _ in range(0 if name in warm else warmup):
            fn()
    names = list(cases)
    times: dict[str, list[float]] = {name: [] for name in names}
    for rep in range(reps):
        shift = rep % len(names)
        for name in names[shift:] + names[:shift]:
            times[name].append(timed(cases[name]))
    return times


def expect_refused(code: str, fn: Callable[[], object]) -> Callable[[], object]:
    def run() -> object:
        result = fn()
        codes = [d.code for d in result.diagnostics]
        if codes != [code]:
            raise SystemExit(f"expected exactly [{code!r}], got {codes}")
        return result

    return run


def run_child(args: list[str]) -> subprocess.CompletedProcess:
    return subprocess.run(args, capture_output=True, text=True, check=False)


_COLD_YAML = (
    "import sys, yaml\n"
    "with open(sys.argv[1], encoding='utf-8') as f:\n"
    "    yaml.load(f.read(), Loader=yaml.CSafeLoader)\n"
)


def cold_cli(spec: Path, reps: int) -> dict:
    """Fresh processes: `mlinfra validate -f FILE` next to python + import yaml + C load.

    Also the CLI on the small churn example, which shows the fixed start-up cost.
    """
    cases = {
        "python -c 'import yaml; CSafeLoader load' (cold)": [
            sys.executable,
            "-c",
            _COLD_YAML,
            str(spec),
        ],
        "mlinfra validate -f FILE (cold CLI)": [str(CLI), "validate", "-f", str(spec)],
    }
    if CHURN.is_file():  # the fixed cost: start-up, imports and catalogues, on a tiny spec
        cases["mlinfra validate -f examples/churn (cold CLI)"] = [
            str(CLI),
            "validate",
            "-f",
            str(CHURN),
        ]
    for args in cases.values():  # warm the OS file cache and check they succeed
        done = run_child(args)
        if done.returncode != 0:
            raise SystemExit(f"{args} failed ({done.returncode}):\n{done.stdout}{done.stderr}")
    return interleaved({k: (lambda a=a: run_child(a)) for k, a in cases.items()}, reps, 0)


def _peak_rss_kib() -> int:
    """This process's peak resident set, in KiB.

    /proc/self/status VmHWM, not getrusage's ru_maxrss: on Linux ru_maxrss survives exec, so
    a child started from this (large) benchmark process would report the parent's peak.
    """
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        pass
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def child_memory(spec: str, mode: str) -> None:
    """In a fresh process: what one `validate_file` (or C load) costs in memory. Prints JSON."""
    import tracemalloc

    text = Path(spec).read_text(encoding="utf-8")
    before = _peak_rss_kib()
    if mode == "tracemalloc":
        tracemalloc.start()
        validate_file(spec)
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        print(json.dumps({"tracemalloc_peak": peak}))
        return
    if mode == "rss-validate":
        validate_file(spec)
    elif mode == "rss-cload":
        yaml.load(text, Loader=yaml.CSafeLoader)
    print(json.dumps({"peak_before_kib": before, "peak_after_kib": _peak_rss_kib()}))


def memory(spec: Path, reps: int) -> dict:
    """Peak RSS `reps` times per mode; tracemalloc once (it is deterministic, and slow)."""
    runs = {"rss-cload": reps, "rss-validate": reps, "tracemalloc": 1}
    found: dict[str, list[dict]] = {mode: [] for mode in runs}
    for rep in range(reps):
        for mode, count in runs.items():
            if rep >= count:
                continue
            done = run_child([sys.executable, __file__, "--child-memory", mode, str(spec)])
            if done.returncode != 0:
                raise SystemExit(f"memory child {mode} failed:\n{done.stderr}")
            found[mode].append(json.loads(done.stdout))
    return found


# Stages of full validation whose cumulative time the profile reports as a share.
STAGES = (
    ("mlinfra/syntax/loader.py", "parse_bytes", "parse (YAML + node tree)"),
    ("mlinfra/spec/schema.py", "validate", "schema.validate + defaults (whole doc + each env)"),
    ("mlinfra/spec/resolve.py", "resolve", "resolve environments"),
    ("mlinfra/spec/build.py", "build_env_spec", "build_env_spec"),
    ("mlinfra/spec/checks/__init__.py", "run_checks", "run_checks (semantic)"),
    ("mlinfra/syntax/nodes.py", "locate", "  of which nodes.locate"),
    ("mlinfra/syntax/nodes.py", "to_data", "nodes.to_data"),
)


def stage_times(text: str, spec: Path) -> list[tuple[str, int, float]]:
    """One validation redone stage by stage, without a profiler, to see the real split.

    Mirrors `mlinfra.spec.validate._validate` (parse, whole-document schema validation that
    fills the schema's defaults, then per environment and preview: validation of what its
    overrides changed, build_env_spec, run_checks), with the cyclic GC paused and each file
    asked about once, as it runs them. Returns (stage, calls, ms). If those internals change,
    it says so and the rest of the benchmark still runs.
    """
    try:
        from mlinfra.allocation import collector_paused
        from mlinfra.spec import schema
        from mlinfra.spec.build import build_env_spec
        from mlinfra.spec.checks import CheckContext, run_checks
        from mlinfra.spec.checks.paths import files_remembered
        from mlinfra.spec.resolve import (
            COMPONENT_SECTIONS,
            environment_names,
            overridden_only,
            resolve,
            resolve_preview,
        )
    except ImportError as exc:
        print(f"(stage breakdown unavailable: {exc})")
        return []
    spent: dict[str, list[float]] = {}

    def clock(stage: str, fn: Callable[[], object]) -> object:
        start = time.perf_counter()
        value = fn()
        spent.setdefault(stage, []).append((time.perf_counter() - start) * 1000)
        return value

    try:
        with collector_paused(), files_remembered():
            document, _ = clock("parse_text", lambda: parse_text(text, str(spec)))
            root = document.root
            values, _ = clock(
                "schema.validate + defaults, whole document",
                lambda: schema.validate(root, str(spec)),
            )
            views = clock(
                "resolve (all environments + preview)",
                lambda: [resolve(root, e) for e in environment_names(root)]
                + [resolve_preview(root)],
            )
            for view in views:
                changed, _ = clock(
                    "schema.validate + defaults, per environment (what overrides changed)",
                    lambda v=view: schema.validate(overridden_only(root, v), str(spec)),
                )
                data = dict(values)
                for section in COMPONENT_SECTIONS:
                    if section in changed:
                        data[section] = {**values[section], **changed[section]}
                env_spec = clock(
                    "build_env_spec, per environment",
                    lambda v=view, d=data: build_env_spec(
                        d, v.tree, v.name, v.settings_from, v.is_preview
                    ),
                )
                ctx = CheckContext(view, root, spec.parent, env_spec)
                clock("run_checks, per environment", lambda c=ctx: run_checks(c))
    except (AttributeError, TypeError, KeyError) as exc:
        print(f"(stage breakdown unavailable: the validator's internals changed: {exc!r})")
        return []
    return [(stage, len(ms), sum(ms)) for stage, ms in spent.items()]


def profile(spec: Path, top: int) -> tuple[str, list[tuple[str, int, float, float]], float]:
    profiler = cProfile.Profile()
    profiler.enable()
    validate_file(spec)
    profiler.disable()
    stream = io.StringIO()
    stats = pstats.Stats(profiler, stream=stream)
    stats.strip_dirs().sort_stats("cumulative").print_stats(top)
    raw = pstats.Stats(profiler).stats  # not stripped: match on the package path
    total = max(ct for (_, _, _, ct, _) in raw.values())
    shares = []
    for suffix, func, label in STAGES:
        calls, cumulative = 0, 0.0
        for (filename, _, name), (cc, _, _, ct, _) in raw.items():
            if name == func and filename.replace(os.sep, "/").endswith(suffix):
                calls += cc
                cumulative += ct
        shares.append((label, calls, cumulative * 1000, cumulative / total * 100))
    return stream.getvalue(), shares, total * 1000


# --------------------------------------------------------------------------------------------
# Reporting
# --------------------------------------------------------------------------------------------


def row(name: str, ms: list[float], base: float | None) -> str:
    med = statistics.median(ms)
    ratio = "-" if not base else f"{med / base:.1f}x" if med >= base / 10 else f"{med / base:.3f}x"
    return f"| {name} | {med:.1f} | {min(ms):.1f} | {max(ms):.1f} | {len(ms)} | {ratio} |"


def table(times: dict[str, list[float]], base_name: str) -> str:
    base = statistics.median(times[base_name])
    lines = [
        "| case | median ms | min ms | max ms | runs | vs C loader |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    lines += [row(name, ms, base) for name, ms in times.items()]
    return "\n".join(lines)


def machine() -> str:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    # The distribution is `mlinfra-compiler` (pyproject.toml); the package says its version.
    versions = ", ".join(
        [f"mlinfra {mlinfra.__version__}"]
        + [f"{pkg} {metadata.version(pkg)}" for pkg in ("PyYAML", "jsonschema")]
    )
    return (
        f"nproc {os.cpu_count()}, CPU {cpu}, Python {platform.python_version()}, {versions}, "
        f"libyaml {'yes' if getattr(yaml, '__with_libyaml__', False) else 'NO'}, "
        f"load average {load_average()}"
    )


def load_average() -> str:
    try:
        return "/".join(f"{x:.2f}" for x in os.getloadavg()) + " (1/5/15 min)"
    except OSError:
        return "unknown"


def scaling(sizes: list[int], seed: int, reps: int) -> None:
    """validate_file next to the C loader at several sizes: is the cost linear?"""
    print(f"## Scaling: 1 warm-up + {reps} interleaved runs each\n")
    print("| components | bytes | C load median ms | validate_file median ms (min-max) | ratio |")
    print("|---:|---:|---:|---:|---:|")
    for size in sizes:
        text = generate_spec(size, seed)
        with tempfile.TemporaryDirectory(prefix="mlinfra-bench-") as tmp:
            spec = write_spec(Path(tmp), text)
            assert_valid(spec, text)
            times = interleaved(
                {
                    "c": lambda t=text: yaml.load(t, Loader=yaml.CSafeLoader),
                    "v": lambda s=spec: validate_file(s),
                },
                reps,
                warmup=1,
                warm=("v",),
            )
        c, v = statistics.median(times["c"]), statistics.median(times["v"])
        print(
            f"| {size} | {len(text.encode()):,} | {c:.0f} | {v:.0f} "
            f"({min(times['v']):.0f}-{max(times['v']):.0f}) | {v / c:.1f}x |"
        )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--components", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--reps", type=int, default=7, help="timed in-process repetitions")
    parser.add_argument("--cold-reps", type=int, default=5, help="fresh-process repetitions")
    parser.add_argument("--mem-reps", type=int, default=2, help="memory-measuring processes")
    parser.add_argument("--top", type=int, default=15, help="profile rows to print")
    parser.add_argument(
        "--keep",
        type=Path,
        help="also write the generated spec here (without the pipeline scripts beside it)",
    )
    parser.add_argument("--child-memory", nargs=2, metavar=("MODE", "FILE"), help=argparse.SUPPRESS)
    parser.add_argument(
        "--scaling",
        metavar="N,N,...",
        help="instead of the full run: validate_file vs the C loader at these sizes (--reps runs)",
    )
    parser.add_argument(
        "--cpu",
        action="store_true",
        help="time in-process cases by this process's CPU time instead of wall time",
    )
    args = parser.parse_args(argv)
    if args.cpu:
        global clock
        clock = time.process_time
    if args.scaling:
        print(f"machine: {machine()}\n")
        scaling([int(n) for n in args.scaling.split(",")], args.seed, args.reps)
        return
    if args.child_memory:
        child_memory(args.child_memory[1], args.child_memory[0])
        return

    started = time.perf_counter()
    print(f"# mlinfra validation benchmark ({time.strftime('%Y-%m-%d %H:%M %Z')})")
    print(f"machine: {machine()}")
    if not getattr(yaml, "CSafeLoader", None):
        raise SystemExit("PyYAML is built without libyaml: the C loader peer is missing")
    text = generate_spec(args.components, args.seed)
    with tempfile.TemporaryDirectory(prefix="mlinfra-bench-") as tmp:
        spec = write_spec(Path(tmp), text)
        if args.keep:
            args.keep.write_text(text, encoding="utf-8")
        counts = {k: len(yaml.load(text, Loader=yaml.CSafeLoader)[k]) for k in KINDS}
        split = ", ".join(f"{v} {k}" for k, v in counts.items())
        print(
            f"spec: {sum(counts.values())} components ({split}), {len(text.encode()):,} bytes, "
            f"{text.count(chr(10)):,} lines, seed {args.seed}"
        )
        warnings = assert_valid(spec, text)
        print(f"valid: yes, 0 errors, {warnings} warning(s), no name shortened")

        bomb = Path(tmp) / "bomb.yaml"
        bomb.write_text(alias_bomb(), encoding="utf-8")
        big = Path(tmp) / "big.yaml"
        big.write_bytes(oversized(text))

        cases = {
            "(a) yaml.load CSafeLoader": lambda: yaml.load(text, Loader=yaml.CSafeLoader),
            "(b) yaml.safe_load (pure Python)": lambda: yaml.safe_load(text),
            "(c) mlinfra parse_text": lambda: parse_text(text, str(spec)),
            "(d) mlinfra validate_file": lambda: validate_file(spec),
            "(e1) alias bomb 9x9 refused": expect_refused(
                "alias-limit", lambda: validate_file(bomb)
            ),
            "(e2) 4 MiB+ file refused": expect_refused(
                "file-too-large", lambda: validate_file(big)
            ),
        }
        print(f"\n## In process: 1 warm-up + {args.reps} timed runs each, interleaved\n")
        # The validity check above ran validate_file and validate_text: their warm-up.
        times = interleaved(cases, args.reps, warmup=1, warm=("(d) mlinfra validate_file",))
        print(table(times, "(a) yaml.load CSafeLoader"))

        print(f"\n## Fresh process per run: {args.cold_reps} runs each, interleaved\n")
        cold = cold_cli(spec, args.cold_reps)
        print(table(cold, next(iter(cold))).replace("vs C loader", "vs cold C load"))

        print(f"\n## Peak memory, fresh process per run ({args.mem_reps} runs)\n")
        mem = memory(spec, args.mem_reps)

        def mib(mode: str, key: str) -> str:
            values = [r[key] / 1024 for r in mem[mode]]
            return (
                f"{statistics.median(values):.1f} | {min(values):.1f} | {max(values):.1f} "
                f"| {len(values)}"
            )

        traced = mem["tracemalloc"][0]["tracemalloc_peak"] / 2**20
        print("| measure (fresh process) | median MiB | min | max | runs |")
        print("|---|---:|---:|---:|---:|")
        baseline = mib("rss-validate", "peak_before_kib")
        print(f"| peak RSS after imports + reading the text | {baseline} |")
        print(f"| peak RSS after yaml.load CSafeLoader | {mib('rss-cload', 'peak_after_kib')} |")
        print(f"| peak RSS after validate_file | {mib('rss-validate', 'peak_after_kib')} |")
        print(f"| tracemalloc peak during validate_file | {traced:.1f} | | | 1 |")

        print(
            "\n## Where one validate_file spends its time (one run, stage by stage, no profiler)\n"
        )
        stages = stage_times(text, spec)
        if stages:
            whole = sum(ms for _, _, ms in stages)
            print("| stage | calls | ms | share |\n|---|---:|---:|---:|")
            for stage, calls, ms in stages:
                print(f"| {stage} | {calls} | {ms:.0f} | {ms / whole * 100:.0f}% |")
            print(f"| total | | {whole:.0f} | 100% |")

        print(f"\n## Profile of one validate_file (cProfile, top {args.top} by cumulative)\n")
        listing, shares, total = profile(spec, args.top)
        print(f"total under the profiler: {total:.0f} ms (cProfile inflates Python-heavy code)\n")
        print("| stage | calls | cumulative ms | share |\n|---|---:|---:|---:|")
        for label, calls, ms, share in shares:
            print(f"| {label} | {calls} | {ms:.0f} | {share:.0f}% |")
        print("\n```")
        print(listing.strip())
        print("```")
    print(f"\nbenchmark wall time: {time.perf_counter() - started:.1f} s")
    print(f"load average at the end: {load_average()}")


if __name__ == "__main__":
    main()
