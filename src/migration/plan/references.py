"""The checks across a plan's entries: names unique in one namespace, DNS names inside the zone
and used once, addresses on the right side, alarms, databases and servers that exist.

``reference_problems`` yields every problem, in the order of the file, as (location, message).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence

from migration.database.names import writer_name
from migration.plan.constants import BUILTIN_ALARMS
from migration.plan.errors import Loc, format_path
from migration.plan.model import Alarm, Application, Database, Site, Wave, outside
from migration.plan.validators import is_ipv4


def default_dns_name(app: Application, zone: str) -> str:
    """The application's record name: its own, else ``<name>.<zone>``."""
    return app.dns_name or f"{app.name}.{zone}"


def default_database_name(db: Database, zone: str) -> str:
    """The one name of a database: its own, else ``<name>.db.<zone>``."""
    return db.dns_name or writer_name(db.name, zone)


def reference_problems(
    site: Site, alarms: Sequence[Alarm], waves: Sequence[Wave]
) -> Iterator[tuple[Loc, str]]:
    """Every problem between the plan's entries: (location, message)."""
    defined_alarms: dict[str, int] = {}
    for i, alarm in enumerate(alarms):
        loc: Loc = ("alarms", i, "name")
        if alarm.name in BUILTIN_ALARMS:
            yield loc, f"{alarm.name!r} is a built-in alarm; do not declare it"
        elif alarm.name in defined_alarms:
            yield (
                loc,
                f"{alarm.name!r} is already declared by alarms[{defined_alarms[alarm.name]}]",
            )
        else:
            defined_alarms[alarm.name] = i
    checks = _References(
        site,
        known_alarms=BUILTIN_ALARMS | defined_alarms.keys(),
        known_databases={db.name for wave in waves for db in wave.databases},
        known_servers={server.id for wave in waves for server in wave.servers},
    )
    for w, wave in enumerate(waves):
        yield from checks.wave(w, wave)
    # Database names after every application's: the message names the application.
    for w, wave in enumerate(waves):
        for d, db in enumerate(wave.databases):
            yield from checks.database_name(("waves", w, "databases", d), db)


class _References:
    """The names seen so far (one namespace) and the DNS names taken so far."""

    def __init__(
        self,
        site: Site,
        known_alarms: Iterable[str],
        known_databases: set[str],
        known_servers: set[str],
    ):
        self.site = site
        self.zone = site.dns_zone
        self.known_alarms = set(known_alarms)
        self.known_databases = known_databases
        self.known_servers = known_servers
        self.names: dict[str, Loc] = {}
        self.dns_names: dict[str, Loc] = {}

    def unique(self, name: str, where: Loc, field: str) -> Iterator[tuple[Loc, str]]:
        if name in self.names:
            yield (*where, field), f"{name!r} is already used by {format_path(self.names[name])}"
        else:
            self.names[name] = where

    def wave(self, w: int, wave: Wave) -> Iterator[tuple[Loc, str]]:
        yield from self.unique(wave.name, ("waves", w), "name")
        for a, app in enumerate(wave.applications):
            yield from self.application(("waves", w, "applications", a), app)
        for d, db in enumerate(wave.databases):
            where: Loc = ("waves", w, "databases", d)
            yield from self.unique(db.name, where, "name")
            host = db.source.host
            if is_ipv4(host) and not self.site.is_on_premises(host):
                yield (*where, "source", "host"), outside(host)
        for s, server in enumerate(wave.servers):
            where = ("waves", w, "servers", s)
            yield from self.unique(server.id, where, "id")
            if not self.site.is_on_premises(server.ip):
                yield (*where, "ip"), outside(server.ip)

    def application(self, where: Loc, app: Application) -> Iterator[tuple[Loc, str]]:
        yield from self.unique(app.name, where, "name")
        yield from self.application_name(where, app)
        yield from _address_problems(self.site, app, where)
        yield from _list_problems(
            app.alarms,
            (*where, "alarms"),
            self.known_alarms,
            lambda name: (
                f"unknown alarm {name!r}: declare it in the top-level alarms list or use"
                f" a built-in one ({', '.join(sorted(BUILTIN_ALARMS))})"
            ),
        )
        yield from _list_problems(
            app.databases,
            (*where, "databases"),
            self.known_databases,
            lambda name: f"unknown database {name!r}: no wave migrates a database of that name",
        )
        yield from _list_problems(
            app.servers,
            (*where, "servers"),
            self.known_servers,
            lambda name: f"unknown server {name!r}: no wave migrates a server of that id",
        )

    def application_name(self, where: Loc, app: Application) -> Iterator[tuple[Loc, str]]:
        zone = self.zone
        dns_name = default_dns_name(app, zone)
        if dns_name != zone and not dns_name.endswith(f".{zone}"):
            yield (*where, "dns_name"), f"{dns_name!r} is not inside the DNS zone {zone!r}"
        elif dns_name == zone and app.record_type == "CNAME":
            yield (
                (*where, "dns_name"),
                "a CNAME record cannot be at the zone apex; use a name inside the zone",
            )
        elif dns_name in self.dns_names:
            yield (
                (*where, "dns_name"),
                f"{dns_name!r} is already used by {format_path(self.dns_names[dns_name])}",
            )
        else:
            self.dns_names[dns_name] = where

    def database_name(self, at: Loc, db: Database) -> Iterator[tuple[Loc, str]]:
        zone = self.zone
        where = (*at, "dns_name")
        dns_name = default_database_name(db, zone)
        if dns_name == zone or not dns_name.endswith(f".{zone}"):
            yield where, f"{dns_name!r} is not a name inside the DNS zone {zone!r}"
        elif dns_name in self.dns_names:
            yield (
                where,
                f"{dns_name!r} is already used by {format_path(self.dns_names[dns_name])}",
            )
        else:
            self.dns_names[dns_name] = at


def _address_problems(site: Site, app: Application, where: Loc) -> Iterator[tuple[Loc, str]]:
    if app.record_type != "A":
        return
    if not site.is_on_premises(app.on_premises_address):
        yield (*where, "on_premises_address"), outside(app.on_premises_address)
    if site.is_on_premises(app.aws_address):
        yield (
            (*where, "aws_address"),
            f"{app.aws_address} is inside site.on_premises_cidrs; it must be an address in AWS",
        )


def _list_problems(
    values: Sequence[str], where: Loc, known: Iterable[str], unknown: Callable[[str], str]
) -> Iterator[tuple[Loc, str]]:
    known = set(known)
    seen: set[str] = set()
    for i, value in enumerate(values):
        if value in seen:
            yield (*where, i), f"{value!r} is listed twice"
        elif value not in known:
            yield (*where, i), unknown(value)
        seen.add(value)
