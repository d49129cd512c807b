"""A crash before or after every step of the cutover and of the failback, then a rerun.

Every call that changes something (a tracking write, a freeze or unfreeze, the sequences,
stopping or starting a replication, the name switch) is a crash point, before and after it.
A workload writes through the database's name for the whole test; at the end every
acknowledged row is in the writer exactly once.
"""

from __future__ import annotations

from typing import Any

import pytest

from migration.database.cutover import DatabaseCutover, DatabaseSite
from migration.database.errors import DatabaseRequestError
from migration.local.database_stand_in import Workload, audit
from migration.tracking import Phase, db_id
from tests.database.conftest import Story, wait_running

MUTATING = {
    "side": ("freeze", "unfreeze", "advance_sequences"),
    "replication": ("stop", "start"),
    "name": ("point",),
    "tracking": ("transition",),
}


class Crash(Exception):
    """The injected crash."""


class Crasher:
    def __init__(self, at: int | None) -> None:
        self.at = at
        self.points: list[str] = []

    def tick(self, label: str) -> None:
        self.points.append(label)
        if len(self.points) == self.at:
            raise Crash(label)


class Proxy:
    """Forwards everything to ``target``; the mutating methods tick the crasher around."""

    def __init__(self, target: Any, label: str, methods: tuple[str, ...], crasher: Crasher):
        self._target, self._label, self._methods, self._crasher = target, label, methods, crasher

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._target, name)
        if name not in self._methods:
            return attr

        def wrapped(*args: Any, **kwargs: Any) -> Any:
            self._crasher.tick(f"before {self._label}.{name}")
            result = attr(*args, **kwargs)
            self._crasher.tick(f"after {self._label}.{name}")
            return result

        return wrapped


def _service(story: Story, crasher: Crasher) -> tuple[DatabaseCutover, DatabaseSite]:
    site = story.site
    crashing = DatabaseSite(
        name=site.name,
        dns_name=site.dns_name,
        source=Proxy(site.source, "source", MUTATING["side"], crasher),  # type: ignore[arg-type]
        target=Proxy(site.target, "target", MUTATING["side"], crasher),  # type: ignore[arg-type]
        source_address=site.source_address,
        target_address=site.target_address,
        forward=Proxy(site.forward, "forward", MUTATING["replication"], crasher),  # type: ignore[arg-type]
        reverse=Proxy(site.reverse, "reverse", MUTATING["replication"], crasher),  # type: ignore[arg-type]
        tables=site.tables,
        lag_threshold_s=site.lag_threshold_s,
        drain_timeout_s=site.drain_timeout_s,
    )
    tracking = Proxy(story.tracking, "tracking", MUTATING["tracking"], crasher)
    name = Proxy(story.cutover._name, "name", MUTATING["name"], crasher)
    return DatabaseCutover(tracking, name), crashing  # type: ignore[arg-type]


def _run(story: Story, op: str, crasher: Crasher) -> None:
    service, site = _service(story, crasher)
    getattr(service, op)(site)


def _assert_end_state(story: Story, op: str) -> None:
    head = story.tracking.current(db_id(story.name))
    assert head is not None
    s = story.stand_in
    if op == "cutover":
        assert head.phase is Phase.CUT_OVER
        assert story.writer() == "aws"
        assert (s.source.is_frozen(), s.target.is_frozen()) == (True, False)
        wait_running(s.reverse)
        assert not s.forward.running()
    else:
        assert head.phase is Phase.FAILED_BACK
        assert story.writer() == "on-premises"
        assert (s.source.is_frozen(), s.target.is_frozen()) == (False, True)
        wait_running(s.forward)
        assert not s.reverse.running()


def _points(story: Story) -> dict[str, list[str]]:
    """The crash points of a clean cutover and a clean failback."""
    points = {}
    for op, before in (("cutover", None), ("failback", story.stand_in.reverse)):
        if before is not None:
            wait_running(before)
        crasher = Crasher(None)
        _run(story, op, crasher)
        points[op] = crasher.points
    wait_running(story.stand_in.forward)
    return points


def test_crash_at_every_step_then_rerun_reaches_the_same_end_state(story: Story) -> None:
    wait_running(story.stand_in.forward)
    workload = Workload(story.resolve).start()
    try:
        points = _points(story)
        assert len(points["cutover"]) == 22 and len(points["failback"]) == 20, points
        for op in ("cutover", "failback"):
            for at, label in enumerate(points[op], start=1):
                if op == "failback":
                    story.cutover.cutover(story.site)
                    wait_running(story.stand_in.reverse)
                with pytest.raises(Crash, match=label.replace(".", r"\.")):
                    _run(story, op, Crasher(at))
                if at < len(points[op]):
                    getattr(story.cutover, op)(story.site)  # the rerun
                else:  # crashed after recording the end: a rerun is refused, nothing to do
                    with pytest.raises(DatabaseRequestError, match="is already"):
                        getattr(story.cutover, op)(story.site)
                _assert_end_state(story, op)
                if op == "cutover":
                    wait_running(story.stand_in.reverse)
                    story.cutover.failback(story.site)
                    wait_running(story.stand_in.forward)
    finally:
        workload.stop()
    result = audit(story.stand_in.source, workload.acknowledged)
    assert (result.lost, result.duplicated) == (0, 0), result
    assert workload.by_side["aws"] > 0 and workload.by_side["on-premises"] > 0
