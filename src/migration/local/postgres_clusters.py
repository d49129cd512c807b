"""Two throw-away PostgreSQL 15 clusters on 127.0.0.1: "on-premises" and "aws".

For the tests and the demo of the database cutover. ``initdb`` refuses to run as root, so
as root the clusters run as the ``postgres`` user (``runuser``); otherwise as the current
user. The binaries come from ``$MIGRATION_PG_BIN`` or ``/usr/lib/postgresql/15/bin``.
Both clusters use ``wal_level = logical`` (the replication stand-in needs it) and password
authentication (so a wrong secret is refused as it would be on a real server).
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import socket
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

from migration.database.credentials import Credentials

DEFAULT_PG_BIN = "/usr/lib/postgresql/15/bin"
ADMIN = "admin"
APP_USER = "app"

_SETTINGS = """
listen_addresses = '127.0.0.1'
port = {port}
unix_socket_directories = '{socket_dir}'
wal_level = logical
max_replication_slots = 64
max_wal_senders = 64
max_logical_replication_workers = 24
max_worker_processes = 40
max_connections = 200
wal_retrieve_retry_interval = 200ms
fsync = off
synchronous_commit = on
full_page_writes = off
log_min_messages = warning
"""


class ClusterError(RuntimeError):
    """A local cluster could not be created or started (the message says why)."""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Cluster:
    """One running cluster."""

    label: str
    port: int
    data_dir: Path
    admin_password: str = field(repr=False)
    app_password: str = field(repr=False)

    def credentials(
        self, database: str, *, user: str = ADMIN, password: str | None = None
    ) -> Credentials:
        secret = (
            password
            if password is not None
            else (self.admin_password if user == ADMIN else self.app_password)
        )
        return Credentials(
            host="127.0.0.1",
            port=self.port,
            database=database,
            username=user,
            password=secret,
            where=f"{database} {self.label} (127.0.0.1:{self.port})",
        )


class LocalClusters:
    """Context manager: ``with LocalClusters() as (onprem, aws): ...``."""

    def __init__(self, labels: tuple[str, str] = ("on-premises", "aws")) -> None:
        self.labels = labels
        self.bin = Path(os.environ.get("MIGRATION_PG_BIN", DEFAULT_PG_BIN))
        self.root: Path | None = None
        self.clusters: list[Cluster] = []

    def _run(self, *args: str | Path) -> None:
        command = [str(a) for a in args]
        if os.geteuid() == 0:
            command = ["runuser", "-u", "postgres", "--", *command]
        result = subprocess.run(command, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            detail = (result.stderr or result.stdout).strip().splitlines()
            raise ClusterError(
                f"{Path(args[0]).name}: {detail[-1] if detail else result.returncode}"
            )

    def __enter__(self) -> tuple[Cluster, Cluster]:
        if not (self.bin / "initdb").exists():
            raise ClusterError(
                f"no PostgreSQL server binaries in {self.bin}; install PostgreSQL 15"
                " (Debian: postgresql-15) or set MIGRATION_PG_BIN"
            )
        self.root = Path(tempfile.mkdtemp(prefix="migration-pg-"))
        self.root.chmod(0o777)
        if os.geteuid() == 0:
            shutil.chown(self.root, "postgres")
        try:
            for label in self.labels:
                self.clusters.append(self._start(label))
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self.clusters[0], self.clusters[1]

    def _start(self, label: str) -> Cluster:
        assert self.root is not None
        port = _free_port()
        data = self.root / label
        pwfile = self.root / f"{label}.pw"
        admin_password = secrets.token_urlsafe(18)
        pwfile.write_text(admin_password + "\n")
        pwfile.chmod(0o644)
        self._run(
            self.bin / "initdb", "-D", str(data), "-U", ADMIN, f"--pwfile={pwfile}",
            "--auth=scram-sha-256", "-E", "UTF8", "--locale=C.UTF-8",
        )  # fmt: skip
        pwfile.unlink()
        settings = _SETTINGS.format(port=port, socket_dir=self.root)
        conf = data / "postgresql.conf"
        self._run("sh", "-c", f"cat >> {conf} <<'EOF'\n{settings}\nEOF")
        self._run(self.bin / "pg_ctl", "-D", str(data), "-l", str(self.root / f"{label}.log"),
                  "-w", "-t", "60", "start")  # fmt: skip
        return Cluster(label, port, data, admin_password, secrets.token_urlsafe(18))

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        for cluster in self.clusters:
            with contextlib.suppress(ClusterError):
                self._run(
                    self.bin / "pg_ctl", "-D", str(cluster.data_dir), "-m", "immediate", "stop"
                )
        self.clusters = []
        if self.root is not None:
            shutil.rmtree(self.root, ignore_errors=True)
            self.root = None
