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
