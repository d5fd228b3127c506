"""Listings that never drop or cut what matters: a table when every cell fits whole at the
console's width, else the same rows as a list, one row's values under its first one.

Addresses, names and ARNs are what a listing is read (and copied) for, so no cell is folded
into slivers, cut short or left out: a narrow terminal or a CI log gets the list instead.
"""

from __future__ import annotations

from collections.abc import Sequence

from rich.console import Console
from rich.table import Table
from rich.text import Text

Row = Sequence[Text]
# What rich's default table adds to its cells' widths: a border before each cell and after
# the last, and a space either side of each cell.
BORDER, PADDING = 1, 2


def fits(headers: Sequence[str], sections: Sequence[Sequence[Row]], width: int) -> bool:
    """Whether a table of these rows shows every cell on one line within `width`."""
    widths = [len(h) for h in headers]
    for rows in sections:
        for row in rows:
            widths = [max(w, cell.cell_len) for w, cell in zip(widths, row, strict=True)]
    return sum(widths) + len(widths) * (BORDER + PADDING) + BORDER <= width


def print_listing(
    console: Console,
    title: str,
    headers: Sequence[str],
    sections: Sequence[Sequence[Row]],
    caption: str | None = None,
    right: Sequence[str] = (),
) -> None:
    """`sections` of rows as a table (a rule between sections) when they fit whole, else as
    a list: each row's first cell, then `header: value` for each other non-empty one."""
    if fits(headers, sections, console.width):
        table = Table(title=Text(title), caption=Text(caption) if caption else None)
        for header in headers:
            table.add_column(header, no_wrap=True, justify="right" if header in right else "left")
        for rows in sections:
            if rows:
                table.add_section()
            for row in rows:
                table.add_row(*row)
        console.print(table)
        return
    console.print(Text(title, style="italic"))
    for rows in sections:
        for row in rows:
            console.print(Text.assemble("  ", row[0]), soft_wrap=True)
            for header, cell in zip(headers[1:], row[1:], strict=True):
                if cell.plain:
                    console.print(Text.assemble(f"      {header}: ", cell), soft_wrap=True)
    if caption:
        console.print(Text(caption, style="dim"))
