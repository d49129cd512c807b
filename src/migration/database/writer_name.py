"""The one name of a database: switched between the two writers in one Route 53 change."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Any, Literal

from migration.errors import MigrationError

NAME_TTL = 30
"""Seconds; matches the stack's record, so clients follow a switch within half a minute."""


@dataclass(frozen=True)
class NameTarget:
    """What the name resolves to: an A record (IPv4) or a CNAME (host name)."""

    type: Literal["A", "CNAME"]
    value: str

    @classmethod
    def for_address(cls, address: str) -> NameTarget:
        try:
            ipaddress.IPv4Address(address)
        except ValueError:
            return cls("CNAME", address.rstrip(".").lower())
        return cls("A", address)


def _fqdn(name: str) -> str:
    return name.rstrip(".").lower() + "."


class WriterName:
    """Reads and switches database names in the private hosted zone."""

    def __init__(self, route53: Any, hosted_zone_id: str, *, ttl: int = NAME_TTL) -> None:
        self._route53 = route53
        self._zone = hosted_zone_id
        self._ttl = ttl

    def _record(self, name: str) -> dict[str, Any] | None:
        response = self._route53.list_resource_record_sets(
            HostedZoneId=self._zone, StartRecordName=_fqdn(name), MaxItems="2"
        )
        for record in response.get("ResourceRecordSets", []):
            if record["Name"].lower() == _fqdn(name) and record["Type"] in ("A", "CNAME"):
                return dict(record)
        return None

    def current(self, name: str) -> NameTarget | None:
        record = self._record(name)
        if record is None:
            return None
        return NameTarget(record["Type"], _plain(record))

    def point(self, name: str, target: NameTarget) -> bool:
        """Point ``name`` at ``target``; False when it already did. One change batch: the
        record as read is deleted exactly and the new one created, so Route 53 refuses the
        whole batch if someone changed the record in between."""
        record = self._record(name)
        if record is None:
            raise MigrationError(
                f"database name {name} has no A or CNAME record in hosted zone {self._zone};"
                " deploy the stack (it creates the record) and retry"
            )
        if NameTarget(record["Type"], _plain(record)) == target:
            return False
        new = {
            "Name": _fqdn(name),
            "Type": target.type,
            "TTL": self._ttl,
            "ResourceRecords": [{"Value": target.value}],
        }
        self._route53.change_resource_record_sets(
            HostedZoneId=self._zone,
            ChangeBatch={
                "Comment": f"database writer: {name} -> {target.value}",
                "Changes": [
                    {"Action": "DELETE", "ResourceRecordSet": record},
                    {"Action": "CREATE", "ResourceRecordSet": new},
                ],
            },
        )
        return True


def _plain(record: dict[str, Any]) -> str:
    value = str(record["ResourceRecords"][0]["Value"])
    return value.rstrip(".").lower() if record["Type"] == "CNAME" else value
