"""The cutover engine: shifts the applications of a wave to AWS step by step, behind gates.

Per application, phases in the tracking store (every write a guarded transition with an
event id, so a replayed write is a no-op)::

    (none) -> PLANNED -> REPLICATING -> READY -> SHIFTING (step 1) -> SHIFTING (step 2)
           -> ... -> CUTOVER_COMPLETE            or, on an alarm during a bake, ROLLED_BACK

``READY`` is recorded once the gates of step 1 passed. Each ``SHIFTING`` transition carries
``details={"step": k, "percent": p}``: the last step whose weights are applied.

One step: check the gates (any failure stops the application before a weight moves and
records a ``GATE_FAILED`` event), set the split with ``wait=True``, record the step, then
bake ``bake_minutes`` polling the alarm gate every 30 s; an alarm calls the rollback service
and stops. After the bake of the last step (100 %) the application is CUTOVER_COMPLETE.

Resuming. The stored step ``s`` says which weights were applied. The current Route 53 split
is compared with it: equal -> the next step starts with its gates; equal to step ``s+1`` ->
the engine died between the Route 53 change and its record, so the step is recorded
(``recovered: true``) without a second change and its bake runs again; anything else is
drift and the application stops untouched. An interrupted bake is restarted in full.

Dry run: reads only; reports the gates each remaining step would check and its weights.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from migration.events import RollbackCommand
from migration.gates import GateResult, all_ok
from migration.plan import Application, Plan
from migration.rollback import RollbackService
from migration.tracking import TRANSITION_EVENT, Phase, TrackingStore, app_id
from migration.traffic import Split, TrafficShifter

__all__ = [
    "BAKE_POLL_SECONDS",
    "GATE_FAILED_EVENT",
    "ApplicationResult",
    "CutoverEngine",
    "CutoverResult",
    "EngineEvent",
    "GateChecker",
]

BAKE_POLL_SECONDS = 30.0
GATE_FAILED_EVENT = "GATE_FAILED"
ACTOR = "cutover"

# ApplicationResult.status values
COMPLETED = "completed"
ALREADY_COMPLETE = "already_complete"
GATE_FAILED = "gate_failed"
ROLLED_BACK = "rolled_back"
DRIFT = "drift"
DRY_RUN = "dry_run"


class GateChecker(Protocol):
    """What the engine needs of :class:`migration.gates.Gates`."""

    def check_gates(self, app: Application) -> list[GateResult]: ...

    def alarm_gate(self, app: Application) -> GateResult: ...

    def gate_names(self, app: Application) -> list[str]: ...


@dataclass(frozen=True)
class EngineEvent:
    """Progress reported to the output callback.

    ``kind``: ``gates``, ``gate_failed``, ``shifted``, ``recovered``, ``baked``,
    ``rolled_back``, ``complete``, ``skipped``, ``drift``, ``would_check``, ``would_shift``.
    """

    kind: str
    application: str
    step: int | None = None
    percent: int | None = None
    detail: str = ""
    gates: tuple[GateResult, ...] = ()

    def __str__(self) -> str:
        where = f" step {self.step} ({self.percent}% to AWS)" if self.step else ""
        return f"[{self.application}] {self.kind}{where}{': ' + self.detail if self.detail else ''}"


@dataclass(frozen=True)
class ApplicationResult:
    """Outcome of one application in a cutover run."""

    application: str
    status: str
    steps_applied: tuple[int, ...] = ()
    last_step: int = 0
    gates: tuple[GateResult, ...] = ()
    detail: str = ""
    planned: tuple[EngineEvent, ...] = ()

    @property
    def ok(self) -> bool:
        return self.status in (COMPLETED, ALREADY_COMPLETE, DRY_RUN)


@dataclass(frozen=True)
class CutoverResult:
    """Outcome of :meth:`CutoverEngine.cutover`."""

    wave: str
    dry_run: bool
    applications: tuple[ApplicationResult, ...] = field(default_factory=tuple)

    @property
    def ok(self) -> bool:
        return all(result.ok for result in self.applications)

    def by_application(self) -> dict[str, ApplicationResult]:
        return {result.application: result for result in self.applications}


def _stop_output(_event: EngineEvent) -> None:
    return None


class CutoverEngine:
    """Runs the cutover of a wave; see the module docstring for the protocol.

    ``clock`` (monotonic seconds) and ``sleep`` are injected so tests run instantly;
    ``output`` receives every :class:`EngineEvent`.
    """

    def __init__(
        self,
        plan: Plan,
        shifter: TrafficShifter,
        tracking: TrackingStore,
        rollback_service: RollbackService,
        gates: GateChecker,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        output: Callable[[EngineEvent], None] = _stop_output,
        poll_seconds: float = BAKE_POLL_SECONDS,
    ) -> None:
        self._plan = plan
        self._shifter = shifter
        self._tracking = tracking
        self._rollback = rollback_service
        self._gates = gates
        self._clock = clock
        self._sleep = sleep
        self._output = output
        self._poll = poll_seconds

    # -- entry point ------------------------------------------------------------------

    def cutover(self, wave: str, app: str | None = None, dry_run: bool = False) -> CutoverResult:
        """Cut over every application of ``wave`` (or only ``app``), one after the other."""
        wave_model = self._plan.wave(wave)
        apps: Sequence[Application] = wave_model.applications
        if app is not None:
            apps = [a for a in apps if a.name == app]
            if not apps:
                raise KeyError(f"application {app!r} is not in wave {wave!r}")
        results = [
            self._dry_run(application) if dry_run else self._cutover_application(application)
            for application in apps
        ]
        return CutoverResult(wave=wave, dry_run=dry_run, applications=tuple(results))

    # -- state ------------------------------------------------------------------------

    def _stored_state(self, app: Application) -> tuple[Phase | None, int, int]:
        """(phase, last applied step, head version) of ``app``."""
        entity = app_id(app.name)
        head = self._tracking.current(entity)
        if head is None:
            return None, 0, 0
        step = 0
        if head.phase in (Phase.SHIFTING, Phase.CUTOVER_COMPLETE):
            for entry in reversed(self._tracking.history(entity)):
                if entry.event_type == TRANSITION_EVENT and "step" in entry.details:
                    step = int(entry.details["step"])
                    break
        return head.phase, step, head.version

    def _current_split(self, app: Application) -> Split:
        return self._shifter.splits([app.name])[app.name]

    def _emit(self, event: EngineEvent) -> None:
        self._output(event)

    def _transition(
        self,
        app: Application,
        to_phase: Phase,
        expected_from: Phase | set[Phase | None],
        event: str,
        details: Mapping[str, Any] | None = None,
        reason: str | None = None,
    ) -> None:
        self._tracking.transition(
            app_id(app.name),
            to_phase,
            expected_from=expected_from,
            event_id=f"cutover:{app.name}:{event}",
            actor=ACTOR,
            reason=reason,
            details=details,
        )

    # -- one application --------------------------------------------------------------

    def _cutover_application(self, app: Application) -> ApplicationResult:
        phase, step, _version = self._stored_state(app)
        steps = app.shift_steps
        if phase is Phase.CUTOVER_COMPLETE:
            self._emit(EngineEvent("skipped", app.name, detail="already CUTOVER_COMPLETE"))
            return ApplicationResult(app.name, ALREADY_COMPLETE, last_step=len(steps))
        if phase is Phase.ROLLED_BACK:
            detail = "ROLLED_BACK: reset the application before a new cutover"
            self._emit(EngineEvent("skipped", app.name, detail=detail))
            return ApplicationResult(app.name, ROLLED_BACK, last_step=step, detail=detail)

        if phase is None:
            self._transition(app, Phase.PLANNED, {None}, "planned")
            phase = Phase.PLANNED
        if phase is Phase.PLANNED:
            self._transition(app, Phase.REPLICATING, Phase.PLANNED, "replicating")
            phase = Phase.REPLICATING

        applied: list[int] = []
        all_gates: list[GateResult] = []
        bake_pending = False
        # Reconcile the stored step with Route 53.
        current = self._current_split(app)
        stored_split = Split.percent_on_aws(steps[step - 1] if step else 0)
        if current != stored_split:
            if step < len(steps) and current == Split.percent_on_aws(steps[step]):
                step += 1
                self._record_step(app, step, recovered=True)
                phase = Phase.SHIFTING
                self._emit(
                    EngineEvent(
                        "recovered",
                        app.name,
                        step,
                        steps[step - 1],
                        "weights already applied; step recorded",
                    )
                )
                bake_pending = True
            else:
                detail = (
                    f"Route 53 split aws={current.aws}/on-premises={current.on_premises} "
                    f"matches neither stored step {step} nor the next step; not touching it"
                )
                self._emit(EngineEvent("drift", app.name, step, detail=detail))
                return ApplicationResult(app.name, DRIFT, last_step=step, detail=detail)
        elif step and phase is Phase.SHIFTING:
            # The engine stopped during or after the bake of ``step``: bake again.
            bake_pending = True

        while True:
            if bake_pending:
                breach = self._bake(app, step)
                if breach is not None:
                    self._roll_back(app, step, breach)
                    return ApplicationResult(
                        app.name,
                        ROLLED_BACK,
                        tuple(applied),
                        step,
                        tuple(all_gates),
                        breach.detail,
                    )
                bake_pending = False
            if step >= len(steps):
                break
            next_step = step + 1
            percent = steps[next_step - 1]
            results = self._gates.check_gates(app)
            all_gates.extend(results)
            if not all_ok(results):
                failed = [r for r in results if not r.ok]
                detail = "; ".join(f"{r.name}: {r.detail}" for r in failed)
                self._tracking.record_event(
                    app_id(app.name),
                    GATE_FAILED_EVENT,
                    actor=ACTOR,
                    reason=detail[:1000],
                    details={
                        "step": next_step,
                        "percent": percent,
                        "failedGates": [r.name for r in failed],
                    },
                )
                self._emit(
                    EngineEvent("gate_failed", app.name, next_step, percent, detail, tuple(results))
                )
                return ApplicationResult(
                    app.name, GATE_FAILED, tuple(applied), step, tuple(all_gates), detail
                )
            self._emit(EngineEvent("gates", app.name, next_step, percent, gates=tuple(results)))
            if phase is Phase.REPLICATING:
                self._transition(app, Phase.READY, Phase.REPLICATING, "ready")
                phase = Phase.READY
            self._shifter.set_split(
                {app.name: Split.percent_on_aws(percent)},
                wait=True,
                comment=f"cutover {app.name} step {next_step}: {percent}% to AWS",
            )
            self._emit(EngineEvent("shifted", app.name, next_step, percent))
            self._record_step(app, next_step)
            phase = Phase.SHIFTING
            step = next_step
            applied.append(step)
            bake_pending = True

        self._transition(
            app,
            Phase.CUTOVER_COMPLETE,
            Phase.SHIFTING,
            "complete",
            details={"step": step, "percent": steps[-1]},
        )
        self._emit(EngineEvent("complete", app.name, step, steps[-1]))
        return ApplicationResult(app.name, COMPLETED, tuple(applied), step, tuple(all_gates))

    def _record_step(self, app: Application, step: int, *, recovered: bool = False) -> None:
        percent = app.shift_steps[step - 1]
        details: dict[str, Any] = {"step": step, "percent": percent}
        if recovered:
            details["recovered"] = True
        # READY is written before the first shift, so step 1 always comes from READY.
        expected = Phase.READY if step == 1 else Phase.SHIFTING
        self._transition(app, Phase.SHIFTING, expected, f"step:{step}", details=details)

    def _bake(self, app: Application, step: int) -> GateResult | None:
        """Poll the alarm gate for ``bake_minutes``; the failing result on a breach."""
        percent = app.shift_steps[step - 1]
        deadline = self._clock() + app.bake_minutes * 60
        while True:
            result = self._gates.alarm_gate(app)
            if not result.ok:
                return result
            remaining = deadline - self._clock()
            if remaining <= 0:
                break
            self._sleep(min(self._poll, remaining))
        self._emit(EngineEvent("baked", app.name, step, percent, f"{app.bake_minutes} min"))
        return None

    def _roll_back(self, app: Application, step: int, breach: GateResult) -> None:
        reason = f"cutover of {app.name} step {step}: {breach.detail}"[:1024]
        key = f"cutover:{app.name}:step:{step}:rollback"
        self._rollback.handle(
            RollbackCommand(applications=(app.name,), reason=reason, idempotency_key=key)
        )
        head = self._tracking.current(app_id(app.name))
        if head is None or head.phase is not Phase.ROLLED_BACK:
            # The rollback service records ROLLED_BACK only for applications it moved.
            self._transition(
                app,
                Phase.ROLLED_BACK,
                {Phase.REPLICATING, Phase.READY, Phase.SHIFTING},
                f"step:{step}:rolled-back",
                details={"step": step, "percent": app.shift_steps[step - 1]},
                reason=reason,
            )
        self._emit(EngineEvent("rolled_back", app.name, step, app.shift_steps[step - 1], reason))

    # -- dry run ----------------------------------------------------------------------

    def _dry_run(self, app: Application) -> ApplicationResult:
        phase, step, _ = self._stored_state(app)
        steps = app.shift_steps
        planned: list[EngineEvent] = []
        if phase in (Phase.CUTOVER_COMPLETE, Phase.ROLLED_BACK):
            event = EngineEvent("skipped", app.name, detail=f"phase {phase}")
            self._emit(event)
            return ApplicationResult(app.name, DRY_RUN, last_step=step, planned=(event,))
        current = self._current_split(app)
        if step < len(steps) and current == Split.percent_on_aws(steps[step]):
            step += 1  # applied but not recorded; a real run records it without a change
        gate_names = ", ".join(self._gates.gate_names(app))
        for next_step in range(step + 1, len(steps) + 1):
            percent = steps[next_step - 1]
            planned.append(EngineEvent("would_check", app.name, next_step, percent, gate_names))
            split = Split.percent_on_aws(percent)
            planned.append(
                EngineEvent(
                    "would_shift",
                    app.name,
                    next_step,
                    percent,
                    f"aws={split.aws} on-premises={split.on_premises}, "
                    f"then bake {app.bake_minutes} min",
                )
            )
        for event in planned:
            self._emit(event)
        return ApplicationResult(app.name, DRY_RUN, last_step=step, planned=tuple(planned))
