"""The server lifecycle: test, cutover and finalize of planned servers through MGN, recorded
on ``server#<id>`` in the tracking store.

Each run reads the server's head and MGN, decides (:meth:`ServerLifecycle.check`), then:

1. records the request on the head, conditioned on the version it read (the claim: of two
   runs starting together one wins, the other gets ConcurrentUpdateError and changes nothing);
2. makes MGN's call (``StartTest``, ``ChangeServerLifeCycleState`` + ``StartCutover``,
   ``FinalizeCutover``);
3. records the new phase with the job id, conditioned on the claim's version.

MGN's own lifecycle state is the proof of what happened: a run that died between 2 and 3 is
resumed by the next one, which finds MGN already TESTING / CUTTING_OVER / finalised and only
records it (no second launch). A run asked for what is done already is refused.

Phases (``server#<id>``): REGISTERED (known to MGN), REPLICATING (initial sync),
READY_FOR_TEST (continuous, lag under the plan's limit), TESTING, READY_FOR_CUTOVER,
CUTTING_OVER, CUT_OVER (finalised). The head's ``cutoverState`` holds ``sourceServerID`` and
the job ids.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from migration.errors import MigrationError
from migration.gates import GateResult
from migration.servers import mgn
from migration.servers.gates import (
    NOT_TESTED,
    REVERTS,
    ServerView,
    before_cutover,
    before_finalize,
    before_revert,
    before_test,
    replication_gate,
    wave_controls_gate,
)
from migration.servers.mgn import LaunchJob, Mgn, SourceServer
from migration.servers.spec import ServerSpec
from migration.tracking import Head, Phase, TrackingStore, app_id, server_id

Progress = Callable[[str], None]

OBSERVED_ORDER = (None, Phase.REGISTERED, Phase.REPLICATING, Phase.READY_FOR_TEST)
REPLICATING_STATES = frozenset(
    {"INITIATING", "INITIAL_SYNC", "BACKLOG", "CREATING_SNAPSHOT", "RESCAN", "CONTINUOUS"}
)


class Run(enum.StrEnum):
    """What an operator asks of a server."""

    TEST = "test"
    CUTOVER = "cutover"
    FINALIZE = "finalize"
    REVERT = "revert"


class Decision(enum.StrEnum):
    """What a run does with one server."""

    GO = "go"
    RESUME = "resume"
    """MGN already did it (a previous run died before recording it): record only."""
    DONE = "done"
    REFUSED = "refused"


DONE_PHASES = {
    Run.TEST: frozenset(
        {Phase.TESTING, Phase.READY_FOR_CUTOVER, Phase.CUTTING_OVER, Phase.CUT_OVER}
    ),
    Run.CUTOVER: frozenset({Phase.CUTTING_OVER, Phase.CUT_OVER}),
    Run.FINALIZE: frozenset({Phase.CUT_OVER}),
    Run.REVERT: frozenset({None, Phase.REGISTERED, Phase.REPLICATING, Phase.READY_FOR_TEST}),
}


class ServerRequestError(MigrationError):
    """A server run refused by its gate or its phase (bad request: nothing was changed)."""


def _recorded(head: Head | None) -> str:
    """The MGN source server id recorded on the server's head ("" when none)."""
    return str(head.state.get("sourceServerID", "")) if head else ""


def _job_id(head: Head | None, server: SourceServer) -> str:
    """The launch job of the tracked phase: the test job while testing, the cutover job
    after ("" before any launch)."""
    phase = head.phase if head else None
    state = head.state if head else {}
    if phase is Phase.TESTING:
        return str(state.get("testJobID") or server.last_test_job or "")
    if phase in (Phase.CUTTING_OVER, Phase.CUT_OVER):
        return str(state.get("cutoverJobID") or server.last_cutover_job or "")
    return ""


def observed_phase(view: ServerView) -> Phase | None:
    """The pre-test phase MGN shows: REGISTERED, REPLICATING or READY_FOR_TEST (None:
    unknown to MGN)."""
    server = view.server
    if server is None:
        return None
    if server.life_cycle == mgn.READY_FOR_TEST and replication_gate(view).ok:
        return Phase.READY_FOR_TEST
    if server.replication_state in REPLICATING_STATES:
        return Phase.REPLICATING
    return Phase.REGISTERED


class ServerLifecycle:
    """Drives planned servers through MGN's test and cutover; see the module docstring."""

    def __init__(
        self,
        tracking: TrackingStore,
        service: Mgn,
        *,
        actor: str = "migration",
        progress: Progress | None = None,
    ) -> None:
        self._tracking = tracking
        self._mgn = service
        self._actor = actor
        self._progress = progress or (lambda _line: None)

    # -- reads ------------------------------------------------------------------------

    def view(self, spec: ServerSpec) -> ServerView:
        """The server's head, its MGN source server (by the recorded id, else by hostname)
        and the launch job of its phase. A ``manual`` server is not looked up in MGN."""
        head = self._tracking.current(server_id(spec.id))
        if not spec.is_mgn:
            return ServerView(spec, head, None)
        recorded = _recorded(head)
        server = self._mgn.source_server(recorded) if recorded else self._mgn.find(spec.hostname)
        if server is None:
            return ServerView(spec, head, None)
        job_id = _job_id(head, server)
        job = self._mgn.launch_job(job_id, server.source_server_id) if job_id else None
        return ServerView(spec, head, server, job)

    def views(self, specs: Sequence[ServerSpec]) -> list[ServerView]:
        """:meth:`view` of several servers with one listing of MGN's source servers and one
        ``DescribeJobs`` (per 1,000 jobs), whatever their number: the reads of a tick."""
        heads = {spec.id: self._tracking.current(server_id(spec.id)) for spec in specs}
        if not any(spec.is_mgn for spec in specs):
            return [ServerView(spec, heads[spec.id], None) for spec in specs]
        listed = list(self._mgn.source_servers())
        by_id = {server.source_server_id: server for server in listed}
        unrecorded = [s.hostname for s in specs if s.is_mgn and not _recorded(heads[s.id])]
        by_host = self._mgn.find_each(unrecorded, among=listed)
        found: dict[str, SourceServer | None] = {}
        for spec in specs:
            recorded = _recorded(heads[spec.id])
            if spec.is_mgn:
                found[spec.id] = by_id.get(recorded) if recorded else by_host[spec.hostname]
        job_ids = {
            spec.id: _job_id(heads[spec.id], server)
            for spec in specs
            if (server := found.get(spec.id)) is not None
        }
        jobs = self._mgn.launch_jobs(j for j in job_ids.values() if j)
        views = []
        for spec in specs:
            server, job_id = found.get(spec.id), job_ids.get(spec.id, "")
            raw = jobs.get(job_id) if job_id else None
            job = LaunchJob.from_api(raw, server.source_server_id) if raw and server else None
            views.append(ServerView(spec, heads[spec.id], server, job))
        return views

    def application_phases(self, applications: Sequence[str]) -> dict[str, str | None]:
        """Tracked phase of each application (None: not started)."""
        heads = {a: self._tracking.current(app_id(a)) for a in applications}
        return {a: (str(h.phase) if h else None) for a, h in heads.items()}

    def check(
        self,
        run: Run,
        view: ServerView,
        applications: Sequence[str] = (),
        waves: Mapping[str, Phase | None] | None = None,
    ) -> tuple[Decision, GateResult]:
        """What ``run`` would do with the server, and why; reads nothing more, writes nothing.
        ``applications``: those using the server (``finalize`` waits for each to complete);
        ``waves``: the tracked phase of the waves of the server and of those applications
        (a paused or aborted one refuses every run)."""
        name = f"{run}:{view.spec.id}"
        if not view.spec.is_mgn:
            why = f"{view.label} is replication: manual; the runtime does not move it"
            return Decision.REFUSED, GateResult(name, False, why)
        if view.phase in DONE_PHASES[run]:
            why = (
                f"{view.label} is {view.phase or 'not tracked yet'}"
                if run is Run.REVERT
                else f"{view.label} is already {view.phase}"
            )
            return Decision.DONE, GateResult(name, False, why)
        halted = wave_controls_gate(view, waves or {})
        if halted is not None:
            return Decision.REFUSED, halted
        server = view.server
        if server is not None and self._mgn_did(run, view):
            return Decision.RESUME, GateResult(
                name, True, f"{view.label}: MGN is {server.life_cycle}; recording it"
            )
        if run is Run.TEST:
            gate = before_test(view)
        elif run is Run.CUTOVER:
            gate = before_cutover(view)
        elif run is Run.REVERT:
            gate = before_revert(view, self.application_phases(applications))
        else:
            gate = before_finalize(view, self.application_phases(applications))
        return (Decision.GO if gate.ok else Decision.REFUSED), gate

    @staticmethod
    def _mgn_did(run: Run, view: ServerView) -> bool:
        assert view.server is not None
        state, phase = view.server.life_cycle, view.phase
        if run is Run.TEST:
            return state == mgn.TESTING and phase in NOT_TESTED
        if run is Run.CUTOVER:
            return state == mgn.CUTTING_OVER and phase in (Phase.TESTING, Phase.READY_FOR_CUTOVER)
        if run is Run.REVERT:
            target = REVERTS.get(phase) if phase else None
            return target is not None and state == str(target)
        return phase is Phase.CUTTING_OVER and (
            view.server.cutover_finalized or state == mgn.CUTOVER
        )

    # -- writes -----------------------------------------------------------------------

    def record_observed(self, view: ServerView) -> Head | None:
        """Record the pre-test phase MGN shows when it is ahead of the tracked one
        (REGISTERED -> REPLICATING -> READY_FOR_TEST); None when there is nothing new."""
        observed = observed_phase(view)
        if observed is None or view.phase not in OBSERVED_ORDER:
            return None
        if OBSERVED_ORDER.index(observed) <= OBSERVED_ORDER.index(view.phase):
            return None
        assert view.server is not None
        progress = view.server.progress
        return self._record(
            view,
            view.head,
            observed,
            f"MGN: {view.server.life_cycle} / {view.server.replication_state}",
            progress=round(progress, 4) if progress is not None else None,
            lagSeconds=view.server.lag_seconds,
        )

    def run(
        self,
        run: Run,
        view: ServerView,
        applications: Sequence[str] = (),
        waves: Mapping[str, Phase | None] | None = None,
    ) -> Head:
        """Carry ``run`` out on one server; ServerRequestError (nothing changed) if refused."""
        decision, gate = self.check(run, view, applications, waves)
        if decision in (Decision.DONE, Decision.REFUSED):
            raise ServerRequestError(gate.detail)
        assert view.server is not None
        resume = decision is Decision.RESUME
        if resume:
            self._progress(f"{view.spec.id}: {gate.detail}")
        if run is Run.TEST:
            return self._test(view, resume)
        if run is Run.CUTOVER:
            return self._cutover(view, resume)
        if run is Run.REVERT:
            return self._revert(view, resume)
        return self._finalize(view, resume)

    def _test(self, view: ServerView, resume: bool) -> Head:
        assert view.server is not None
        head, sid = view.head, view.server.source_server_id
        if resume:
            job = view.server.last_test_job
        else:
            head = self._record(
                view, head, Phase.READY_FOR_TEST, "test launch requested", run=Run.TEST
            )
            job = self._mgn.start_test([sid])
            self._progress(f"{view.spec.id}: MGN test launch {job} started")
        return self._record(view, head, Phase.TESTING, f"test launch {job}", testJobID=job)

    def _cutover(self, view: ServerView, resume: bool) -> Head:
        assert view.server is not None
        head, sid = view.head, view.server.source_server_id
        if resume:
            job = view.server.last_cutover_job
        else:
            if view.server.life_cycle == mgn.TESTING:
                # MGN's "mark as ready for cutover": the test is over, the test instance stays
                # until it is terminated (MGN console or EC2).
                self._mgn.change_life_cycle_state(sid, mgn.READY_FOR_CUTOVER)
            head = self._record(
                view, head, Phase.READY_FOR_CUTOVER, "cutover launch requested", run=Run.CUTOVER
            )
            job = self._mgn.start_cutover([sid])
            self._progress(f"{view.spec.id}: MGN cutover launch {job} started")
        return self._record(
            view, head, Phase.CUTTING_OVER, f"cutover launch {job}", cutoverJobID=job
        )

    def _finalize(self, view: ServerView, resume: bool) -> Head:
        assert view.server is not None
        head = view.head
        if not resume:
            head = self._record(
                view, head, Phase.CUTTING_OVER, "finalize requested", run=Run.FINALIZE
            )
            self._mgn.finalize_cutover(view.server.source_server_id)
            self._progress(f"{view.spec.id}: MGN cutover finalised; replication stops")
        return self._record(view, head, Phase.CUT_OVER, "cutover finalised")

    def _revert(self, view: ServerView, resume: bool) -> Head:
        """MGN's revert: back to READY_FOR_TEST after a test (or a test marked ready for
        cutover), to READY_FOR_CUTOVER after a cutover launch. Replication goes on; launched
        instances stay until terminated (MGN console, TerminateTargetInstances or EC2)."""
        assert view.server is not None and view.phase is not None
        head, target = view.head, REVERTS[view.phase]
        if not resume:
            head = self._record(view, head, view.phase, "revert requested", run=Run.REVERT)
            self._mgn.change_life_cycle_state(view.server.source_server_id, str(target))
            self._progress(f"{view.spec.id}: MGN reverted to {target}")
        return self._record(view, head, target, f"reverted to {target}")

    def _record(
        self, view: ServerView, head: Head | None, phase: Phase, reason: str, **state: Any
    ) -> Head:
        """Transition conditioned on ``head``'s version; keeps the head's state (source
        server id, job ids) and adds ``state``, dropping a finished run's marker."""
        assert view.server is not None
        kept = {k: v for k, v in (head.state if head else {}).items() if k != "run"}
        new_state = {**kept, "sourceServerID": view.server.source_server_id, **state}
        new_state = {k: v for k, v in new_state.items() if v is not None}
        self._tracking.transition(
            server_id(view.spec.id),
            phase,
            expected_version=head.version if head else 0,
            actor=self._actor,
            reason=reason,
            details=new_state,
            state=new_state,
            head=head,
        )
        current = self._tracking.current(server_id(view.spec.id))
        assert current is not None
        return current
