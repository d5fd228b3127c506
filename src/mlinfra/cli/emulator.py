"""`mlinfra emulator start|stop|status`: run the local SageMaker emulator for a spec's folder."""

from __future__ import annotations

import json

import click

from mlinfra.cli.options import spec_option

SPEC_OPTION = spec_option(
    # The spec need not exist or be valid: the emulator only needs its folder.
    "The spec whose folder the emulator serves (state in .mlinfra/emulator/ beside it)."
)

NOT_RUNNING = 1


@click.group("emulator")
def emulator_command() -> None:
    """Run the local emulator: SageMaker's APIs on 127.0.0.1, for `target: local`."""


@emulator_command.command("start")
@SPEC_OPTION
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=0,
    show_default=True,
    help="Port on 127.0.0.1; 0 picks a free one.",
)
@click.option("--foreground", is_flag=True, help="Run in this terminal until Ctrl-C.")
def start_command(spec_file: str, port: int, foreground: bool) -> None:
    """Start the emulator in the background and print its URL.

    Exits 1 if one is already running for the folder (its URL is printed) or it fails to start.
    """
    from mlinfra.emulator import process

    if foreground:
        running = process.status(spec_file)
        if running is not None:
            _already(running)
        folder = process.folder_of(spec_file)

        def announce(found: process.Status) -> None:
            click.echo(found.url)
            click.echo(f"emulator for {folder} (pid {found.pid}); Ctrl-C stops it", err=True)

        raise SystemExit(process.serve(folder, port, announce=announce))
    try:
        found = process.start(spec_file, port)
    except process.AlreadyRunning as exc:
        _already(exc.status)
    except process.EmulatorError as exc:
        click.echo(f"mlinfra emulator: {exc}", err=True)
        raise SystemExit(1) from None
    click.echo(found.url)
    click.echo(f"emulator started (pid {found.pid}); log: {found.log_file}", err=True)


@emulator_command.command("stop")
@SPEC_OPTION
def stop_command(spec_file: str) -> None:
    """Stop the emulator of the spec's folder (SIGTERM, then SIGKILL after 10 s)."""
    from mlinfra.emulator import process

    try:
        found = process.stop(spec_file)
    except process.EmulatorError as exc:
        click.echo(f"mlinfra emulator: {exc}", err=True)
        raise SystemExit(1) from None
    if found is None:
        click.echo("emulator not running")
    else:
        click.echo(f"emulator stopped (was pid {found.pid} at {found.url})")


@emulator_command.command("status")
@SPEC_OPTION
@click.option("--json", "as_json", is_flag=True, help="Print a JSON object.")
def status_command(spec_file: str, as_json: bool) -> None:
    """Show whether the emulator is running. Exits 0 when it is, 1 when not."""
    from mlinfra.emulator import process

    found = process.status(spec_file)
    state_dir = process.state_dir_of(spec_file)
    if as_json:
        fields = (
            found.to_json()
            if found
            else {
                "url": None,
                "pid": None,
                "port": None,
                "state_dir": str(state_dir),
                "log_file": str(state_dir / process.LOG_FILE),
                "started_at": None,
            }
        )
        click.echo(json.dumps({"running": found is not None, **fields}, indent=2))
    elif found:
        click.echo(f"running at {found.url} (pid {found.pid}, since {found.started_at})")
        click.echo(f"state: {found.state_dir}\nlog:   {found.log_file}")
    else:
        click.echo(f"not running (state: {state_dir})")
    raise SystemExit(0 if found else NOT_RUNNING)


def _already(found: object) -> None:
    click.echo(f"mlinfra emulator: already running at {found.url} (pid {found.pid})", err=True)  # type: ignore[attr-defined]
    raise SystemExit(1)
