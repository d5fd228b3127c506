"""What the commands share: the console, messages and failures, and reading the spec.

Every command validates the spec first (printing its diagnostics and exiting 1 when it is
invalid), picks an environment, and reports problems as `error: ...` with a `help:` line.
"""

from __future__ import annotations

import os
from pathlib import Path

import click
from rich.console import Console

from mlinfra.cli.options import ENV_OPTION_HELP  # noqa: F401 - re-exported for the commands
from mlinfra.cli.views import diagnostics as view


def make_console(stderr: bool = False) -> Console:
    return Console(highlight=False, stderr=stderr, soft_wrap=True)


def say(console: Console, message: str, style: str | None = None) -> None:
    # markup=False: messages hold the user's names and paths, which may contain [brackets].
    console.print(message, style=style, markup=False)


def validate_spec(spec_file: str, as_json: bool = False):
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
            console = make_console()
            view.print_text(console, found, text)
            tally = view.counts(found)
            say(
                console,
                f"{spec_file}: invalid "
                f"({tally['errors']} error(s), {tally['warnings']} warning(s))",
                "bold red",
            )
        raise SystemExit(1)
    if found:
        view.print_text(make_console(stderr=True), found, text)
    return result


def fail(message: str, suggestion: str | None = None) -> None:
    console = make_console(stderr=True)
    say(console, f"error: {message}", "bold red")
    if suggestion:
        say(console, f"   = help: {suggestion}")
    raise SystemExit(1)


def environment_of(result, env: str, spec_file: str):
    """The `EnvSpec` of `env`; exits 1 when the spec has no such environment."""
    from mlinfra.didyoumean import suggest

    spec = result.environments.get(env)
    if spec is None:
        known = sorted(result.environments)
        close = suggest(env, known)
        fail(
            f"{spec_file} has no environment {env!r} (it has: {', '.join(known)})",
            f"did you mean {close!r}?" if close else None,
        )
    return spec


def lower_spec(spec, spec_file: str):
    from mlinfra.ir.lower import lower
    from mlinfra.spec.catalog import CatalogError

    try:
        return lower(spec, Path(spec_file).resolve().parent)
    except FileNotFoundError as exc:
        # A file the spec names (a model artifact) is hashed into the program; validation
        # only warns when it is missing, since it may not have been built yet.
        fail(f"cannot compile environment {spec.env!r}: {exc}", "build the file, then render")
    except OSError as exc:  # such a file cannot be read (permissions, a name too long...)
        fail(f"cannot compile environment {spec.env!r}: {os_problem(exc)}")
    except CatalogError as exc:
        # No SageMaker image for this framework, version, region and instance type.
        fail(f"cannot compile environment {spec.env!r}: {exc}", "choose another instance type")


def os_problem(exc: OSError) -> str:
    """An OSError as `path: reason`, without Python's `[Errno N]`."""
    reason = exc.strerror or str(exc)
    return f"{exc.filename}: {reason}" if exc.filename else reason


def write_stack(files, out_dir: str | Path, suggestion: str) -> None:
    """Write a rendered Pulumi project into `out_dir`; exits 1 saying why when it cannot."""
    from mlinfra.render.pulumi import write_project

    try:
        write_project(files, out_dir)
    except OSError as exc:
        reason = os_problem(exc)
        for place in (Path(out_dir), *Path(out_dir).parents):
            if place.exists() and not place.is_dir():
                reason = f"{place} is a file, not a folder"
                break
        fail(f"cannot write the Pulumi project to {out_dir}: {reason}", suggestion)


def posix_relpath(path: str, start: str) -> str:
    return Path(os.path.relpath(os.path.abspath(path), os.path.abspath(start))).as_posix()


def local_environment(result, env: str, spec_file: str):
    """The `EnvSpec` of `env`; exits 1 when there is none or it is not a local one."""
    spec = result.environments.get(env)
    if spec is None:
        environment_of(result, env, spec_file)  # exits: no such environment, did you mean...
    local = sorted(n for n, s in result.environments.items() if s.target == "local")
    if spec.target != "local":
        fail(
            f"environment {env!r} has target {spec.target!r}: this command works with the "
            "local emulator only",
            f"use a `target: local` environment ({', '.join(local)})"
            if local
            else "add an environment with `target: local` to the spec",
        )
    return spec
