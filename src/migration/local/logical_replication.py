"""PostgreSQL logical replication: the local stand-in for a DMS task, and nothing else.

DMS cannot run offline. Locally, one direction of a database's replication is a publication
on the publishing database and a subscription on the subscribing one, reading the slot named
like the DMS endpoint's (:func:`migration.database.names.slot_name`). It implements
:class:`migration.database.replication.Replication`; the cutover's freeze, drain proof,
consistency check, name switch and phases are the production code either way.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from pg8000.native import identifier, literal

from migration.database.credentials import Credentials
from migration.database.errors import DatabaseAccessError
from migration.database.postgres import PostgresDatabase, lsn_value

STOP_TIMEOUT_S = 30.0


def conninfo(credentials: Credentials) -> str:
    """libpq connection string the subscriber uses to reach the publisher."""
    c = credentials
    parts = {
        "host": c.host,
        "port": str(c.port),
        "dbname": c.database,
        "user": c.username,
        "password": c.password,
    }
    return " ".join(f"{k}={_quote(v)}" for k, v in parts.items())


def _quote(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


class LogicalReplication:
    """One direction: ``publisher`` -> ``subscriber`` through subscription ``name``."""

    def __init__(
        self,
        publisher: PostgresDatabase,
        subscriber: PostgresDatabase,
        *,
        name: str,
        slot: str,
        sleep: Callable[[float], None] = time.sleep,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.publisher = publisher
        self.subscriber = subscriber
        self.name = name
        self.slot = slot
        self._sleep = sleep
        self._monotonic = monotonic

    # -- set-up (what the stack's DMS task is in production) --------------------------------

    def create(self, *, enabled: bool, copy_data: bool) -> None:
        """Publication of every table, and the subscription with its slot (idempotent)."""
        sub = identifier(self.name)
        if not self.publisher.query("SELECT 1 FROM pg_publication WHERE pubname = :n", n=self.name):
            self.publisher.query(f"CREATE PUBLICATION {sub} FOR ALL TABLES")
        if self.subscriber.query("SELECT 1 FROM pg_subscription WHERE subname = :n", n=self.name):
            return
        options = (
            f"slot_name = {literal(self.slot)}, create_slot = true,"
            f" enabled = {str(enabled).lower()}, copy_data = {str(copy_data).lower()}"
        )
        self.subscriber.query(
            f"CREATE SUBSCRIPTION {sub} CONNECTION {literal(conninfo(self.publisher.credentials))}"
            f" PUBLICATION {sub} WITH ({options})"
        )

    # -- Replication ----------------------------------------------------------------------

    def _enabled(self) -> bool:
        rows = self.subscriber.query(
            "SELECT subenabled FROM pg_subscription WHERE subname = :n", n=self.name
        )
        return bool(rows and rows[0][0])

    def running(self) -> bool:
        if not self._enabled():
            return False
        rows = self.subscriber.query(
            "SELECT count(*) FROM pg_stat_subscription WHERE subname = :n AND pid IS NOT NULL",
            n=self.name,
        )
        return int(rows[0][0]) > 0

    def lag_seconds(self) -> float | None:
        rows = self.publisher.query(
            "SELECT extract(epoch FROM coalesce(replay_lag, interval '0'))::float8"
            " FROM pg_stat_replication WHERE application_name = :n",
            n=self.name,
        )
        return float(rows[0][0]) if rows else None

    def problems(self) -> list[str]:
        rows = self.subscriber.query(
            "SELECT r.srrelid::regclass::text, r.srsubstate FROM pg_subscription_rel r"
            " JOIN pg_subscription s ON s.oid = r.srsubid"
            " WHERE s.subname = :n AND r.srsubstate <> 'r' ORDER BY 1",
            n=self.name,
        )
        return [f"table {table} is not in sync (state {state})" for table, state in rows]

    def health(self, lag_threshold_s: float) -> list[str]:
        if not self.running():
            return [f"replication {self.name} is not running"]
        problems = self.problems()
        lag = self.lag_seconds()
        if lag is None:
            problems.append(f"replication {self.name}: lag unknown (no walsender reports it)")
        elif lag > lag_threshold_s:
            problems.append(f"replication {self.name}: lag {lag:.1f} s over {lag_threshold_s:g} s")
        return problems

    def wait_healthy(self, timeout_s: float = 30.0, lag_threshold_s: float = 60.0) -> None:
        """Wait until :meth:`health` finds nothing: an enabled subscription's worker starts
        shortly after, its walsender reports the lag a moment later, and an initial copy
        takes its time. Raises DatabaseAccessError naming what is still wrong."""
        deadline = self._monotonic() + timeout_s
        while problems := self.health(lag_threshold_s):
            if self._monotonic() >= deadline:
                raise DatabaseAccessError(
                    self.subscriber.where,
                    f"not healthy after {timeout_s:g} s: {'; '.join(problems)}",
                )
            self._sleep(0.02)

    def stop(self) -> None:
        if self._enabled():
            self.subscriber.query(f"ALTER SUBSCRIPTION {identifier(self.name)} DISABLE")
        # The apply worker notices a disable only between batches; end it now (a disabled
        # subscription is not restarted), which also ends its walsender on the publisher.
        self.subscriber.query(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_subscription"
            " WHERE subname = :n AND pid IS NOT NULL",
            n=self.name,
        )
        self._wait_released()

    def _wait_released(self) -> None:
        deadline = self._monotonic() + STOP_TIMEOUT_S
        while self.publisher.query(
            "SELECT 1 FROM pg_replication_slots WHERE slot_name = :s AND active", s=self.slot
        ):
            if self._monotonic() >= deadline:
                raise DatabaseAccessError(
                    self.publisher.where,
                    f"slot {self.slot} still in use {STOP_TIMEOUT_S:g} s after the stop",
                )
            self._sleep(0.05)

    def start(self, from_position: str) -> None:
        if self._enabled():
            return
        self._wait_released()
        confirmed = self.publisher.slot_position(self.slot)
        if confirmed is None or lsn_value(confirmed) < lsn_value(from_position):
            # Skip what the slot holds before the position: those changes came from the
            # other direction's replication and must not travel back.
            self.publisher.query(
                "SELECT end_lsn::text FROM pg_replication_slot_advance(:s, CAST(:p AS pg_lsn))",
                s=self.slot,
                p=from_position,
            )
        self.subscriber.query(f"ALTER SUBSCRIPTION {identifier(self.name)} ENABLE")
