"""What the cutover needs from a replication, whichever product runs it.

Production: a DMS task (:mod:`migration.database.dms`). Locally: PostgreSQL's logical
replication (:mod:`migration.local.logical_replication`), the stand-in for DMS and nothing
else. The drain proof does not trust the replication's own report: it reads the confirmed
position of the replication's slot on the publishing database.
"""

from __future__ import annotations

from typing import Protocol


class Replication(Protocol):
    """One direction of a database's replication (forward or reverse)."""

    slot: str
    """Logical replication slot it reads on the publishing (old writer's) database."""

    def running(self) -> bool:
        """Whether changes are being applied now."""
        ...

    def health(self, lag_threshold_s: float) -> list[str]:
        """Why a cutover must not start now: not running, lag unknown or over the
        threshold, tables not validated. Empty when healthy."""
        ...

    def stop(self) -> None:
        """Stop applying changes (idempotent); returns once the slot is released."""
        ...

    def start(self, from_position: str) -> None:
        """Apply changes committed after ``from_position`` (idempotent: a running
        replication is left alone; a slot already past the position is not moved back)."""
        ...
