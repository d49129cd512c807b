"""The go/no-go of each server transition and of an application's traffic: pure functions
over what MGN says (``SourceServer``, ``LaunchJob``) and what the tracking store holds.

Each returns a :class:`~migration.gates.GateResult` whose detail names the server and says
why, in one line. ``wait`` marks a "not yet" (initial sync running, a launch or its
validation in progress): the operator, or later the controller, asks again; it is never a
reason to roll anything back.

* ``replication_gate``: registered with MGN, replication ``CONTINUOUS`` (not stalled, no
  MGN error), lag reported and at most the plan's ``max_lag_seconds``;
* ``launch_gate`` (of a test or a cutover launch): the job launched the instance and every
  post-launch action that must succeed for cutover succeeded (at least one ran);
* ``before_test``: the server is not yet tested (tracked phase) and MGN holds it
  ``READY_FOR_TEST``, with the replication gate;
* ``before_cutover``: the test launch validated (``TESTING``) or the test finalised
  (``READY_FOR_CUTOVER``), with the replication gate (the cutover launches from it);
* ``before_finalize``: the cutover launch validated and every application using the server
  completed its cutover (``CUTOVER_COMPLETE``), since finalising stops replication for good;
* ``application_gate``: every ``mgn`` server of the application launched for cutover and
  validated (``CUTTING_OVER`` with a validated job, or ``CUT_OVER``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Final

from migration.gates import SERVERS_GATE, GateResult
from migration.servers import mgn
from migration.servers.mgn import LaunchJob, SourceServer
from migration.servers.spec import ServerSpec
from migration.tracking import Head, Phase

COMPLETE: Final = "CUTOVER_COMPLETE"
NOT_TESTED = frozenset({None, Phase.REGISTERED, Phase.REPLICATING, Phase.READY_FOR_TEST})
"""Tracked phases from which a test launch may start."""


@dataclass(frozen=True)
class ServerView:
    """One planned server: its spec, its tracked head, what MGN says of it and the launch job
    of its current phase (the test job while testing, the cutover job after)."""

    spec: ServerSpec
    head: Head | None
    server: SourceServer | None
    job: LaunchJob | None = None

    @property
    def phase(self) -> Phase | None:
        return self.head.phase if self.head else None

    @property
    def label(self) -> str:
        return f"server {self.spec.id}"


def _phase_text(phase: Phase | None) -> str:
    return str(phase) if phase else "not tracked yet"


def replication_gate(view: ServerView) -> GateResult:
    """Registered, replicating continuously, not stalled, lag under the plan's threshold."""
    name, server, limit = f"replication:{view.spec.id}", view.server, view.spec.max_lag_seconds
    if server is None:
        return GateResult(
            name,
            False,
            f"{view.label} is not registered with MGN: install the replication agent"
            f" (migrate servers agent-command {view.spec.id})",
            wait=True,
        )
    state = server.replication_state or "unknown"
    if state == mgn.STALLED or server.error:
        why = f" ({server.error})" if server.error else ""
        return GateResult(name, False, f"{view.label}: replication {state.lower()}{why}")
    if state != mgn.CONTINUOUS:
        progress = server.progress
        done = f", initial sync {progress:.0%}" if progress is not None else ""
        return GateResult(
            name,
            False,
            f"{view.label}: replication {state} (not continuous yet{done})",
            wait=state in (mgn.INITIAL_SYNC, "INITIATING", "BACKLOG", "CREATING_SNAPSHOT"),
        )
    lag = server.lag_seconds
    if lag is None:
        return GateResult(name, False, f"{view.label}: MGN reports no replication lag yet")
    if lag > limit:
        return GateResult(
            name, False, f"{view.label}: replication lag {lag:g}s over the plan's {limit}s"
        )
    return GateResult(name, True, f"{view.label}: continuous, lag {lag:g}s (limit {limit}s)")


def launch_gate(view: ServerView, job: LaunchJob | None, kind: str) -> GateResult:
    """The ``kind`` (test or cutover) launch started the instance and its post-launch
    validation succeeded."""
    name = f"{kind}-launch:{view.spec.id}"
    if job is None:
        return GateResult(name, False, f"{view.label}: no {kind} launch job found in MGN")
    where = f"{view.label}: {kind} launch {job.job_id}"
    if job.launch_status in (mgn.LAUNCH_FAILED, "TERMINATED"):
        return GateResult(name, False, f"{where} {job.launch_status.lower()}")
    if job.launch_status != mgn.LAUNCHED:
        return GateResult(
            name, False, f"{where} is {job.launch_status or job.status or 'pending'}", wait=True
        )
    required = [a for a in job.actions if a.must_succeed]
    failed = [a for a in required if a.status == mgn.FAILED]
    if failed:
        reasons = "; ".join(f"{a.name}: {a.reason or 'failed'}" for a in failed)
        return GateResult(name, False, f"{where}: post-launch validation failed ({reasons})")
    running = [a.name for a in required if a.status != mgn.SUCCESS]
    if running:
        return GateResult(
            name,
            False,
            f"{where}: post-launch validation not finished ({', '.join(running)})",
            wait=True,
        )
    if not required:
        return GateResult(
            name,
            False,
            f"{where}: no post-launch validation ran (the launch settings need the validation"
            " action, mustSucceedForCutover)",
        )
    return GateResult(
        name, True, f"{where}: instance {job.instance_id or '?'} launched and validated"
    )


def before_test(view: ServerView) -> GateResult:
    """A test launch may start: not tested yet, MGN READY_FOR_TEST, replication healthy."""
    name = f"test:{view.spec.id}"
    if view.phase not in NOT_TESTED:
        return GateResult(
            name, False, f"{view.label} is {view.phase}; a test launch needs READY_FOR_TEST"
        )
    replication = replication_gate(view)
    if not replication.ok:
        return GateResult(name, False, replication.detail, replication.wait)
    assert view.server is not None  # the replication gate passed
    if view.server.life_cycle != mgn.READY_FOR_TEST:
        return GateResult(
            name,
            False,
            f"{view.label}: MGN lifecycle is {view.server.life_cycle or 'unknown'}, expected"
            f" {mgn.READY_FOR_TEST}",
        )
    return GateResult(name, True, replication.detail)


def before_cutover(view: ServerView) -> GateResult:
    """A cutover launch may start: test validated or finalised, replication healthy."""
    name = f"cutover:{view.spec.id}"
    if view.phase in NOT_TESTED:
        return GateResult(
            name,
            False,
            f"{view.label} is {_phase_text(view.phase)}; a cutover needs a validated test"
            f" launch first: migrate servers test {view.spec.id}",
        )
    if view.phase not in (Phase.TESTING, Phase.READY_FOR_CUTOVER):
        return GateResult(
            name, False, f"{view.label} is already {view.phase}; a cutover launch needs TESTING"
        )
    if view.phase is Phase.TESTING:
        tested = launch_gate(view, view.job, "test")
        if not tested.ok:
            return GateResult(name, False, tested.detail, tested.wait)
    replication = replication_gate(view)
    if not replication.ok:
        return GateResult(name, False, replication.detail, replication.wait)
    return GateResult(name, True, replication.detail)


def before_finalize(view: ServerView, applications: Mapping[str, str | None]) -> GateResult:
    """Finalising may happen: the cutover launch validated and every application using the
    server (``applications``: name -> tracked phase) completed its cutover."""
    name = f"finalize:{view.spec.id}"
    if view.phase is not Phase.CUTTING_OVER:
        already = "already " if view.phase is Phase.CUT_OVER else ""
        return GateResult(
            name,
            False,
            f"{view.label} is {already}{_phase_text(view.phase)}; finalizing needs CUTTING_OVER",
        )
    launched = launch_gate(view, view.job, "cutover")
    if not launched.ok:
        return GateResult(name, False, launched.detail, launched.wait)
    waiting = [f"{a} ({p or 'not started'})" for a, p in applications.items() if p != COMPLETE]
    if waiting:
        return GateResult(
            name,
            False,
            f"{view.label}: finalizing stops its replication, and not every application using"
            f" it completed its cutover: {', '.join(waiting)}",
            wait=True,
        )
    return GateResult(name, True, launched.detail)


REVERTS: Final = {
    Phase.TESTING: Phase.READY_FOR_TEST,
    Phase.READY_FOR_CUTOVER: Phase.READY_FOR_TEST,
    Phase.CUTTING_OVER: Phase.READY_FOR_CUTOVER,
}
"""Tracked phase -> the phase MGN's revert returns the server to (``ChangeServerLifeCycleState``:
"revert to ready for testing" after a test, "revert to ready for cutover" after a cutover
launch)."""
OFF_AWS = frozenset({None, "PLANNED", "REPLICATING", "ROLLED_BACK"})
"""Application phases in which none of its traffic goes to AWS."""


def before_revert(view: ServerView, applications: Mapping[str, str | None]) -> GateResult:
    """A launch may be reverted: tested or launched for cutover, not finalised, and (for a
    cutover launch) no application using the server may send traffic to its instance."""
    name = f"revert:{view.spec.id}"
    if view.phase is Phase.CUT_OVER:
        return GateResult(
            name,
            False,
            f"{view.label} is CUT_OVER (finalised): there is no replicated copy to revert to;"
            " the way back is the on-premises server itself",
        )
    target = REVERTS.get(view.phase) if view.phase else None
    if target is None:
        return GateResult(
            name, False, f"{view.label} is {_phase_text(view.phase)}: nothing launched to revert"
        )
    if view.phase is Phase.CUTTING_OVER:
        using = [f"{a} ({p})" for a, p in applications.items() if p not in OFF_AWS]
        if using:
            return GateResult(
                name,
                False,
                f"{view.label}: its cutover instance may serve traffic of {', '.join(using)}; "
                "roll them back first (migrate rollback APP)",
            )
    return GateResult(name, True, f"{view.label}: back to {target}")


HALTED: Final = {
    Phase.WAVE_PAUSED: "is paused: `migrate resume {wave}` first",
    Phase.WAVE_ABORTED: "was aborted: start it again (`migrate cutover --wave {wave}`) first",
}


def wave_controls_gate(view: ServerView, waves: Mapping[str, Phase | None]) -> GateResult | None:
    """The operator controls apply to servers: no server of a paused or aborted wave (its
    own, or one of an application using it) is tested, cut over or finalised. ``waves``:
    wave -> its tracked phase. None when no such wave is halted."""
    halted = [
        f"wave {wave} {HALTED[phase].format(wave=wave)}"
        for wave, phase in sorted(waves.items())
        if phase in HALTED
    ]
    if not halted:
        return None
    return GateResult(f"controls:{view.spec.id}", False, f"{view.label}: {'; '.join(halted)}")


def application_gate(application: str, views: Sequence[ServerView]) -> GateResult:
    """The application's traffic may move to AWS: each of its ``mgn`` servers was launched
    for cutover and validated (or finalised). Names the first server blocking and why."""
    name = SERVERS_GATE
    blocking: list[str] = []
    for view in views:
        if not view.spec.is_mgn or view.phase is Phase.CUT_OVER:
            continue
        if view.phase is not Phase.CUTTING_OVER:
            blocking.append(f"{view.label} is {_phase_text(view.phase)} (not launched for cutover)")
            continue
        launched = launch_gate(view, view.job, "cutover")
        if not launched.ok:
            blocking.append(launched.detail)
    if blocking:
        return GateResult(
            name, False, f"{application} waits for its servers: {'; '.join(blocking)}", wait=True
        )
    counted = sum(1 for v in views if v.spec.is_mgn)
    return GateResult(name, True, f"{counted} MGN server(s) launched for cutover and validated")
