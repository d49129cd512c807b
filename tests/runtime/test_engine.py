"""The cutover preview (``migrate cutover --dry-run``) against moto: reads only."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from migration.engine import CutoverPreview, EngineEvent
from tests.runtime.conftest import Aws
from tests.runtime.controller_fixtures import make_cutover
from tests.runtime.engine_fixtures import GateEnv, make_env


@pytest.fixture
def env(aws: Aws) -> Iterator[GateEnv]:
    yield make_env(aws)


def preview(env: GateEnv, events: list[EngineEvent] | None = None) -> CutoverPreview:
    output = events.append if events is not None else (lambda _event: None)
    return CutoverPreview(
        env.plan, env.aws.shifter(), env.aws.tracking(), env.gates(), output=output
    )


def test_dry_run_changes_nothing(env: GateEnv) -> None:
    before = env.aws.snapshot()
    events: list[EngineEvent] = []
    result = preview(env, events).preview("wave-1")

    assert result.dry_run and result.ok
    assert env.aws.snapshot() == before
    assert env.aws.route53_calls.attempts["ChangeResourceRecordSets"] == 0
    assert env.aws.time.sleeps == []
    orders = result.by_application()["orders"]
    assert [(e.kind, e.step, e.percent) for e in orders.planned] == [
        (kind, step, percent)
        for step, percent in ((1, 10), (2, 50), (3, 100))
        for kind in ("would_check", "would_shift")
    ]
    assert "dms-latency:orders-db" in orders.planned[0].detail
    assert "aws=50 on-premises=50" in orders.planned[3].detail
    assert events == [*orders.planned, *result.by_application()["billing"].planned]


def test_dry_run_of_a_running_wave_lists_only_remaining_steps(env: GateEnv) -> None:
    cut = make_cutover(env)
    cut.start()
    cut.tick()
    cut.tick(minutes=2)  # step 2 (50%) of both applications
    before = env.aws.snapshot()
    result = preview(env).preview("wave-1")
    assert env.aws.snapshot() == before
    orders = result.by_application()["orders"]
    assert [e.step for e in orders.planned if e.kind == "would_shift"] == [3]


def test_dry_run_skips_rolled_back_and_complete_applications(env: GateEnv) -> None:
    cut = make_cutover(env)
    cut.start()
    cut.tick()
    cut.operator_rollback("orders")
    result = preview(env).preview("wave-1").by_application()
    assert [(e.kind, e.detail) for e in result["orders"].planned] == [
        ("skipped", "phase ROLLED_BACK: migrate reset first")
    ]
