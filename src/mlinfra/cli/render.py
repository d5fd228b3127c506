"""`mlinfra render`: write the Pulumi project of an environment."""

from __future__ import annotations

import os
import time
from pathlib import Path

import click

from mlinfra.cli.common import (
    ENV_OPTION_HELP,
    environment_of,
    lower_spec,
    make_console,
    posix_relpath,
    say,
    validate_spec,
    write_stack,
)
from mlinfra.cli.options import SPEC_OPTION


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
@click.option("--all", "every", is_flag=True, help="Render every environment.")
def render_command(env: str | None, spec_file: str, out: str | None, every: bool) -> None:
    """Compile environments to Pulumi projects.

    Each project is Pulumi.yaml, Pulumi.<env>.yaml, requirements.txt and __main__.py: for a
    sagemaker environment a pulumi_aws program, for a local one a program of Pulumi dynamic
    resources that deploy into the local emulator (the same providers `mlinfra apply` uses;
    it runs with the Python mlinfra is installed in). Exits 1 when the spec is invalid.
    """
    from mlinfra.render.pulumi import render_project

    if bool(env) == every:
        raise click.UsageError("give either --env ENV or --all")
    result = validate_spec(spec_file)
    console = make_console()
    if every:
        chosen = [spec for _, spec in sorted(result.environments.items())]
        parent = out or os.path.join(os.path.dirname(spec_file), "stacks")
        targets = [(spec, os.path.join(parent, spec.env)) for spec in chosen]
    else:
        spec = environment_of(result, env, spec_file)
        default = os.path.join(os.path.dirname(spec_file), "stacks", spec.env)
        targets = [(spec, out or default)]

    for spec, out_dir in targets:
        started = time.perf_counter()
        graph = lower_spec(spec, spec_file)
        files = render_project(graph, spec, posix_relpath(spec_file, out_dir))
        write_stack(files, out_dir, "give --out a folder, or a path where one can be made")
        elapsed = time.perf_counter() - started
        shown = Path(out_dir).as_posix().rstrip("/") + "/"
        say(
            console,
            f"wrote {shown} ({spec.env}: {len(graph.resources)} resources, "
            f"{elapsed * 1000:.0f} ms): {', '.join(sorted(files))}",
            "bold green",
        )
