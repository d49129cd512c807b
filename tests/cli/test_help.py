"""Positional arguments read plainly in every command's help, plain and rich alike.

Typer 0.29 writes a required argument as ``{ID}`` in the usage line and ``ID <str>`` in the
Arguments list, which read as syntax to type; ``migrate`` shows ``ID`` and its help text.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
import typer
from typer.core import TyperArgument, TyperGroup
from typer.testing import CliRunner

from migration.cli import create_app


def _commands(command: Any, path: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    if isinstance(command, TyperGroup):
        return [
            found
            for name, sub in sorted(command.commands.items())
            for found in _commands(sub, (*path, name))
        ]
    return [path]


def _arguments(path: tuple[str, ...]) -> list[TyperArgument]:
    command: Any = typer.main.get_command(create_app(plain=True))
    for name in path:
        assert isinstance(command, TyperGroup)
        command = command.commands[name]
    return [p for p in command.params if isinstance(p, TyperArgument)]


WITH_ARGUMENTS = [
    path for path in _commands(typer.main.get_command(create_app(plain=True))) if _arguments(path)
]


def test_the_commands_with_positional_arguments_are_all_checked() -> None:
    assert {" ".join(path) for path in WITH_ARGUMENTS} >= {
        "history",
        "watch",
        "pause",
        "resume",
        "abort",
        "approve",
        "reset",
        "plan check",
        "plan show",
        "db status",
        "db cutover",
        "db failback",
    }


def _help(path: tuple[str, ...], plain: bool) -> str:
    result = CliRunner().invoke(
        create_app(plain=plain), [*path, "--help"], terminal_width=200, color=False
    )
    assert result.exit_code == 0, result.output
    return result.output


@pytest.mark.parametrize("plain", [True, False], ids=["plain", "rich"])
@pytest.mark.parametrize("path", WITH_ARGUMENTS, ids=" ".join)
def test_positional_arguments_render_plainly(path: tuple[str, ...], plain: bool) -> None:
    text = _help(path, plain)
    usage = next(line for line in text.splitlines() if "Usage:" in line)
    for argument in _arguments(path):
        name = argument.metavar or (argument.name or "").upper()
        shown = name if argument.required or name.startswith("[") else f"[{name}]"
        assert re.search(rf" {re.escape(shown)}(\s|$)", usage), usage
        assert "{" not in usage
        # In the Arguments list: the name, then its help text (no type such as <str>).
        help_start = " ".join((argument.help or "").split()[:3])
        assert help_start, f"{' '.join(path)}: {name} has no help text"
        assert re.search(rf"{re.escape(name)}\s+(\S\s+)?{re.escape(help_start)}", text), text
    assert not re.search(r"<(str|path|int)>", text.split("Options")[0]), text


def test_history_help_in_plain_mode() -> None:
    text = _help(("history",), plain=True)
    assert "Usage: migrate history [OPTIONS] ID\n" in text
    assert "\n  ID  Application, database or server name, or an entity id" in text


def test_rich_help_keeps_bracketed_defaults_visible() -> None:
    assert "One database [default: all]." in _help(("db", "status"), plain=False)
    assert "[default: cfn-outputs/flat-outputs.json]" in _help(("history",), plain=False)
