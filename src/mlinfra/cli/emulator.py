"""`mlinfra emulator start|stop|status|env`: the local SageMaker emulator of a spec's folder."""

from __future__ import annotations

import json
import shlex

import click

from mlinfra.cli.options import spec_option
from mlinfra.emulator import process

SPEC_OPTION = spec_option(
    # The spec need not exist or be valid: the emulator only needs its folder.
    "The spec whose folder the emulator serves (state in .mlinfra/emulator/ beside it)."
)

NOT_RUNNING = 1
INSECURE_WARNING = (
    "warning: --insecure-any-credentials: this emulator accepts any credentials, or none. Any "
    "process or user on this machine can drive it: create and start pipelines (their code runs "
    "as you), invoke endpoints (which load pickled models), read and write features and "
    "captures. Web pages are still refused (Host, Origin and content types are checked)."
)


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
@click.option(
    "--insecure-any-credentials",
    "insecure",
    is_flag=True,
    help="Accept any credentials, or none, as LocalStack does: any local process or user can "
    "then drive the emulator. Without it, requests must be signed with the emulator's own "
    "credentials (`mlinfra emulator env`).",
)
def start_command(spec_file: str, port: int, foreground: bool, insecure: bool) -> None:
    """Start the emulator in the background and print its URL.

    It answers only loopback requests that are not from a web page, signed (AWS Signature
    Version 4) with the access key and secret it generates at its first start, stored in
    .mlinfra/emulator/credentials.json (readable by you only). mlinfra's commands find them
    there; `eval "$(mlinfra emulator env)"` gives them to boto3 code. Exits 1 if one is
    already running for the folder (its URL is printed) or it fails to start.

    MLINFRA_EMULATOR_CLOCK_SCALE=N (1 to 3600) in its environment runs the clock of its
    CloudWatch metrics, alarms and autoscaling N times faster than real time, for demos: with
    60, a one-minute period passes in a second.
    """
    if insecure:
        click.echo(INSECURE_WARNING, err=True)

    if foreground:
        running = process.status(spec_file)
        if running is not None:
            _already(running)
        folder = process.folder_of(spec_file)

        def announce(found: process.Status) -> None:
            click.echo(found.url)
            click.echo(f"emulator for {folder} (pid {found.pid}); Ctrl-C stops it", err=True)

        raise SystemExit(
            process.serve(folder, port, announce=announce, insecure_any_credentials=insecure)
        )
    try:
        found = process.start(spec_file, port, insecure_any_credentials=insecure)
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
                "auth": None,
            }
        )
        click.echo(json.dumps({"running": found is not None, **fields}, indent=2))
    elif found:
        click.echo(f"running at {found.url} (pid {found.pid}, since {found.started_at})")
        click.echo(f"state: {found.state_dir}\nlog:   {found.log_file}")
        if found.auth == process.AUTH_INSECURE:
            click.echo("auth:  none (--insecure-any-credentials): any local process may drive it")
        else:
            click.echo("auth:  SigV4 with its own credentials (`mlinfra emulator env` prints them)")
    else:
        click.echo(f"not running (state: {state_dir})")
    raise SystemExit(0 if found else NOT_RUNNING)


@emulator_command.command("env")
@SPEC_OPTION
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["sh", "json"]),
    default="sh",
    show_default=True,
    help='sh: export/unset lines for eval; json: {"set": {...}, "unset": [...]}.',
)
@click.option(
    "--region",
    metavar="REGION",
    help="The region clients sign for (ARNs name it).  [default: the spec's local "
    "environment's region, else us-east-1]",
)
def env_command(spec_file: str, fmt: str, region: str | None) -> None:
    """Print the environment that makes boto3 code reach the running emulator.

    eval "$(mlinfra emulator env)" exports AWS_ENDPOINT_URL_SAGEMAKER,
    AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME, AWS_ENDPOINT_URL_SAGEMAKER_FEATURESTORE_RUNTIME,
    AWS_ENDPOINT_URL_CLOUDWATCH and AWS_ENDPOINT_URL_APPLICATION_AUTO_SCALING (the emulator's
    URL), AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (its credentials),
    AWS_DEFAULT_REGION and AWS_REGION; and unsets AWS_SESSION_TOKEN, AWS_SECURITY_TOKEN,
    AWS_PROFILE, AWS_DEFAULT_PROFILE and AWS_IGNORE_CONFIGURED_ENDPOINT_URLS, which would
    otherwise send a stale token, bring a profile's own settings, or hide the endpoint URLs.
    Then unmodified boto3 and SageMaker SDK code needs no endpoint_url. Exits 1 if no emulator
    runs for the folder.
    """
    # Start-up: only `env` reads the emulator's credentials and access settings.
    from mlinfra.emulator.access import UNSET, Access, NotRunning

    running = process.status(spec_file)
    if running is None:
        click.echo(
            f"mlinfra emulator: no emulator is running for {process.folder_of(spec_file)}; "
            "start it with `mlinfra emulator start`",
            err=True,
        )
        raise SystemExit(NOT_RUNNING)
    region = region or _spec_region(spec_file)
    try:
        access = Access.for_state(running.url, process.state_dir_of(spec_file), region)
    except NotRunning as exc:
        click.echo(f"mlinfra emulator: {exc}", err=True)
        raise SystemExit(NOT_RUNNING) from None
    variables = access.environment()
    if fmt == "json":
        click.echo(json.dumps({"set": variables, "unset": list(UNSET)}, indent=2))
        return
    click.echo(f'# the mlinfra emulator at {access.url}: eval "$(mlinfra emulator env)"')
    for name, value in variables.items():
        click.echo(f"export {name}={shlex.quote(value)}")
    click.echo(f"unset {' '.join(UNSET)}")


def _spec_region(spec_file: str) -> str:
    """The region of the spec's (first) local environment, if the spec is valid."""
    from pathlib import Path

    # Start-up: only `env` asks for the region, and only it needs the validator.
    from mlinfra.emulator.credentials import DEFAULT_REGION

    if not Path(spec_file).is_file():
        return DEFAULT_REGION
    # Start-up, as above: validating loads the schema and every check.
    from mlinfra.spec.validate import validate_file

    result = validate_file(spec_file)
    if not result.ok:
        return DEFAULT_REGION
    local = [e for _, e in sorted(result.environments.items()) if e.target == "local"]
    return local[0].region if local and local[0].region else DEFAULT_REGION


def _already(found: object) -> None:
    click.echo(f"mlinfra emulator: already running at {found.url} (pid {found.pid})", err=True)  # type: ignore[attr-defined]
    raise SystemExit(1)
