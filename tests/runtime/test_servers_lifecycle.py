"""Each server transition against the tracking table (moto) and MGN (a Stubber fed with
model-validated responses): done once, resumed after a crash, refused with a reason and
nothing changed (no MGN call, no table write), refused for a concurrent second run."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from migration.errors import ConcurrentUpdateError
from migration.servers.gates import ServerView
from migration.servers.lifecycle import Decision, Run, ServerLifecycle, ServerRequestError
from migration.servers.mgn import Mgn
from migration.servers.spec import ServerSpec
from migration.tracking import Phase, app_id, server_id
from tests.runtime.conftest import Aws
from tests.runtime.mgn_fixtures import (
    CUTOVER_JOB,
    SID,
    TEST_JOB,
    StubbedMgn,
    job,
    source_server,
    stubbed_mgn,
)

SPEC = ServerSpec(id="orders-app-01", hostname="orders-app-01.corp.example.com", ip="192.168.10.21")
ENTITY = server_id(SPEC.id)


@pytest.fixture
def stub(aws: Aws) -> Any:
    with stubbed_mgn() as stubbed:
        yield stubbed


def lifecycle(aws: Aws, stub: StubbedMgn) -> ServerLifecycle:
    return ServerLifecycle(aws.tracking(), Mgn(stub.client), actor="tester")


def items(aws: Aws) -> str:
    return json.dumps(aws.items(), sort_keys=True)


def phases(aws: Aws) -> list[str | None]:
    return [(e.phase and str(e.phase)) for e in aws.tracking().history(ENTITY)]


def set_phase(aws: Aws, phase: Phase, **state: Any) -> None:
    tracking = aws.tracking()
    head = tracking.current(ENTITY)
    tracking.transition(ENTITY, phase, state={"sourceServerID": SID, **state}, head=head)


def view_by_id(
    stub: StubbedMgn, service: ServerLifecycle, item: dict[str, Any], *found: Any, job_id: str = ""
) -> ServerView:
    stub.describe(item, ids=[SID])
    if job_id:
        stub.jobs(*found, job_id=job_id)
    return service.view(SPEC)


def test_test_launch_records_the_source_server_and_the_job(aws: Aws, stub: StubbedMgn) -> None:
    service = lifecycle(aws, stub)
    stub.describe(source_server())  # found by hostname: nothing recorded yet
    view = service.view(SPEC)
    stub.start("start_test", TEST_JOB)
    head = service.run(Run.TEST, view)
    stub.done()
    assert head.phase is Phase.TESTING
    assert head.state == {"sourceServerID": SID, "testJobID": TEST_JOB}
    assert phases(aws) == ["READY_FOR_TEST", "TESTING"]
    assert aws.tracking().history(ENTITY)[0].actor == "tester"


@pytest.mark.parametrize(
    ("server", "why"),
    [
        ({"lag": "PT5M"}, "replication lag 300s over the plan's 60s"),
        ({"state": "STALLED"}, "replication stalled"),
        (
            {"life": "NOT_READY", "state": "INITIAL_SYNC", "lag": None, "replicated": 10},
            "initial sync 10%",
        ),
    ],
)
def test_a_test_launch_is_refused_and_nothing_changes(
    aws: Aws, stub: StubbedMgn, server: dict[str, Any], why: str
) -> None:
    service = lifecycle(aws, stub)
    before = items(aws)
    stub.describe(source_server(**server))
    view = service.view(SPEC)
    decision, gate = service.check(Run.TEST, view)
    assert decision is Decision.REFUSED and why in gate.detail
    with pytest.raises(ServerRequestError, match=why):
        service.run(Run.TEST, view)
    stub.done()  # no StartTest was queued: the Stubber would have refused the call
    assert items(aws) == before


def test_a_second_test_is_refused(aws: Aws, stub: StubbedMgn) -> None:
    set_phase(aws, Phase.TESTING, testJobID=TEST_JOB)
    service = lifecycle(aws, stub)
    before = items(aws)
    view = view_by_id(
        stub, service, source_server(life="TESTING", test_job=TEST_JOB), job(), job_id=TEST_JOB
    )
    with pytest.raises(ServerRequestError, match="server orders-app-01 is already TESTING"):
        service.run(Run.TEST, view)
    stub.done()
    assert items(aws) == before


def test_a_rerun_after_a_crash_records_what_mgn_did_without_a_second_launch(
    aws: Aws, stub: StubbedMgn
) -> None:
    # The previous run claimed the test and MGN launched it; the run died before recording.
    set_phase(aws, Phase.READY_FOR_TEST, run="test")
    service = lifecycle(aws, stub)
    view = view_by_id(stub, service, source_server(life="TESTING", test_job=TEST_JOB))
    assert service.check(Run.TEST, view)[0] is Decision.RESUME
    head = service.run(Run.TEST, view)
    stub.done()  # no StartTest
    assert head.phase is Phase.TESTING and head.state["testJobID"] == TEST_JOB
    assert "run" not in head.state


def test_two_runs_from_the_same_version_launch_once(aws: Aws, stub: StubbedMgn) -> None:
    service = lifecycle(aws, stub)
    stub.describe(source_server())
    first = service.view(SPEC)
    stub.describe(source_server())
    second = service.view(SPEC)
    stub.start("start_test", TEST_JOB)
    service.run(Run.TEST, first)
    with pytest.raises(ConcurrentUpdateError):
        service.run(Run.TEST, second)  # its claim loses: no second StartTest
    stub.done()
    assert phases(aws) == ["READY_FOR_TEST", "TESTING"]


def test_cutover_after_a_validated_test_marks_ready_then_launches(
    aws: Aws, stub: StubbedMgn
) -> None:
    set_phase(aws, Phase.TESTING, testJobID=TEST_JOB)
    service = lifecycle(aws, stub)
    view = view_by_id(
        stub, service, source_server(life="TESTING", test_job=TEST_JOB), job(), job_id=TEST_JOB
    )
    stub.life_cycle("READY_FOR_CUTOVER", source_server(life="READY_FOR_CUTOVER"))
    stub.start("start_cutover", CUTOVER_JOB)
    head = service.run(Run.CUTOVER, view)
    stub.done()
    assert head.phase is Phase.CUTTING_OVER
    assert head.state == {"sourceServerID": SID, "testJobID": TEST_JOB, "cutoverJobID": CUTOVER_JOB}
    assert phases(aws)[-2:] == ["READY_FOR_CUTOVER", "CUTTING_OVER"]


def test_cutover_refused_when_the_test_validation_failed(aws: Aws, stub: StubbedMgn) -> None:
    set_phase(aws, Phase.TESTING, testJobID=TEST_JOB)
    service = lifecycle(aws, stub)
    before = items(aws)
    failed = job(actions=(("validate", "FAILED", True, "port 8080 closed"),))
    view = view_by_id(
        stub, service, source_server(life="TESTING", test_job=TEST_JOB), failed, job_id=TEST_JOB
    )
    with pytest.raises(
        ServerRequestError, match=r"post-launch validation failed \(validate: port 8080 closed\)"
    ):
        service.run(Run.CUTOVER, view)
    stub.done()
    assert items(aws) == before


def test_finalize_refused_before_the_application_completed(aws: Aws, stub: StubbedMgn) -> None:
    set_phase(aws, Phase.CUTTING_OVER, cutoverJobID=CUTOVER_JOB)
    aws.tracking().transition(app_id("orders-api"), Phase.SHIFTING)
    service = lifecycle(aws, stub)
    before = items(aws)
    item = source_server(life="CUTTING_OVER", cutover_job=CUTOVER_JOB)
    view = view_by_id(
        stub, service, item, job(CUTOVER_JOB, initiated_by="START_CUTOVER"), job_id=CUTOVER_JOB
    )
    with pytest.raises(ServerRequestError, match=r"completed its cutover: orders-api \(SHIFTING\)"):
        service.run(Run.FINALIZE, view, ["orders-api"])
    stub.done()
    assert items(aws) == before


def test_finalize_once_every_application_completed(aws: Aws, stub: StubbedMgn) -> None:
    set_phase(aws, Phase.CUTTING_OVER, cutoverJobID=CUTOVER_JOB)
    aws.tracking().transition(app_id("orders-api"), Phase.CUTOVER_COMPLETE)
    service = lifecycle(aws, stub)
    item = source_server(life="CUTTING_OVER", cutover_job=CUTOVER_JOB)
    view = view_by_id(
        stub, service, item, job(CUTOVER_JOB, initiated_by="START_CUTOVER"), job_id=CUTOVER_JOB
    )
    stub.finalize(
        source_server(
            life="CUTOVER", state="DISCONNECTED", lag=None, cutover_job=CUTOVER_JOB, finalized=True
        )
    )
    head = service.run(Run.FINALIZE, view, ["orders-api"])
    stub.done()
    assert head.phase is Phase.CUT_OVER
    assert phases(aws)[-2:] == ["CUTTING_OVER", "CUT_OVER"]
    # A rerun is refused: finalised already.
    view = view_by_id(
        stub,
        service,
        source_server(
            life="CUTOVER", state="DISCONNECTED", lag=None, cutover_job=CUTOVER_JOB, finalized=True
        ),
        job(CUTOVER_JOB),
        job_id=CUTOVER_JOB,
    )
    assert service.check(Run.FINALIZE, view, ["orders-api"])[0] is Decision.DONE


def test_observed_progress_is_recorded_forward_only(aws: Aws, stub: StubbedMgn) -> None:
    service = lifecycle(aws, stub)
    stub.describe(source_server(life="NOT_READY", state="INITIAL_SYNC", lag=None, replicated=30))
    head = service.record_observed(service.view(SPEC))
    assert head is not None and head.phase is Phase.REPLICATING
    assert aws.tracking().history(ENTITY)[-1].details["progress"] == 0.3
    view = view_by_id(
        stub,
        service,
        source_server(life="NOT_READY", state="INITIAL_SYNC", lag=None, replicated=60),
    )
    assert service.record_observed(view) is None  # same phase: no history item per poll
    view = view_by_id(stub, service, source_server())
    assert service.record_observed(view) is not None
    stub.done()
    assert phases(aws) == ["REPLICATING", "READY_FOR_TEST"]


def test_a_manual_server_is_never_looked_up_nor_moved(aws: Aws, stub: StubbedMgn) -> None:
    manual = ServerSpec(
        id="inventory-app-01", hostname="inv.example.com", ip="192.168.30.15", replication="manual"
    )
    service = lifecycle(aws, stub)
    view = service.view(manual)
    decision, gate = service.check(Run.TEST, view)
    assert decision is Decision.REFUSED and "replication: manual" in gate.detail
    stub.done()


# -- revert ---------------------------------------------------------------------------------


def test_revert_of_a_test_puts_mgn_and_the_phase_back_to_ready_for_test(
    aws: Aws, stub: StubbedMgn
) -> None:
    set_phase(aws, Phase.TESTING, testJobID=TEST_JOB)
    service = lifecycle(aws, stub)
    view = view_by_id(
        stub, service, source_server(life="TESTING", test_job=TEST_JOB), job(), job_id=TEST_JOB
    )
    stub.life_cycle("READY_FOR_TEST", source_server(test_job=TEST_JOB))
    head = service.run(Run.REVERT, view)
    stub.done()
    assert head.phase is Phase.READY_FOR_TEST
    assert phases(aws)[-2:] == ["TESTING", "READY_FOR_TEST"]
    assert "run" not in head.state and head.state["testJobID"] == TEST_JOB


def test_a_revert_that_died_after_mgn_reverted_only_records_it(aws: Aws, stub: StubbedMgn) -> None:
    set_phase(aws, Phase.TESTING, testJobID=TEST_JOB, run="revert")
    service = lifecycle(aws, stub)
    view = view_by_id(
        stub,
        service,
        source_server(life="READY_FOR_TEST", test_job=TEST_JOB),
        job(),
        job_id=TEST_JOB,
    )
    assert service.check(Run.REVERT, view)[0] is Decision.RESUME
    head = service.run(Run.REVERT, view)
    stub.done()  # no ChangeServerLifeCycleState
    assert head.phase is Phase.READY_FOR_TEST


def test_revert_of_a_cutover_launch_is_refused_while_an_application_may_use_it(
    aws: Aws, stub: StubbedMgn
) -> None:
    set_phase(aws, Phase.CUTTING_OVER, cutoverJobID=CUTOVER_JOB)
    aws.tracking().transition(app_id("orders-api"), Phase.SHIFTING)
    service = lifecycle(aws, stub)
    before = items(aws)
    item = source_server(life="CUTTING_OVER", cutover_job=CUTOVER_JOB)
    view = view_by_id(
        stub, service, item, job(CUTOVER_JOB, initiated_by="START_CUTOVER"), job_id=CUTOVER_JOB
    )
    with pytest.raises(
        ServerRequestError,
        match=r"cutover instance may serve traffic of orders-api \(SHIFTING\); roll them back",
    ):
        service.run(Run.REVERT, view, ["orders-api"])
    stub.done()
    assert items(aws) == before


def test_revert_of_a_cutover_launch_after_the_rollback(aws: Aws, stub: StubbedMgn) -> None:
    set_phase(aws, Phase.CUTTING_OVER, cutoverJobID=CUTOVER_JOB)
    aws.tracking().transition(app_id("orders-api"), Phase.ROLLED_BACK)
    service = lifecycle(aws, stub)
    item = source_server(life="CUTTING_OVER", cutover_job=CUTOVER_JOB)
    view = view_by_id(
        stub, service, item, job(CUTOVER_JOB, initiated_by="START_CUTOVER"), job_id=CUTOVER_JOB
    )
    stub.life_cycle("READY_FOR_CUTOVER", source_server(life="READY_FOR_CUTOVER"))
    head = service.run(Run.REVERT, view, ["orders-api"])
    stub.done()
    assert head.phase is Phase.READY_FOR_CUTOVER


@pytest.mark.parametrize(
    ("phase", "decision", "why"),
    [
        (
            Phase.CUT_OVER,
            Decision.REFUSED,
            "is CUT_OVER (finalised): there is no replicated copy to revert to",
        ),
        (Phase.READY_FOR_TEST, Decision.DONE, "server orders-app-01 is READY_FOR_TEST"),
    ],
)
def test_revert_refused_after_finalize_and_idle_before_any_launch(
    aws: Aws, stub: StubbedMgn, phase: Phase, decision: Decision, why: str
) -> None:
    set_phase(aws, phase)
    service = lifecycle(aws, stub)
    before = items(aws)
    stub.describe(source_server(), ids=[SID])
    view = service.view(SPEC)
    got, gate = service.check(Run.REVERT, view)
    assert got is decision and why in gate.detail
    with pytest.raises(ServerRequestError, match=re.escape(why)):
        service.run(Run.REVERT, view)
    stub.done()
    assert items(aws) == before
