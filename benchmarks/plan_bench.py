"""Benchmark: `plan` of a 5,000-resource graph against its state. Target: under 1 s.

Run it as `.venv/bin/python benchmarks/plan_bench.py` (about a minute), or with `--components N`
for another size. A measurement to read, not a timed unit test: nothing here fails on a slow
number.

The graph is the `prod` environment (target sagemaker) of `validate_bench.generate_spec`'s
spec (imported, not copied; its monitors pointed at a local baseline CSV as in
`render_bench.py`), 700 components by default, which lowers to a little over 5,000 resources.
Its state is what an apply records (`recorded_properties` of each resource, its
dependencies, source and protect flag), written with the real `FileBackend`.

Timed in this process with `time.perf_counter`, after one warm-up each, in `--reps` rounds
with the case order rotating per round:
  (a) `plan(graph, state)`: nothing changed, the headline number;
  (b) `plan(graph, changed)`: the same against a state in which every 50th resource has one
      nested value changed (2% of the resources updated or replaced, the rest no-op);
  (c) `plan(graph, empty state)`: everything created;
  (d) `FileBackend.read`: the state file read, parsed and checked against its schema;
  (e) `json.loads` of the same text, the floor under (d);
  (f) the floor under (a): `canonical()` of every resource compared with `==` to the stored
      properties, which any diff of these two values must at least do;
  (g) the text view of plan (b), and (h) its JSON view (every resource's properties before
      and after, as Terraform's JSON plan has them: about twice the state's size).
Then, in fresh processes (`--cold-reps`), the whole command:
`mlinfra plan --env prod -f SPEC --detailed-exitcode`, whose time is mostly validating the
spec and lowering it (see render_bench.py), not the diff.

Peer: there is no Terraform here (its binary downloads are not reachable), so no side-by-side
`terraform plan`. With `--peer` and `benchmarks/.peers-venv` (made by `make bench-peers`),
Feast's own plan diff (`feast.diff.registry_diff.diff_between`, what `feast plan` runs) is
timed in that venv over as many feature views as the graph has resources, all unchanged:
the nearest peer of a keyed declarative diff that installs from PyPI.
"""

from __future__ import annotations

import argparse
import copy
import gc
import json
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from render_bench import BASELINE, BASELINE_CSV  # noqa: E402  (benchmarks/ is not a package)
from validate_bench import CLI, generate_spec, machine, write_spec  # noqa: E402

from mlinfra.ir.graph import canonical  # noqa: E402
from mlinfra.ir.lower import lower  # noqa: E402
from mlinfra.plan.diff import plan, resource_state  # noqa: E402
from mlinfra.plan.model import NO_OP  # noqa: E402
from mlinfra.plan.views import to_json, to_text  # noqa: E402
from mlinfra.spec.validate import validate_file  # noqa: E402
from mlinfra.state.file import FileBackend  # noqa: E402
from mlinfra.state.model import ResourceState, State  # noqa: E402

ENV = "prod"
TARGET_MS = 1000.0
PEERS_PYTHON = Path(__file__).resolve().parent / ".peers-venv" / "bin" / "python"

FEAST_PEER = r"""
import sys, time, statistics
from datetime import timedelta
from feast import Entity, FeatureView, Field, FileSource, ValueType
from feast.repo_contents import RepoContents
from feast.diff.registry_diff import diff_between
from feast.types import Float32, Int64

count, reps = int(sys.argv[1]), int(sys.argv[2])
entity = Entity(name="customer", join_keys=["customer_id"], value_type=ValueType.STRING)
source = FileSource(name="src", path="data.parquet", timestamp_field="event_time")

def views():
    return [
        FeatureView(
            name=f"fv_{i}", entities=[entity], ttl=timedelta(days=30), source=source,
            schema=[Field(name=f"f{j}", dtype=Float32 if j % 2 else Int64) for j in range(8)],
            tags={"team": "growth", "index": str(i)},
        )
        for i in range(count)
    ]

class Registry:  # what diff_between reads of a registry: its objects, by kind
    def __init__(self, fvs):
        self.fvs = fvs
    def list_feature_views(self, project, **kw): return self.fvs
    def __getattr__(self, name):
        if name.startswith("list_"):
            return lambda *a, **kw: [entity] if name == "list_entities" else []
        raise AttributeError(name)

current, desired = views(), views()
contents = RepoContents(
    projects=[], data_sources=[], feature_views=desired, on_demand_feature_views=[],
    stream_feature_views=[], entities=[entity], feature_services=[], permissions=[],
    label_views=[],
)
registry = Registry(current)
times = []
for _ in range(reps):
    start = time.perf_counter()
    found = diff_between(registry, "bench", contents)
    times.append((time.perf_counter() - start) * 1000)
unchanged = sum(1 for d in found.feast_object_diffs if d.transition_type.name == "UNCHANGED")
print(f"{statistics.median(times):.1f} {min(times):.1f} {unchanged}")
"""


def ms(start: float) -> float:
    return (time.perf_counter() - start) * 1000


def state_of(graph) -> State:
    """The state an apply of `graph` records (not yet written: serial 0)."""
    resources = {r.address: resource_state(r) for r in graph.resources}
    return State(graph.project, graph.env, resources=resources)


def perturbed(state: State, every: int = 50) -> State:
    """`state` with one nested value changed in every `every`-th resource."""
    found = dict(state.resources)
    for index, (address, entry) in enumerate(state.resources.items()):
        if index % every == 0:
            properties = copy.deepcopy(entry.properties)
            properties.setdefault("tags", {})["bench"] = "changed"
            found[address] = ResourceState(
                entry.type,
                properties,
                entry.inputs,
                entry.outputs,
                entry.dependencies,
                entry.source,
            )
    return State(state.project, state.environment, state.serial, state.lineage, found)


def rounds(cases: dict[str, Callable[[], object]], reps: int) -> dict[str, list[float]]:
    times: dict[str, list[float]] = {name: [] for name in cases}
    for case in cases.values():  # warm-up
        case()
    names = list(cases)
    for round_ in range(reps):
        shift = round_ % len(names)
        for name in names[shift:] + names[:shift]:
            gc.collect()  # a collection left over from the case before is not this case's
            start = time.perf_counter()
            cases[name]()
            times[name].append(ms(start))
    return times


def cold_cli(spec: Path, reps: int) -> list[float]:
    found = []
    for _ in range(reps):
        start = time.perf_counter()
        done = subprocess.run(
            [str(CLI), "plan", "--env", ENV, "-f", str(spec), "--detailed-exitcode"],
            capture_output=True,
            text=True,
        )
        found.append(ms(start))
        if done.returncode != 0:
            raise SystemExit(f"mlinfra plan exited {done.returncode}: {done.stderr[-2000:]}")
    return found


def feast_peer(count: int, reps: int) -> str:
    if not PEERS_PYTHON.exists():
        return "skipped: no benchmarks/.peers-venv (make bench-peers)"
    done = subprocess.run(
        [str(PEERS_PYTHON), "-c", FEAST_PEER, str(count), str(reps)],
        capture_output=True,
        text=True,
        timeout=3600,
    )
    if done.returncode != 0:
        return f"failed: {done.stderr.strip().splitlines()[-1:]}"
    median, best, unchanged = done.stdout.split()
    return f"median {median} ms, min {best} ms ({unchanged} unchanged)"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--components", type=int, default=700)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--reps", type=int, default=7)
    parser.add_argument("--cold-reps", type=int, default=3)
    parser.add_argument("--peer", action="store_true", help="also time Feast's diff_between")
    args = parser.parse_args(argv)

    print(machine())
    with tempfile.TemporaryDirectory() as folder:
        directory = Path(folder)
        spec = write_spec(directory, generate_spec(args.components, args.seed, baseline=BASELINE))
        (directory / BASELINE).parent.mkdir(parents=True, exist_ok=True)
        (directory / BASELINE).write_text(BASELINE_CSV, encoding="utf-8")
        result = validate_file(spec)
        if not result.ok:
            raise SystemExit("the generated spec is invalid")
        graph = lower(result.environments[ENV], directory)
        backend = FileBackend(directory / ".mlinfra" / "state")
        state = backend.write(state_of(graph))
        text = backend.path(ENV).read_text()
        changed = perturbed(state)
        empty = State.empty(graph.project, graph.env)

        check = plan(graph, state)
        assert {c.action for c in check.changes} == {NO_OP}, "a recorded state must be no-op"
        some = plan(graph, changed)
        print(
            f"{len(graph.resources)} resources ({args.components} components, env {ENV}); "
            f"state file {len(text) / 1e6:.1f} MB; plan (b): {some.summary()}"
        )
        stored = {a: r.properties for a, r in state.resources.items()}
        cases = {
            "(a) plan, no changes": lambda: plan(graph, state),
            "(b) plan, 2% changed": lambda: plan(graph, changed),
            "(c) plan, empty state": lambda: plan(graph, empty),
            "(d) FileBackend.read (parse + schema)": lambda: backend.read(graph.project, ENV),
            "(e) json.loads of the state": lambda: json.loads(text),
            "(f) floor: canonical() + ==": lambda: [
                canonical(r.properties) == stored[r.address] for r in graph.resources
            ],
            "(g) text view of (b)": lambda: to_text(some),
            "(h) JSON view of (b)": lambda: to_json(some),
        }
        times = rounds(cases, args.reps)
        print(f"\n{'case':42} {'median ms':>10} {'min ms':>8}")
        for name, found in times.items():
            print(f"{name:42} {statistics.median(found):10.1f} {min(found):8.1f}")
        headline = statistics.median(times["(a) plan, no changes"])
        verdict = "meets" if headline < TARGET_MS else "misses"
        print(f"\n(a) {verdict} the target of {TARGET_MS:.0f} ms: {headline:.0f} ms")

        if args.cold_reps:
            cli = cold_cli(spec, args.cold_reps)
            print(
                f"cold `mlinfra plan --env {ENV}` (validate + lower + read + plan + print): "
                f"median {statistics.median(cli):.0f} ms over {len(cli)} runs"
            )
        if args.peer:
            print(
                f"peer: Feast diff_between over {len(graph.resources)} feature views: "
                f"{feast_peer(len(graph.resources), max(1, args.reps // 2))}"
            )


if __name__ == "__main__":
    main()
