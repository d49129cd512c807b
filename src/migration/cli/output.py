"""Console output shared by the command groups: plain text unless attached to a terminal."""

from __future__ import annotations

import sys
from collections.abc import Iterable, Sequence

from rich.console import Console
from rich.table import Table
from rich.text import Text


def stdout() -> Console:
    # Created per call so that tests capturing sys.stdout/sys.stderr see the output.
    return Console(file=sys.stdout, soft_wrap=True, highlight=False)


def stderr() -> Console:
    return Console(file=sys.stderr, soft_wrap=True, highlight=False)


def info(message: str, style: str | None = None) -> None:
    """One line on stdout (never interpreted as rich markup, never wrapped)."""
    stdout().print(Text(message, style=style or ""))


def errors(lines: Iterable[str]) -> None:
    """Each line on stderr as ``error: <line>``."""
    console = stderr()
    for line in lines:
        console.print(Text.assemble(("error", "bold red"), ": ", line))


def is_terminal() -> bool:
    """True when stdout is a terminal: rich tables and live progress, else plain lines."""
    return sys.stdout.isatty()


def table(headers: Sequence[str], rows: Sequence[Sequence[str]], title: str | None = None) -> None:
    """A table: rich on a terminal, else aligned plain text (stable for scripts and logs)."""
    if is_terminal():
        rich_table = Table(title=title, title_justify="left", header_style="bold")
        for header in headers:
            rich_table.add_column(header, overflow="fold")
        for row in rows:
            rich_table.add_row(*(Text(cell) for cell in row))
        stdout().print(rich_table)
        return
    widths = [len(h) for h in headers]
    for row in rows:
        widths = [max(w, len(cell)) for w, cell in zip(widths, row, strict=True)]

    def line(cells: Sequence[str]) -> str:
        return "  ".join(cell.ljust(w) for cell, w in zip(cells, widths, strict=True)).rstrip()

    lines = [title] if title else []
    lines += [line(headers), line(["-" * w for w in widths])]
    lines += [line(row) for row in rows]
    for text in lines:
        info(text)
