"""The checked-in `stacks/` are exactly what `make stacks` renders today: CI fails here when
the compiler changed and the rendered projects were not regenerated (run `make stacks`)."""

from __future__ import annotations

import shutil
from pathlib import Path

from click.testing import CliRunner
from render_cases import CHURN, ROOT, STACKS

from mlinfra.cli.main import cli

STALE = "stacks/ is out of date: run `make stacks` and commit the result"


def files_under(folder: Path) -> dict[str, bytes]:
    return {
        path.relative_to(folder).as_posix(): path.read_bytes()
        for path in sorted(folder.rglob("*"))
        if path.is_file() and "__pycache__" not in path.parts and "venv" not in path.parts
    }


def test_checked_in_stacks_match_a_fresh_render(tmp_path: Path) -> None:
    # The same layout as the repository (examples/churn beside stacks/churn), somewhere
    # else: the rendered files must not depend on where the repository lives.
    example = tmp_path / "examples" / "churn"
    shutil.copytree(CHURN.parent, example, ignore=shutil.ignore_patterns("__pycache__"))
    out = tmp_path / "stacks" / "churn"
    result = CliRunner().invoke(
        cli, ["render", "--all", "-f", str(example / CHURN.name), "--out", str(out)]
    )
    assert result.exit_code == 0, result.output

    fresh = files_under(out)
    checked_in = files_under(STACKS)
    assert sorted(checked_in) == sorted(fresh), STALE
    for name, content in fresh.items():
        assert checked_in[name] == content, f"{name}: {STALE}"


def test_stacks_hold_one_project_per_environment() -> None:
    assert sorted(p.name for p in STACKS.iterdir() if p.is_dir()) == ["dev", "local", "prod"]
    for env in ("dev", "local", "prod"):
        assert (STACKS / env / f"Pulumi.{env}.yaml").is_file()
        assert (STACKS / env / "__main__.py").is_file()
    assert (ROOT / "stacks" / "README.md").is_file()
