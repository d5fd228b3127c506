"""What the commands share: the console, messages and failures, reading the spec, and how an
operation's errors and questions reach the terminal.

Every command validates the spec first (printing its diagnostics and exiting 1 when it is
invalid), hands an operation its request, and reports problems as `error: ...` with a `help:`
line.
"""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Collection
from datetime import datetime

import click
from rich.console import Console

from mlinfra.cli.views import diagnostics as view
from mlinfra.operations.errors import Declined, OperationError


def make_console(stderr: bool = False) -> Console:
    return Console(highlight=False, stderr=stderr, soft_wrap=True)


def say(console: Console, message: str, style: str | None = None) -> None:
    # markup=False: messages hold the user's names and paths, which may contain [brackets].
    console.print(message, style=style, markup=False)


def print_json(document) -> None:
    """`document` as indented JSON on stdout; times (boto3's datetimes) in ISO 8601."""
    click.echo(json.dumps(document, indent=2, default=_iso))


def _iso(value):
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON")


def validate_spec(
    spec_file: str, as_json: bool = False, environments: Collection[str] | None = None
):
    """The spec's `Validation`; exits 1 after printing the diagnostics when it is invalid.

    Warnings are printed to stderr, so stdout holds only what the command produces.
    `environments`: check only these (the ones the command uses), as `validate_file` says.
    """
    # Deferred: validation loads the JSON Schema and the checks; `--version` must not.
    from mlinfra.spec.validate import validate_file

    result = validate_file(spec_file, environments)
    found = result.diagnostics
    text = result.document.text if result.document else None
    if not result.ok:
        if not as_json and is_unread(result):
            show_unread_spec(found)
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
    print_warnings(found, text)
    return result


def print_warnings(found: list, text: str | None) -> None:
    """A valid spec's warnings, on stderr (stdout holds what the command produces)."""
    if found:
        view.print_text(make_console(stderr=True), found, text)


def is_unread(result) -> bool:
    """Whether a validation failed before reading the spec: its file is missing, is not a
    file, or cannot be opened (diagnostics of code `file`), rather than invalid."""
    return result.document is None and all(d.code == "file" for d in result.diagnostics)


def show_unread_spec(found) -> None:
    """A spec that could not be read at all (missing, a directory, unreadable): its file
    errors as `error: ...` with their help, not as an invalid spec of 1 error; exits 1."""
    for diagnostic in found:
        show_error(diagnostic.summary, diagnostic.suggestion)
    raise SystemExit(1)


def show_error(message: str, suggestion: str | None = None) -> None:
    console = make_console(stderr=True)
    say(console, f"error: {message}", "bold red")
    if suggestion:
        say(console, f"   = help: {suggestion}")


def fail(message: str, suggestion: str | None = None) -> None:
    show_error(message, suggestion)
    raise SystemExit(1)


def show_operation_error(error: OperationError) -> None:
    """The error's diagnostics (with excerpts of the spec), then the error itself."""
    if error.diagnostics:
        view.print_text(make_console(stderr=True), list(error.diagnostics), error.source)
    show_error(str(error), error.suggestion)


def reports_errors(command):
    """Run a command whose operation may raise: an `OperationError` is shown and exits 1; a
    `Declined` question says nothing changed and exits 1."""

    @functools.wraps(command)
    def run(*args, **kwargs):
        try:
            return command(*args, **kwargs)
        except OperationError as error:
            show_operation_error(error)
            raise SystemExit(1) from None
        except Declined:
            say(make_console(), "Nothing changed.")
            raise SystemExit(1) from None

    return run


def confirmer(auto_approve: bool):
    """The confirm hook of a command: yes with --auto-approve, else the terminal's answer;
    without a terminal, an error saying to pass --auto-approve."""

    def confirm(question) -> bool:
        if auto_approve:
            return True
        if not sys.stdin.isatty():
            raise OperationError(
                f"not {question.verb}ing without confirmation",
                "pass --auto-approve, or run it in a terminal",
            )
        return click.confirm(f"{question.verb.capitalize()} {question.what}?", default=False)

    return confirm
