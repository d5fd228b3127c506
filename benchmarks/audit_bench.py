"""Benchmark: `mlinfra audit` of a large spec, side by side with Checkov on the same resources.

Run it as `.venv/bin/python benchmarks/audit_bench.py` (sizes 100 and 1,000 components), after
installing the peer in a venv of its own (see `make bench-audit` in benchmarks/README.md):

    python3 -m venv benchmarks/.checkov-venv
    benchmarks/.checkov-venv/bin/pip install -r benchmarks/peers/checkov-requirements.txt

These are measurements to read, not timed unit tests: nothing here fails on a slow number.
The aim this reports on (from the issue): audit a 1,000-component spec 10x faster than Checkov
scans the equivalent resources.

For each size, on the spec of `render_bench.Case` (imported, not copied: validate_bench's
generator with every monitor pointed at a small local baseline CSV, so lowering builds the
monitors' alarms, alerts and retraining), environment `prod` (sagemaker, KMS, VPC, protected):

1. checks the spec is valid, lowers `prod`, audits it, and exports its graph to Terraform JSON
   with `peers/tf_export.py` (benchmark-only; the export's time is reported on its own and not
   counted for either side);
2. times, in this process with `time.perf_counter`, interleaved round-robin after one warm-up
   each (`gc.collect()` untimed before every run):
     (a) validate + lower + audit in one call, the clock read between the stages, as
         `mlinfra audit --env prod` does them (validate_file, lower, audit_environment);
     (b) audit_environment alone, on a graph lowered once;
     (x) the export alone (graph -> Terraform JSON text -> file);
   every run must give the same findings;
3. times, a fresh process per run, interleaved, under GNU `time -f %M` (peak RSS):
     (c) `mlinfra audit -f SPEC --env prod --format json --fail-on none`;
     (d) `checkov -f EXPORT.tf.json --framework terraform_json --quiet -o json --skip-download`
         from benchmarks/.checkov-venv. (`--framework terraform` finds no runner for a
         `.tf.json` file in Checkov 3: Terraform JSON is the `terraform_json` framework, which
         runs the same Terraform resource and graph checks. `--skip-download`: this machine
         has no network, and Checkov would otherwise try to fetch guidelines first.)
   after one untimed run of each: for Checkov, without `--quiet`, which lists the passed checks
   too and gives the per-type and per-check counts; for mlinfra, whose JSON findings must equal
   the in-process audit's;
4. prints a table per size, the scaling, what ran on each side per resource type, and a few
   rules next to the Checkov checks that judge the same property;
5. profiles (cProfile) one validate + lower + audit at `--profile-size`, and the audit alone.
"""

from __future__ import annotations

import argparse
import collections
import cProfile
import gc
import io
import json
import math
import os
import pstats
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE / "peers"))

import tf_export  # noqa: E402  (benchmarks/peers/tf_export.py)
from render_bench import ENV, Case  # noqa: E402  (benchmarks/ is not a package)
from validate_bench import CLI, load_average, machine  # noqa: E402

from mlinfra.ir.lower import lower  # noqa: E402
from mlinfra.policy.engine import audit_environment  # noqa: E402
from mlinfra.policy.model import AuditContext  # noqa: E402
from mlinfra.spec.validate import validate_file  # noqa: E402

CHECKOV = HERE / ".checkov-venv" / "bin" / "checkov"
GNU_TIME = Path("/usr/bin/time")
AIM = 25.0  # the aim (issue 22): 25x faster than Checkov

PIPELINE = "(a) validate + lower + audit"
VALIDATE = "(a1) of which validate_file"
LOWER = "(a2) of which lower(prod)"
AUDIT = "(a3) of which audit_environment"
AUDIT_ALONE = "(b) audit_environment alone (graph given)"
EXPORT = "(x) export IR -> .tf.json (benchmark-only)"
MLINFRA_CLI = f"(c) mlinfra audit --env {ENV} --format json (CLI)"
CHECKOV_CLI = "(d) checkov -f EXPORT --framework terraform_json --quiet -o json"

# mlinfra rules next to the Checkov checks that judge the same property of the same resource
# type (Terraform type, rule, check). Read the counts, not just the ids: e.g. mlinfra's job
# rules also judge every job step inside a pipeline definition, which Checkov cannot see.
PAIRS = (
    ("aws_sagemaker_endpoint_configuration", "endpoint-kms-key", "CKV_AWS_98"),
    ("aws_sagemaker_model", "model-network-isolation", "CKV_AWS_370"),
    ("aws_sagemaker_data_quality_job_definition", "job-inter-container-encryption", "CKV_AWS_369"),
    ("aws_sagemaker_data_quality_job_definition", "job-volume-kms", "CKV_AWS_368"),
    ("aws_sagemaker_data_quality_job_definition", "job-output-kms", "CKV_AWS_367"),
    ("aws_s3_bucket", "s3-public-access-block", "CKV2_AWS_6"),
    ("aws_s3_bucket", "s3-versioning", "CKV_AWS_21"),
    ("aws_s3_bucket", "s3-kms-encryption", "CKV_AWS_145"),
    ("aws_iam_role_policy", "iam-no-wildcard-actions", "CKV_AWS_63"),
    ("aws_kms_key", "kms-key-rotation", "CKV_AWS_7"),
    ("aws_cloudwatch_metric_alarm", "cloudwatch-alarm-actions", "CKV_AWS_319"),
)


def ms_since(start: float) -> float:
    return (time.perf_counter() - start) * 1000


def finding_keys(result) -> list[tuple[str, str, str]]:
    return sorted((f.rule.id, f.address, f.message) for f in result.findings)


def rounds(cases: dict[str, Callable[[], dict[str, float]]], reps: int) -> dict[str, list[float]]:
    """`reps` rounds, each running every case once, the order rotating per round."""
    names = list(cases)
    times: dict[str, list[float]] = {}
    for rep in range(reps):
        shift = rep % len(names)
        for name in names[shift:] + names[:shift]:
            gc.collect()
            for key, ms in cases[name]().items():
                times.setdefault(key, []).append(ms)
    return times


def run_timed(
    args: list[str], cwd: Path
) -> tuple[float, float | None, subprocess.CompletedProcess, float]:
    """Wall ms, peak RSS (MiB, GNU time) and CPU ms (user + system of the process and every
    process it started, e.g. Checkov's workers) of one fresh process."""
    if GNU_TIME.exists():
        args = [str(GNU_TIME), "-f", "peak-rss-kib %M", *args]
    gc.collect()
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(args, cwd=cwd, capture_output=True, text=True, check=False)
    wall = ms_since(start)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime) * 1000
    rss = re.search(r"^peak-rss-kib (\d+)$", done.stderr, re.MULTILINE)
    return wall, (int(rss[1]) / 1024 if rss else None), done, cpu


def mlinfra_args(spec: Path) -> list[str]:
    return [str(CLI), "audit", "-f", str(spec), "--env", ENV, "--format", "json",
            "--fail-on", "none"]  # fmt: skip


def checkov_args(export: Path, quiet: bool = True) -> list[str]:
    args = [str(CHECKOV), "-f", str(export), "--framework", "terraform_json"]
    return [*args, *(["--quiet"] if quiet else []), "-o", "json", "--skip-download"]


def checkov_report(done: subprocess.CompletedProcess) -> dict:
    """Checkov's JSON report (exit 1 means failed checks, not an error)."""
    if done.returncode not in (0, 1):
        raise SystemExit(f"checkov failed ({done.returncode}):\n{done.stderr[-3000:]}")
    report = json.loads(done.stdout)
    if isinstance(report, list):  # one report per framework; only terraform_json here
        report = next(r for r in report if r.get("check_type") == "terraform_json")
    if report.get("check_type") != "terraform_json":
        raise SystemExit(f"checkov ran no terraform_json checks:\n{done.stderr[-3000:]}")
    return report


def mlinfra_cli_findings(done: subprocess.CompletedProcess) -> list[tuple[str, str, str]]:
    if done.returncode != 0:
        raise SystemExit(f"mlinfra audit failed ({done.returncode}):\n{done.stderr[-3000:]}")
    report = json.loads(done.stdout)
    (env,) = report["environments"]
    return sorted((f["rule_id"], f["address"], f["message"]) for f in env["findings"])


# --------------------------------------------------------------------------------------------
# One size
# --------------------------------------------------------------------------------------------


def measure(components: int, seed: int, reps: int, cli_reps: int, keep: Path | None) -> dict:
    with tempfile.TemporaryDirectory(prefix="mlinfra-audit-bench-") as tmp:
        directory = Path(tmp)
        case = Case(components, seed, directory)
        spec_file = str(case.spec)
        info: dict = {"components": components, "load_before": load_average()}
        result, warnings = case.validate()
        env_spec = result.environments[ENV]
        graph = lower(env_spec, case.spec_dir)
        audited = audit_environment(env_spec, graph, spec_file)
        expected = finding_keys(audited)
        export = directory / "export.tf.json"
        info.update(
            spec_bytes=len(case.text.encode()),
            warnings=warnings,
            resources=len(graph.resources),
            types=collections.Counter(tf_export.tf_type(r.type) for r in graph.resources),
            export_bytes=tf_export.write(graph, export),
            findings=len(audited.findings),
            active=len(audited.active()),
            checked=len(audited.checked),
            rules=len(audited.rules),
            by_rule=collections.Counter(f.rule.id for f in audited.findings),
        )
        info["mlinfra_types"] = per_type_mlinfra(graph, audited)
        info["mlinfra_pairs"] = pair_counts_mlinfra(graph, audited)
        del result, audited

        def pipeline() -> dict[str, float]:
            start = time.perf_counter()
            validated = validate_file(case.spec)
            spec = validated.environments[ENV]
            t1 = time.perf_counter()
            lowered = lower(spec, case.spec_dir)
            t2 = time.perf_counter()
            audit = audit_environment(spec, lowered, spec_file)
            end = time.perf_counter()
            if finding_keys(audit) != expected:
                raise SystemExit(f"{components}: two audits found different findings")
            return {
                PIPELINE: (end - start) * 1000,
                VALIDATE: (t1 - start) * 1000,
                LOWER: (t2 - t1) * 1000,
                AUDIT: (end - t2) * 1000,
            }

        def audit_alone() -> dict[str, float]:
            start = time.perf_counter()
            audit = audit_environment(env_spec, graph, spec_file)
            ms = ms_since(start)
            if len(audit.findings) != len(expected):
                raise SystemExit(f"{components}: the audit alone found different findings")
            return {AUDIT_ALONE: ms}

        def export_alone() -> dict[str, float]:
            start = time.perf_counter()
            tf_export.write(graph, directory / "export-again.tf.json")
            return {EXPORT: ms_since(start)}

        cases = {PIPELINE: pipeline, AUDIT_ALONE: audit_alone, EXPORT: export_alone}
        for warm in cases.values():  # one warm-up each
            warm()
        info["times"] = rounds(cases, reps)
        gc.collect()

        # Fresh processes. One untimed run of each first: Checkov without --quiet (it lists the
        # passed checks too), the mlinfra CLI compared with the in-process findings.
        _, _, done, _ = run_timed(mlinfra_args(case.spec), directory)
        if mlinfra_cli_findings(done) != expected:
            raise SystemExit(f"{components}: the CLI's findings differ from the in-process audit")
        _, _, done, _ = run_timed(checkov_args(export, quiet=False), directory)
        full = checkov_report(done)
        info["checkov_summary"] = full["summary"]
        info["checkov_types"], info["checkov_checks"] = per_type_checkov(full, export)
        del full, done
        procs: dict[str, dict[str, list[float]]] = {
            MLINFRA_CLI: {"wall": [], "rss": [], "cpu": []},
            CHECKOV_CLI: {"wall": [], "rss": [], "cpu": []},
        }
        commands = {MLINFRA_CLI: mlinfra_args(case.spec), CHECKOV_CLI: checkov_args(export)}
        for rep in range(cli_reps):
            order = list(commands) if rep % 2 == 0 else list(commands)[::-1]
            for name in order:
                wall, rss, done, cpu = run_timed(commands[name], directory)
                if name == CHECKOV_CLI:
                    summary = checkov_report(done)["summary"]
                    info["checkov_quiet_summary"] = summary
                else:
                    mlinfra_cli_findings(done)  # parses, exit 0
                procs[name]["wall"].append(wall)
                procs[name]["cpu"].append(cpu)
                if rss is not None:
                    procs[name]["rss"].append(rss)
        info["procs"] = procs
        info["load_after"] = load_average()
        if keep is not None:
            keep.mkdir(parents=True, exist_ok=True)
            (keep / f"export-{components}.tf.json").write_bytes(export.read_bytes())
            (keep / f"mlinfra-{components}.yaml").write_text(case.text, encoding="utf-8")
    return info


def per_type_mlinfra(graph, audited) -> dict[str, list[int]]:
    """Terraform type -> [rule runs (rule, resource) on it, findings on it]."""
    type_of = {r.address: tf_export.tf_type(r.type) for r in graph.resources}
    out: dict[str, list[int]] = collections.defaultdict(lambda: [0, 0])
    for _, address in audited.checked:
        out[type_of.get(address, "(environment)")][0] += 1
    for f in audited.findings:
        out[type_of.get(f.address, "(environment)")][1] += 1
    return dict(out)


def pair_counts_mlinfra(graph, audited) -> dict[tuple[str, str], list[int]]:
    """(type, rule) -> [resources checked, resources with a finding, findings] for PAIRS."""
    type_of = {r.address: tf_export.tf_type(r.type) for r in graph.resources}
    out = {}
    for tf_type, rule, _ in PAIRS:
        checked = {a for r, a in audited.checked if r == rule and type_of.get(a) == tf_type}
        hits = [f for f in audited.findings if f.rule.id == rule and f.address in checked]
        out[(tf_type, rule)] = [len(checked), len({f.address for f in hits}), len(hits)]
    return out


def per_type_checkov(report: dict, export: Path):
    """Terraform type -> [passed, failed], and (check id, type) -> [passed, failed, name].

    The terraform_json runner names resources `resource.<name>` (without the type): the type
    comes from the export, where every name is unique (they are the IR's addresses).
    """
    document = json.loads(export.read_text(encoding="utf-8"))
    type_of = {name: kind for kind, block in document["resource"].items() for name in block}
    types: dict[str, list[int]] = collections.defaultdict(lambda: [0, 0])
    checks: dict[str, list] = {}
    results = report["results"]
    for column, key in enumerate(("passed_checks", "failed_checks")):
        for record in results.get(key, ()):
            name = record["resource"].split(".", 1)[-1]
            kind = type_of.get(name, record["resource"].split(".", 1)[0])
            types[kind][column] += 1
            row = checks.setdefault((record["check_id"], kind), [0, 0, record["check_name"]])
            row[column] += 1
    return dict(types), checks


# --------------------------------------------------------------------------------------------
# Profile
# --------------------------------------------------------------------------------------------


def audit_pipeline(spec: Path, spec_dir: Path, spec_file: str):
    """validate + lower + audit, as one function: the profile's 100%."""
    env_spec = validate_file(spec).environments[ENV]
    return audit_environment(env_spec, lower(env_spec, spec_dir), spec_file)


STAGES = (
    ("mlinfra/spec/validate.py", "validate_file", "validate_file"),
    ("mlinfra/ir/lower.py", "lower", "lower"),
    ("mlinfra/policy/engine.py", "audit_environment", "audit_environment"),
    ("mlinfra/policy/engine.py", "_run", "  of which the rules' checks (_run)"),
    ("mlinfra/policy/waivers.py", "apply_waivers", "  of which apply_waivers"),
    ("mlinfra/policy/result.py", "finding_order", "  of which sorting findings (finding_order)"),
)


def profile(components: int, seed: int, top: int) -> dict:
    with tempfile.TemporaryDirectory(prefix="mlinfra-audit-bench-") as tmp:
        case = Case(components, seed, Path(tmp))
        result, _ = case.validate()
        env_spec = result.environments[ENV]
        graph = lower(env_spec, case.spec_dir)
        spec_file = str(case.spec)
        audit_pipeline(case.spec, case.spec_dir, spec_file)  # warm-up
        gc.collect()
        whole = cProfile.Profile()
        whole.enable()
        audit_pipeline(case.spec, case.spec_dir, spec_file)
        whole.disable()
        gc.collect()
        alone = cProfile.Profile()
        alone.enable()
        audited = audit_environment(env_spec, graph, spec_file)
        alone.disable()
        per_rule = rule_times(audited, env_spec, graph)
    out = {"per_rule": per_rule}
    for label, prof, sort in (("whole", whole, "cumulative"), ("audit", alone, "tottime")):
        stream = io.StringIO()
        pstats.Stats(prof, stream=stream).strip_dirs().sort_stats(sort).print_stats(top)
        out[label] = stream.getvalue()
    raw = pstats.Stats(whole).stats
    total = next(
        ct for (fn, _, name), (_, _, _, ct, _) in raw.items()
        if name == "audit_pipeline" and fn.endswith("audit_bench.py")
    )  # fmt: skip
    spots = {}
    for suffix, func, label in STAGES:
        calls, cumulative = 0, 0.0
        for (filename, _, name), (_, nc, _, ct, _) in raw.items():
            if name == func and filename.replace(os.sep, "/").endswith(suffix):
                calls += nc
                cumulative += ct
        spots[label] = (calls, cumulative * 1000)
    out["spots"], out["total"] = spots, total * 1000
    return out


def rule_times(audited, env_spec, graph, reps: int = 3) -> list[tuple[str, int, float]]:
    """Each applied rule's checks, timed alone (median of `reps`), without a profiler."""
    ctx = AuditContext(env_spec, graph)
    out = []
    for rule in audited.rules:
        targets = (
            [r for t in rule.resource_types for r in ctx.of_type(t)] if rule.resource_types
            else [None]
        )  # fmt: skip
        runs = []
        for _ in range(reps):
            start = time.perf_counter()
            for target in targets:
                list(rule.check(target, ctx) or ())
            runs.append(ms_since(start))
        out.append((rule.id, len(targets), statistics.median(runs)))
    return sorted(out, key=lambda row: -row[2])


# --------------------------------------------------------------------------------------------
# Reporting
# --------------------------------------------------------------------------------------------


def cells(ms: list[float]) -> str:
    return f"{statistics.median(ms):,.1f} | {min(ms):,.1f} | {max(ms):,.1f} | {len(ms)}"


def size_report(info: dict) -> str:
    checkov = statistics.median(info["procs"][CHECKOV_CLI]["wall"])
    s = info["checkov_summary"]
    lines = [
        f"### {info['components']:,} components: {info['resources']:,} resources in {ENV}",
        "",
        f"Spec {info['spec_bytes']:,} bytes ({info['warnings']} warning(s)); export "
        f"{info['export_bytes']:,} bytes of Terraform JSON. mlinfra: {info['rules']} rules, "
        f"{info['checked']:,} (rule, resource) runs, {info['findings']:,} findings "
        f"({info['active']:,} unwaived). Checkov: {s['passed']:,} checks passed, "
        f"{s['failed']:,} failed, {s['parsing_errors']} parsing errors (the timed `--quiet` "
        f"runs: {info['checkov_quiet_summary']['failed']:,} failed). Load average "
        f"{info['load_before']} before, {info['load_after']} after.",
        "",
        "| case | median ms | min ms | max ms | runs | Checkov / this | peak RSS MiB |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for name, ms in info["times"].items():
        ratio = "-" if name == EXPORT else f"{checkov / statistics.median(ms):,.1f}x"
        lines.append(f"| {name} | {cells(ms)} | {ratio} | |")
    for name, proc in info["procs"].items():
        rss = f"{statistics.median(proc['rss']):,.0f}" if proc["rss"] else "-"
        ratio = f"{checkov / statistics.median(proc['wall']):,.1f}x"
        lines.append(f"| {name} | {cells(proc['wall'])} | {ratio} | {rss} |")
    # CPU is steadier than the wall clock on a shared machine, and counts Checkov's workers.
    cpu = {name: statistics.median(proc["cpu"]) for name, proc in info["procs"].items()}
    lines += [
        "",
        "CPU time (user + system, with child processes), median of the same runs: "
        + "; ".join(f"{name}: {ms:,.0f} ms" for name, ms in cpu.items())
        + f"; Checkov / mlinfra: {cpu[CHECKOV_CLI] / cpu[MLINFRA_CLI]:,.1f}x.",
    ]
    return "\n".join(lines)


def types_report(info: dict) -> str:
    mine, theirs = info["mlinfra_types"], info["checkov_types"]
    lines = [
        "| Terraform type | resources | mlinfra rule runs | mlinfra findings "
        "| Checkov passed | Checkov failed |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    kinds = sorted(
        set(info["types"]) | set(mine) | set(theirs), key=lambda k: (-info["types"].get(k, 0), k)
    )
    for kind in kinds:
        runs, found = mine.get(kind, [0, 0])
        passed, failed = theirs.get(kind, [0, 0])
        lines.append(
            f"| {kind} | {info['types'].get(kind, 0):,} | {runs:,} | {found:,} "
            f"| {passed:,} | {failed:,} |"
        )
    return "\n".join(lines)


def pairs_report(info: dict) -> str:
    lines = [
        "| type | mlinfra rule | resources judged | with a finding (findings) | Checkov check "
        "| passed | failed |",
        "|---|---|---:|---:|---|---:|---:|",
    ]
    for kind, rule, check in PAIRS:
        judged, hit, found = info["mlinfra_pairs"][(kind, rule)]
        passed, failed, _ = info["checkov_checks"].get((check, kind), [0, 0, ""])
        lines.append(
            f"| {kind} | {rule} | {judged:,} | {hit:,} ({found:,}) | {check} "
            f"| {passed:,} | {failed:,} |"
        )
    return "\n".join(lines)


def checks_report(info: dict) -> str:
    lines = ["| Checkov check | type | passed | failed | name |", "|---|---|---:|---:|---|"]
    for (check, kind), (passed, failed, name) in sorted(
        info["checkov_checks"].items(), key=lambda kv: (kv[0][1], kv[0][0])
    ):
        lines.append(f"| {check} | {kind} | {passed:,} | {failed:,} | {name} |")
    return "\n".join(lines)


def scaling_report(infos: list[dict]) -> str:
    lines = [
        "| components | resources | validate+lower+audit ms | audit alone ms | mlinfra CLI ms "
        "| Checkov ms | export ms | Checkov / CLI | Checkov / in-process | Checkov / audit "
        "| CLI RSS MiB | Checkov RSS MiB |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for info in infos:
        med = {k: statistics.median(v) for k, v in info["times"].items()}
        cli = statistics.median(info["procs"][MLINFRA_CLI]["wall"])
        chk = statistics.median(info["procs"][CHECKOV_CLI]["wall"])
        rss = [info["procs"][n]["rss"] for n in (MLINFRA_CLI, CHECKOV_CLI)]
        rss_cells = " | ".join(f"{statistics.median(r):,.0f}" if r else "-" for r in rss)
        lines.append(
            f"| {info['components']:,} | {info['resources']:,} | {med[PIPELINE]:,.0f} "
            f"| {med[AUDIT_ALONE]:,.0f} | {cli:,.0f} | {chk:,.0f} | {med[EXPORT]:,.0f} "
            f"| {chk / cli:,.1f}x | {chk / med[PIPELINE]:,.1f}x | {chk / med[AUDIT_ALONE]:,.0f}x "
            f"| {rss_cells} |"
        )
    return "\n".join(lines)


def verdict(infos: list[dict]) -> list[str]:
    out = []
    at = next((i for i in infos if i["components"] == 1000), infos[-1])
    cli = statistics.median(at["procs"][MLINFRA_CLI]["wall"])
    chk = statistics.median(at["procs"][CHECKOV_CLI]["wall"])
    inproc = statistics.median(at["times"][PIPELINE])
    for label, ms in (("mlinfra audit CLI (cold, end to end)", cli),
                      ("validate + lower + audit in process", inproc)):  # fmt: skip
        ratio = chk / ms
        met = "MET" if ratio >= AIM else "NOT met"
        out.append(
            f"Aim ({AIM:.0f}x faster than Checkov at {at['components']:,} components), "
            f"{label}: {met}: {ms:,.0f} ms vs Checkov {chk:,.0f} ms = {ratio:,.1f}x."
        )
    return out


def audit_scaling(sizes: list[int], seed: int, reps: int) -> str:
    """The audit alone (`audit_environment` on a graph lowered once) at each size, timed by
    CPU (`time.process_time`, steadier than the wall clock on a shared machine): `reps`
    rounds, each auditing every size once in turn, the graphs all built first. The growth
    column is the local exponent between consecutive sizes (time ratio as a power of the
    resource ratio): 1 is linear, 2 quadratic."""
    with tempfile.TemporaryDirectory(prefix="mlinfra-audit-scaling-") as tmp:
        built = []
        for size in sizes:
            case = Case(size, seed, Path(tmp) / str(size))
            result, _ = case.validate()
            env_spec = result.environments[ENV]
            graph = lower(env_spec, case.spec_dir)
            findings = len(audit_environment(env_spec, graph, str(case.spec)).findings)
            built.append((size, env_spec, graph, str(case.spec), findings))
        cpu: dict[int, list[float]] = {size: [] for size in sizes}
        for rep in range(reps):
            shift = rep % len(built)
            for size, env_spec, graph, spec_file, _ in built[shift:] + built[:shift]:
                gc.collect()
                start = time.process_time()
                audit_environment(env_spec, graph, spec_file)
                cpu[size].append((time.process_time() - start) * 1000)
    lines = [
        "| components | resources | findings | audit CPU ms (median) | min-max | µs per resource "
        "| growth exponent |",
        "|---:|---:|---:|---:|---:|---:|---:|",
    ]
    previous = None
    for size, _, graph, _, findings in built:
        ms = statistics.median(cpu[size])
        resources = len(graph.resources)
        growth = (
            f"{math.log(ms / previous[1]) / math.log(resources / previous[0]):.2f}"
            if previous
            else ""
        )
        lines.append(
            f"| {size:,} | {resources:,} | {findings:,} | {ms:,.0f} | {min(cpu[size]):,.0f}-"
            f"{max(cpu[size]):,.0f} | {ms * 1000 / resources:,.0f} | {growth} |"
        )
        previous = (resources, ms)
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100,1000")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--reps", type=int, default=5, help="in-process rounds")
    parser.add_argument("--cli-reps", type=int, default=5, help="fresh-process runs of each")
    parser.add_argument("--profile-size", type=int, default=1000, help="0: no profile")
    parser.add_argument("--top", type=int, default=15)
    parser.add_argument("--keep", type=Path, help="save the specs and exports in this folder")
    parser.add_argument(
        "--audit-scaling",
        default="",
        help="time the audit alone by CPU at these sizes (e.g. 1000,2000,5000): is it linear?",
    )
    args = parser.parse_args(argv)
    if args.audit_scaling:
        scaling_sizes = [int(s) for s in args.audit_scaling.split(",") if s]
        print(f"## The audit alone by size, CPU time ({args.reps} rounds)\n")
        print(audit_scaling(scaling_sizes, args.seed, args.reps), "\n", flush=True)
        if not args.sizes:
            return
    if not CHECKOV.exists():
        raise SystemExit(f"{CHECKOV} is missing: make bench-audit (or see the docstring)")
    version = subprocess.run([str(CHECKOV), "--version"], capture_output=True, text=True)
    started = time.perf_counter()
    print("# mlinfra audit vs Checkov\n")
    print(f"Machine: {machine()}; Checkov {version.stdout.strip()}\n")
    sizes = [int(s) for s in args.sizes.split(",") if s]
    infos = []
    for size in sizes:
        info = measure(size, args.seed, args.reps, args.cli_reps, args.keep)
        infos.append(info)
        print(size_report(info), "\n", flush=True)
    if infos:
        print("## Scaling\n")
        print(scaling_report(infos), "\n")
        print("\n".join(verdict(infos)), "\n")
        last = infos[-1]
        print(f"## What each side checked at {last['components']:,} components\n")
        print(types_report(last), "\n")
        print(pairs_report(last), "\n")
        print(checks_report(last), "\n")
        print("mlinfra findings per rule:", dict(last["by_rule"].most_common()), "\n")
    if args.profile_size:
        prof = profile(args.profile_size, args.seed, args.top)
        total = prof["total"]
        print(f"## Profile: validate + lower + audit at {args.profile_size:,} components\n")
        print(f"total under cProfile: {total:,.0f} ms\n")
        print("| stage | calls | cumulative ms | share |\n|---|---:|---:|---:|")
        for label, (calls, ms) in prof["spots"].items():
            print(f"| {label} | {calls:,} | {ms:,.0f} | {ms / total * 100:.0f}% |")
        print("\n```\n" + prof["whole"].strip() + "\n```\n")
        print("The audit alone under cProfile, by own time:\n")
        print("```\n" + prof["audit"].strip() + "\n```\n")
        print("Each rule's checks timed alone (median of 3, no profiler):\n")
        print("| rule | resources | ms |\n|---|---:|---:|")
        for rule, count, ms in prof["per_rule"][: args.top]:
            print(f"| {rule} | {count:,} | {ms:,.1f} |")
    print(f"\nWall time {time.perf_counter() - started:,.0f} s; load average {load_average()}")


if __name__ == "__main__":
    main()
