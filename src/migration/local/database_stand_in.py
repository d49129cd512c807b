"""A planned database on the two local clusters, replicated as DMS would, and a workload.

:func:`prepare` does locally what the stack and DMS do in a real account: the database and
its schema on both sides, forward replication running (initial copy, then changes), reverse
replication prepared but not started (its slot exists), the AWS copy frozen (read-only
replica). :class:`Workload` writes numbered rows through the database's name during the
whole story, the way an application would, and :func:`audit` counts what it finds.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

import pg8000.native
from pg8000.exceptions import DatabaseError, InterfaceError
from pg8000.native import identifier

from migration.database.credentials import Credentials
from migration.database.names import slot_name
from migration.database.postgres import PostgresDatabase
from migration.local.logical_replication import LogicalReplication
from migration.local.postgres_clusters import APP_USER, Cluster

WORKLOAD_TABLE = "writes"
SCHEMA = f"""
CREATE TABLE IF NOT EXISTS public.{WORKLOAD_TABLE} (
    id bigserial PRIMARY KEY,
    seq bigint NOT NULL,
    side text NOT NULL
)
"""


@dataclass(frozen=True)
class StandIn:
    """Both sides of one database and its two replications."""

    source: PostgresDatabase
    target: PostgresDatabase
    forward: LogicalReplication
    reverse: LogicalReplication


def _create(cluster: Cluster, database: str) -> PostgresDatabase:
    admin = PostgresDatabase(cluster.credentials("postgres"))
    if not admin.query("SELECT 1 FROM pg_database WHERE datname = :d", d=database):
        admin.query(f"CREATE DATABASE {identifier(database)}")
    if not admin.query("SELECT 1 FROM pg_roles WHERE rolname = :r", r=APP_USER):
        admin.query(
            f"CREATE ROLE {identifier(APP_USER)} LOGIN PASSWORD"
            f" {pg8000.native.literal(cluster.app_password)}"
        )
    db = PostgresDatabase(cluster.credentials(database))
    db.query(SCHEMA)
    db.query(f"GRANT INSERT, SELECT ON public.{WORKLOAD_TABLE} TO {identifier(APP_USER)}")
    db.query(f"GRANT USAGE ON SEQUENCE public.{WORKLOAD_TABLE}_id_seq TO {identifier(APP_USER)}")
    return db


def prepare(name: str, database: str, onprem: Cluster, aws: Cluster) -> StandIn:
    """Set up database ``database`` (planned as ``name``) on both clusters; idempotent."""
    source, target = _create(onprem, database), _create(aws, database)
    target.freeze()
    forward = LogicalReplication(
        source, target, name=f"{slot_name(name, 'forward')}", slot=slot_name(name, "forward")
    )
    reverse = LogicalReplication(
        target, source, name=f"{slot_name(name, 'reverse')}", slot=slot_name(name, "reverse")
    )
    forward.create(enabled=True, copy_data=True)
    reverse.create(enabled=False, copy_data=False)
    return StandIn(source, target, forward, reverse)


@dataclass
class Workload:
    """Writes row after row through ``resolve()`` (the database's name) until stopped.

    A row is *acknowledged* when its INSERT's commit returned; a failed attempt (frozen
    database, ended session, switch in progress) is retried as a new row after a short pause,
    the way an application retries a failed request.
    """

    resolve: Callable[[], tuple[Credentials, str]]
    """Current (credentials, side label) the name leads to."""
    pause_s: float = 0.005
    acknowledged: list[int] = field(default_factory=list)
    failures: int = 0
    by_side: Counter[str] = field(default_factory=Counter)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> Workload:
        self._thread = threading.Thread(target=self._run, name="workload", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)

    def _run(self) -> None:
        seq = 0
        conn = None
        side = ""
        while not self._stop.is_set():
            seq += 1
            try:
                if conn is None:
                    credentials, side = self.resolve()
                    conn = _connect(credentials)
                conn.run(
                    f"INSERT INTO public.{WORKLOAD_TABLE} (seq, side) VALUES (:seq, :side)",
                    seq=seq,
                    side=side,
                )
                self.acknowledged.append(seq)
                self.by_side[side] += 1
            except (DatabaseError, InterfaceError, OSError):
                self.failures += 1
                _close(conn)
                conn = None
                time.sleep(self.pause_s * 4)
                continue
            time.sleep(self.pause_s)
        _close(conn)


def _connect(credentials: Credentials) -> pg8000.native.Connection:
    return pg8000.native.Connection(
        credentials.username,
        host=credentials.host,
        port=credentials.port,
        database=credentials.database,
        password=credentials.password,
        timeout=5,
    )


def _close(conn: pg8000.native.Connection | None) -> None:
    if conn is not None:
        with contextlib.suppress(InterfaceError, OSError):
            conn.close()


@dataclass(frozen=True)
class Audit:
    """Acknowledged rows found in the writer: lost = absent, duplicated = more than once."""

    acknowledged: int
    present: int
    lost: int
    duplicated: int


def audit(writer: PostgresDatabase, acknowledged: list[int]) -> Audit:
    rows = writer.query(f"SELECT seq, count(*) FROM public.{WORKLOAD_TABLE} GROUP BY seq")
    counts = {int(seq): int(n) for seq, n in rows}
    lost = sum(1 for seq in acknowledged if seq not in counts)
    duplicated = sum(1 for seq in acknowledged if counts.get(seq, 0) > 1)
    return Audit(len(acknowledged), sum(counts.values()), lost, duplicated)
