"""Freeze hooks on the real clusters: a Lambda hook and the manual freeze."""

from __future__ import annotations

import io
import json
import time
from typing import Any

import pytest

from migration.database.cutover import DatabaseSite
from migration.database.errors import DatabaseStepError
from migration.database.freeze_hooks import HookedSide, LambdaFreeze, ManualFreeze
from migration.local.database_stand_in import Workload, audit
from migration.tracking import Phase, db_id
from tests.database.conftest import Story, wait_running


class FreezeFunction:
    """A Lambda client whose one function is the freeze hook of both sides; the hook freezes
    with the same statements as the built-in freeze (a team's hook would do its own)."""

    def __init__(self, story: Story) -> None:
        self.sides = {"on-premises": story.stand_in.source, "aws": story.stand_in.target}
        self.calls: list[tuple[str, str]] = []
        self.error: str | None = None

    def invoke(self, *, FunctionName: str, InvocationType: str, Payload: bytes) -> dict[str, Any]:
        assert (FunctionName, InvocationType) == ("freeze-orders", "RequestResponse")
        event = json.loads(Payload)
        self.calls.append((event["action"], event["side"]))
        if self.error:
            body, extra = {"errorMessage": self.error}, {"FunctionError": "Unhandled"}
        else:
            db = self.sides[event["side"]]
            action = event["action"]
            body = (
                {"sessionsEnded": db.freeze()} if action == "freeze"
                else {"frozen": db.is_frozen()} if action == "status"
                else db.unfreeze() or {}
            )  # fmt: skip
            extra = {}
        return {"StatusCode": 200, "Payload": io.BytesIO(json.dumps(body).encode()), **extra}


def _hooked(story: Story, hook: Any) -> DatabaseSite:
    site = story.site
    return DatabaseSite(
        name=site.name, dns_name=site.dns_name,
        source=HookedSide(story.stand_in.source, hook("on-premises")),
        target=HookedSide(story.stand_in.target, hook("aws")),
        source_address=site.source_address, target_address=site.target_address,
        forward=site.forward, reverse=site.reverse, tables=site.tables,
        lag_threshold_s=site.lag_threshold_s, drain_timeout_s=site.drain_timeout_s,
    )  # fmt: skip


def test_a_lambda_freeze_hook_moves_the_writer_both_ways_without_loss(story: Story) -> None:
    function = FreezeFunction(story)
    site = _hooked(
        story, lambda side: LambdaFreeze(function, "freeze-orders", database=story.name, side=side)
    )
    wait_running(story.stand_in.forward)
    workload = Workload(story.resolve).start()
    try:
        time.sleep(0.3)
        assert story.cutover.cutover(site).phase is Phase.CUT_OVER
        wait_running(story.stand_in.reverse)
        time.sleep(0.3)
        assert story.cutover.failback(site).phase is Phase.FAILED_BACK
        time.sleep(0.3)
    finally:
        workload.stop()
    result = audit(story.stand_in.source, workload.acknowledged)
    assert (result.lost, result.duplicated) == (0, 0)
    assert workload.by_side["aws"] > 0
    assert function.calls == [
        ("status", "aws"), ("freeze", "on-premises"), ("unfreeze", "aws"),
        ("status", "on-premises"), ("freeze", "aws"), ("unfreeze", "on-premises"),
    ]  # fmt: skip


def test_a_failing_hook_leaves_the_writer_where_it_was(story: Story) -> None:
    function = FreezeFunction(story)
    function.error = "maintenance mode API returned 503"
    site = _hooked(
        story, lambda side: LambdaFreeze(function, "freeze-orders", database=story.name, side=side)
    )
    wait_running(story.stand_in.forward)
    with pytest.raises(DatabaseStepError) as err:
        story.cutover.cutover(site)
    assert str(err.value).startswith(
        f"database {story.name}: freeze hook lambda:freeze-orders (status, aws) failed:"
        ' function error: b\'{"errorMessage": "maintenance mode API returned 503"}\''
    )
    assert story.writer() == "on-premises" and not story.stand_in.source.is_frozen()
    head = story.tracking.current(db_id(story.name))
    assert head is not None and head.phase is Phase.IN_SYNC


def test_manual_freeze_waits_for_the_operator(story: Story) -> None:
    asked: list[str] = []

    def operator(side: str, does: bool) -> Any:
        db = story.stand_in.source if side == "on-premises" else story.stand_in.target

        def confirm(question: str, timeout_s: float) -> bool:
            asked.append(question)
            assert timeout_s == 600
            if not does:
                return False  # nobody answered in time
            if question.startswith("Stop every"):
                db.freeze()
            elif question.startswith("Allow"):
                db.unfreeze()
            else:
                return db.is_frozen()
            return True

        return confirm

    def manual(does: bool) -> Any:
        return lambda side: ManualFreeze(
            operator(side, does), database=story.name, side=side, timeout_s=600
        )

    wait_running(story.stand_in.forward)
    absent = _hooked(story, manual(False))
    with pytest.raises(
        DatabaseStepError, match=r"manual freeze \(aws\) failed: not confirmed within 600 s"
    ):
        story.cutover.cutover(absent)
    assert story.writer() == "on-premises" and not story.stand_in.source.is_frozen()
    assert story.cutover.cutover(_hooked(story, manual(True))).phase is Phase.CUT_OVER
    assert story.writer() == "aws" and story.stand_in.source.is_frozen()
    assert asked[-3:] == [
        f"Is {story.name} on aws closed to application writes?",
        f"Stop every application write to {story.name} on on-premises now (sessions ended,"
        " writes refused). Done?",
        f"Allow application writes to {story.name} on aws.",
    ]
