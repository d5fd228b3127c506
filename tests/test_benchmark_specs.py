"""The benchmarks' generated spec stays a valid spec, as a user would write it.

`benchmarks/validate_bench.py` (and the render, plan and audit benchmarks built on its
generator) refuse to time a spec with errors; a new check that refuses what the generator
writes would otherwise be found only when someone next runs a benchmark.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

from mlinfra.spec.validate import validate_file

BENCH = Path(__file__).resolve().parents[1] / "benchmarks" / "validate_bench.py"


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("validate_bench", BENCH)
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("validate_bench", module)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("components", [5, 100])
def test_the_generated_spec_validates_with_no_diagnostics(bench, tmp_path, components) -> None:
    spec = bench.write_spec(tmp_path, bench.generate_spec(components, seed=1))
    result = validate_file(spec)
    assert [(d.code, d.summary) for d in result.diagnostics] == []
    assert sorted(result.environments) == ["dev", "local", "prod"]
    assert result.preview is not None


def test_the_bench_s_own_validity_check_passes(bench, tmp_path) -> None:
    text = bench.generate_spec(25, seed=2)
    assert bench.assert_valid(bench.write_spec(tmp_path, text), text) == 0
