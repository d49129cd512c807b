"""``migrate plan``: commands about the plan file."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from migration.plan import DEFAULT_PLAN_PATH, PLAN_ENV_VAR, PlanError, load_plan

from . import output

app = typer.Typer(help="Inspect and validate the migration plan.", no_args_is_help=True)

EXIT_INVALID = 2
"""Exit status when the plan is invalid (same as a usage error)."""

PlanFile = Annotated[
    Path,
    typer.Argument(
        envvar=PLAN_ENV_VAR,
        metavar="FILE",
        help="Plan file (YAML).",
        show_default=True,
    ),
]


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


@app.command("check")
def check(file: PlanFile = Path(DEFAULT_PLAN_PATH)) -> None:
    """Validate a plan file.

    Prints a summary and exits 0, or prints every problem on stderr, one per line, and exits 2.
    """
    try:
        plan = load_plan(file)
    except PlanError as exc:
        output.errors(exc.lines())
        raise typer.Exit(EXIT_INVALID) from None
    output.info(
        f"{file}: OK: {_plural(len(plan.waves), 'wave')}, "
        f"{_plural(len(plan.applications), 'application')}, "
        f"{_plural(len(plan.databases), 'database')}, {_plural(len(plan.servers), 'server')}",
        style="green",
    )
    for wave in plan.waves:
        output.info(
            f"  {wave.name}: {_plural(len(wave.applications), 'application')}, "
            f"{_plural(len(wave.databases), 'database')}, {_plural(len(wave.servers), 'server')}"
        )
