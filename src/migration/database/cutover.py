"""Database cutover and failback: move the writer without losing an acknowledged write.

Both are one procedure, :meth:`DatabaseCutover._move`, run in opposite directions:

1. gates on the outgoing replication (running, lag under the threshold, validation clean);
2. freeze the old writer, then read its position (every acknowledged commit is before it);
3. drain: wait until the outgoing replication's slot confirmed that position (timeout:
   unfreeze the old writer, go back, fail);
4. consistency check of the plan's tables (counts and chunked checksums; mismatch: the same);
   sequences carried over (replication does not carry them);
5. stop the outgoing replication, read the new writer's position (it is still frozen);
6. switch the name, unfreeze the new writer, start the incoming replication from that position.

Every step checks the real state before acting, and progress is recorded on the head item of
``db#<name>`` (``cutoverState``: run, step, positions) with version-guarded writes: a crash
anywhere followed by a rerun reaches the same end state, and two concurrent runs cannot both
record a step. Steps 1-4 can be undone (the old writer is unfrozen); from step 5 on the only
way is forward, which a rerun completes.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from migration.database.errors import (
    DatabaseAccessError,
    DatabaseRequestError,
    DatabaseStepError,
)
from migration.database.postgres import TableDigest, lsn_value
from migration.database.replication import Replication
from migration.database.writer_name import NameTarget, WriterName
from migration.tracking import Head, Phase, TrackingStore, db_id

Progress = Callable[[str], None]


class Side(Protocol):
    """One database (source or target) as the cutover uses it."""

    @property
    def where(self) -> str: ...

    def is_frozen(self) -> bool: ...
    def freeze(self) -> int: ...
    def unfreeze(self) -> None: ...
    def current_position(self) -> str: ...
    def slot_position(self, slot: str) -> str | None: ...
    def tables(self, selections: Sequence[tuple[str, str]]) -> list[tuple[str, str]]: ...
    def digest(self, schema: str, table: str) -> TableDigest: ...
    def sequences(self, schemas: Sequence[str]) -> dict[str, int]: ...
    def advance_sequences(self, values: dict[str, int]) -> None: ...


@dataclass(frozen=True)
class DatabaseSite:
    """Everything the cutover of one planned database needs, wired."""

    name: str
    dns_name: str
    source: Side
    target: Side
    source_address: str
    target_address: str
    forward: Replication
    reverse: Replication
    tables: tuple[tuple[str, str], ...] = (("%", "%"),)
    lag_threshold_s: float = 60.0
    drain_timeout_s: float = 300.0


@dataclass(frozen=True)
class _Direction:
    run: str
    frozen: Phase
    done: Phase
    back_to: Phase
    start_phases: frozenset[Phase | None]
    old_label: str
    new_label: str


CUTOVER = _Direction(
    run="cutover",
    frozen=Phase.WRITES_FROZEN,
    done=Phase.CUT_OVER,
    back_to=Phase.REPLICATING,
    start_phases=frozenset({None, Phase.REPLICATING, Phase.IN_SYNC, Phase.FAILED_BACK}),
    old_label="on-premises",
    new_label="AWS",
)
FAILBACK = _Direction(
    run="failback",
    frozen=Phase.FAILBACK_FROZEN,
    done=Phase.FAILED_BACK,
    back_to=Phase.CUT_OVER,
    start_phases=frozenset({Phase.CUT_OVER}),
    old_label="AWS",
    new_label="on-premises",
)

# Steps recorded in cutoverState.step while frozen.
FROZEN, CHECKED, STOPPED = "frozen", "checked", "stopped"


def _ends(db: DatabaseSite, d: _Direction) -> tuple[Side, Side, Replication, Replication, str]:
    """Old writer, new writer, outgoing and incoming replication, new address."""
    if d is CUTOVER:
        return db.source, db.target, db.forward, db.reverse, db.target_address
    return db.target, db.source, db.reverse, db.forward, db.source_address


class DatabaseCutover:
    """Runs ``cutover`` and ``failback`` of planned databases; see the module docstring."""

    def __init__(
        self,
        tracking: TrackingStore,
        name: WriterName,
        *,
        actor: str = "migration",
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        poll_s: float = 0.1,
        progress: Progress | None = None,
    ) -> None:
        self._tracking = tracking
        self._name = name
        self._actor = actor
        self._monotonic = monotonic
        self._sleep = sleep
        self._poll_s = poll_s
        self._progress = progress or (lambda _line: None)

    # -- public ---------------------------------------------------------------------------

    def cutover(self, db: DatabaseSite) -> Head:
        """Make the AWS database the writer; returns the head (CUT_OVER)."""
        return self._move(db, CUTOVER)

    def failback(self, db: DatabaseSite) -> Head:
        """Make the on-premises database the writer again; returns the head (FAILED_BACK)."""
        return self._move(db, FAILBACK)

    def check_request(self, db: DatabaseSite, run: str) -> Head | None:
        """The head, or DatabaseRequestError if ``run`` cannot start or resume from it."""
        d = CUTOVER if run == "cutover" else FAILBACK
        head = self._tracking.current(db_id(db.name))
        self._resuming(db, d, head)
        return head

    # -- the procedure -----------------------------------------------------------------------

    def _resuming(self, db: DatabaseSite, d: _Direction, head: Head | None) -> bool:
        phase = head.phase if head else None
        if head is not None and phase is d.frozen and head.state.get("run") == d.run:
            return True
        if phase is d.done:
            raise DatabaseRequestError(
                db.name, f"is already {phase}: the {d.new_label} database is the writer"
            )
        if phase in (CUTOVER.frozen, FAILBACK.frozen):
            other = "failback" if d is CUTOVER else "cutover"
            raise DatabaseRequestError(
                db.name, f"a {other} is in progress ({phase}); finish it with migrate db {other}"
            )
        if phase not in d.start_phases:
            needs = ", ".join(sorted(str(p) for p in d.start_phases if p is not None))
            hint = "; it was never cut over" if d is FAILBACK else ""
            raise DatabaseRequestError(
                db.name, f"is {phase or 'not tracked yet'}; a {d.run} needs {needs}{hint}"
            )
        return False

    def _move(self, db: DatabaseSite, d: _Direction) -> Head:
        head = self._tracking.current(db_id(db.name))
        if head is not None and self._resuming(db, d, head):
            self._progress(f"{db.name}: resuming the {d.run} at step {head.state.get('step')}")
        else:
            self._resuming(db, d, head)
            head = self._freeze(db, d, head)
        if head.state.get("step") == FROZEN:
            head = self._drain_and_check(db, d, head)
        if head.state.get("step") == CHECKED:
            head = self._stop_outgoing(db, d, head)
        return self._switch(db, d, head)

    def _record(
        self, db: DatabaseSite, head: Head | None, phase: Phase, reason: str, **state: Any
    ) -> Head:
        self._tracking.transition(
            db_id(db.name),
            phase,
            expected_version=head.version if head else 0,
            actor=self._actor,
            reason=reason,
            details={k: v for k, v in state.items() if v is not None} or None,
            state={k: v for k, v in state.items() if v is not None},
        )
        latest = self._tracking.current(db_id(db.name))
        assert latest is not None
        return latest

    def _freeze(self, db: DatabaseSite, d: _Direction, head: Head | None) -> Head:
        old, new, outgoing, _, _ = _ends(db, d)
        self._gates(db, d, outgoing)
        if d is CUTOVER:
            head = self._record(db, head, Phase.IN_SYNC, "gates passed")
        if not new.is_frozen():
            # The new writer is a read-only replica until the switch; make sure of it.
            new.freeze()
        self._progress(f"{db.name}: freezing writes on {d.old_label}")
        try:
            ended = old.freeze()
            position = old.current_position()
        except (DatabaseAccessError, DatabaseStepError):
            self._unfreeze_quietly(old)
            raise
        self._progress(
            f"{db.name}: writes frozen on {d.old_label} ({ended} session(s) ended) at {position}"
        )
        return self._record(
            db, head, d.frozen, f"writes frozen on {d.old_label}",
            run=d.run, step=FROZEN, freezePosition=position,
        )  # fmt: skip

    def _gates(self, db: DatabaseSite, d: _Direction, outgoing: Replication) -> None:
        problems = outgoing.health(db.lag_threshold_s)
        if problems:
            raise DatabaseStepError(
                db.name, f"gates ({d.old_label} -> {d.new_label})", "; ".join(problems)
            )

    def _drain_and_check(self, db: DatabaseSite, d: _Direction, head: Head) -> Head:
        old, new, outgoing, _, _ = _ends(db, d)
        position = str(head.state["freezePosition"])
        try:
            waited = self._drain(db, old, outgoing.slot, position)
            self._progress(f"{db.name}: drained: {outgoing.slot} confirmed {position}")
            checked = self._check(db, old, new, d)
            new.advance_sequences(old.sequences(sorted({s for s, _ in db.tables})))
        except (DatabaseStepError, DatabaseAccessError) as exc:
            # Before the outgoing replication stops, going back is safe: the old writer
            # takes writes again. If it cannot be reached, stay frozen (a rerun resumes).
            if self._unfreeze_quietly(old):
                self._record(db, head, d.back_to, str(exc))
            raise
        self._progress(f"{db.name}: consistent: {checked}")
        return self._record(
            db, head, d.frozen, f"drained in {waited:.1f} s; {checked}",
            run=d.run, step=CHECKED, freezePosition=position,
        )  # fmt: skip

    def _drain(self, db: DatabaseSite, old: Side, slot: str, position: str) -> float:
        start = self._monotonic()
        deadline = start + db.drain_timeout_s
        target = lsn_value(position)
        while True:
            confirmed = old.slot_position(slot)
            if confirmed is not None and lsn_value(confirmed) >= target:
                return self._monotonic() - start
            if self._monotonic() >= deadline:
                raise DatabaseStepError(
                    db.name,
                    "drain",
                    f"slot {slot} confirmed {confirmed or 'nothing'}, not {position}, within"
                    f" {db.drain_timeout_s:g} s; writes were unfrozen where they were",
                )
            self._sleep(self._poll_s)

    def _check(self, db: DatabaseSite, old: Side, new: Side, d: _Direction) -> str:
        old_tables = old.tables(db.tables)
        new_tables = new.tables(db.tables)
        if old_tables != new_tables:
            missing = sorted(set(old_tables) ^ set(new_tables))
            names = ", ".join(f"{s}.{t}" for s, t in missing)
            raise DatabaseStepError(db.name, "consistency check", f"tables differ: {names}")
        rows = 0
        for schema, table in old_tables:
            a, b = old.digest(schema, table), new.digest(schema, table)
            if a.rows != b.rows:
                raise DatabaseStepError(
                    db.name,
                    "consistency check",
                    f"{a.name}: {a.rows} rows on {d.old_label}, {b.rows} on {d.new_label}",
                )
            if a.checksum != b.checksum:
                raise DatabaseStepError(
                    db.name, "consistency check", f"{a.name}: {a.rows} rows but checksums differ"
                )
            rows += a.rows
        return f"{len(old_tables)} table(s), {rows} row(s) identical"

    def _stop_outgoing(self, db: DatabaseSite, d: _Direction, head: Head) -> Head:
        _, new, outgoing, _, _ = _ends(db, d)
        outgoing.stop()
        position = new.current_position()
        self._progress(f"{db.name}: {d.old_label} -> {d.new_label} replication stopped")
        return self._record(
            db, head, d.frozen, f"replication stopped; {d.new_label} at {position}",
            run=d.run, step=STOPPED, freezePosition=head.state.get("freezePosition"),
            switchPosition=position,
        )  # fmt: skip

    def _switch(self, db: DatabaseSite, d: _Direction, head: Head) -> Head:
        _, new, _, incoming, address = _ends(db, d)
        position = str(head.state["switchPosition"])
        if self._name.point(db.dns_name, NameTarget.for_address(address)):
            self._progress(f"{db.name}: {db.dns_name} -> {address}")
        new.unfreeze()
        incoming.start(position)
        self._progress(f"{db.name}: writes open on {d.new_label}; replication back from {position}")
        return self._record(
            db, head, d.done, f"the {d.new_label} database is the writer",
            freezePosition=head.state.get("freezePosition"), switchPosition=position,
        )  # fmt: skip

    @staticmethod
    def _unfreeze_quietly(side: Side) -> bool:
        """Unfreeze; False (not raised) if that fails: the original error is the one to report."""
        try:
            side.unfreeze()
        except (DatabaseAccessError, DatabaseStepError):
            return False
        return True


def summary(head: Head | None) -> Mapping[str, Any]:
    """What ``migrate db status`` shows of a database's head."""
    if head is None:
        return {"phase": "not tracked"}
    return {"phase": str(head.phase), **dict(head.state)}
