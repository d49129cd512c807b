"""``migrate db``: move a database's writer to AWS (cutover) and back (failback).

One name per database points at the writer; ``cutover`` freezes writes on-premises, proves
the replication applied everything committed before the freeze, checks the tables, switches
the name and starts the reverse replication; ``failback`` is the mirror image. Both print each
step, resume where a previous run stopped, and refuse what does not apply (exit 2, nothing
changed). Design: docs/database-cutover.md.
"""

from __future__ import annotations

import select
import sys
from typing import Annotated

import typer

from migration.database.cutover import DatabaseSite, summary
from migration.database.errors import DatabaseRequestError
from migration.database.writer_name import WriterName
from migration.errors import MigrationError
from migration.operations import Runtime
from migration.plan import Database
from migration.tracking import db_id

from . import common, cutover_cmd, output, wave_cmd
from .status_cmd import split_text

app = typer.Typer(
    help="Database cutover and failback: one writer, one name, no acknowledged write lost.",
    no_args_is_help=True,
)

NameArgument = Annotated[str, typer.Argument(metavar="DATABASE", help="Database of the plan.")]
YesOption = Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")]


def _database_or_fail(runtime: Runtime, name: str) -> Database:
    try:
        return runtime.plan.database(name)
    except KeyError:
        known = ", ".join(db.name for db in runtime.plan.databases) or "none"
        common.fail(f"unknown database {name!r}: the plan {runtime.plan_path} has {known}")


def confirm_within(question: str, timeout_s: float) -> bool:
    """Ask on the terminal; True for y/yes typed within ``timeout_s`` (tests replace this)."""
    output.info(f"{question} [y/N] (waiting up to {timeout_s:g} s)")
    ready, _, _ = select.select([sys.stdin], [], [], timeout_s)
    return bool(ready) and sys.stdin.readline().strip().lower() in ("y", "yes")


def _site_or_fail(runtime: Runtime, name: str) -> DatabaseSite:
    _database_or_fail(runtime, name)
    interactive = cutover_cmd.stdin_is_interactive()
    with common.aws_errors():
        try:
            return runtime.database_site(name, confirm=confirm_within if interactive else None)
        except DatabaseRequestError as exc:
            common.fail(str(exc))


@app.command("status")
def status(
    name: Annotated[
        str | None, typer.Argument(metavar="[DATABASE]", help="One database [default: all].")
    ] = None,
    outputs: common.OutputsOption = None,
    stack: common.StackOption = None,
    plan: common.PlanOption = None,
    region: common.RegionOption = None,
) -> None:
    """Phase of each planned database and where its name points (the writer)."""
    runtime = common.open_or_fail(plan, outputs, stack, region)
    databases = [_database_or_fail(runtime, name)] if name else list(runtime.plan.databases)
    rows = []
    with common.aws_errors():
        tracking = runtime.tracking()
        names = WriterName(runtime.clients.client("route53"), runtime.outputs.hosted_zone_id)
        for db in databases:
            state = summary(tracking.current(db_id(db.name)))
            target = names.current(db.dns_name)
            writer = "?" if target is None else _writer(db, target.value)
            rows.append(
                [
                    db.name,
                    str(state["phase"]),
                    writer,
                    f"{db.dns_name} -> {target.value if target else 'no record'}",
                    str(state.get("step", "-")),
                ]
            )
    output.table(("DATABASE", "PHASE", "WRITER", "NAME", "STEP"), rows)


def _writer(db: Database, value: str) -> str:
    if value == db.source.host.lower():
        return "on-premises"
    if value == db.target.host.lower():
        return "AWS"
    return "unknown (the name points elsewhere)"


def _users_on_aws(runtime: Runtime, db: Database) -> list[str]:
    """Applications of ``db`` sending traffic to AWS now, with their split."""
    users = [a.name for a in runtime.plan.applications if db.name in a.databases]
    if not users:
        return []
    try:
        splits = runtime.shifter().splits(users)
    except MigrationError as exc:
        return [f"{', '.join(users)} (their traffic could not be read: {exc})"]
    return [f"{a} ({split_text(splits[a])})" for a in users if a in splits and splits[a].aws > 0]


def _run(name: str, run: str, yes: bool, by: str | None, runtime: Runtime) -> None:
    site = _site_or_fail(runtime, name)
    service = runtime.database_cutover(actor=wave_cmd.actor(by), progress=output.info)
    with common.aws_errors():
        try:
            service.check_request(site, run)
        except DatabaseRequestError as exc:
            common.fail(str(exc))
        blocker = runtime.database_cutover_blocker(name) if run == "cutover" else None
    if blocker:
        common.fail(f"database {name}: {blocker}")
    if not yes and not cutover_cmd.stdin_is_interactive():
        common.fail(f"not a terminal: pass --yes to confirm the {run} of {name}")
    old, new = ("on-premises", "AWS") if run == "cutover" else ("AWS", "on-premises")
    output.info(f"{run.capitalize()} of {name} ({site.dns_name}):", style="bold")
    output.info(
        f"  freeze writes on {old}, wait until the replication applied them all (at most"
        f" {site.drain_timeout_s:g} s), compare the tables, switch {site.dns_name} to {new},"
        f" open writes on {new}, replicate {new} -> {old}"
    )
    if run == "failback":
        with common.aws_errors():
            users = _users_on_aws(runtime, runtime.plan.database(name))
        if users:
            output.info(
                "  applications with traffic on AWS follow the name to on-premises: "
                f"{', '.join(users)}"
            )
    if not yes and not typer.confirm(f"Move the writer of {name} to {new} now?", default=False):
        output.info("aborted: nothing was changed")
        raise typer.Exit(common.EXIT_FAILED)
    with common.aws_errors():
        try:
            head = getattr(service, run)(site)
        except DatabaseRequestError as exc:
            common.fail(str(exc))
    output.info(f"{name}: {head.phase}; the {new} database is the writer")


@app.command("cutover")
def cutover(
    name: NameArgument,
    yes: YesOption = False,
    by: wave_cmd.ByOption = None,
    outputs: common.OutputsOption = None,
    stack: common.StackOption = None,
    plan: common.PlanOption = None,
    region: common.RegionOption = None,
) -> None:
    """Make the AWS database the writer (on-premises becomes the replica)."""
    _run(name, "cutover", yes, by, common.open_or_fail(plan, outputs, stack, region))


@app.command("failback")
def failback(
    name: NameArgument,
    yes: YesOption = False,
    by: wave_cmd.ByOption = None,
    outputs: common.OutputsOption = None,
    stack: common.StackOption = None,
    plan: common.PlanOption = None,
    region: common.RegionOption = None,
) -> None:
    """Make the on-premises database the writer again, with every write made on AWS."""
    _run(name, "failback", yes, by, common.open_or_fail(plan, outputs, stack, region))
