"""The plan registry: the registered plan, as data in the tracking table.

``migrate plan apply`` registers the plan here; the rollback function, the cutover controller
and ``migrate status`` read it from here. Nothing that grows with the plan lives in a stack or
in a Lambda environment (see docs/plan-registry.md).

One partition of the tracking table, ``serverId = "plan"``:

* ``timestamp = "meta"``: the digest of the registered plan, when and by whom it was applied,
  the waves in plan order with their number of applications and databases;
* ``timestamp = "app#<name>"``: one item per application: wave, record name and type, the two
  addresses, the databases it uses and the alarms it lists;
* ``timestamp = "db#<name>"``: one item per database: wave, writer name, engine and the name of
  its CDC latency alarm (from the deployment's outputs when the plan was applied);
* ``timestamp = "roster#<wave index:04>#<chunk:04>"``: per wave, its applications' names in
  plan order, at most ``ROSTER_NAMES`` a chunk (names are at most 63 characters: a chunk is
  under 70 KB), so a page of ``migrate status`` reads one or two of them, never the
  application items;
* ``timestamp = "summary"``: the summary snapshot (applications per wave and phase, and when it
  was computed), written by the cutover controller each tick and by ``migrate plan apply``
  (:mod:`migration.summary`).

Every item is small (a few hundred bytes; an application listing many alarms a few KB), so a
plan of any size fits: 10,000 applications are about 3 MB, read in a few 1 MB query pages.
No registry item has a ``migrationPhase``: the registry stays out of the phase index.

Only the standard library and boto3 are imported: this module ships to Lambda.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from migration.errors import MigrationError
from migration.item_size import MAX_ITEM_BYTES, item_size
from migration.tracking import from_item, to_item

REGISTRY_ID = "plan"
META_KEY = "meta"
APP_PREFIX = "app#"
DB_PREFIX = "db#"
ROSTER_PREFIX = "roster#"
SUMMARY_KEY = "summary"
ROSTER_NAMES = 1000
"""Application names a roster item holds (its last chunk fewer)."""
REGISTRY_FORMAT = 1
BATCH_WRITE_ITEMS = 25
"""BatchWriteItem's limit of requests per call."""
MAX_UNPROCESSED_ROUNDS = 8


@dataclass(frozen=True)
class RegisteredApplication:
    """What the runtime needs of one application (no step or bake settings: those travel
    with the wave definition stored when its cutover starts)."""

    name: str
    wave: str
    dns_name: str
    record_type: str
    on_premises_address: str
    aws_address: str
    databases: tuple[str, ...] = ()
    alarms: tuple[str, ...] = ()


@dataclass(frozen=True)
class RegisteredDatabase:
    """What the runtime needs of one database to route its alarm and find its writer name."""

    name: str
    wave: str
    dns_name: str
    engine: str
    source_host: str
    cdc_latency_alarm: str = ""


@dataclass(frozen=True)
class WaveSummary:
    """One wave of the registered plan: its name and size."""

    name: str
    applications: int
    databases: int


@dataclass(frozen=True)
class RegisteredPlan:
    """The registered plan: applications and databases by name, waves in plan order."""

    waves: tuple[WaveSummary, ...] = ()
    applications: Mapping[str, RegisteredApplication] = field(default_factory=dict)
    databases: Mapping[str, RegisteredDatabase] = field(default_factory=dict)
    digest: str = ""
    applied_at: str = ""
    applied_by: str = ""
    rosters: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    """Sort key -> roster item (plain values), as registered."""

    def alarm_applications(self, builtin_alarms: Iterable[str] = ()) -> dict[str, tuple[str, ...]]:
        """Alarm name -> the applications it rolls back (sorted).

        A database's CDC latency alarm targets the applications using the database; a plan
        alarm the applications listing it. Names in ``builtin_alarms`` (the stack's own
        alarms, e.g. both VPN tunnels down, which roll back everything) are left out.
        """
        builtin = set(builtin_alarms)
        targets: dict[str, set[str]] = {}
        for app in self.applications.values():
            for name in app.alarms:
                if name not in builtin:
                    targets.setdefault(name, set()).add(app.name)
            for database in app.databases:
                alarm = self.databases.get(database, None)
                if alarm is not None and alarm.cdc_latency_alarm:
                    targets.setdefault(alarm.cdc_latency_alarm, set()).add(app.name)
        return {alarm: tuple(sorted(apps)) for alarm, apps in sorted(targets.items())}

    def record_names(self) -> dict[str, str]:
        """Application -> its record name."""
        return {app.name: app.dns_name for app in self.applications.values()}

    def wave_of(self, application: str) -> str | None:
        """The wave of ``application``; None when it is not registered."""
        app = self.applications.get(application)
        return app.wave if app else None


def application_item(app: RegisteredApplication) -> dict[str, Any]:
    """The registry item of ``app`` (plain attributes)."""
    return {
        "serverId": REGISTRY_ID,
        "timestamp": f"{APP_PREFIX}{app.name}",
        "kind": "application",
        **_camel(asdict(app)),
    }


def database_item(database: RegisteredDatabase) -> dict[str, Any]:
    """The registry item of ``database`` (plain attributes)."""
    return {
        "serverId": REGISTRY_ID,
        "timestamp": f"{DB_PREFIX}{database.name}",
        "kind": "database",
        **_camel(asdict(database)),
    }


def roster_key(wave_index: int, chunk: int) -> str:
    """The sort key of chunk ``chunk`` of the roster of the ``wave_index``-th wave (from 0)."""
    return f"{ROSTER_PREFIX}{wave_index:04d}#{chunk:04d}"


def roster_items(waves: Iterable[tuple[str, Iterable[str]]]) -> dict[str, dict[str, Any]]:
    """The roster items of ``waves`` ((wave, application names in plan order), waves in plan
    order): sort key -> item. Names ``k * ROSTER_NAMES`` to ``(k + 1) * ROSTER_NAMES - 1`` of a
    wave are in its chunk ``k``; a wave without applications has no roster item."""
    items: dict[str, dict[str, Any]] = {}
    for index, (wave, names) in enumerate(waves):
        listed = list(names)
        for chunk, start in enumerate(range(0, len(listed), ROSTER_NAMES)):
            key = roster_key(index, chunk)
            item = {
                "serverId": REGISTRY_ID,
                "timestamp": key,
                "kind": "roster",
                "wave": wave,
                "first": start,
                "names": listed[start : start + ROSTER_NAMES],
            }
            size = item_size(to_item(item))
            if size > MAX_ITEM_BYTES // 2:
                raise MigrationError(f"roster {key} of wave {wave} would be {size} bytes")
            items[key] = item
    return items


def parse_roster(item: Mapping[str, Any]) -> tuple[str, int, tuple[str, ...]]:
    """A roster item as (wave, index of its first name in the wave, names)."""
    return str(item["wave"]), int(item["first"]), tuple(str(n) for n in item["names"])


def plan_digest(
    applications: Iterable[RegisteredApplication],
    databases: Iterable[RegisteredDatabase],
    waves: Iterable[WaveSummary],
) -> str:
    """SHA-256 of the registered content in canonical JSON (same plan, same digest)."""
    document = {
        "format": REGISTRY_FORMAT,
        "waves": [asdict(w) for w in waves],
        "applications": sorted((asdict(a) for a in applications), key=lambda a: a["name"]),
        "databases": sorted((asdict(d) for d in databases), key=lambda d: d["name"]),
    }
    text = json.dumps(document, sort_keys=True, separators=(",", ":"), default=list)
    return hashlib.sha256(text.encode()).hexdigest()


def _camel_name(name: str) -> str:
    first, *rest = name.split("_")
    return first + "".join(part.title() for part in rest)


def _camel(values: Mapping[str, Any]) -> dict[str, Any]:
    return {_camel_name(key): value for key, value in values.items()}


def _snake(values: Mapping[str, Any], names: Iterable[str]) -> dict[str, Any]:
    return {name: values[_camel_name(name)] for name in names if _camel_name(name) in values}


_APP_FIELDS = tuple(RegisteredApplication.__dataclass_fields__)
_DB_FIELDS = tuple(RegisteredDatabase.__dataclass_fields__)


def parse_application(item: Mapping[str, Any]) -> RegisteredApplication:
    """An application item back to its dataclass."""
    values = _snake(item, _APP_FIELDS)
    values["databases"] = tuple(values.get("databases") or ())
    values["alarms"] = tuple(values.get("alarms") or ())
    return RegisteredApplication(**values)


def parse_database(item: Mapping[str, Any]) -> RegisteredDatabase:
    """A database item back to its dataclass."""
    return RegisteredDatabase(**_snake(item, _DB_FIELDS))


class Registry:
    """Reads and writes the registered plan in the tracking table (client injected)."""

    def __init__(self, dynamodb_client: Any, table_name: str) -> None:
        self._client = dynamodb_client
        self._table = table_name

    def load(self, *, with_rosters: bool = True) -> RegisteredPlan | None:
        """The registered plan (one paginated query of its partition); None if none was.

        ``with_rosters=False`` (the functions: the rollback on every invocation, the controller
        every tick) reads only the applications, databases and meta, which sort before the
        rosters and the summary snapshot: less to read at 3 a.m."""
        meta: dict[str, Any] | None = None
        applications: dict[str, RegisteredApplication] = {}
        databases: dict[str, RegisteredDatabase] = {}
        rosters: dict[str, dict[str, Any]] = {}
        for item in self._items(with_rosters):
            key = str(item["timestamp"])
            if key == META_KEY:
                meta = item
            elif key.startswith(APP_PREFIX):
                app = parse_application(item)
                applications[app.name] = app
            elif key.startswith(DB_PREFIX):
                database = parse_database(item)
                databases[database.name] = database
            elif key.startswith(ROSTER_PREFIX):
                rosters[key] = item
        if meta is None:
            return None
        return RegisteredPlan(
            waves=tuple(
                WaveSummary(str(w["name"]), int(w["applications"]), int(w["databases"]))
                for w in meta.get("waves", [])
            ),
            applications=applications,
            databases=databases,
            digest=str(meta.get("digest", "")),
            applied_at=str(meta.get("appliedAt", "")),
            applied_by=str(meta.get("appliedBy", "")),
            rosters=rosters,
        )

    def _items(self, with_rosters: bool) -> Iterator[dict[str, Any]]:
        paginator = self._client.get_paginator("query")
        condition, names, values = "#pk = :pk", {"#pk": "serverId"}, {":pk": REGISTRY_ID}
        if not with_rosters:  # app#, db# and meta sort before roster# and summary
            condition += " AND #sk < :rosters"
            names["#sk"] = "timestamp"
            values[":rosters"] = ROSTER_PREFIX
        for page in paginator.paginate(
            TableName=self._table,
            KeyConditionExpression=condition,
            ExpressionAttributeNames=names,
            ExpressionAttributeValues=to_item(values),
            ConsistentRead=True,
        ):
            for item in page.get("Items", []):
                yield from_item(item)

    def write(
        self,
        puts: Iterable[Mapping[str, Any]],
        deletes: Iterable[str],
        meta: Mapping[str, Any] | None,
    ) -> int:
        """Put ``puts`` (items from :func:`application_item` / :func:`database_item`), delete
        the items whose sort keys are in ``deletes``, then put ``meta`` (the commit point a
        reader sees last). Returns the number of items written or deleted.

        Not atomic across items (a plan is larger than a transaction): a crash leaves some
        items written, and rerunning the apply converges (it compares item by item).
        """
        requests = [{"PutRequest": {"Item": to_item(item)}} for item in puts]
        requests += [
            {"DeleteRequest": {"Key": to_item({"serverId": REGISTRY_ID, "timestamp": key})}}
            for key in deletes
        ]
        for start in range(0, len(requests), BATCH_WRITE_ITEMS):
            self._batch_write(requests[start : start + BATCH_WRITE_ITEMS])
        if meta is not None:
            item = {**meta, "serverId": REGISTRY_ID, "timestamp": META_KEY}
            self._client.put_item(TableName=self._table, Item=to_item(item))
        return len(requests) + (meta is not None)

    def _batch_write(self, requests: list[dict[str, Any]]) -> None:
        pending = requests
        # Hand loop, not a waiter: BatchWriteItem returns what it did not process (throttled)
        # and the caller resends exactly that; botocore already backs off inside each call.
        for _ in range(MAX_UNPROCESSED_ROUNDS):
            response = self._client.batch_write_item(RequestItems={self._table: pending})
            pending = response.get("UnprocessedItems", {}).get(self._table, [])
            if not pending:
                return
        raise RegistryWriteError(
            f"table {self._table}: {len(pending)} registry writes still unprocessed after "
            f"{MAX_UNPROCESSED_ROUNDS} rounds (throttled); rerun the apply"
        )


class RegistryWriteError(MigrationError):
    """Registry items DynamoDB kept refusing (throttling); a rerun converges."""
