"""``migrate plan``: commands about the plan file."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from migration.plan import DEFAULT_PLAN_PATH, PLAN_ENV_VAR, Plan, PlanError, load_plan

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
