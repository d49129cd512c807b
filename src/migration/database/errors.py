"""Errors of the database cutover; one line each, never a password."""

from __future__ import annotations

from migration.errors import MigrationError


class DatabaseAccessError(MigrationError):
    """A database cannot be reached, refuses the credentials, or a statement failed."""

    def __init__(self, where: str, problem: str) -> None:
        self.where = where
        super().__init__(f"{where}: {problem}")


class DatabaseStepError(MigrationError):
    """A cutover or failback step failed; the writer was left unchanged and unfrozen."""

    def __init__(self, database: str, step: str, problem: str) -> None:
        self.database = database
        self.step = step
        super().__init__(f"database {database}: {step} failed: {problem}")


class DatabaseRequestError(MigrationError):
    """The request itself is wrong for the database's state (a user's mistake: exit 2)."""

    def __init__(self, database: str, problem: str) -> None:
        self.database = database
        super().__init__(f"database {database}: {problem}")
