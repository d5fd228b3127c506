"""Listings at 60, 80 and 200 columns, in a terminal and not: every address and name is shown
whole on one line (a table when it fits, else a list), never cut, folded or left out."""

from __future__ import annotations

import io
import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner
from rich.console import Console
from rich.text import Text

from mlinfra.cli.main import cli
from mlinfra.cli.views.tables import print_listing

CHURN = Path(__file__).resolve().parents[1] / "examples" / "churn"
ROWS = [
    [
        (Text("endpoint.churn-api/config"), Text("churn-prod-churn-api-a22a6fd4-v3")),
        (Text("bucket.capture"), Text("churn-prod-capture-222222222222")),
    ],
    [(Text("monitor.churn-drift/alarm"), Text("arn:aws:cloudwatch:eu-west-1:2222:alarm:x" * 2))],
]


def rendered(width: int, terminal: bool) -> str:
    out = io.StringIO()
    console = Console(file=out, width=width, force_terminal=terminal, color_system=None)
    print_listing(console, "churn prod: physical names", ("resource", "name"), ROWS, "caption")
    return out.getvalue()


@pytest.mark.parametrize("terminal", [True, False])
@pytest.mark.parametrize("width", [60, 80, 200])
def test_every_cell_is_on_one_line_whole(width: int, terminal: bool) -> None:
    lines = rendered(width, terminal).splitlines()

    for rows in ROWS:
        for row in rows:
            for cell in row:
                assert any(cell.plain in line for line in lines), (cell.plain, lines)
    if width == 200:
        assert any("┃ resource" in line for line in lines)  # it fits: a table
    else:
        assert not any("│" in line for line in lines)  # it does not: a list
        assert "      name: churn-prod-capture-222222222222" in lines


@pytest.mark.parametrize("width", ["60", "80", "200"])
def test_output_shows_every_name_of_prod_whole(tmp_path: Path, width: str) -> None:
    shutil.copy(CHURN / "mlinfra.yaml", tmp_path / "mlinfra.yaml")
    for folder in ("data", "pipelines"):
        shutil.copytree(CHURN / folder, tmp_path / folder)
    spec = str(tmp_path / "mlinfra.yaml")
    runner = CliRunner(env={"COLUMNS": width})

    document = json.loads(
        runner.invoke(cli, ["output", "--env", "prod", "-f", spec, "--json"]).output
    )
    text = runner.invoke(cli, ["output", "--env", "prod", "-f", spec]).output

    lines = text.splitlines()
    for component in document["components"].values():
        for address, name in component["resources"].items():
            assert any(address in line for line in lines), address
            if name:
                assert any(name in line for line in lines), name
    # Only a name too long for any layout goes past the width, on a line of its own.
    assert all(len(line) <= int(width) or line.startswith("      name: ") for line in lines)
