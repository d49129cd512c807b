"""Options and error handling shared by the operator commands (status, cutover, rollback,
history).

Exit statuses: 0 done, 1 operational failure (a gate failed, a rollback happened, AWS
refused a call), 2 bad input or usage (nothing was changed). Every error is one line
``error: ...`` on stderr, never a traceback.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, NoReturn

import rich.markup
import typer
import typer.core
from botocore.exceptions import BotoCoreError, ClientError

from migration.errors import MigrationError, OutputsError
from migration.operations import (
    ClientFactory,
    InputError,
    Runtime,
    open_deployment,
    open_runtime,
)
from migration.outputs import DEFAULT_OUTPUTS_PATH, StackOutputs
from migration.plan import DEFAULT_PLAN_PATH, PLAN_ENV_VAR, Application, PlanError, Wave

from . import output

EXIT_FAILED = 1
EXIT_USAGE = 2

OutputsOption = Annotated[
    Path | None,
    typer.Option(
        "--outputs",
        metavar="PATH",
        help=f"Stack outputs file written by the deployment [default: {DEFAULT_OUTPUTS_PATH}].",
        show_default=False,
    ),
]
StackOption = Annotated[
    str | None,
    typer.Option(
        "--stack",
        metavar="NAME",
        help="Read the outputs of this CloudFormation stack instead of the outputs file.",
    ),
]
PlanOption = Annotated[
    Path | None,
    typer.Option(
        "--plan",
        metavar="PATH",
        help=f"Plan file [default: ${PLAN_ENV_VAR} or {DEFAULT_PLAN_PATH}].",
        show_default=False,
    ),
]
RegionOption = Annotated[
    str | None,
    typer.Option(
        "--region", metavar="REGION", help="AWS region [default: from the environment/config]."
    ),
]


class _PlainArgument(typer.core.TyperArgument):
    """A positional argument shown by its name alone: ``ID`` in the usage line (``[ID]`` when
    optional), ``ID  <help>`` in the Arguments list, in plain and rich help alike. Typer 0.29
    writes ``{ID}`` and ``ID <str>``, which read as syntax to type."""

    def _usage_display_name(self) -> str:
        name = self.display_name_raw
        if not self.required and not name.startswith("["):
            name = f"[{name}]"
        return name if self.nargs == 1 else f"{name}..."

    def display_type_rich(self, ctx: typer.Context) -> str | None:  # type: ignore[override]
        return None


class PlainArgumentsCommand(typer.core.TyperCommand):
    """A command whose positional arguments render plainly (see ``_PlainArgument``).

    In rich help, parameter help is text, not markup: ``[default: all]`` stays visible.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for param in self.params:
            if type(param) is typer.core.TyperArgument:
                param.__class__ = _PlainArgument
            help_text = getattr(param, "help", None)
            if self.rich_markup_mode == "rich" and help_text:
                param.help = rich.markup.escape(help_text)  # type: ignore[attr-defined]


def plain_arguments(app: typer.Typer) -> None:
    """Give every command of ``app`` and of its groups plainly rendered positional arguments.

    Commands that chose a class of their own keep it.
    """
    for info in app.registered_commands:
        if info.cls in (None, typer.core.TyperCommand):
            info.cls = PlainArgumentsCommand
    for group in app.registered_groups:
        if group.typer_instance is not None:
            plain_arguments(group.typer_instance)


def fail(message: str, code: int = EXIT_USAGE) -> NoReturn:
    """Print ``error: <message>`` (one line) and exit with ``code``."""
    output.errors([" ".join(message.split())])
    raise typer.Exit(code)


def open_or_fail(
    plan: Path | None, outputs: Path | None, stack: str | None, region: str | None
) -> Runtime:
    """The runtime of a command; bad plan, outputs or options exit 2 before any change."""
    try:
        return open_runtime(plan_path=plan, outputs_path=outputs, stack=stack, region=region)
    except PlanError as exc:
        lines = exc.lines() or [f"{exc.source}: invalid plan"]
        more = len(lines) - 1
        hint = (
            f" (and {more} more problem(s); run: migrate plan check {exc.source})" if more else ""
        )
        fail(lines[0] + hint)
    except (OutputsError, InputError) as exc:
        fail(str(exc))
    except (ClientError, BotoCoreError) as exc:
        fail(str(exc), EXIT_FAILED)


def deployment_or_fail(
    outputs: Path | None, stack: str | None, region: str | None
) -> tuple[StackOutputs, ClientFactory]:
    """The outputs and clients of a command that may not need the plan file; bad outputs or
    options exit 2."""
    try:
        return open_deployment(outputs_path=outputs, stack=stack, region=region)
    except (OutputsError, InputError) as exc:
        fail(str(exc))
    except (ClientError, BotoCoreError) as exc:
        fail(str(exc), EXIT_FAILED)


@contextmanager
def aws_errors() -> Iterator[None]:
    """Turn an AWS or runtime failure into one ``error:`` line and exit 1."""
    try:
        yield
    except (ClientError, BotoCoreError, MigrationError) as exc:
        fail(str(exc), EXIT_FAILED)


def wave_or_fail(runtime: Runtime, name: str) -> Wave:
    try:
        return runtime.plan.wave(name)
    except KeyError:
        fail(
            f"unknown wave {name!r}: the plan {runtime.plan_path} has "
            f"{_names(w.name for w in runtime.plan.waves)}"
        )


def application_or_fail(runtime: Runtime, name: str) -> Application:
    try:
        return runtime.plan.application(name)
    except KeyError:
        fail(
            f"unknown application {name!r}: the plan {runtime.plan_path} has "
            f"{_names(a.name for a in runtime.plan.applications)}"
        )


def _names(names: Sequence[str] | Iterator[str]) -> str:
    listed = list(names)
    return ", ".join(listed) if listed else "none"


def timestamp(text: str) -> str:
    """``2026-11-28T12:00:00.123456Z`` -> ``2026-11-28 12:00:00Z``."""
    return f"{text[:19].replace('T', ' ')}Z" if len(text) >= 19 else text
