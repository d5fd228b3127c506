"""Options shared by several commands, and how they report a usage error."""

from __future__ import annotations

import math
import re

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


STATE_OPTION_HELP = (
    "Where the state is: a folder (relative to the spec) or s3://BUCKET/PREFIX.  "
    "[default: the spec's `state:`, else .mlinfra/state]"
)


class ExitOneOnUsageError(click.Command):
    """Click exits 2 on a usage error, which --detailed-exitcode means "changes": here 1."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        try:
            return super().parse_args(ctx, args)
        except click.UsageError as exc:
            exc.exit_code = 1
            raise


JSON_OPTION = click.option(
    "--json", "as_json", is_flag=True, help="Print JSON instead of text, for scripts."
)

ENV_OPTION_HELP = "The environment, as named under `environments:` in the spec."
# One environment, required, by name: the commands that work on one.
ENV_OPTION = click.option("--env", "env", metavar="ENV", required=True, help=ENV_OPTION_HELP)


class Duration(click.ParamType):
    """Seconds as a number (`30`, `2.5`), or a duration as the spec writes them (`10s`, `2m`,
    `1h`, `1h30m`), as Terraform's `-lock-timeout` takes them; a value in seconds."""

    name = "duration"
    FORMS = "seconds (30) or a duration such as 10s, 2m, 1h or 1h30m"

    def convert(self, value, param, ctx) -> float:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
        # Start-up: every command module reads these options; only a duration given as text
        # needs the spec's value parsers (which load the SageMaker catalogue).
        from mlinfra.spec.values import parse_duration

        text = str(value).strip()
        try:
            if re.fullmatch(r"[0-9]+(\.[0-9]*)?", text):
                seconds = float(text)
            elif re.fullmatch(r"(0+[wdhms])+", text):  # `0s`: no wait, as Terraform's default
                seconds = 0.0
            else:
                seconds = parse_duration(text).total_seconds()
        except ValueError:
            seconds = math.nan
        if not math.isfinite(seconds):
            self.fail(f"{value!r} is not a time to wait; write {self.FORMS}", param, ctx)
        return seconds


def lock_timeout_option(whose: str = "another command's lock"):
    """`--lock-timeout DURATION`: how long to wait for `whose` before giving up."""
    return click.option(
        "--lock-timeout",
        type=Duration(),
        default="0",
        metavar="DURATION",
        help=f"How long to wait for {whose} before giving up: {Duration.FORMS}.  "
        "[default: 0, no wait]",
    )
