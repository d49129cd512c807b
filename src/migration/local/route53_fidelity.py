"""Make moto's Route 53 honour DELETE the way Route 53 does (a documented moto gap).

Route 53 applies a ChangeResourceRecordSets batch atomically, and a DELETE must name the
record set exactly as it currently is (name, type, set identifier, weight, TTL, values):
"Tried to delete resource record set ... but the values provided do not match the current
values" (InvalidChangeBatch), and a CREATE of a set that exists fails the same way. The
cutover controller relies on that: it moves weights with DELETE(current pair) +
CREATE(new pair), so a batch fails whole if anything (a rollback) moved the records since
it read them.

moto 5.2 differs in two ways that would hide exactly the race this guards against: it
accepts a DELETE whose values match any earlier CREATE/UPSERT of the name, not the current
record, and a DELETE with a SetIdentifier removes every record set of the zone with that
identifier, across names. :func:`install` wraps the backend's
``change_resource_record_sets``: batches without DELETE/CREATE keep moto's behaviour;
others are validated against the zone's current record sets first, then applied set by set.
Idempotent; used by the local emulator and the tests (never shipped to Lambda).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

_INSTALLED = "_migration_route53_fidelity"

Key = tuple[str, str, str | None]


def _key(name: str, rtype: str, set_identifier: str | None) -> Key:
    return (name.rstrip(".").lower() + ".", rtype, set_identifier)


def _values(record_set: dict[str, Any]) -> list[str]:
    return [str(rr["Value"]) for rr in record_set.get("ResourceRecords", [])]


def _same(current: Any, wanted: dict[str, Any]) -> bool:
    weight = wanted.get("Weight")
    return (
        (current.ttl is None or int(current.ttl) == int(wanted.get("TTL", -1)))
        and (weight is None or int(current.weight or 0) == int(weight))
        and list(current.records or []) == _values(wanted)
    )


def _describe(record_set: dict[str, Any]) -> str:
    return (
        f"[name='{record_set['Name'].rstrip('.')}.', type='{record_set['Type']}'"
        + (
            f", set-identifier='{record_set['SetIdentifier']}'"
            if record_set.get("SetIdentifier")
            else ""
        )
        + "]"
    )


def install() -> None:
    """Patch moto's Route53Backend once per process."""
    from moto.route53.exceptions import Route53ClientError
    from moto.route53.models import Route53Backend

    if getattr(Route53Backend, _INSTALLED, False):
        return
    original: Callable[..., None] = Route53Backend.change_resource_record_sets

    def invalid(message: str) -> Exception:
        return Route53ClientError("InvalidChangeBatch", message)

    def change_resource_record_sets(
        self: Any, zoneid: str, change_list: list[dict[str, Any]]
    ) -> None:
        if not any(change["Action"] in ("DELETE", "CREATE") for change in change_list):
            original(self, zoneid, change_list)
            return
        zone = self.get_hosted_zone(zoneid)
        present: dict[Key, Any] = {_key(r.name, r.type, r.set_identifier): r for r in zone.rrsets}
        problems: list[str] = []
        for change in change_list:
            record_set = change["ResourceRecordSet"]
            key = _key(record_set["Name"], record_set["Type"], record_set.get("SetIdentifier"))
            action = change["Action"]
            if action == "DELETE":
                current = present.get(key)
                if current is None:
                    problems.append(
                        f"Tried to delete resource record set {_describe(record_set)} "
                        "but it was not found"
                    )
                elif not _same(current, record_set):
                    problems.append(
                        f"Tried to delete resource record set {_describe(record_set)} "
                        "but the values provided do not match the current values"
                    )
                present.pop(key, None)
            elif action == "CREATE":
                if key in present:
                    problems.append(
                        f"Tried to create resource record set {_describe(record_set)} "
                        "but it already exists"
                    )
                present[key] = record_set
            else:
                present[key] = record_set
        if problems:
            raise invalid("[" + ", ".join(problems) + "]")
        for change in change_list:
            record_set = dict(change["ResourceRecordSet"])
            if not record_set["Name"].endswith("."):
                record_set["Name"] += "."
            key = _key(record_set["Name"], record_set["Type"], record_set.get("SetIdentifier"))
            zone.rrsets = [r for r in zone.rrsets if _key(r.name, r.type, r.set_identifier) != key]
            if change["Action"] != "DELETE":
                record_set["ResourceRecords"] = _values(record_set)
                zone.add_rrset(record_set)
            zone.rr_changes.append(
                {"Action": change["Action"], "ResourceRecordSet": dict(change["ResourceRecordSet"])}
            )

    Route53Backend.change_resource_record_sets = change_resource_record_sets  # type: ignore[method-assign]
    setattr(Route53Backend, _INSTALLED, True)
