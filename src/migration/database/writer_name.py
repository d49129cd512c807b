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
                " register the plan (`migrate plan apply` creates the record) and retry"
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

    def create(self, name: str, target: NameTarget) -> bool:
        """Create ``name`` pointing at ``target`` (plan registration); False when a record
        already exists (whatever it points at: after a cutover, the AWS writer)."""
        if self._record(name) is not None:
            return False
        self._change(name, [("CREATE", self._new(name, target))], f"database name: {name}")
        return True

    def delete(self, name: str, expected: NameTarget) -> None:
        """Delete ``name`` if it still points exactly at ``expected`` (Route 53 refuses the
        DELETE otherwise); nothing when it is gone already."""
        record = self._record(name)
        if record is None:
            return
        if NameTarget(record["Type"], _plain(record)) != expected:
            raise MigrationError(
                f"database name {name} points at {_plain(record)}, not {expected.value}: "
                "left in place"
            )
        self._change(name, [("DELETE", record)], f"database name removed: {name}")

    def _new(self, name: str, target: NameTarget) -> dict[str, Any]:
        return {
            "Name": _fqdn(name),
            "Type": target.type,
            "TTL": self._ttl,
            "ResourceRecords": [{"Value": target.value}],
        }

    def _change(self, name: str, changes: list[tuple[str, dict[str, Any]]], why: str) -> None:
        self._route53.change_resource_record_sets(
            HostedZoneId=self._zone,
            ChangeBatch={
                "Comment": why,
                "Changes": [{"Action": a, "ResourceRecordSet": r} for a, r in changes],
            },
        )


def _plain(record: dict[str, Any]) -> str:
    value = str(record["ResourceRecords"][0]["Value"])
    return value.rstrip(".").lower() if record["Type"] == "CNAME" else value
