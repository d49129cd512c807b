"""Database credentials, read only from the Secrets Manager secret the plan names."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Literal

from botocore.exceptions import BotoCoreError, ClientError

from migration.database.errors import DatabaseAccessError

SslMode = Literal["prefer", "require", "verify-full", "disable"]
SSL_MODES: tuple[str, ...] = ("prefer", "require", "verify-full", "disable")


@dataclass(frozen=True)
class Credentials:
    """Where and as whom to connect. ``password`` never appears in repr or messages."""

    host: str
    port: int
    database: str
    username: str
    password: str = field(repr=False)
    sslmode: SslMode = "prefer"
    where: str = ""
    """What the errors call this connection, e.g. ``orders-db source (192.168.20.10:5432)``."""


def read_credentials(
    secrets: Any, secret_id: str, *, host: str, port: int, database: str, where: str
) -> Credentials:
    """Credentials from a secret in the RDS shape (``username``, ``password``, optional
    ``host``/``port``/``dbname``/``sslmode``); the plan's host, port and database win unless
    the secret overrides them. Any problem is one DatabaseAccessError naming the secret."""
    label = f"{where}: secret {secret_id}"
    try:
        raw = secrets.get_secret_value(SecretId=secret_id)["SecretString"]
    except (ClientError, BotoCoreError, KeyError) as exc:
        code = exc.response["Error"]["Code"] if isinstance(exc, ClientError) else type(exc).__name__
        raise DatabaseAccessError(label, f"cannot be read ({code})") from None
    try:
        data = json.loads(raw)
    except json.JSONDecodeError:
        raise DatabaseAccessError(
            label, "is not a JSON object with username and password"
        ) from None
    if not isinstance(data, dict):
        raise DatabaseAccessError(label, "is not a JSON object with username and password")
    username, password = data.get("username"), data.get("password")
    if not isinstance(username, str) or not username or not isinstance(password, str):
        raise DatabaseAccessError(label, "needs the keys username and password (strings)")
    sslmode = data.get("sslmode", "prefer")
    if sslmode not in SSL_MODES:
        raise DatabaseAccessError(label, f"sslmode must be one of {', '.join(SSL_MODES)}")
    try:
        port = int(data.get("port", port))
    except (TypeError, ValueError):
        raise DatabaseAccessError(label, "port must be a number") from None
    return Credentials(
        host=str(data.get("host") or host),
        port=port,
        database=str(data.get("dbname") or database),
        username=username,
        password=password,
        sslmode=sslmode,
        where=where,
    )
