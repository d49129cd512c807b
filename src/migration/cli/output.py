"""Console output shared by the command groups: plain text unless attached to a terminal."""

from __future__ import annotations

import sys
from collections.abc import Iterable

from rich.console import Console
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
