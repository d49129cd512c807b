"""The ``migrate`` command line: one module per command group, assembled here.

To add a command group, create ``<group>_cmd.py`` exposing a ``typer.Typer`` named ``app`` and
register it in ``_GROUPS``; a single top-level command is a function registered in
``_COMMANDS``. Shared options and error handling of the operator commands: ``common``.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from importlib import metadata
from typing import Annotated, Any

import typer

from . import (
    common,
    cutover_cmd,
    db_cmd,
    history_cmd,
    plan_cmd,
    rollback_cmd,
    servers_cmd,
    status_cmd,
    wave_cmd,
)

_GROUPS: tuple[tuple[str, typer.Typer], ...] = (
    ("plan", plan_cmd.app),
    ("db", db_cmd.app),
    ("servers", servers_cmd.app),
)
_COMMANDS: tuple[tuple[str, Callable[..., Any]], ...] = (
    ("status", status_cmd.status),
    ("cutover", cutover_cmd.cutover),
    ("watch", wave_cmd.watch),
    ("pause", wave_cmd.pause),
    ("resume", wave_cmd.resume),
    ("abort", wave_cmd.abort),
    ("approve", wave_cmd.approve),
    ("reset", wave_cmd.reset),
    ("rollback", rollback_cmd.rollback),
    ("history", history_cmd.history),
)


def _version(value: bool) -> None:
    if value:
        try:
            version = metadata.version("migration-orchestrator")
        except metadata.PackageNotFoundError:  # pragma: no cover - running from a checkout
            version = "unknown"
        typer.echo(f"migrate {version}")
        raise typer.Exit()


def create_app(*, plain: bool = False) -> typer.Typer:
    """The ``migrate`` app; ``plain`` turns off rich formatting of help and usage errors."""
    root = typer.Typer(
        name="migrate",
        help="Orchestrate the phased migration of the on-premises site to AWS.",
        no_args_is_help=True,
        add_completion=False,
        pretty_exceptions_enable=False,
        rich_markup_mode=None if plain else "rich",
    )

    @root.callback()
    def _root(
        version: Annotated[
            bool,
            typer.Option("--version", callback=_version, is_eager=True, help="Show the version."),
        ] = False,
    ) -> None:
        """Orchestrate the phased migration of the on-premises site to AWS."""

    for name, group in _GROUPS:
        root.add_typer(group, name=name)
    for name, command in _COMMANDS:
        root.command(name)(command)
    common.plain_arguments(root)
    return root


app = create_app()


def main() -> None:
    """Entry point of the ``migrate`` console script."""
    plain = not (sys.stdout.isatty() and sys.stderr.isatty())
    create_app(plain=plain)(prog_name="migrate")
