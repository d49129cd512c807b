"""Signals moto does not emulate, supplied explicitly for local runs (the demo).

moto has no ``dms.describe_table_statistics`` and returns VPN connections without tunnel
telemetry, so the validation and VPN gates could never pass against the emulator. These
wrappers answer exactly those two calls, from values the caller states, and forward every other
call to the real (emulated) client. They are never used against a real account, and the demo
prints that they are in use.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


class DmsWithValidation:
    """A DMS client whose ``describe_table_statistics`` reports the given validation state."""

    def __init__(
        self, inner: Any, tables: Sequence[tuple[str, str]], *, state: str = "Validated"
    ) -> None:
        self._inner = inner
        self._tables = list(tables)
        self.state = state

    def describe_table_statistics(self, **kwargs: Any) -> dict[str, Any]:
        # Same precondition as the real call: the task must exist.
        arn = kwargs["ReplicationTaskArn"]
        self._inner.describe_replication_tasks(
            Filters=[{"Name": "replication-task-arn", "Values": [arn]}]
        )
        return {
            "ReplicationTaskArn": arn,
            "TableStatistics": [
                {
                    "SchemaName": schema,
                    "TableName": table,
                    "ValidationState": self.state,
                    "ValidationFailedRecords": 0,
                }
                for schema, table in self._tables
            ],
        }

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


class Ec2WithTunnels:
    """An EC2 client whose VPN connections report the given tunnel statuses."""

    def __init__(self, inner: Any, statuses: Sequence[str] = ("UP", "UP")) -> None:
        self._inner = inner
        self.statuses = list(statuses)

    def describe_vpn_connections(self, **kwargs: Any) -> dict[str, Any]:
        response = dict(self._inner.describe_vpn_connections(**kwargs))
        connections = []
        for connection in response.get("VpnConnections", []):
            connection = dict(connection)
            if not connection.get("VgwTelemetry"):
                connection["VgwTelemetry"] = [
                    {"OutsideIpAddress": f"198.51.100.{i + 1}", "Status": status}
                    for i, status in enumerate(self.statuses)
                ]
            connections.append(connection)
        response["VpnConnections"] = connections
        return response

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)
