"""The server gates: pure functions over what MGN and the tracking store say; each refusal
names the server and says why."""

from __future__ import annotations

from typing import Any

import pytest

from migration.servers.gates import (
    ServerView,
    application_gate,
    before_cutover,
    before_finalize,
    before_test,
    launch_gate,
    replication_gate,
)
from migration.servers.mgn import LaunchJob, SourceServer
from migration.servers.spec import ServerSpec
from migration.tracking import Head, Phase
from tests.runtime.mgn_fixtures import CUTOVER_JOB, job, source_server

SPEC = ServerSpec(id="orders-app-01", hostname="orders-app-01.corp.example.com", ip="192.168.10.21")


def view(
    phase: Phase | None = None,
    *,
    spec: ServerSpec = SPEC,
    registered: bool = True,
    launch: dict[str, Any] | None = None,
    **server: Any,
) -> ServerView:
    head = Head(f"server#{spec.id}", phase, 1, "2026-11-28T12:00:00.000000Z") if phase else None
    found = SourceServer.from_api(source_server(**server)) if registered else None
    launched = LaunchJob.from_api(launch, found.source_server_id) if launch and found else None
    return ServerView(spec, head, found, launched)


def test_replication_ok_under_the_plan_threshold() -> None:
    result = replication_gate(view(lag="PT59S"))
    assert result.ok and result.detail == ("server orders-app-01: continuous, lag 59s (limit 60s)")


@pytest.mark.parametrize(
    ("server", "detail", "wait"),
    [
        (
            {"lag": "PT2M"},
            "server orders-app-01: replication lag 120s over the plan's 60s",
            False,
        ),
        ({"state": "STALLED"}, "server orders-app-01: replication stalled", False),
        (
            {"state": "CONTINUOUS", "error": "UNSTABLE_NETWORK"},
            "server orders-app-01: replication continuous (UNSTABLE_NETWORK agent lost)",
            False,
        ),
        (
            {"state": "INITIAL_SYNC", "lag": None, "replicated": 40, "total": 100},
            "server orders-app-01: replication INITIAL_SYNC (not continuous yet, initial sync 40%)",
            True,
        ),
        ({"lag": None}, "server orders-app-01: MGN reports no replication lag yet", False),
        ({"state": "DISCONNECTED"}, "server orders-app-01: replication DISCONNECTED", False),
    ],
)
def test_replication_refusals_say_why(server: dict[str, Any], detail: str, wait: bool) -> None:
    result = replication_gate(view(**server))
    assert not result.ok
    assert result.detail.startswith(detail)
    assert result.wait is wait


def test_an_unregistered_server_points_at_the_agent_command() -> None:
    result = replication_gate(view(registered=False))
    assert not result.ok and result.wait
    assert "migrate servers agent-command orders-app-01" in result.detail


def test_the_plans_threshold_is_the_servers_own() -> None:
    patient = ServerSpec(
        id="orders-app-01", hostname="h.example.com", ip="1.2.3.4", max_lag_seconds=300
    )
    assert replication_gate(view(spec=patient, lag="PT2M")).ok


def test_launch_validation_failed_names_the_action_and_its_reason() -> None:
    failed = job(actions=(("validate", "FAILED", True, "port 443 closed"),))
    result = launch_gate(view(Phase.TESTING, launch=failed), view(launch=failed).job, "test")
    assert not result.ok and not result.wait
    assert result.detail.endswith("post-launch validation failed (validate: port 443 closed)")


@pytest.mark.parametrize(
    ("launch", "ending", "wait"),
    [
        (job(launch="IN_PROGRESS"), "is IN_PROGRESS", True),
        (job(launch="FAILED"), "failed", False),
        (job(actions=(("validate", "IN_PROGRESS", True, ""),)), "not finished (validate)", True),
        (job(actions=()), "no post-launch validation ran", False),
        (job(actions=(("tag", "FAILED", False, "x"), ("validate", "SUCCESS", True, ""))), "", None),
    ],
)
def test_launch_states(launch: dict[str, Any], ending: str, wait: bool | None) -> None:
    result = launch_gate(view(), view(launch=launch).job, "test")
    if wait is None:  # an optional action failing does not block
        assert result.ok
        return
    assert not result.ok and result.wait is wait
    assert ending in result.detail.split("(the launch")[0]


def test_before_test() -> None:
    assert before_test(view()).ok
    assert before_test(view(Phase.REPLICATING)).ok
    assert before_test(view(Phase.TESTING)).detail == (
        "server orders-app-01 is TESTING; a test launch needs READY_FOR_TEST"
    )
    assert before_test(view(lag="PT10M")).detail.endswith("lag 600s over the plan's 60s")
    assert "MGN lifecycle is NOT_READY" in before_test(view(life="NOT_READY")).detail


def test_before_cutover() -> None:
    assert before_cutover(view(Phase.TESTING, life="TESTING", launch=job())).ok
    assert before_cutover(view(Phase.READY_FOR_CUTOVER, life="READY_FOR_CUTOVER")).ok
    untested = before_cutover(view(Phase.READY_FOR_TEST))
    assert "needs a validated test launch first: migrate servers test orders-app-01" in (
        untested.detail
    )
    failed = job(actions=(("validate", "FAILED", True, "disk check failed"),))
    refused = before_cutover(view(Phase.TESTING, life="TESTING", launch=failed))
    assert "post-launch validation failed (validate: disk check failed)" in refused.detail
    stalled = before_cutover(view(Phase.READY_FOR_CUTOVER, state="STALLED"))
    assert stalled.detail == "server orders-app-01: replication stalled"


def test_finalize_waits_for_every_application_using_the_server() -> None:
    cutting = view(Phase.CUTTING_OVER, life="CUTTING_OVER", launch=job(CUTOVER_JOB))
    early = before_finalize(cutting, {"orders-api": "SHIFTING", "reports": None})
    assert not early.ok and early.wait
    assert early.detail == (
        "server orders-app-01: finalizing stops its replication, and not every application"
        " using it completed its cutover: orders-api (SHIFTING), reports (not started)"
    )
    assert before_finalize(cutting, {"orders-api": "CUTOVER_COMPLETE"}).ok
    assert "finalizing needs CUTTING_OVER" in before_finalize(view(Phase.TESTING), {}).detail
    assert "is already CUT_OVER" in before_finalize(view(Phase.CUT_OVER), {}).detail


def test_the_application_gate_names_the_server_that_blocks_and_why() -> None:
    web = ServerSpec(id="web-01", hostname="web-01.example.com", ip="192.168.1.1")
    manual = ServerSpec(
        id="old-01", hostname="old.example.com", ip="192.168.1.2", replication="manual"
    )
    failed = job(CUTOVER_JOB, actions=(("validate", "FAILED", True, "HTTP 500 on /health"),))
    views = [
        view(Phase.CUTTING_OVER, life="CUTTING_OVER", launch=job(CUTOVER_JOB)),
        view(Phase.CUTTING_OVER, spec=web, life="CUTTING_OVER", launch=failed),
        view(None, spec=manual, registered=False),
    ]
    result = application_gate("orders-api", views)
    assert not result.ok and result.wait
    assert result.detail == (
        f"orders-api waits for its servers: server web-01: cutover launch {CUTOVER_JOB}:"
        " post-launch validation failed (validate: HTTP 500 on /health)"
    )
    views[1] = view(Phase.TESTING, spec=web, life="TESTING")
    assert application_gate("orders-api", views).detail == (
        "orders-api waits for its servers: server web-01 is TESTING (not launched for cutover)"
    )
    views[1] = view(Phase.CUT_OVER, spec=web, life="CUTOVER")
    passed = application_gate("orders-api", views)
    assert passed.ok and passed.detail == "2 MGN server(s) launched for cutover and validated"
    assert application_gate("static-site", []).ok
