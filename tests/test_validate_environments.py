"""Commands that use one environment validate only it: `validate_file(..., environments=)`."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from mlinfra.cli.main import cli
from mlinfra.spec.validate import validate_file

ROOT = Path(__file__).resolve().parents[1]
CHURN = ROOT / "examples" / "churn"


@pytest.fixture
def broken_in_prod(tmp_path) -> Path:
    """The churn example whose prod override gives the endpoint an unknown instance type."""
    folder = tmp_path / "churn"
    shutil.copytree(CHURN, folder, ignore=shutil.ignore_patterns(".mlinfra", "stacks"))
    spec = folder / "mlinfra.yaml"
    text = spec.read_text(encoding="utf-8")
    marker = "        churn-api:\n          instance_count: 2\n"
    assert marker in text
    spec.write_text(
        text.replace(marker, marker + "          instance_type: ml.nope.large\n"), "utf-8"
    )
    return spec


def test_every_environment_and_the_preview_are_checked_by_default(broken_in_prod) -> None:
    result = validate_file(broken_in_prod)
    assert sorted(result.environments) == ["dev", "local", "prod"]
    assert result.preview is not None
    assert [d.environments for d in result.diagnostics if d.is_error] == [("prod",)]


def test_only_the_environments_asked_for_are_checked(broken_in_prod) -> None:
    result = validate_file(broken_in_prod, environments=("dev",))
    assert result.ok, [d.summary for d in result.diagnostics]
    assert sorted(result.environments) == ["dev"]
    assert result.preview is None
    assert not validate_file(broken_in_prod, environments=("prod",)).ok


def test_an_unknown_environment_checks_them_all_so_the_error_can_name_them(broken_in_prod):
    result = validate_file(broken_in_prod, environments=("staging",))
    assert sorted(result.environments) == ["dev", "local", "prod"]
    assert result.preview is not None
    assert not result.ok


def test_render_of_one_environment_ignores_a_fault_of_another(broken_in_prod, tmp_path) -> None:
    out = tmp_path / "out"
    args = ["render", "-f", str(broken_in_prod), "--out", str(out)]
    rendered = CliRunner().invoke(cli, [*args, "--env", "dev"])
    assert rendered.exit_code == 0, rendered.output
    assert (out / "dev" / "__main__.py").is_file() or any(out.rglob("__main__.py"))
    refused = CliRunner().invoke(cli, [*args, "--env", "prod"])
    assert refused.exit_code == 1
    assert "ml.nope.large" in refused.output
    assert CliRunner().invoke(cli, [*args, "--all"]).exit_code == 1
