"""``migrate plan``: commands about the plan file."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from migration.plan import DEFAULT_PLAN_PATH, PLAN_ENV_VAR, Plan, PlanError, load_plan
from migration.registration import PlanDiff, desired_registration, registration_for
from migration.tracking import iso_timestamp, utc_now

from . import common, cutover_cmd, output, wave_cmd

app = typer.Typer(help="Inspect, validate and register the migration plan.", no_args_is_help=True)

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


def _load_or_exit(file: Path) -> Plan:
    """The plan, or every problem on stderr (one per line) and exit 2."""
    try:
        return load_plan(file)
    except PlanError as exc:
        output.errors(exc.lines())
        raise typer.Exit(EXIT_INVALID) from None


@app.command("check")
def check(file: PlanFile = Path(DEFAULT_PLAN_PATH)) -> None:
    """Validate a plan file.

    Prints a summary and exits 0, or prints every problem on stderr, one per line, and exits 2.
    """
    plan = _load_or_exit(file)
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


@app.command("show")
def show(file: PlanFile = Path(DEFAULT_PLAN_PATH)) -> None:
    """Show what a plan will do, offline: waves, applications, steps, gates, databases, servers.

    Reads only the file (no AWS). An invalid plan prints its problems and exits 2.
    """
    plan = _load_or_exit(file)
    output.info(
        f"{file}: site {plan.site.customer_gateway_ip} (BGP ASN {plan.site.bgp_asn}), "
        f"on-premises {', '.join(plan.site.on_premises_cidrs)}, zone {plan.site.dns_zone}"
    )
    for wave in plan.waves:
        output.info(
            f"wave {wave.name}: at most {wave.max_parallel} application(s) in flight",
            style="bold",
        )
        for app in wave.applications:
            steps = " -> ".join(
                f"{s}%" + (" (approval)" if s in app.manual_approval_steps else "")
                for s in app.shift_steps
            )
            output.info(
                f"  application {app.name} ({app.dns_name}, {app.record_type}): {steps}, "
                f"bake {app.bake_minutes} min, on gate failure: {app.on_gate_failure}"
            )
            gates = [
                f"dms {db}: task running, CDC latency < "
                f"{plan.database(db).cdc_latency_threshold_seconds} s, validation clean"
                for db in app.databases
            ]
            gates += ["vpn: both tunnels UP", f"alarms OK: {', '.join(app.alarms) or 'none'}"]
            output.info("    gates: " + "; ".join(gates))
        for db in wave.databases:
            output.info(
                f"  database {db.name} ({db.engine}): {db.source.host}:{db.source.port} -> "
                f"{db.target.host}:{db.target.port}, {_plural(len(db.tables), 'table rule')}"
            )
        for server in wave.servers:
            output.info(
                f"  server {server.id} ({server.hostname}, {server.ip}): {server.replication}"
            )


@app.command("apply")
def apply(
    file: PlanFile = Path(DEFAULT_PLAN_PATH),
    outputs: common.OutputsOption = None,
    stack: common.StackOption = None,
    region: common.RegionOption = None,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
    by: wave_cmd.ByOption = None,
) -> None:
    """Register a plan with the deployment: show the diff, then apply it.

    New applications get their weighted record pair at 100% on-premises, new databases their
    writer name pointing at the source; the registry in the tracking table is what the
    rollback function, the controller and status read. Rerunning with the same plan changes
    nothing. Refused, with nothing changed (exit 2): dropping or renaming an application that
    has traffic on AWS, or a database whose name no longer points at its source.
    """
    runtime = common.open_or_fail(file, outputs, stack, region)
    registration = registration_for(runtime.clients.client, runtime.outputs)
    desired = desired_registration(runtime.plan, runtime.outputs.settings.cdc_latency_alarms)
    with common.aws_errors():
        diff = registration.diff(desired)
    if diff.refusals:
        output.errors([*diff.refusals, f"{file}: not applied; nothing was changed"])
        raise typer.Exit(EXIT_INVALID)
    if diff.empty:
        output.info(f"{file}: registered as {desired.digest[:12]}; nothing to change")
        return
    _show_diff(diff)
    if not yes and not cutover_cmd.stdin_is_interactive():
        common.fail("not a terminal: pass --yes to apply the plan")
    if not yes and not typer.confirm("Apply these changes?", default=False):
        common.fail("not applied")
    with common.aws_errors():
        changed = registration.apply(
            diff, desired, applied_by=wave_cmd.actor(by), now=iso_timestamp(utc_now())
        )
    output.info(
        f"{file}: applied, registered as {desired.digest[:12]} ({changed} changes)",
        style="green",
    )


def _show_diff(diff: PlanDiff) -> None:
    for line in diff.lines():
        output.info(line)
    creates = sum(1 for c in diff.pair_changes if c.create and not c.delete)
    rewrites = sum(1 for c in diff.pair_changes if c.create and c.delete)
    deletes = sum(1 for c in diff.pair_changes if c.delete and not c.create)
    output.info(
        f"Route 53: {_plural(creates, 'record pair')} to create (100% on-premises), "
        f"{rewrites} to rewrite (weights kept), {deletes} to delete; "
        f"{_plural(len(diff.names_to_create), 'database name')} to create, "
        f"{len(diff.names_to_delete)} to delete. Registry: "
        f"{_plural(len(diff.registry_puts) + len(diff.registry_deletes), 'item')} to write"
    )
