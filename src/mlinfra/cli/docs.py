"""The command reference in Markdown, from the commands' own `--help` texts."""

from __future__ import annotations

import click


def commands_markdown(group: click.Group) -> str:
    parts: list[str] = []

    def walk(command: click.Command, path: list[str], parent: click.Context | None) -> None:
        # The command's own context_settings (e.g. the group's `-h` help option), as click
        # applies them; without them the help texts (and click's cached help option) lack `-h`.
        settings = {**command.context_settings, "terminal_width": 100}
        ctx = click.Context(command, info_name=path[-1], parent=parent, **settings)
        help_text = command.get_help(ctx).replace("\n\n\n", "\n\n").rstrip()
        parts.append(f"### `{' '.join(path)}`\n\n```\n{help_text}\n```\n")
        if isinstance(command, click.Group):
            for name in sorted(command.list_commands(ctx)):
                walk(command.get_command(ctx, name), [*path, name], ctx)

    walk(group, ["mlinfra"], None)
    return "\n".join(parts)
