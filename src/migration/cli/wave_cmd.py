"""Operator controls of a server-side cutover: watch, pause, resume, abort, approve, reset.

Each control is one guarded write the controller reads on its next tick (abort also rolls
the wave back at once). Each prints one line; bad input (unknown wave or application, a
control that does not apply) is one ``error:`` line, exit 2, nothing changed.
"""

from __future__ import annotations

import getpass
import os
from collections.abc import Callable
from datetime import datetime
from typing import Annotated

import typer

from migration.operations import Runtime
from migration.spec import WaveSpec
from migration.tracking import ACTIVE_WAVE_PHASES, Head, Phase, app_id, parse_timestamp
from migration.traffic import Split
from migration.waves import ControlError, WaveControls, wave_state

from . import common, output
from .status_cmd import split_text

WATCH_HEADERS = ("APPLICATION", "PHASE", "STEP", "SPLIT", "BAKE LEFT", "GATES / WAITING")
MAX_REASON_LENGTH = 500

WaveArgument = Annotated[str, typer.Argument(metavar="WAVE", help="A wave of the plan.")]
ByOption = Annotated[
    str | None,
    typer.Option("--by", metavar="NAME", help="Who does this [default: $USER]."),
]


def actor(by: str | None) -> str:
    """Who is recorded as doing a control: --by, else the login name."""
    if by and by.strip():
        return by.strip()
    try:
        return os.environ.get("USER") or getpass.getuser()
    except (KeyError, OSError):  # pragma: no cover - no login name at all
        return "operator"


def _reason(reason: str | None, what: str, *, required: bool) -> str | None:
    if reason is None:
        if required:
            common.fail(f"--reason is required: say why you {what}")
        return None
    text = reason.strip()
    if not text:
        common.fail(f"--reason must not be empty: say why you {what}")
    if len(text) > MAX_REASON_LENGTH:
        common.fail(f"--reason is longer than {MAX_REASON_LENGTH} characters")
    return text


def _controls(runtime: Runtime, by: str | None) -> WaveControls:
    return WaveControls(runtime.tracking(), runtime.rollback_service(), actor=actor(by))


def _run(call: Callable[[], object]) -> None:
    """Print the control's one-line answer; ControlError -> exit 2, AWS errors -> exit 1."""
    with common.aws_errors():
        try:
            answer = call()
        except ControlError as exc:
            common.fail(str(exc))
    if isinstance(answer, tuple):
        answer = answer[0]
    output.info(str(answer))


# -- the progress view ---------------------------------------------------------------------


def _bake_left(head: Head | None, now: datetime) -> str:
    if head is None or head.phase is not Phase.SHIFTING or "bakeUntil" not in head.state:
        return "-"
    left = (parse_timestamp(str(head.state["bakeUntil"])) - now).total_seconds()
    if left <= 0:
        return "done"
    minutes, seconds = divmod(int(left), 60)
    return f"{minutes}m{seconds:02d}s"


def progress(runtime: Runtime, name: str) -> tuple[list[list[str]], str, Phase | None]:
    """Rows of the progress view, the wave's summary line and its phase."""
    state = wave_state(runtime.tracking(), name)
    if state is None:
        spec: WaveSpec = runtime.plan.wave_spec(name)
        phase: Phase | None = None
    else:
        spec, phase = state.spec, state.phase
    tracking = runtime.tracking()
    splits = {a: r.split for a, r in runtime.shifter().read().items()}
    now = runtime.timing.wall()
    rows: list[list[str]] = []
    counts: dict[str, int] = {}
    for app in spec.applications:
        head = tracking.current(app_id(app.name))
        app_phase = str(head.phase) if head else "PLANNED"
        counts[app_phase] = counts.get(app_phase, 0) + 1
        step = int(head.state.get("step", 0)) if head else 0
        split: Split | None = splits.get(app.name)
        detail = ""
        if head is not None:
            waiting = str(head.state.get("waiting", ""))
            gates = str(head.state.get("gates", ""))
            if head.phase in (Phase.SHIFTING, Phase.READY, Phase.REPLICATING, Phase.HELD):
                # A step clears "waiting": when set, it is what the application waits for now.
                detail = waiting or gates
            elif head.phase is Phase.ROLLED_BACK:
                history = tracking.history(app_id(app.name))
                last = next((e for e in reversed(history) if e.phase is Phase.ROLLED_BACK), None)
                detail = (last.reason or "") if last else ""
        rows.append(
            [
                app.name,
                app_phase,
                f"{step}/{len(app.shift_steps)}",
                split_text(split),
                _bake_left(head, now),
                " ".join(detail.split())[:100],
            ]
        )
    summary = ", ".join(f"{count} {phase_name}" for phase_name, count in sorted(counts.items()))
    status = phase.value.removeprefix("WAVE_").lower() if phase else "not started"
    return rows, f"wave {name} ({status}): {summary}", phase


def watch(
    wave: Annotated[str, typer.Argument(metavar="WAVE", help="The wave to follow.")],
    once: Annotated[bool, typer.Option("--once", help="Print the view once and exit.")] = False,
    interval: Annotated[
        float, typer.Option("--interval", metavar="SECONDS", help="Seconds between refreshes.")
    ] = 30.0,
    outputs: common.OutputsOption = None,
    stack: common.StackOption = None,
    plan: common.PlanOption = None,
    region: common.RegionOption = None,
) -> None:
    """Follow a server-side cutover: per application its step, split, gates and bake left.

    Refreshes every --interval seconds until the wave is complete or aborted (the cutover
    runs in AWS: stopping the watch changes nothing). Exit 0 when every application
    completed, 1 if any was rolled back.
    """
    if interval <= 0:
        common.fail("--interval must be a positive number of seconds")
    runtime = common.open_or_fail(plan, outputs, stack, region)
    common.wave_or_fail(runtime, wave)
    follow(runtime, wave, once=once, interval=interval)


def follow(runtime: Runtime, wave: str, *, once: bool, interval: float) -> None:
    """The watch loop (also used by ``cutover --watch``)."""
    last = ""
    while True:
        with common.aws_errors():
            rows, summary, phase = progress(runtime, wave)
        # Redraw when something other than the bake countdown changed (a step, a split, a
        # gate, a phase): a cutover night prints its story, not a line per minute.
        view = "\n".join(["\t".join(row[:4] + row[5:]) for row in rows] + [summary])
        if view != last:
            output.table(WATCH_HEADERS, rows)
            output.info(summary, style="bold")
            last = view
        if once or phase not in ACTIVE_WAVE_PHASES:
            break
        runtime.timing.sleep(interval)
    if phase not in ACTIVE_WAVE_PHASES and phase is not None and "ROLLED_BACK" in summary:
        raise typer.Exit(common.EXIT_FAILED)


# -- controls --------------------------------------------------------------------------------


def pause(
    wave: WaveArgument,
    reason: Annotated[str | None, typer.Option("--reason", metavar="TEXT")] = None,
    by: ByOption = None,
    outputs: common.OutputsOption = None,
    stack: common.StackOption = None,
    plan: common.PlanOption = None,
    region: common.RegionOption = None,
) -> None:
    """Pause a wave: no new step starts; bakes go on and alarms stay watched."""
    text = _reason(reason, "pause", required=False)
    runtime = common.open_or_fail(plan, outputs, stack, region)
    common.wave_or_fail(runtime, wave)
    controls = _controls(runtime, by)
    _run(lambda: controls.pause(wave, reason=text))


def resume(
    wave: WaveArgument,
    reason: Annotated[str | None, typer.Option("--reason", metavar="TEXT")] = None,
    by: ByOption = None,
    outputs: common.OutputsOption = None,
    stack: common.StackOption = None,
    plan: common.PlanOption = None,
    region: common.RegionOption = None,
) -> None:
    """Resume a paused wave."""
    text = _reason(reason, "resume", required=False)
    runtime = common.open_or_fail(plan, outputs, stack, region)
    common.wave_or_fail(runtime, wave)
    controls = _controls(runtime, by)
    _run(lambda: controls.resume(wave, reason=text))


def abort(
    wave: WaveArgument,
    reason: Annotated[str | None, typer.Option("--reason", metavar="TEXT")] = None,
    by: ByOption = None,
    outputs: common.OutputsOption = None,
    stack: common.StackOption = None,
    plan: common.PlanOption = None,
    region: common.RegionOption = None,
) -> None:
    """Abort a wave: stop it and roll every application of it back to on-premises now."""
    text = _reason(reason, "abort", required=True)
    assert text is not None
    runtime = common.open_or_fail(plan, outputs, stack, region)
    common.wave_or_fail(runtime, wave)
    controls = _controls(runtime, by)
    _run(lambda: controls.abort(wave, reason=text))


def approve(
    wave: WaveArgument,
    app: Annotated[
        str | None, typer.Option("--app", metavar="A", help="Only this application.")
    ] = None,
    by: ByOption = None,
    outputs: common.OutputsOption = None,
    stack: common.StackOption = None,
    plan: common.PlanOption = None,
    region: common.RegionOption = None,
) -> None:
    """Approve the steps waiting for approval (plan: manual_approval_steps)."""
    runtime = common.open_or_fail(plan, outputs, stack, region)
    common.wave_or_fail(runtime, wave)
    name = app.strip().lower() if app else None
    if name is not None:
        common.application_or_fail(runtime, name)
    controls = _controls(runtime, by)
    _run(lambda: controls.approve(wave, name))


def reset(
    app: Annotated[
        str, typer.Argument(metavar="APP", help="The ROLLED_BACK application to reset.")
    ],
    reason: Annotated[str | None, typer.Option("--reason", metavar="TEXT")] = None,
    by: ByOption = None,
    outputs: common.OutputsOption = None,
    stack: common.StackOption = None,
    plan: common.PlanOption = None,
    region: common.RegionOption = None,
) -> None:
    """Allow a new cutover attempt of a ROLLED_BACK application (recorded: who and why)."""
    text = _reason(reason, "reset it", required=True)
    assert text is not None
    runtime = common.open_or_fail(plan, outputs, stack, region)
    name = app.strip().lower()
    common.application_or_fail(runtime, name)
    controls = _controls(runtime, by)
    _run(lambda: controls.reset(name, reason=text))
