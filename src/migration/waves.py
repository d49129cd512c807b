"""Operator controls of a server-side cutover: start, pause, resume, abort, approve, reset.

Each is one guarded write to the tracking table (the controller reads it on its next
tick), recorded in the history with who did it and why. Abort also rolls the wave back at
once, through the same rollback service as the rollback function (it does not wait for a
tick). Every refusal raises :class:`ControlError` with a one-line message and writes
nothing.

Only the standard library and the runtime modules are imported.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from migration.errors import ConcurrentUpdateError, MigrationError
from migration.events import RollbackCommand
from migration.spec import SpecError, WaveSpec
from migration.tracking import (
    ACTIVE_WAVE_PHASES,
    Head,
    Phase,
    TrackingStore,
    app_id,
    wave_id,
)

STARTABLE = (None, Phase.WAVE_COMPLETE, Phase.WAVE_ABORTED)


class ControlError(MigrationError):
    """An operator control that cannot apply (unknown wave, wrong phase, ...)."""


@dataclass(frozen=True)
class WaveState:
    """A wave's head as the operator sees it."""

    name: str
    phase: Phase
    spec: WaveSpec
    approvals: Mapping[str, int]
    version: int


def wave_state(tracking: TrackingStore, name: str) -> WaveState | None:
    """The stored state of wave ``name``, or None if it was never started."""
    head = tracking.current(wave_id(name))
    if head is None:
        return None
    try:
        spec = WaveSpec.from_json(str(head.state.get("spec", "")))
    except SpecError as exc:
        raise ControlError(f"wave {name}: {exc}") from exc
    approvals = {k: int(v) for k, v in dict(head.state.get("approvals", {})).items()}
    return WaveState(name, head.phase, spec, approvals, head.version)


class WaveControls:
    """The operator's commands over the tracking store (and the rollback service)."""

    def __init__(self, tracking: TrackingStore, rollbacks: Any, *, actor: str) -> None:
        self._tracking = tracking
        self._rollbacks = rollbacks
        self._actor = actor

    def _require(self, name: str) -> WaveState:
        state = wave_state(self._tracking, name)
        if state is None:
            raise ControlError(f"wave {name} has not been started: migrate cutover --wave {name}")
        return state

    def _write(
        self,
        name: str,
        to_phase: Phase,
        state: WaveState | None,
        *,
        spec: WaveSpec | None = None,
        approvals: Mapping[str, int] | None = None,
        reason: str | None,
        details: Mapping[str, Any] | None = None,
    ) -> None:
        the_spec = spec or (state.spec if state else None)
        assert the_spec is not None
        try:
            self._tracking.transition(
                wave_id(name),
                to_phase,
                expected_version=state.version if state else 0,
                actor=self._actor,
                reason=reason,
                details=details,
                state={
                    "spec": the_spec.to_json(),
                    "approvals": dict(approvals if approvals is not None else {}),
                },
            )
        except ConcurrentUpdateError as exc:
            raise ControlError(
                f"wave {name} changed while this command ran (the controller or another "
                "operator); run it again"
            ) from exc

    # -- commands --------------------------------------------------------------------

    def start(self, spec: WaveSpec, *, reason: str | None = None) -> str:
        """Start (or restart after completion/abort) the server-side cutover of a wave."""
        state = wave_state(self._tracking, spec.name)
        if state is not None and state.phase in ACTIVE_WAVE_PHASES:
            return f"wave {spec.name} is already {_word(state.phase)}; nothing changed"
        self._write(
            spec.name,
            Phase.WAVE_RUNNING,
            state,
            spec=spec,
            reason=reason or "cutover started",
            details={"applications": len(spec.applications), "maxParallel": spec.max_parallel},
        )
        return (
            f"wave {spec.name}: cutover started server-side for "
            f"{len(spec.applications)} application(s), at most {spec.max_parallel} at once"
        )

    def pause(self, name: str, *, reason: str | None = None) -> str:
        state = self._require(name)
        if state.phase is Phase.WAVE_PAUSED:
            return f"wave {name} is already paused; nothing changed"
        if state.phase is not Phase.WAVE_RUNNING:
            raise ControlError(f"wave {name} is {_word(state.phase)}: only a running wave pauses")
        self._write(name, Phase.WAVE_PAUSED, state, approvals=state.approvals, reason=reason)
        return f"wave {name} paused: no new step starts; alarms stay watched"

    def resume(self, name: str, *, reason: str | None = None) -> str:
        state = self._require(name)
        if state.phase is Phase.WAVE_RUNNING:
            return f"wave {name} is already running; nothing changed"
        if state.phase is not Phase.WAVE_PAUSED:
            raise ControlError(f"wave {name} is {_word(state.phase)}: only a paused wave resumes")
        self._write(name, Phase.WAVE_RUNNING, state, approvals=state.approvals, reason=reason)
        return f"wave {name} resumed"

    def approve(self, name: str, application: str | None = None) -> str:
        """Approve the step each waiting application (or ``application``) waits for."""
        state = self._require(name)
        if state.phase not in ACTIVE_WAVE_PHASES:
            raise ControlError(f"wave {name} is {_word(state.phase)}: nothing to approve")
        names = [app.name for app in state.spec.applications]
        if application is not None and application not in names:
            raise ControlError(f"application {application} is not in wave {name}")
        approvals = dict(state.approvals)
        granted: list[str] = []
        for app in state.spec.applications:
            if application is not None and app.name != application:
                continue
            head = self._tracking.current(app_id(app.name))
            pending = _pending_approval(head)
            if pending is not None and approvals.get(app.name, 0) < pending:
                approvals[app.name] = pending
                granted.append(f"{app.name} step {pending} ({app.percent(pending)}%)")
        if not granted:
            who = application or f"wave {name}"
            raise ControlError(f"{who}: no step is waiting for approval")
        self._write(
            name,
            state.phase,
            state,
            approvals=approvals,
            reason="approved: " + ", ".join(granted),
        )
        return "approved: " + ", ".join(granted)

    def abort(self, name: str, *, reason: str) -> tuple[str, Any]:
        """Stop the wave and roll every application of it back at once."""
        state = self._require(name)
        if state.phase not in ACTIVE_WAVE_PHASES:
            raise ControlError(f"wave {name} is {_word(state.phase)}: nothing to abort")
        self._write(name, Phase.WAVE_ABORTED, state, approvals=state.approvals, reason=reason)
        result = self._rollbacks.handle(
            RollbackCommand(
                applications=tuple(app.name for app in state.spec.applications),
                reason=f"wave {name} aborted: {reason}"[:1024],
                idempotency_key=f"abort:{name}:v{state.version}",
            )
        )
        return f"wave {name} aborted; its applications are rolled back", result

    def reset(self, application: str, *, reason: str) -> str:
        """Allow a new attempt of a ROLLED_BACK application (the only way out of it)."""
        head = self._tracking.current(app_id(application))
        if head is None or head.phase is not Phase.ROLLED_BACK:
            phase = head.phase if head else "not started"
            raise ControlError(
                f"application {application} is {phase}: only a ROLLED_BACK application can be reset"
            )
        attempt = head.attempt + 1
        try:
            self._tracking.transition(
                app_id(application),
                Phase.PLANNED,
                expected_version=head.version,
                actor=self._actor,
                reason=reason,
                details={"attempt": attempt, "reset": True},
                state={"attempt": attempt},
            )
        except ConcurrentUpdateError as exc:
            raise ControlError(
                f"application {application} changed while resetting; run it again"
            ) from exc
        return f"{application} reset for attempt {attempt} by {self._actor}"


def _pending_approval(head: Head | None) -> int | None:
    """The step an application waits to have approved, from the controller's state."""
    if head is None:
        return None
    waiting = str(head.state.get("waiting", ""))
    prefix = "waiting for approval of step "
    if not waiting.startswith(prefix):
        return None
    return int(waiting[len(prefix) :].split(" ", 1)[0])


def _word(phase: Phase) -> str:
    return phase.value.removeprefix("WAVE_").lower()
