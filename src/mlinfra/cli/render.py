"""`mlinfra render` (write the Pulumi project of sagemaker environments) and `mlinfra output`
(the physical names an environment deploys)."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table
from rich.text import Text

from mlinfra.cli.options import SPEC_OPTION
from mlinfra.cli.views import diagnostics as view

ENV_OPTION_HELP = "The environment, as named under `environments:` in the spec."
LOCAL_NOTE = (
    "runs on mlinfra's local emulator on this machine, not on AWS, so it has no Pulumi program"
)


def _console(stderr: bool = False) -> Console:
    return Console(highlight=False, stderr=stderr, soft_wrap=True)


def _say(console: Console, message: str, style: str | None = None) -> None:
    # markup=False: messages hold the user's names and paths, which may contain [brackets].
    console.print(message, style=style, markup=False)


def _validate(spec_file: str, as_json: bool = False):
    """The spec's `Validation`; exits 1 after printing the diagnostics when it is invalid.

    Warnings are printed to stderr, so stdout holds only what the command produces.
    """
    from mlinfra.spec.validate import validate_file

    result = validate_file(spec_file)
    found = result.diagnostics
    text = result.document.text if result.document else None
    if not result.ok:
        if as_json:
            click.echo(view.to_json(found, False, file=spec_file, environments=[]))
        else:
            console = _console()
            view.print_text(console, found, text)
            tally = view.counts(found)
            _say(
                console,
                f"{spec_file}: invalid "
                f"({tally['errors']} error(s), {tally['warnings']} warning(s))",
                "bold red",
            )
        raise SystemExit(1)
    if found:
        view.print_text(_console(stderr=True), found, text)
    return result


def _fail(message: str, suggestion: str | None = None) -> None:
    console = _console(stderr=True)
    _say(console, f"error: {message}", "bold red")
    if suggestion:
        _say(console, f"   = help: {suggestion}")
    raise SystemExit(1)


def _environment(result, env: str, spec_file: str):
    """The `EnvSpec` of `env`; exits 1 when the spec has no such environment or it is local."""
    from mlinfra.didyoumean import suggest

    spec = result.environments.get(env)
    if spec is None:
        known = sorted(result.environments)
        close = suggest(env, known)
        _fail(
            f"{spec_file} has no environment {env!r} (it has: {', '.join(known)})",
            f"did you mean {close!r}?" if close else None,
        )
    if spec.target != "sagemaker":
        _fail(f"environment {env!r} has target {spec.target!r}: it {LOCAL_NOTE}")
    return spec


def _lower(spec, spec_file: str):
    from mlinfra.ir.lower import lower
    from mlinfra.spec.catalog import CatalogError

    try:
        return lower(spec, Path(spec_file).resolve().parent)
    except FileNotFoundError as exc:
        # A file the spec names (a model artifact) is hashed into the program; validation
        # only warns when it is missing, since it may not have been built yet.
        _fail(f"cannot compile environment {spec.env!r}: {exc}", "build the file, then render")
    except CatalogError as exc:
        # No SageMaker image for this framework, version, region and instance type.
        _fail(f"cannot compile environment {spec.env!r}: {exc}", "choose another instance type")


def _posix_relpath(path: str, start: str) -> str:
    return Path(os.path.relpath(os.path.abspath(path), os.path.abspath(start))).as_posix()


@click.command("render")
@click.option("--env", "env", metavar="ENV", help=ENV_OPTION_HELP)
@SPEC_OPTION
@click.option(
    "--out",
    "out",
    metavar="DIR",
    type=click.Path(path_type=str),
    help="Where to write: the project's folder, or with --all the folder holding one per "
    "environment.  [default: stacks/<env>/ beside the spec]",
)
@click.option("--all", "every", is_flag=True, help="Render every sagemaker environment.")
def render_command(env: str | None, spec_file: str, out: str | None, every: bool) -> None:
    """Compile sagemaker environments to Pulumi projects.

    Each project is Pulumi.yaml, Pulumi.<env>.yaml, requirements.txt and __main__.py. Local
    environments run on mlinfra's emulator and have no Pulumi program. Exits 1 when the spec
    is invalid or --env names a local environment.
    """
    from mlinfra.render.pulumi import render_project, write_project

    if bool(env) == every:
        raise click.UsageError("give either --env ENV or --all")
    result = _validate(spec_file)
    console = _console()
    if every:
        chosen = []
        for name, spec in sorted(result.environments.items()):
            if spec.target == "sagemaker":
                chosen.append(spec)
            else:
                _say(console, f"skipped {name}: target {spec.target!r} {LOCAL_NOTE}", "dim")
        if not chosen:
            _say(console, f"{spec_file}: no sagemaker environment to render")
            return
        parent = out or os.path.join(os.path.dirname(spec_file), "stacks")
        targets = [(spec, os.path.join(parent, spec.env)) for spec in chosen]
    else:
        spec = _environment(result, env, spec_file)
        default = os.path.join(os.path.dirname(spec_file), "stacks", spec.env)
        targets = [(spec, out or default)]

    for spec, out_dir in targets:
        started = time.perf_counter()
        graph = _lower(spec, spec_file)
        files = render_project(graph, spec, _posix_relpath(spec_file, out_dir))
        write_project(files, out_dir)
        elapsed = time.perf_counter() - started
        shown = Path(out_dir).as_posix().rstrip("/") + "/"
        _say(
            console,
            f"wrote {shown} ({spec.env}: {len(graph.resources)} resources, "
            f"{elapsed * 1000:.0f} ms): {', '.join(sorted(files))}",
            "bold green",
        )


@click.command("output")
@click.option("--env", "env", metavar="ENV", required=True, help=ENV_OPTION_HELP)
@SPEC_OPTION
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def output_command(env: str, spec_file: str, as_json: bool) -> None:
    """Show the physical name of each resource of an environment, by component.

    Until the environment has a state, the names are the ones the compiler gives (every
    name is decided before anything is created). Exits 1 when the spec is invalid or ENV is
    a local environment.
    """
    from mlinfra.render.outputs import outputs_document

    result = _validate(spec_file, as_json)
    spec = _environment(result, env, spec_file)
    document = outputs_document(_lower(spec, spec_file))
    if as_json:
        click.echo(json.dumps(document, indent=2))
        return
    table = Table(
        title=Text(f"{document['project']} {document['environment']}: physical names"),
        caption=Text("as compiled from the spec; no state yet"),
    )
    # One section per component; a resource's address starts with its component's, so no
    # column repeats it. The names are what the command is for: addresses fold first.
    table.add_column("resource", overflow="fold")
    table.add_column("name", no_wrap=True)
    for names in document["components"].values():
        if names:
            table.add_section()
        for address, name in names.items():
            table.add_row(Text(address), Text(name))
    _console().print(table)
