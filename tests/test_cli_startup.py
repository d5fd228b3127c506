"""Start-up: the `mlinfra` group loads a command's module only when that command runs."""

from __future__ import annotations

import subprocess
import sys

import click
import pytest

from mlinfra.cli.main import COMMANDS, cli

# What a fresh `mlinfra ARGS` process has imported at exit.
PROBE = (
    "import atexit, sys\n"
    "atexit.register(lambda: print(sorted(m for m in sys.modules), file=sys.stderr))\n"
    "sys.argv[0] = 'mlinfra'\n"
    "from mlinfra.cli.main import main\n"
    "main()\n"
)


def modules_loaded_by(*args: str) -> set[str]:
    done = subprocess.run(
        [sys.executable, "-c", PROBE, *args], capture_output=True, text=True, check=False
    )
    assert done.returncode in (0, 1), done.stderr
    return set(eval(done.stderr.strip().splitlines()[-1]))  # noqa: S307 - our own repr of a list


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_every_command_loads_under_its_own_name(name: str) -> None:
    command = cli.get_command(click.Context(cli), name)
    assert isinstance(command, click.Command)
    assert command.name == name


def test_help_lists_every_command() -> None:
    assert cli.list_commands(click.Context(cli)) == sorted(COMMANDS)


def test_version_loads_no_command_nor_urllib_nor_rich() -> None:
    loaded = modules_loaded_by("--version")
    assert not {m for m in loaded if m.startswith("mlinfra.") and m != "mlinfra.cli.main"} - {
        "mlinfra.cli"
    }
    assert "urllib.request" not in loaded
    assert not {m for m in loaded if m == "rich" or m.startswith("rich.")}


def test_validate_loads_neither_the_emulator_nor_the_renderer_nor_botocore(tmp_path) -> None:
    spec = tmp_path / "mlinfra.yaml"
    spec.write_text("version: 1\nproject: p\nenvironments: {dev: {target: local}}\n")
    loaded = modules_loaded_by("validate", "-f", str(spec))
    assert "mlinfra.cli.validate" in loaded
    assert not {m for m in loaded if m.startswith(("mlinfra.emulator", "mlinfra.render"))}
    assert not {m for m in loaded if m.startswith("mlinfra.cli.") and m.count(".") == 2} - {
        "mlinfra.cli.main",
        "mlinfra.cli.validate",
        "mlinfra.cli.common",
        "mlinfra.cli.options",
        "mlinfra.cli.views",
    }
    assert "botocore" not in loaded
