"""The audit does the same work per resource whatever the spec's size: rules find related
resources through indexes built once per audit (`AuditContext`), never by scanning every
resource of a type for each resource they judge (which made the audit quadratic).

Work is counted, not timed: every resource the rules are handed by the context's lookups
(`of_type`, `in_component`, `resource`, and each referrer `referring_to` looks through) is
one visit. The specs are the benchmarks' generated ones (`benchmarks/render_bench.Case`:
`validate_bench.generate_spec` with local monitor baselines, so monitors have violation
alarms), at two sizes, environment `prod` with every pack.
"""

from __future__ import annotations

import sys
from pathlib import Path

from mlinfra.ir.lower import lower
from mlinfra.policy import engine
from mlinfra.policy.model import AuditContext

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))

from render_bench import ENV, Case  # noqa: E402  (benchmarks/ is not a package)


class CountingContext(AuditContext):
    """An `AuditContext` that counts the resources its lookups hand out or look through."""

    visits = 0

    def of_type(self, type_name):
        found = super().of_type(type_name)
        CountingContext.visits += len(found)
        return found

    def in_component(self, component, type_name):
        found = super().in_component(component, type_name)
        CountingContext.visits += len(found)
        return found

    def referring_to(self, address, type_name=None):
        CountingContext.visits += len(super().referring_to(address))
        return super().referring_to(address, type_name)

    def resource(self, address):
        CountingContext.visits += 1
        return super().resource(address)


def audit_work(components: int, tmp_path: Path, monkeypatch) -> tuple[int, int, int]:
    """(resources, visits, findings) of auditing prod of a generated spec."""
    folder = tmp_path / str(components)
    folder.mkdir()
    case = Case(components, 1, folder)
    result, _ = case.validate()
    spec = result.environments[ENV]
    graph = lower(spec, case.spec_dir)
    monkeypatch.setattr(engine, "AuditContext", CountingContext)
    CountingContext.visits = 0
    audited = engine.audit_environment(spec, graph, str(case.spec))
    return len(graph.resources), CountingContext.visits, len(audited.findings)


def test_audit_work_per_resource_does_not_grow_with_the_spec(tmp_path: Path, monkeypatch) -> None:
    small = audit_work(25, tmp_path, monkeypatch)
    large = audit_work(250, tmp_path, monkeypatch)
    # The spec grew tenfold, its resources and findings with it.
    assert large[0] > 9 * small[0]
    assert large[2] > 9 * small[2] > 0
    per_small, per_large = small[1] / small[0], large[1] / large[0]
    # Linear: the same visits per resource (a scan per resource would give ~10x).
    assert per_large < 1.2 * per_small, (small, large)
