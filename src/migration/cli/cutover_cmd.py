"""``migrate cutover``: shift the applications of a wave to AWS step by step, behind gates.

Progress is shown per application and step: gates checked (pass/fail), weights set, the
bake countdown with its alarm polls, rollback. On a terminal it is a live rich table plus
a log; otherwise one plain line per event. Exit 0 when every application completed, 1
when one stopped (gate failed, rolled back, drift), 2 for bad input (nothing changed).
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Annotated

import typer
from rich.live import Live
from rich.table import Table
from rich.text import Text

from migration.engine import CutoverResult, EngineEvent, GateChecker
from migration.gates import GateResult
from migration.operations import Runtime, Timing
from migration.plan import Application
from migration.waves import WaveControls

from . import common, output, wave_cmd

MAX_DETAIL = 200
PLAIN_BAKE_EVERY = 300.0
"""Seconds between two bake countdown lines in plain output (a terminal ticks every second)."""


def stdin_is_interactive() -> bool:
    """Whether a person can answer the confirmation prompt (tests replace this)."""
    return sys.stdin.isatty()


def _clock(seconds: float) -> str:
    whole = max(0, round(seconds))
    return f"{whole // 60}:{whole % 60:02d}"


def _one_line(text: str, limit: int = MAX_DETAIL) -> str:
    """Whitespace (an error page's newlines) collapsed, cut at ``limit`` characters."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 3] + "..."


def _gates_text(gates: tuple[GateResult, ...]) -> str:
    return ", ".join(f"{g.name} {'ok' if g.ok else 'FAIL'}" for g in gates)


@dataclass
class _Row:
    step: str = "-"
    split: str = "aws 0% / on-prem 100%"
    state: str = "waiting"
    style: str = ""


class Display:
    """Receives the engine's events, the gate checks and the bake sleeps; shows them."""

    def __init__(self, applications: list[Application], timing: Timing, live: bool) -> None:
        self._apps = {app.name: app for app in applications}
        self._timing = timing
        self._rows = {app.name: _Row() for app in applications}
        self._live: Live | None = None
        self._use_live = live
        self._baking: str | None = None
        self._deadline: dict[str, float] = {}
        self._polls: dict[str, int] = {}
        self._printed: dict[str, float] = {}
        self._step: dict[str, int] = {}

    # -- rendering ----------------------------------------------------------------------

    def _table(self) -> Table:
        table = Table(header_style="bold", title_justify="left")
        for column in ("APPLICATION", "STEP", "SPLIT", "STATE"):
            table.add_column(column)
        for name, row in self._rows.items():
            table.add_row(name, row.step, row.split, Text(row.state, style=row.style))
        return table

    @contextmanager
    def running(self) -> Iterator[Display]:
        if not self._use_live:
            yield self
            return
        with Live(self._table(), console=output.stdout(), auto_refresh=False) as live:
            self._live = live
            try:
                yield self
            finally:
                live.update(self._table(), refresh=True)
                self._live = None

    def _refresh(self) -> None:
        if self._live is not None:
            self._live.update(self._table(), refresh=True)

    def _log(self, line: str, style: str = "") -> None:
        if self._live is not None:
            self._live.console.print(Text(line, style=style))
        else:
            output.info(line, style=style or None)

    def _where(self, app: str, step: int | None) -> str:
        total = len(self._apps[app].shift_steps) if app in self._apps else "?"
        return f"[{app}] step {step}/{total}" if step else f"[{app}]"

    def _set(self, app: str, state: str, style: str = "", percent: int | None = None) -> None:
        row = self._rows.setdefault(app, _Row())
        row.state, row.style = state, style
        if app in self._step:
            row.step = f"{self._step[app]}/{len(self._apps[app].shift_steps)}"
        if percent is not None:
            row.split = f"aws {percent}% / on-prem {100 - percent}%"
        self._refresh()

    # -- hooks --------------------------------------------------------------------------

    def checking(self, app: Application) -> None:
        self._set(app.name, "checking gates", "yellow")

    def polling(self, app: Application) -> None:
        """The alarm gate is read: during a bake, one poll."""
        self._baking = app.name
        if app.name not in self._deadline:
            self._deadline[app.name] = self._timing.monotonic() + app.bake_minutes * 60
            self._polls[app.name] = 0
        self._polls[app.name] += 1

    def sleep(self, seconds: float) -> None:
        """The engine sleeps between two alarm polls of a bake: show the countdown."""
        app = self._baking
        if app is not None and app in self._deadline:
            left = self._deadline[app] - self._timing.monotonic()
            line = (
                f"{self._where(app, self._step.get(app))}: baking, alarms OK "
                f"(poll {self._polls[app]}), {_clock(left)} left"
            )
            if self._live is None:
                # Plain output: the first poll, then a line every PLAIN_BAKE_EVERY seconds.
                now = self._timing.monotonic()
                last = self._printed.get(app)
                if self._polls[app] == 1 or last is None or now - last >= PLAIN_BAKE_EVERY:
                    self._printed[app] = now
                    self._log(line)
            else:
                # Tick every second on a terminal so the countdown moves.
                remaining = seconds
                while remaining > 0:
                    self._set(app, f"baking, alarms OK, {_clock(left)} left", "cyan")
                    chunk = min(1.0, remaining)
                    self._timing.sleep(chunk)
                    remaining -= chunk
                    left -= chunk
                return
        self._timing.sleep(seconds)

    def event(self, event: EngineEvent) -> None:
        app, step, percent = event.application, event.step, event.percent
        if step:
            self._step[app] = step
        where = self._where(app, step)
        kind = event.kind
        if kind == "gates":
            self._log(f"{where} ({percent}% to AWS): gates passed: {_gates_text(event.gates)}")
            self._set(app, "gates passed", "green")
        elif kind == "gate_failed":
            failed = [g for g in event.gates if not g.ok]
            detail = "; ".join(f"{g.name}: {_one_line(g.detail)}" for g in failed)
            self._log(
                f"{where} ({percent}% to AWS): GATE FAILED ({len(failed)} of "
                f"{len(event.gates)}): {detail}; weights unchanged",
                "bold red",
            )
            self._set(app, "GATE FAILED: " + ", ".join(g.name for g in failed), "bold red")
        elif kind in ("shifted", "recovered"):
            assert percent is not None
            note = " (already applied; step recorded)" if kind == "recovered" else ""
            self._log(f"{where}: weights set aws={percent} on-premises={100 - percent}{note}")
            self._deadline.pop(app, None)
            self._set(app, "weights set", "green", percent)
        elif kind == "baked":
            self._log(f"{where}: baked {event.detail}, alarms OK")
            self._deadline.pop(app, None)
            self._baking = None
            self._set(app, "baked", "green")
        elif kind == "rolled_back":
            self._log(
                f"{where}: ALARM during bake: ROLLED BACK to aws=0 on-premises=100 "
                f"({_one_line(event.detail, 2 * MAX_DETAIL)})",
                "bold red",
            )
            self._deadline.pop(app, None)
            self._baking = None
            self._set(app, "ROLLED BACK", "bold red", 0)
        elif kind == "complete":
            self._log(f"[{app}] CUTOVER_COMPLETE: aws={percent} on-premises=0", "bold green")
            self._set(app, "CUTOVER_COMPLETE", "bold green", percent)
        elif kind == "would_check":
            self._log(f"{where} ({percent}% to AWS): would check gates: {event.detail}")
        elif kind == "would_shift":
            self._log(f"{where}: would set weights {event.detail}")
            self._set(app, "dry run", "cyan")
        elif kind == "drift":
            self._log(f"{where}: DRIFT: {event.detail}", "bold red")
            self._set(app, "DRIFT: not touched", "bold red")
        else:  # skipped and anything newer
            self._log(f"{where}: {kind}: {event.detail}")
            self._set(app, f"{kind}: {event.detail}")


class ObservedGates:
    """The real gates, reporting each check to the display (the checks are unchanged)."""

    def __init__(self, inner: GateChecker, display: Display) -> None:
        self._inner = inner
        self._display = display

    def check_gates(self, app: Application) -> list[GateResult]:
        self._display.checking(app)
        return self._inner.check_gates(app)

    def alarm_gate(self, app: Application) -> GateResult:
        self._display.polling(app)
        return self._inner.alarm_gate(app)

    def gate_names(self, app: Application) -> list[str]:
        return self._inner.gate_names(app)


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
        text = f"{app.application} {app.status}"
        if not app.ok or app.status != "completed":
            text += f" (last step {app.last_step})"
        parts.append(text)
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
    display = Display(apps, runtime.timing, live=False)
    with common.aws_errors():
        engine = runtime.engine(output=display.event, gates=runtime.gates())
        result = engine.cutover(wave, dry_run=True)
    output.info(f"dry run: nothing was changed ({_summary(result)})")
