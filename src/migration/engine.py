"""The preview of a cutover (``migrate cutover --dry-run``): what the controller would do.

Reads only: the stored step of each application (tracking table) and its current split
(Route 53), then lists, per remaining step, the gates the controller would check and the
weights it would set, with the bake after each. Nothing is written and nothing sleeps.

The cutover itself runs server-side (:mod:`migration.controller`); this module only reads.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from migration.plan import Application, Plan
from migration.tracking import TRANSITION_EVENT, Phase, TrackingStore, app_id
from migration.traffic import Split, TrafficShifter

__all__ = ["ApplicationResult", "CutoverPreview", "CutoverResult", "EngineEvent", "GateNames"]

DRY_RUN = "dry_run"


class GateNames(Protocol):
    """What the preview needs of :class:`migration.gates.Gates`."""

    def gate_names(self, app: Any) -> list[str]: ...


@dataclass(frozen=True)
class EngineEvent:
    """One line of the preview: ``would_check``, ``would_shift`` or ``skipped``."""

    kind: str
    application: str
    step: int | None = None
    percent: int | None = None
    detail: str = ""

    def __str__(self) -> str:
        where = f" step {self.step} ({self.percent}% to AWS)" if self.step else ""
        return f"[{self.application}] {self.kind}{where}{': ' + self.detail if self.detail else ''}"


@dataclass(frozen=True)
class ApplicationResult:
    """The preview of one application."""

    application: str
    status: str
    last_step: int = 0
    planned: tuple[EngineEvent, ...] = ()

    @property
    def ok(self) -> bool:
        return True


@dataclass(frozen=True)
class CutoverResult:
    """The preview of a wave."""

    wave: str
    dry_run: bool = True
    applications: tuple[ApplicationResult, ...] = field(default_factory=tuple)

    @property
    def ok(self) -> bool:
        return True

    def by_application(self) -> dict[str, ApplicationResult]:
        return {result.application: result for result in self.applications}


def _ignore(_event: EngineEvent) -> None:
    return None


class CutoverPreview:
    """Lists what the cutover of a wave would do from where it stands; changes nothing."""

    def __init__(
        self,
        plan: Plan,
        shifter: TrafficShifter,
        tracking: TrackingStore,
        gates: GateNames,
        *,
        output: Callable[[EngineEvent], None] = _ignore,
    ) -> None:
        self._plan = plan
        self._shifter = shifter
        self._tracking = tracking
        self._gates = gates
        self._output = output

    def preview(self, wave: str) -> CutoverResult:
        apps: Sequence[Application] = self._plan.wave(wave).applications
        return CutoverResult(wave=wave, applications=tuple(self._one(app) for app in apps))

    def _stored(self, app: Application) -> tuple[Phase | None, int]:
        """(phase, last applied step) of ``app``."""
        entity = app_id(app.name)
        head = self._tracking.current(entity)
        if head is None:
            return None, 0
        if "step" in head.state:
            return head.phase, int(head.state["step"])
        for entry in reversed(self._tracking.history(entity)):
            if entry.event_type == TRANSITION_EVENT and "step" in entry.details:
                return head.phase, int(entry.details["step"])
        return head.phase, 0

    def _one(self, app: Application) -> ApplicationResult:
        phase, step = self._stored(app)
        steps = app.shift_steps
        if phase in (Phase.CUTOVER_COMPLETE, Phase.ROLLED_BACK):
            detail = f"phase {phase}" + (
                ": migrate reset first" if phase is Phase.ROLLED_BACK else ""
            )
            event = EngineEvent("skipped", app.name, detail=detail)
            self._output(event)
            return ApplicationResult(app.name, DRY_RUN, last_step=step, planned=(event,))
        current = self._shifter.splits([app.name])[app.name]
        if step < len(steps) and current == Split.percent_on_aws(steps[step]):
            step += 1  # applied but not recorded: the controller records it without a change
        gate_names = ", ".join(self._gates.gate_names(app))
        planned: list[EngineEvent] = []
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
            self._output(event)
        return ApplicationResult(app.name, DRY_RUN, last_step=step, planned=tuple(planned))
