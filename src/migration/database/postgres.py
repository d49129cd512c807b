"""PostgreSQL as the cutover sees it: freeze, positions, slots, checksums, sequences.

pg8000 (pure Python) so the same code can run in a Lambda asset. Every session gets a
statement timeout and a lock timeout; TLS is used when the server offers it (``sslmode``
of the secret: ``prefer`` falls back to plain, ``require`` refuses it, ``verify-full``
also checks the certificate and host name). Errors are :class:`DatabaseAccessError` naming
the database and side, never the password.
"""

from __future__ import annotations

import contextlib
import hashlib
import ssl
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import pg8000.native
from pg8000.exceptions import DatabaseError, InterfaceError
from pg8000.native import identifier

from migration.database.credentials import Credentials
from migration.database.errors import DatabaseAccessError

DEFAULT_STATEMENT_TIMEOUT_S = 30.0
DEFAULT_CONNECT_TIMEOUT_S = 10.0
DEFAULT_CHUNK_ROWS = 20_000
FREEZE_SETTLE_S = 0.3
"""How long no pre-freeze session may show up before the freeze counts as complete."""
FREEZE_POLL_S = 0.02
APPLICATION_NAME = "migration-cutover"
_SYSTEM_SCHEMAS = ("pg_catalog", "information_schema")


def lsn_value(lsn: str) -> int:
    """A PostgreSQL LSN (``16/B374D848``) as an integer, for comparisons."""
    high, _, low = lsn.partition("/")
    return (int(high, 16) << 32) | int(low, 16)


@dataclass(frozen=True)
class TableDigest:
    """Row count and ordered checksum of one table (None: no primary key, count only)."""

    schema: str
    table: str
    rows: int
    checksum: str | None

    @property
    def name(self) -> str:
        return f"{self.schema}.{self.table}"


def _like(pattern: str) -> str:
    """A DMS selection name (``%`` wildcard, everything else literal) as a LIKE pattern."""
    return pattern.replace("\\", "\\\\").replace("_", "\\_")


def _message(exc: Exception) -> str:
    if isinstance(exc, DatabaseError) and exc.args and isinstance(exc.args[0], dict):
        fields = exc.args[0]
        return f"{fields.get('M', 'error')} (SQLSTATE {fields.get('C', '?')})"
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return text


class PostgresDatabase:
    """One PostgreSQL database (one side of a replication), reached with its credentials."""

    engine = "postgres"

    def __init__(
        self,
        credentials: Credentials,
        *,
        statement_timeout_s: float = DEFAULT_STATEMENT_TIMEOUT_S,
        connect_timeout_s: float = DEFAULT_CONNECT_TIMEOUT_S,
        chunk_rows: int = DEFAULT_CHUNK_ROWS,
    ) -> None:
        self.credentials = credentials
        self.statement_timeout_s = statement_timeout_s
        self.connect_timeout_s = connect_timeout_s
        self.chunk_rows = chunk_rows
        self._conn: pg8000.native.Connection | None = None

    @property
    def where(self) -> str:
        c = self.credentials
        return c.where or f"{c.database} at {c.host}:{c.port}"

    # -- sessions -----------------------------------------------------------------------

    def _connect(self) -> pg8000.native.Connection:
        mode = self.credentials.sslmode
        if mode == "disable":
            return self._open(None)
        context = ssl.create_default_context()
        if mode != "verify-full":
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        try:
            return self._open(context)
        except InterfaceError as exc:
            if mode == "prefer" and "refuses SSL" in str(exc):
                return self._open(None)
            raise

    def _open(self, context: ssl.SSLContext | None) -> pg8000.native.Connection:
        c = self.credentials
        conn = pg8000.native.Connection(
            c.username,
            host=c.host,
            port=c.port,
            database=c.database,
            password=c.password,
            ssl_context=context,
            timeout=self.connect_timeout_s,
            application_name=APPLICATION_NAME,
        )
        timeout_ms = int(self.statement_timeout_s * 1000)
        conn.run(f"SET statement_timeout = {timeout_ms}")
        conn.run(f"SET lock_timeout = {timeout_ms}")
        # The runtime's own session must write (ALTER DATABASE) even on a frozen database.
        conn.run("SET default_transaction_read_only = off")
        return conn

    @contextmanager
    def session(self) -> Iterator[pg8000.native.Connection]:
        """The runtime's session (opened once, reopened after a failure); any failure
        becomes a DatabaseAccessError naming the database, never the password."""
        self._alive()
        try:
            if self._conn is None:
                self._conn = self._connect()
            yield self._conn
        except (InterfaceError, DatabaseError, OSError) as exc:
            self.close()
            raise DatabaseAccessError(self.where, _message(exc)) from None

    def _alive(self) -> None:
        """Drop the kept session if the server ended it (a freeze ends every other client
        session of the database, this runtime's other connections included)."""
        if self._conn is None:
            return
        try:
            self._conn.run("SELECT 1")
        except (InterfaceError, DatabaseError, OSError):
            self.close()

    def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(InterfaceError, OSError):
                conn.close()

    def query(self, sql: str, **params: Any) -> list[list[Any]]:
        with self.session() as conn:
            return list(conn.run(sql, **params) or [])

    # -- writes on or off -----------------------------------------------------------------

    def is_frozen(self) -> bool:
        rows = self.query(
            "SELECT coalesce(bool_or(s = 'default_transaction_read_only=on'), false)"
            " FROM pg_db_role_setting r, unnest(r.setconfig) s"
            " WHERE r.setrole = 0"
            " AND r.setdatabase = (SELECT oid FROM pg_database WHERE datname = current_database())"
        )
        return bool(rows[0][0])

    def freeze(self) -> int:
        """Make new transactions read-only and end the sessions that started before.

        A session loads the database's defaults after authenticating and only then shows
        in ``pg_stat_activity``: one that authenticated just before the ALTER can appear a
        moment later with the old (read-write) default. So the sessions that started
        before the ALTER are ended again until none has shown up for ``FREEZE_SETTLE_S``.
        Returns how many sessions were ended. Replication workers and walsenders are not
        client backends and keep running (the drain needs them).
        """
        with self.session() as conn:
            name = identifier(self.credentials.database)
            conn.run(f"ALTER DATABASE {name} SET default_transaction_read_only = on")
            frozen_at = conn.run("SELECT clock_timestamp()::text")[0][0]
            ended = 0
            settled = time.monotonic() + FREEZE_SETTLE_S
            while True:
                rows = conn.run(
                    "SELECT pg_terminate_backend(pid, 5000) FROM pg_stat_activity"
                    " WHERE datname = current_database() AND pid <> pg_backend_pid()"
                    " AND backend_type = 'client backend'"
                    " AND backend_start <= CAST(:frozen_at AS timestamptz)",
                    frozen_at=frozen_at,
                )
                ended += len(rows or [])
                if rows:
                    settled = time.monotonic() + FREEZE_SETTLE_S
                elif time.monotonic() >= settled:
                    return ended
                time.sleep(FREEZE_POLL_S)

    def unfreeze(self) -> None:
        with self.session() as conn:
            name = identifier(self.credentials.database)
            conn.run(f"ALTER DATABASE {name} RESET default_transaction_read_only")

    # -- positions ----------------------------------------------------------------------

    def current_position(self) -> str:
        """The end of the write-ahead log: every acknowledged commit is at or before it."""
        return str(self.query("SELECT pg_current_wal_lsn()::text")[0][0])

    def slot_position(self, slot: str) -> str | None:
        """Confirmed position of a logical slot: changes up to it were applied downstream."""
        rows = self.query(
            "SELECT confirmed_flush_lsn::text FROM pg_replication_slots WHERE slot_name = :slot",
            slot=slot,
        )
        return str(rows[0][0]) if rows and rows[0][0] is not None else None

    # -- consistency --------------------------------------------------------------------

    def tables(self, selections: Sequence[tuple[str, str]]) -> list[tuple[str, str]]:
        """Tables matching DMS-style selections (``%`` wildcard), sorted."""
        found: set[tuple[str, str]] = set()
        with self.session() as conn:
            for schema, table in selections:
                rows = conn.run(
                    "SELECT n.nspname, c.relname FROM pg_class c"
                    " JOIN pg_namespace n ON n.oid = c.relnamespace"
                    " WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition"
                    " AND n.nspname <> ALL(:system) AND n.nspname NOT LIKE 'pg\\_%'"
                    " AND n.nspname LIKE :schema AND c.relname LIKE :table",
                    system=list(_SYSTEM_SCHEMAS),
                    schema=_like(schema),
                    table=_like(table),
                )
                found.update((str(s), str(t)) for s, t in rows)
        return sorted(found)

    def digest(self, schema: str, table: str) -> TableDigest:
        """Row count and checksum, read in primary-key chunks (one short query each)."""
        qualified = f"{identifier(schema)}.{identifier(table)}"
        with self.session() as conn:
            keys = conn.run(
                "SELECT a.attname, format_type(a.atttypid, a.atttypmod)"
                " FROM pg_index i JOIN pg_attribute a"
                " ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey)"
                " WHERE i.indrelid = CAST(:rel AS regclass) AND i.indisprimary"
                " ORDER BY array_position(i.indkey::int2[], a.attnum)",
                rel=qualified,
            )
            if not keys:
                count = conn.run(f"SELECT count(*) FROM {qualified}")[0][0]
                return TableDigest(schema, table, int(count), None)
            return self._chunked_digest(conn, schema, table, qualified, keys)

    def _chunked_digest(
        self, conn: Any, schema: str, table: str, qualified: str, keys: list[list[Any]]
    ) -> TableDigest:
        """One short query per chunk of ``chunk_rows`` rows in key order; each returns the
        chunk's row count, the md5 of its rows' md5s in key order, and its last key (where
        the next chunk starts). Only those travel to the client, never the rows."""
        names = [identifier(str(name)) for name, _ in keys]
        columns = ", ".join(names)
        descending = ", ".join(f"{n} DESC" for n in names)
        last_key = ", ".join(f"(array_agg(c.{n}::text ORDER BY {descending}))[1]" for n in names)
        after = ", ".join(f"CAST(:k{i} AS {kind})" for i, (_, kind) in enumerate(keys))

        def chunk_sql(where: str) -> str:
            return (
                f"SELECT count(*), md5(string_agg(c.h, '' ORDER BY {columns})), {last_key}"
                f" FROM (SELECT {columns}, md5(t::text) AS h FROM {qualified} t {where}"
                f" ORDER BY {columns} LIMIT {self.chunk_rows}) c"
            )

        first, following = chunk_sql(""), chunk_sql(f"WHERE ({columns}) > ({after})")
        digest = hashlib.sha256()
        rows = 0
        count, chunk_hash, *last = conn.run(first)[0]
        while count:
            digest.update(str(chunk_hash).encode())
            rows += int(count)
            if count < self.chunk_rows:
                break
            params = {f"k{i}": value for i, value in enumerate(last)}
            count, chunk_hash, *last = conn.run(following, **params)[0]
        return TableDigest(schema, table, rows, digest.hexdigest())

    # -- sequences ----------------------------------------------------------------------

    def sequences(self, schemas: Sequence[str]) -> dict[str, int]:
        """Last value of every sequence in the schemas (LIKE patterns), by qualified name."""
        rows = self.query(
            "SELECT schemaname, sequencename, last_value FROM pg_sequences"
            " WHERE last_value IS NOT NULL AND schemaname LIKE ANY(:schemas)",
            schemas=[_like(s) for s in schemas],
        )
        return {f"{identifier(s)}.{identifier(n)}": int(v) for s, n, v in rows}

    def advance_sequences(self, values: dict[str, int]) -> None:
        """Set each sequence to at least the given value (replication does not carry them)."""
        with self.session() as conn:
            for name, value in sorted(values.items()):
                conn.run(
                    "SELECT setval(CAST(:name AS regclass), greatest(CAST(:value AS bigint),"
                    " (SELECT coalesce(last_value, 1) FROM pg_sequences"
                    "  WHERE format('%I.%I', schemaname, sequencename) = CAST(:same AS text))))",
                    name=name,
                    same=name,
                    value=value,
                )
