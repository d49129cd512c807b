"""A DMS replication task as :class:`migration.database.replication.Replication`.

Health comes from the same DMS gates the application cutover uses (task running, CDC
latency from CloudWatch, table validation). ``stop`` stops the task and waits until DMS
says ``stopped``; ``start`` starts CDC from a recorded position: ``start-replication`` the
first time (the reverse task was only prepared by the stack), ``resume-processing`` after
(the forward task's full load is done and must not run again). For a PostgreSQL source the
position is an LSN, read by DMS from the slot the endpoint names (``SlotName``).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from migration.errors import MigrationError
from migration.gates import Gates

STOPPED = frozenset({"stopped", "ready", "failed"})
NEVER_STARTED = frozenset({"ready", "creating"})
WAIT_TIMEOUT_S = 900.0
POLL_S = 5.0


class DmsReplication:
    """One DMS task: forward (on-premises -> AWS) or reverse."""

    def __init__(
        self,
        dms: Any,
        gates: Gates,
        *,
        database: str,
        task_identifier: str,
        slot: str,
        sleep: Callable[[float], None] = time.sleep,
        monotonic: Callable[[], float] = time.monotonic,
        poll_s: float = POLL_S,
        timeout_s: float = WAIT_TIMEOUT_S,
    ) -> None:
        self._dms = dms
        self._gates = gates
        self.database = database
        self.task_identifier = task_identifier
        self.slot = slot
        self._sleep = sleep
        self._monotonic = monotonic
        self._poll_s = poll_s
        self._timeout_s = timeout_s

    def _task(self) -> dict[str, Any]:
        tasks = self._dms.describe_replication_tasks(
            Filters=[{"Name": "replication-task-id", "Values": [self.task_identifier]}],
            WithoutSettings=True,
        ).get("ReplicationTasks", [])
        for task in tasks:
            if task.get("ReplicationTaskIdentifier") == self.task_identifier:
                return dict(task)
        raise MigrationError(
            f"replication task {self.task_identifier} does not exist; deploy the stack first"
        )

    def status(self) -> str:
        return str(self._task().get("Status", "unknown"))

    def running(self) -> bool:
        return self.status() == "running"

    def health(self, lag_threshold_s: float) -> list[str]:
        return [r.detail for r in self._gates.dms_gates(self.database, lag_threshold_s) if not r.ok]

    def stop(self) -> None:
        task = self._task()
        if task.get("Status") in STOPPED:
            return
        if task.get("Status") != "stopping":
            self._dms.stop_replication_task(ReplicationTaskArn=task["ReplicationTaskArn"])
        self._wait_for(STOPPED, "stop")

    def start(self, from_position: str) -> None:
        task = self._task()
        status = task.get("Status")
        if status in ("running", "starting"):
            self._wait_for(frozenset({"running"}), "start")
            return
        self._dms.start_replication_task(
            ReplicationTaskArn=task["ReplicationTaskArn"],
            StartReplicationTaskType=(
                "start-replication" if status in NEVER_STARTED else "resume-processing"
            ),
            CdcStartPosition=from_position,
        )
        self._wait_for(frozenset({"running"}), "start")

    def _wait_for(self, statuses: frozenset[str], what: str) -> None:
        deadline = self._monotonic() + self._timeout_s
        while True:
            status = self.status()
            if status in statuses:
                return
            if status == "failed" or self._monotonic() >= deadline:
                raise MigrationError(
                    f"replication task {self.task_identifier} is {status} after the {what}"
                    f" (waited up to {self._timeout_s:g} s); see the task in the DMS console"
                )
            self._sleep(self._poll_s)
