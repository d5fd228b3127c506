"""The command reference in Markdown, from the commands' own `--help` texts."""

from __future__ import annotations

import click


def commands_markdown(group: click.Group) -> str:
    parts: list[str] = []

    def walk(command: click.Command, path: list[str], parent: click.Context | None) -> None:
        ctx = click.Context(command, info_name=path[-1], parent=parent, terminal_width=100)
        help_text = command.get_help(ctx).replace("\n\n\n", "\n\n").rstrip()
        parts.append(f"### `{' '.join(path)}`\n\n```\n{help_text}\n```\n")
        if isinstance(command, click.Group):
            for name in sorted(command.list_commands(ctx)):
                walk(command.get_command(ctx, name), [*path, name], ctx)

    walk(group, ["mlinfra"], None)
    return "\n".join(parts)
