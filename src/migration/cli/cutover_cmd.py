"""``migrate cutover``: start the cutover of a wave in AWS (the cutover controller), or preview it.

The cutover runs server-side (``migration.controller``); this command stores the wave and
returns, or follows it with ``--watch`` (the same view as ``migrate watch``). ``--dry-run``
lists what the controller would check and set for each remaining step, and changes nothing.
Exit 0 when started (or, with --watch, when every application completed), 1 when an
application was rolled back, 2 for bad input (nothing changed).
"""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from migration.engine import CutoverResult, EngineEvent
from migration.operations import Runtime
from migration.plan import Application
from migration.waves import WaveControls

from . import common, output, wave_cmd


def stdin_is_interactive() -> bool:
    """Whether a person can answer the confirmation prompt (tests replace this)."""
    return sys.stdin.isatty()


def preview_line(event: EngineEvent, steps: int) -> str:
    """One line of the dry run."""
    where = f"[{event.application}] step {event.step}/{steps}"
    if event.kind == "would_check":
        return f"{where} ({event.percent}% to AWS): would check gates: {event.detail}"
    if event.kind == "would_shift":
        return f"{where}: would set weights {event.detail}"
    return f"[{event.application}]: {event.kind}: {event.detail}"


def _describe(runtime: Runtime, apps: list[Application]) -> list[str]:
    lines = []
    for app in apps:
        steps = "/".join(str(s) for s in app.shift_steps)
        alarms = ", ".join(app.alarms) or "none"
        lines.append(
            f"  {app.name} ({app.dns_name}): steps {steps} % to AWS, bake {app.bake_minutes} min "
            f"per step, alarms: {alarms}"
        )
    return lines


def _summary(result: CutoverResult) -> str:
    parts = []
    for app in result.applications:
        parts.append(f"{app.application} {app.status} (last step {app.last_step})")
    return f"{result.wave}: " + ", ".join(parts)


def cutover(
    wave: Annotated[
        str | None, typer.Option("--wave", metavar="W", help="Wave to cut over (required).")
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Print every change it would make; change nothing.")
    ] = False,
    watch: Annotated[
        bool, typer.Option("--watch", help="Follow the cutover after starting it.")
    ] = False,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
    interval: Annotated[
        float,
        typer.Option("--interval", metavar="SECONDS", help="Refresh period of --watch."),
    ] = 30.0,
    by: wave_cmd.ByOption = None,
    outputs: common.OutputsOption = None,
    stack: common.StackOption = None,
    plan: common.PlanOption = None,
    region: common.RegionOption = None,
) -> None:
    """Start the cutover of a wave in AWS (the cutover controller) and return.

    The controller moves every application of the wave in parallel (at most the wave's
    max_parallel at once), step by step: gates (DMS task running, CDC latency, validation,
    VPN tunnels, alarms), Route 53 weights, bake with the alarms watched every minute. An
    alarm rolls the application back; so does a gate failing after traffic moved (unless
    the plan says on_gate_failure: hold). Follow it with --watch or migrate watch WAVE;
    steer it with migrate pause / resume / abort / approve / reset.
    """
    if wave is None:
        common.fail("--wave is required: which wave to cut over (see migrate status)")
    if interval <= 0:
        common.fail("--interval must be a positive number of seconds")
    runtime = common.open_or_fail(plan, outputs, stack, region)
    wave_model = common.wave_or_fail(runtime, wave)
    apps = list(wave_model.applications)
    if not apps:
        common.fail(f"wave {wave!r} has no applications to cut over")

    header = f"{'DRY RUN of the cutover' if dry_run else 'Cutover'} of {wave}:"
    if not dry_run and not yes and not stdin_is_interactive():
        common.fail("not a terminal: pass --yes to confirm the cutover (or --dry-run to preview)")
    output.info(header, style="bold")
    for line in _describe(runtime, apps):
        output.info(line)
    if dry_run:
        _dry_run(runtime, wave, apps)
        return
    if not yes and not typer.confirm("Shift traffic to AWS now?", default=False):
        output.info("aborted: nothing was changed")
        raise typer.Exit(common.EXIT_FAILED)
    controls = WaveControls(
        runtime.tracking(), runtime.rollback_service(), actor=wave_cmd.actor(by)
    )
    with common.aws_errors():
        output.info(controls.start(runtime.plan.wave_spec(wave)))
    if watch:
        wave_cmd.follow(runtime, wave, once=False, interval=interval)
    else:
        output.info(f"follow it with: migrate watch {wave}")


def _dry_run(runtime: Runtime, wave: str, apps: list[Application]) -> None:
    steps = {app.name: len(app.shift_steps) for app in apps}

    def show(event: EngineEvent) -> None:
        output.info(preview_line(event, steps[event.application]))

    with common.aws_errors():
        result = runtime.preview(output=show).preview(wave)
    output.info(f"dry run: nothing was changed ({_summary(result)})")
