"""Options shared by several commands."""

from __future__ import annotations

import click


def spec_option(help_text: str = "The spec to read."):
    """`-f/--file FILE`, default `./mlinfra.yaml`.

    Directories and missing files are not refused by click (which would exit 2 with a usage
    error and no JSON): each command reports them itself, exit 1.
    """
    return click.option(
        "-f",
        "--file",
        "spec_file",
        default="mlinfra.yaml",
        show_default=True,
        type=click.Path(path_type=str),
        metavar="FILE",
        help=help_text,
    )


SPEC_OPTION = spec_option()


def limit_option(what: str = "runs", maximum: int = 100, order: str = "newest first"):
    """`--limit N`: how many of a list to show."""
    return click.option(
        "--limit",
        type=click.IntRange(1, maximum),
        default=20,
        show_default=True,
        help=f"How many {what} to show, {order}.",
    )


ENV_OPTION_HELP = "The environment, as named under `environments:` in the spec."
# One environment, required, by name: the commands that work on one.
ENV_OPTION = click.option("--env", "env", metavar="ENV", required=True, help=ENV_OPTION_HELP)
