"""Database cutover and failback on two real PostgreSQL clusters, with a concurrent writer."""

from __future__ import annotations

import time

from migration.local.database_stand_in import Workload, audit
from migration.tracking import Phase, db_id
from tests.database.conftest import Story, wait_running


def _wait_rows(workload: Workload, more: int, timeout_s: float = 10.0) -> None:
    goal = len(workload.acknowledged) + more
    deadline = time.monotonic() + timeout_s
    while len(workload.acknowledged) < goal:
        assert time.monotonic() < deadline, "the workload stopped writing"
        time.sleep(0.01)


def test_cutover_then_failback_loses_and_duplicates_no_acknowledged_row(story: Story) -> None:
    wait_running(story.stand_in.forward)
    workload = Workload(story.resolve).start()
    try:
        _wait_rows(workload, 50)
        head = story.cutover.cutover(story.site)
        assert head.phase is Phase.CUT_OVER
        assert story.writer() == "aws"
        _wait_rows(workload, 50)
        assert workload.by_side["aws"] >= 50
        wait_running(story.stand_in.reverse)
        head = story.cutover.failback(story.site)
        assert head.phase is Phase.FAILED_BACK
        assert story.writer() == "on-premises"
        _wait_rows(workload, 50)
    finally:
        workload.stop()
    result = audit(story.stand_in.source, workload.acknowledged)
    assert (result.lost, result.duplicated) == (0, 0), result
    assert result.acknowledged >= 150
    # AWS is a frozen replica again, on-premises takes writes.
    assert story.stand_in.target.is_frozen() and not story.stand_in.source.is_frozen()
    phases = [entry.phase for entry in story.tracking.history(db_id(story.name))]
    assert phases == [
        Phase.IN_SYNC, Phase.WRITES_FROZEN, Phase.WRITES_FROZEN, Phase.WRITES_FROZEN,
        Phase.CUT_OVER, Phase.FAILBACK_FROZEN, Phase.FAILBACK_FROZEN, Phase.FAILBACK_FROZEN,
        Phase.FAILED_BACK,
    ]  # fmt: skip
