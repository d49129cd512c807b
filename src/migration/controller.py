"""The cutover controller: advances every running wave by one tick, from stored state.

A scheduled function (every minute) runs :meth:`Controller.tick`. Everything it knows is
in the tracking table: the wave's head (``wave#<name>``: phase WAVE_RUNNING or
WAVE_PAUSED, the wave definition it was started with, operator approvals) and each
application's head (phase, and in ``cutoverState`` the attempt, the last applied step,
the end of the current bake, what it waits for). A tick reads that, and Route 53, and
moves each application at most one transition forward; it keeps nothing in memory, so a
crash at any point is repaired by the next tick, and two overlapping ticks cannot both
move an application (every write is conditional, below).

Per application, each tick (rollback first, then watching, then progress):

1. ROLLED_BACK (by an alarm, an operator, or the controller) -> its records are forced
   back to aws=0/on-premises=100 if anything left them elsewhere. This runs for every
   ROLLED_BACK application found in the phase index, in every tick: the rollback always
   wins, and nothing moves an application toward AWS again until ``migrate reset``.
2. Route 53 is reconciled with the stored step: the split of step ``s`` is expected; the
   split of ``s+1`` means a tick died between its Route 53 change and its record (the step
   is recorded now); aws=0 with ``s > 0`` means a rollback died half-way (it is finished);
   anything else is drift (the application is held and reported, never moved).
3. With traffic on AWS, its alarms are checked every tick, paused or not, baking or
   holding: any alarm not OK (ALARM, INSUFFICIENT_DATA, missing) rolls it back.
4. If the wave runs (not paused), the bake is over, a slot is free (``max_parallel``
   applications mid-cutover per wave), and the next step needs no approval or has it, the
   gates are checked. Failing gates before any traffic moved, or failing only with "not
   yet" (a database's writer moving, or not cut over yet when the plan cuts it over before
   its applications; a server not launched for cutover and validated yet, the ``servers``
   gate): it waits and retries next tick. Failing gates after traffic moved:
   roll back (default) or, with ``on_gate_failure: hold``, phase HELD (split kept, alarms
   watched every tick).
5. The applications ready to step in this tick move together: one conditional Route 53
   request per 250 applications (DELETE of the exact pair read + CREATE of the new one;
   Route 53 refuses the batch if a rollback moved any of them), paced under the account's
   five requests per second. Each moved application's step is then recorded conditionally
   on the version read; if a rollback got there first, its records go back to aws=0.
6. After the last step's bake: CUTOVER_COMPLETE. When every application of a wave is
   CUTOVER_COMPLETE or ROLLED_BACK (and, with a database step function, every
   ``after-applications`` database is CUT_OVER or FAILED_BACK) the wave is WAVE_COMPLETE.
6b. The wave's servers not read by a gate in this tick are read, so that their tracked
   phase follows MGN's (read-only; :mod:`migration.servers.watch`); what was recorded, and
   what could not be read, goes into the report's ``servers`` and never fails the tick.
7. Databases (running waves only): a database whose plan order is ``before-applications``
   (at once) or ``after-applications`` (once every application using it completed), still
   REPLICATING or IN_SYNC, is handed to the database step function (an asynchronous
   invocation; the request is recorded on the wave's head first and repeated after 15
   minutes if the database has not started moving).
8. After all of that, the summary snapshot (:mod:`migration.summary`: applications per wave
   and phase, which ``migrate status`` shows) is recomputed and stored, when the controller
   was given one to write. A failure there is logged and reported in the tick's report, and
   never fails the tick: the snapshot is an optimisation of ``migrate status``, which falls
   back to counting itself when the snapshot is missing or old.

Only the standard library, botocore and the runtime modules are imported: ships to Lambda.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

from botocore.exceptions import ClientError

from migration.errors import (
    ConcurrentUpdateError,
    InvalidTransitionError,
    MigrationError,
    UnknownApplicationError,
)
from migration.events import RollbackCommand
from migration.gates import GateResult, all_ok
from migration.spec import ON_GATE_FAILURE_HOLD, ApplicationSpec, SpecError, WaveSpec
from migration.tracking import (
    ACTIVE_WAVE_PHASES,
    Head,
    Phase,
    TrackingStore,
    app_id,
    iso_timestamp,
    parse_timestamp,
    utc_now,
    wave_id,
)
from migration.traffic import ROLLED_BACK, ApplicationRecords, Split, TrafficShifter

LOGGER = logging.getLogger("migration.controller")
ACTOR = "controller"

# Phases in which an application occupies one of its wave's max_parallel slots.
IN_FLIGHT = (Phase.READY, Phase.SHIFTING, Phase.HELD)
DONE = (Phase.CUTOVER_COMPLETE, Phase.ROLLED_BACK)

# cutoverState keys
ATTEMPT = "attempt"
STEP = "step"
BAKE_UNTIL = "bakeUntil"
WAITING = "waiting"
DATABASE_STEPS = "databaseSteps"
"""Wave head state: database -> when its cutover was last requested."""
DATABASE_STEP_RETRY = timedelta(minutes=15)
"""A requested database cutover that has not started by then is requested again."""
AFTER_APPLICATIONS = "after-applications"
DATABASE_ORDERS = frozenset({"before-applications", AFTER_APPLICATIONS})
DATABASE_NOT_STARTED = frozenset({None, "REPLICATING", "IN_SYNC"})
DATABASE_DECIDED = frozenset({"CUT_OVER", "FAILED_BACK"})
GATES = "gates"


class GateChecker(Protocol):
    def check_gates(self, app: Any) -> list[GateResult]: ...

    def alarm_gate(self, app: Any) -> GateResult: ...

    def observe_servers(self) -> list[str]: ...


class Rollbacks(Protocol):
    """What the controller needs of :class:`migration.rollback.RollbackService`."""

    def handle(self, trigger: RollbackCommand) -> Any: ...


@dataclass
class TickReport:
    """What one tick did (returned by the handler, logged, used by tests and benchmarks)."""

    waves: list[str] = field(default_factory=list)
    moved: dict[str, int] = field(default_factory=dict)
    """Application -> step applied in this tick."""
    completed: list[str] = field(default_factory=list)
    rolled_back: list[str] = field(default_factory=list)
    enforced: list[str] = field(default_factory=list)
    """ROLLED_BACK applications whose records had to be forced back on-premises."""
    held: list[str] = field(default_factory=list)
    waiting: dict[str, str] = field(default_factory=dict)
    conflicts: list[str] = field(default_factory=list)
    waves_completed: list[str] = field(default_factory=list)
    database_steps: list[str] = field(default_factory=list)
    """Databases whose cutover this tick asked the database step function to run."""
    errors: list[str] = field(default_factory=list)
    servers: list[str] = field(default_factory=list)
    """Server phases recorded from what MGN shows, and servers MGN could not tell about."""
    summary: str = ""
    """The summary snapshot: "written", "not written: <why>", or "" (none to write)."""

    def to_dict(self) -> dict[str, Any]:
        return {
            "waves": self.waves,
            "moved": self.moved,
            "completed": self.completed,
            "rolledBack": self.rolled_back,
            "enforced": self.enforced,
            "held": self.held,
            "waiting": self.waiting,
            "conflicts": self.conflicts,
            "wavesCompleted": self.waves_completed,
            "databaseSteps": self.database_steps,
            "errors": self.errors,
            "servers": self.servers,
            "summary": self.summary,
        }


@dataclass
class _App:
    """One application during a tick: its definition, head, records and state."""

    spec: ApplicationSpec
    head: Head | None
    records: ApplicationRecords | None

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def phase(self) -> Phase | None:
        return self.head.phase if self.head else None

    @property
    def state(self) -> dict[str, Any]:
        return dict(self.head.state) if self.head else {}

    @property
    def attempt(self) -> int:
        return self.head.attempt if self.head else 1

    @property
    def step(self) -> int:
        return int(self.state.get(STEP, 0))

    @property
    def version(self) -> int:
        return self.head.version if self.head else 0

    @property
    def split(self) -> Split | None:
        return self.records.split if self.records else None


@dataclass
class _WaveContext:
    spec: WaveSpec
    running: bool
    approvals: Mapping[str, int]
    gates: GateChecker
    now: datetime
    in_flight: int


@dataclass(frozen=True)
class _Breach:
    app: _App
    why: str


@dataclass(frozen=True)
class _Ready:
    app: _App
    step: int
    gates: str


def gates_text(results: Iterable[GateResult]) -> str:
    """``name ok, name FAILED (detail)`` in one line."""
    return ", ".join(r.name + (" ok" if r.ok else f" FAILED ({r.detail})") for r in results)


class Controller:
    """Advances every active wave; see the module docstring for the protocol."""

    def __init__(
        self,
        tracking: TrackingStore,
        shifter: TrafficShifter,
        gates_for: Callable[[WaveSpec], GateChecker],
        rollbacks: Rollbacks,
        *,
        clock: Callable[[], datetime] = utc_now,
        logger: logging.Logger = LOGGER,
        start_database_step: Callable[[str, str], None] | None = None,
        summary: Callable[[], object] | None = None,
    ) -> None:
        self._tracking = tracking
        self._shifter = shifter
        self._gates_for = gates_for
        self._rollbacks = rollbacks
        self._clock = clock
        self._log = logger
        self._start_database_step = start_database_step
        self._summary = summary

    # -- the tick -----------------------------------------------------------------------

    def tick(self) -> TickReport:
        """One pass over every active wave (and every ROLLED_BACK application)."""
        report = TickReport()
        self._enforce_rollbacks(report)
        waves = [head for phase in ACTIVE_WAVE_PHASES for head in self._tracking.in_phase(phase)]
        for wave_head in sorted(waves, key=lambda h: h.entity_id):
            name = wave_head.entity_id.partition("#")[2]
            # The index is eventually consistent: act on the strongly consistent head.
            head = self._tracking.current(wave_head.entity_id)
            if head is None or head.phase not in ACTIVE_WAVE_PHASES:
                continue
            report.waves.append(name)
            try:
                self._advance_wave(name, head, report)
            except (MigrationError, ClientError) as exc:
                # One broken wave must not stop the others; the error is reported and
                # logged, and the handler fails the invocation so the error alarm fires.
                self._log.error("wave %s: %s", name, exc)
                report.errors.append(f"{name}: {exc}")
        self._write_summary(report)
        return report

    def _write_summary(self, report: TickReport) -> None:
        """Step 8: the summary snapshot, after the tick's real work; never fails the tick."""
        if self._summary is None:
            return
        try:
            self._summary()
        except Exception as exc:  # any failure is logged; none fails the tick
            self._log.error("summary snapshot not written: %s", exc)
            report.summary = f"not written: {exc}"[:1024]
        else:
            report.summary = "written"

    # -- 1. the rollback always wins ------------------------------------------------------

    def _enforce_rollbacks(self, report: TickReport) -> None:
        names = sorted(
            head.entity_id.partition("#")[2]
            for head in self._tracking.in_phase(Phase.ROLLED_BACK)
            if head.entity_id.startswith("app#")
        )
        if not names:
            return
        try:
            records = self._read(names)
        except ClientError as exc:
            report.errors.append(f"reading rolled-back applications: {exc}")
            return
        self._force_on_premises(
            [app for app, recs in records.items() if recs.split != ROLLED_BACK], report
        )

    def _force_on_premises(self, apps: Sequence[str], report: TickReport) -> None:
        if not apps:
            return
        self._shifter.set_split(
            dict.fromkeys(apps, ROLLED_BACK),
            stop_on_error=False,
            comment="controller: rolled-back applications stay on-premises",
        )
        report.enforced.extend(app for app in apps if app not in report.enforced)
        self._log.warning("forced back on-premises: %s", ", ".join(apps))

    def _read(self, names: Iterable[str]) -> dict[str, ApplicationRecords]:
        """Records of ``names``; those without a pair are left out (reported by callers)."""
        wanted = list(names)
        try:
            return self._shifter.read(wanted)
        except UnknownApplicationError as exc:
            rest = [name for name in wanted if name not in exc.applications]
            return self._shifter.read(rest) if rest else {}

    # -- one wave ----------------------------------------------------------------------

    def _advance_wave(self, name: str, wave_head: Head, report: TickReport) -> None:
        try:
            spec = WaveSpec.from_json(str(wave_head.state.get("spec", "")))
        except SpecError as exc:
            raise SpecError(f"wave {name}: {exc}") from exc
        approvals = {k: int(v) for k, v in dict(wave_head.state.get("approvals", {})).items()}
        records = self._read(app.name for app in spec.applications)
        apps = [
            _App(app, self._tracking.current(app_id(app.name)), records.get(app.name))
            for app in spec.applications
        ]
        gates = self._gates_for(spec)
        now = self._clock()
        context = _WaveContext(
            spec=spec,
            running=wave_head.phase is Phase.WAVE_RUNNING,
            approvals=approvals,
            gates=gates,
            now=now,
            in_flight=sum(1 for app in apps if app.phase in IN_FLIGHT),
        )
        breached: list[tuple[_App, str]] = []
        ready: list[tuple[_App, int, str]] = []
        for app in apps:
            if app.phase in DONE:
                continue
            try:
                action = self._examine(app, context, report)
            except (ConcurrentUpdateError, InvalidTransitionError) as exc:
                # Another writer (a rollback, an operator) got there first: next tick.
                self._log.info("%s: %s; looking again next tick", app.name, exc)
                continue
            if isinstance(action, _Breach):
                breached.append((action.app, action.why))
            elif isinstance(action, _Ready):
                ready.append((action.app, action.step, action.gates))
        if breached:
            self._roll_back(breached, report)
        if ready:
            self._step(ready, now, report)
        report.servers.extend(gates.observe_servers())
        if context.running:
            wave_head = self._request_database_steps(name, spec, wave_head, now, report)
        self._maybe_complete_wave(name, spec, wave_head, report)

    def _examine(self, app: _App, ctx: _WaveContext, report: TickReport) -> _Breach | _Ready | None:
        """What this tick does with ``app``: roll it back, step it, or nothing (waits)."""
        if app.records is None:
            self._wait(app, "no weighted record pair in the zone", report)
            return None
        app = self._prepare(app, report)
        if app.phase is Phase.ROLLED_BACK:
            return None
        if app.split is not None and app.split.reaches_aws:
            alarm = ctx.gates.alarm_gate(app.spec)
            if not alarm.ok:
                return _Breach(app, f"alarm during step {app.step}: {alarm.detail}")
        if app.phase is Phase.HELD or not ctx.running:
            return None
        bake_until = app.state.get(BAKE_UNTIL)
        if bake_until and ctx.now < parse_timestamp(str(bake_until)):
            return None
        if app.step >= len(app.spec.shift_steps):
            self._complete(app, report)
            return None
        next_step = app.step + 1
        starting = app.phase not in IN_FLIGHT
        if starting and ctx.in_flight >= ctx.spec.max_parallel:
            self._wait(app, f"waiting for a slot ({ctx.spec.max_parallel} in flight)", report)
            return None
        if app.spec.needs_approval(next_step) and ctx.approvals.get(app.name, 0) < next_step:
            self._wait(
                app,
                f"waiting for approval of step {next_step} "
                f"({app.spec.percent(next_step)}% to AWS): migrate approve",
                report,
            )
            return None
        results = ctx.gates.check_gates(app.spec)
        if not all_ok(results):
            failed = "; ".join(f"{r.name}: {r.detail}" for r in results if not r.ok)
            if app.step == 0 or all(r.wait for r in results if not r.ok):
                self._wait(app, f"gates failed: {failed}", report)
            elif app.spec.on_gate_failure == ON_GATE_FAILURE_HOLD:
                self._hold(app, f"gates of step {next_step} failed: {failed}", report)
            else:
                return _Breach(app, f"gates of step {next_step} failed: {failed}")
            return None
        if starting:
            ctx.in_flight += 1
        return _Ready(app, next_step, gates_text(results))

    # -- 2. reconcile ------------------------------------------------------------------

    def _prepare(self, app: _App, report: TickReport) -> _App:
        """Create the entity, reconcile Route 53 with the stored step; the fresh _App."""
        if app.phase is None:
            self._transition(app, Phase.PLANNED, "planned", state={ATTEMPT: app.attempt})
            app = self._reload(app)
        if app.phase is Phase.PLANNED:
            self._transition(app, Phase.REPLICATING, "replicating", state=app.state)
            app = self._reload(app)
        split, step, steps = app.split, app.step, app.spec.shift_steps
        assert split is not None  # callers skip applications without records
        if split == Split.percent_on_aws(app.spec.percent(step)):
            return app
        if step < len(steps) and split == Split.percent_on_aws(steps[step]):
            # A tick died between its Route 53 change and its record.
            self._record_step(app, step + 1, self._clock(), "weights already applied")
            report.moved[app.name] = step + 1
            return self._reload(app)
        if split == ROLLED_BACK and step > 0:
            # A rollback died half-way: finish it (same key, so it resumes its ledger).
            self._roll_back([(app, f"finishing an interrupted rollback at step {step}")], report)
            return self._reload(app)
        if app.phase is not Phase.HELD:
            self._hold(
                app,
                f"drift: Route 53 has aws={split.aws}/on-premises={split.on_premises}, "
                f"stored step {step} is {app.spec.percent(step)}%; not touching it",
                report,
            )
            return self._reload(app)
        return app

    # -- 3. rollback -------------------------------------------------------------------

    def _roll_back(self, breached: Sequence[tuple[_App, str]], report: TickReport) -> None:
        """Roll back ``breached`` in one request (one key derived from their states)."""
        names = tuple(app.name for app, _ in breached)
        identity = ",".join(f"{app.name}@{app.attempt}.{app.step}" for app, _ in breached)
        digest = hashlib.sha256(identity.encode()).hexdigest()[:16]
        reason = "; ".join(f"{app.name}: {why}" for app, why in breached)[:1024]
        self._rollbacks.handle(
            RollbackCommand(
                applications=names,
                reason=f"cutover controller: {reason}",
                idempotency_key=f"controller:{digest}",
            )
        )
        for app, why in breached:
            fresh = self._reload(app)
            if fresh.phase is not Phase.ROLLED_BACK:
                # The service records only applications it moved; at aws=0 it moved none.
                self._transition(
                    fresh,
                    Phase.ROLLED_BACK,
                    f"step:{fresh.step}:rolled-back",
                    reason=f"cutover controller: {why}"[:1024],
                    details={"step": fresh.step, "percent": fresh.spec.percent(fresh.step)},
                )
            report.rolled_back.append(app.name)

    # -- 4. waiting and holding ------------------------------------------------------------

    def _wait(self, app: _App, why: str, report: TickReport) -> None:
        report.waiting[app.name] = why
        if app.head is None or app.state.get(WAITING) == why:
            return
        state = {**app.state, WAITING: why}
        digest = hashlib.sha256(why.encode()).hexdigest()[:12]
        self._transition(app, app.head.phase, f"wait:{digest}", state=state, reason=why[:1024])

    def _hold(self, app: _App, why: str, report: TickReport) -> None:
        report.held.append(app.name)
        state = {**app.state, WAITING: why}
        state.pop(BAKE_UNTIL, None)
        self._transition(app, Phase.HELD, f"step:{app.step}:held", state=state, reason=why[:1024])

    # -- 5. stepping -------------------------------------------------------------------

    def _step(
        self, ready: Sequence[tuple[_App, int, str]], now: datetime, report: TickReport
    ) -> None:
        """Move every ready application at once; record each step conditionally."""
        fresh: dict[str, tuple[_App, int, str]] = {}
        for app, step, text in ready:
            try:
                if app.phase is Phase.REPLICATING:
                    self._transition(app, Phase.READY, "ready", state=app.state)
                    app = self._reload(app)
            except (ConcurrentUpdateError, InvalidTransitionError):
                continue
            if app.phase in (Phase.READY, Phase.SHIFTING) and app.records is not None:
                fresh[app.name] = (app, step, text)
        current = {name: app.records for name, (app, _, _) in fresh.items() if app.records}
        moves = {
            name: Split.percent_on_aws(app.spec.percent(step))
            for name, (app, step, _) in fresh.items()
        }
        result = self._shifter.move_exact(
            moves,
            current,
            comment=f"cutover controller: {len(moves)} application(s) step forward",
        )
        report.conflicts.extend(result.conflicts)
        lost: list[str] = list(result.conflicts)
        for name in result.moved:
            app, step, text = fresh[name]
            try:
                self._record_step(app, step, now, text)
            except (ConcurrentUpdateError, InvalidTransitionError):
                lost.append(name)
            else:
                report.moved[name] = step
        if lost:
            # Someone else wrote these applications since they were read. If that was a
            # rollback, the records must not stay where this tick put them.
            rolled_back = [
                name
                for name in lost
                if (head := self._tracking.current(app_id(name))) is not None
                and head.phase is Phase.ROLLED_BACK
            ]
            self._force_on_premises(rolled_back, report)

    def _record_step(self, app: _App, step: int, now: datetime, gates: str) -> None:
        percent = app.spec.percent(step)
        state = {
            ATTEMPT: app.attempt,
            STEP: step,
            BAKE_UNTIL: iso_timestamp(now + timedelta(minutes=app.spec.bake_minutes)),
            GATES: gates[:2000],
        }
        self._tracking.transition(
            app_id(app.name),
            Phase.SHIFTING,
            expected_from={Phase.READY, Phase.SHIFTING, Phase.REPLICATING},
            expected_version=app.version if app.head else None,
            event_id=self._event(app, f"step:{step}"),
            actor=ACTOR,
            details={"step": step, "percent": percent, "attempt": app.attempt},
            state=state,
        )

    # -- 6. completion -----------------------------------------------------------------

    def _complete(self, app: _App, report: TickReport) -> None:
        self._transition(
            app,
            Phase.CUTOVER_COMPLETE,
            "complete",
            state={ATTEMPT: app.attempt, STEP: app.step},
            details={"step": app.step, "percent": app.spec.percent(app.step)},
        )
        report.completed.append(app.name)

    # -- 6. database steps -----------------------------------------------------------------

    def _due_database_steps(self, spec: WaveSpec, wave_head: Head, now: datetime) -> list[str]:
        """Databases whose cutover the plan's order wants now and nobody is running."""
        requested = dict(wave_head.state.get(DATABASE_STEPS, {}))
        due = []
        for db in spec.databases:
            if db.cutover not in DATABASE_ORDERS:
                continue
            if self._tracking.database_phase(db.name) not in DATABASE_NOT_STARTED:
                continue  # moving, cut over, or failed back by an operator's decision
            if db.cutover == AFTER_APPLICATIONS and not self._users_done(spec, db.name):
                continue
            last = requested.get(db.name)
            if last and now < parse_timestamp(str(last)) + DATABASE_STEP_RETRY:
                continue
            due.append(db.name)
        return due

    def _users_done(self, spec: WaveSpec, database: str) -> bool:
        users = [app.name for app in spec.applications if database in app.databases]
        heads = [self._tracking.current(app_id(name)) for name in users]
        return all(h is not None and h.phase is Phase.CUTOVER_COMPLETE for h in heads)

    def _request_database_steps(
        self, name: str, spec: WaveSpec, wave_head: Head, now: datetime, report: TickReport
    ) -> Head:
        """Ask the database step function to cut over each due database; the request is
        recorded on the wave's head first (conditionally), so two ticks never both ask and a
        request is repeated only after DATABASE_STEP_RETRY."""
        if self._start_database_step is None:
            return wave_head
        due = self._due_database_steps(spec, wave_head, now)
        if not due:
            return wave_head
        requested = dict(wave_head.state.get(DATABASE_STEPS, {}))
        requested.update({db: iso_timestamp(now) for db in due})
        try:
            self._tracking.transition(
                wave_id(name),
                wave_head.phase,
                expected_version=wave_head.version,
                actor=ACTOR,
                reason=f"database cutover requested: {', '.join(due)}",
                state={**wave_head.state, DATABASE_STEPS: requested},
            )
        except ConcurrentUpdateError:
            return wave_head  # an operator control got there first: next tick
        for database in due:
            self._start_database_step(name, database)
            report.database_steps.append(database)
        return self._tracking.current(wave_id(name)) or wave_head

    def _maybe_complete_wave(
        self, name: str, spec: WaveSpec, wave_head: Head, report: TickReport
    ) -> None:
        heads = [self._tracking.current(app_id(app.name)) for app in spec.applications]
        if not all(head is not None and head.phase in DONE for head in heads):
            return
        if self._start_database_step is not None and any(
            db.cutover == AFTER_APPLICATIONS
            and self._users_done(spec, db.name)
            and self._tracking.database_phase(db.name) not in DATABASE_DECIDED
            for db in spec.databases
        ):
            # The wave ends once the after-applications databases whose applications all
            # completed have moved (one rolled back keeps its database on-premises).
            return
        try:
            self._tracking.transition(
                wave_id(name),
                Phase.WAVE_COMPLETE,
                expected_from=ACTIVE_WAVE_PHASES,
                expected_version=wave_head.version,
                actor=ACTOR,
                details={
                    "completed": sum(1 for h in heads if h and h.phase is Phase.CUTOVER_COMPLETE),
                    "rolledBack": sum(1 for h in heads if h and h.phase is Phase.ROLLED_BACK),
                },
            )
        except (ConcurrentUpdateError, InvalidTransitionError):
            return  # an operator changed the wave meanwhile; the next tick looks again
        report.waves_completed.append(name)

    # -- helpers -------------------------------------------------------------------------

    def _event(self, app: _App, what: str) -> str:
        """Idempotency key of a controller write: per application, attempt and event."""
        return f"controller:{app.name}:a{app.attempt}:{what}"

    def _transition(
        self,
        app: _App,
        to_phase: Phase,
        what: str,
        *,
        state: Mapping[str, Any] | None = None,
        reason: str | None = None,
        details: Mapping[str, Any] | None = None,
    ) -> None:
        """A transition conditional on the version this tick read."""
        self._tracking.transition(
            app_id(app.name),
            to_phase,
            expected_version=app.version,
            event_id=self._event(app, what),
            actor=ACTOR,
            reason=reason,
            details=details,
            state=state,
        )

    def _reload(self, app: _App) -> _App:
        return _App(app.spec, self._tracking.current(app_id(app.name)), app.records)
