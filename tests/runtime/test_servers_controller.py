"""The servers gate in the cutover controller: an application's traffic waits until each of
its MGN servers is launched for cutover and validated; the controller records what MGN
shows each tick (paused or not); a rollback moves traffic, never a server.

Tracking table and Route 53 on moto; MGN on a Stubber fed with model-validated responses
(tests/runtime/mgn_fixtures.py), so every MGN call the controller makes is listed here, in
order, and any other call fails the test.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest

from migration.gates import Gates
from migration.plan import load_plan
from migration.servers.spec import ServerSpec
from migration.spec import SpecError, WaveSpec
from migration.tracking import Phase, server_id
from tests.conftest import ROOT
from tests.runtime.conftest import Aws
from tests.runtime.controller_fixtures import Cutover, make_cutover
from tests.runtime.engine_fixtures import make_env
from tests.runtime.mgn_fixtures import (
    CUTOVER_JOB,
    SID,
    SID2,
    StubbedMgn,
    job,
    source_server,
    stubbed_mgn,
)

SID3 = "s-0fedcba9876543210"
OTHER_JOB = "mgnjob-0aaaaaaaaaaaaaaaa"
SERVER = ServerSpec(
    id="orders-app-01", hostname="orders-app-01.corp.example.com", ip="192.168.10.21"
)
ENTITY = server_id(SERVER.id)
WAITS = "servers: orders waits for its servers: server orders-app-01"


@pytest.fixture
def stub(aws: Aws) -> Iterator[StubbedMgn]:
    with stubbed_mgn() as stubbed:
        yield stubbed
        stubbed.done()


@pytest.fixture
def cut(aws: Aws, stub: StubbedMgn) -> Cutover:
    cutover = make_cutover(make_env(aws, bake_minutes=2))
    return replace(cutover, mgn_client=stub.client)


def start(cut: Cutover, *servers: ServerSpec) -> WaveSpec:
    """wave-1 with ``orders`` running on ``servers`` (billing on none), started."""
    spec = cut.plan.wave_spec("wave-1")
    apps = tuple(
        replace(app, servers=tuple(s.id for s in servers)) if app.name == "orders" else app
        for app in spec.applications
    )
    spec = replace(spec, applications=apps, servers=servers)
    cut.controls().start(spec)
    return spec


def server_head(aws: Aws) -> Any:
    return aws.tracking().current(ENTITY)


def operator_cut_over(aws: Aws) -> None:
    """What ``migrate servers cutover`` records once MGN launched the cutover instance."""
    tracking = aws.tracking()
    tracking.transition(
        ENTITY,
        Phase.CUTTING_OVER,
        state={"sourceServerID": SID, "cutoverJobID": CUTOVER_JOB},
        head=tracking.current(ENTITY),
    )


def cutover_job(status: str, reason: str = "") -> dict[str, Any]:
    return job(
        CUTOVER_JOB, initiated_by="START_CUTOVER", actions=(("validate", status, True, reason),)
    )


def launched(stub: StubbedMgn, status: str, reason: str = "") -> None:
    """One tick's reads of a server launched for cutover: MGN's source servers listed once
    (the recorded id picked from them), then its job."""
    stub.describe(source_server(life="CUTTING_OVER", cutover_job=CUTOVER_JOB))
    stub.jobs(cutover_job(status, reason), job_id=CUTOVER_JOB)


def at_step_one(cut: Cutover, stub: StubbedMgn, aws: Aws) -> None:
    """``orders`` waited one tick for its server, which was then launched for cutover and
    validated: the next tick moved it to its first step."""
    start(cut, SERVER)
    stub.describe(source_server(life="READY_FOR_TEST"))
    cut.tick()
    operator_cut_over(aws)
    launched(stub, "SUCCESS")
    assert cut.tick().moved == {"orders": 1}


# -- the gate -----------------------------------------------------------------------------


def test_an_application_waits_until_its_servers_are_launched_for_cutover_and_validated(
    cut: Cutover, stub: StubbedMgn, aws: Aws
) -> None:
    start(cut, SERVER)
    # Tick 1: MGN holds the server ready for test (found by hostname, no id recorded yet).
    stub.describe(source_server(life="READY_FOR_TEST"))
    report = cut.tick()
    assert report.moved == {"billing": 1}
    assert report.waiting["orders"] == (
        f"gates failed: {WAITS} is READY_FOR_TEST (not launched for cutover)"
    )
    assert cut.split("orders") == (0, 100)
    assert report.servers == ["server orders-app-01: READY_FOR_TEST"]
    assert server_head(aws).state["sourceServerID"] == SID

    # The operator launches it for cutover; its post-launch validation fails.
    operator_cut_over(aws)
    launched(stub, "FAILED", "port 443 closed")
    report = cut.tick()
    assert report.moved == {}
    assert report.waiting["orders"] == (
        f"gates failed: {WAITS}: cutover launch {CUTOVER_JOB}: post-launch validation failed "
        "(validate: port 443 closed)"
    )
    assert cut.phase("orders") is Phase.REPLICATING
    assert cut.split("orders") == (0, 100)

    # Validation still running: not yet.
    launched(stub, "IN_PROGRESS")
    assert "post-launch validation not finished (validate)" in cut.tick().waiting["orders"]

    # Validated: the first step goes.
    launched(stub, "SUCCESS")
    report = cut.tick()
    assert report.moved == {"orders": 1}
    assert cut.split("orders") == (10, 90)
    assert report.servers == []  # nothing new to record


def test_a_server_that_cannot_be_read_holds_the_next_step_and_rolls_nothing_back(
    cut: Cutover, stub: StubbedMgn, aws: Aws
) -> None:
    at_step_one(cut, stub, aws)
    # After the bake the next step's gates read MGN, which fails: the step waits.
    stub.fail("describe_source_servers", "InternalServerException", "try again")
    report = cut.tick(minutes=2)
    assert report.waiting["orders"] == (
        "gates failed: servers: orders: its servers could not be read: "
        "InternalServerException: try again"
    )
    assert cut.phase("orders") is Phase.SHIFTING
    assert cut.split("orders") == (10, 90)
    assert report.rolled_back == []
    assert report.errors == []


def test_a_rollback_moves_traffic_and_leaves_the_servers_launched(
    cut: Cutover, stub: StubbedMgn, aws: Aws
) -> None:
    at_step_one(cut, stub, aws)
    before = server_head(aws)

    cut.operator_rollback("orders")  # no MGN call: the Stubber would refuse any

    assert cut.split("orders") == (0, 100)
    assert server_head(aws) == before
    # The next tick looks at the server (read only) and leaves it CUTTING_OVER.
    launched(stub, "SUCCESS")
    report = cut.tick()
    assert ("orders" not in report.moved, report.servers) == (True, [])
    assert cut.phase("orders") is Phase.ROLLED_BACK
    assert server_head(aws).phase is Phase.CUTTING_OVER
    assert server_head(aws).version == before.version


def test_a_tick_reads_all_the_waves_servers_in_one_listing_and_one_jobs_request(
    cut: Cutover, stub: StubbedMgn, aws: Aws
) -> None:
    """Whatever the number of servers: one DescribeSourceServers, one DescribeJobs (the
    Stubber refuses any further call), each server's gate from that read."""
    web = ServerSpec(id="web-01", hostname="web-01.corp.example.com", ip="192.168.10.22")
    batch = ServerSpec(id="batch-01", hostname="batch-01.corp.example.com", ip="192.168.10.23")
    start(cut, SERVER, web, batch)
    tracking = aws.tracking()
    for spec, sid, job_id in ((SERVER, SID, CUTOVER_JOB), (web, SID2, OTHER_JOB)):
        tracking.transition(
            server_id(spec.id),
            Phase.CUTTING_OVER,
            state={"sourceServerID": sid, "cutoverJobID": job_id},
        )
    stub.describe(
        source_server(life="CUTTING_OVER", cutover_job=CUTOVER_JOB),
        source_server(SID2, web.hostname, life="CUTTING_OVER", cutover_job=OTHER_JOB),
        source_server(SID3, batch.hostname),
    )
    stub.jobs(
        cutover_job("SUCCESS"),
        job(OTHER_JOB, SID2, initiated_by="START_CUTOVER"),
        job_ids=[CUTOVER_JOB, OTHER_JOB],
    )
    report = cut.tick()
    assert report.waiting["orders"] == (
        "gates failed: servers: orders waits for its servers: server batch-01 is READY_FOR_TEST"
        " (not launched for cutover)"
    )
    assert report.servers == ["server batch-01: READY_FOR_TEST"]


def test_each_tick_records_what_mgn_shows_even_when_the_wave_is_paused(
    cut: Cutover, stub: StubbedMgn, aws: Aws
) -> None:
    start(cut, SERVER)
    cut.controls().pause("wave-1", reason="change freeze")
    stub.describe(source_server(life="NOT_READY", state="INITIAL_SYNC", lag=None, replicated=40))
    report = cut.tick()
    assert report.moved == {}
    assert report.servers == ["server orders-app-01: REPLICATING"]
    head = server_head(aws)
    assert (head.phase, head.state["progress"]) == (Phase.REPLICATING, 0.4)
    # Same state next tick: read again, nothing new recorded.
    stub.describe(source_server(life="NOT_READY", state="INITIAL_SYNC", lag=None, replicated=40))
    assert cut.tick().servers == []
    assert server_head(aws).version == head.version


def test_an_unreadable_server_is_a_note_of_the_tick_not_an_error(
    cut: Cutover, stub: StubbedMgn
) -> None:
    start(cut, SERVER)
    cut.controls().pause("wave-1")
    stub.fail("describe_source_servers", "AccessDeniedException", "not authorized")
    report = cut.tick()
    assert report.servers == [
        "servers orders-app-01: not read: AccessDeniedException: not authorized"
    ]
    assert report.errors == []


# -- without MGN, and the stored definition ------------------------------------------------


def test_gates_without_an_mgn_client_fail_the_servers_gate_rather_than_skip_it(
    cut: Cutover,
) -> None:
    spec = cut.plan.wave_spec("wave-1")
    orders = replace(spec.application("orders"), servers=("orders-app-01",))
    gates = Gates(
        replace(spec, servers=(SERVER,)),
        dms=cut.env.dms,
        cloudwatch=cut.env.cloudwatch,
        ec2=cut.env.ec2,
    )
    result = gates.server_gate(orders)
    assert (result.ok, result.wait) == (False, True)
    assert result.detail == (
        "orders runs on server(s) orders-app-01, and these gates have no MGN client to check them"
    )
    assert "servers" in [r.name for r in gates.check_gates(orders)]
    assert gates.observe_servers() == []


def test_the_stored_wave_definition_carries_the_servers_with_their_settings() -> None:
    plan = load_plan(ROOT / "examples" / "migration-plan.yaml")
    spec = plan.wave_spec("wave-1")
    assert spec.application("orders-api").servers == ("orders-app-01",)
    by_id = {s.id: s for s in spec.servers}
    assert sorted(by_id) == ["orders-app-01", "storefront-web-01"]
    assert by_id["orders-app-01"].instance_type == "m6i.large"
    assert (by_id["storefront-web-01"].os, by_id["storefront-web-01"].licensing) == (
        "windows",
        "byol",
    )
    assert WaveSpec.from_json(spec.to_json()) == spec
    assert spec.servers_of(spec.application("orders-api")) == (by_id["orders-app-01"],)


def test_a_definition_stored_before_servers_existed_reads_without_them(cut: Cutover) -> None:
    spec = cut.plan.wave_spec("wave-1")
    text = spec.to_json()
    assert '"servers"' not in text  # the bytes of a wave without servers are unchanged
    assert WaveSpec.from_json(text).servers == ()


def test_an_application_listing_a_server_the_definition_lacks_is_a_spec_error(
    cut: Cutover,
) -> None:
    spec = cut.plan.wave_spec("wave-1")
    orders = replace(spec.application("orders"), servers=("ghost-01",))
    with pytest.raises(SpecError, match="orders lists server\\(s\\) ghost-01"):
        spec.servers_of(orders)
