"""``migrate plan apply``: register a plan (diff first, refusals, records, registry items).

Registering makes the plan the runtime's: each application gets its weighted record pair
(created at 100% on-premises, so no deploy ever moves traffic), each database its writer
name (pointing at the on-premises source), and the registry (:mod:`migration.registry`) the
items the functions read. See docs/plan-registry.md.

The order of an apply: read the registry and the zone; compute the diff; refuse (changing
nothing) when it would drop or rename an application that has traffic on AWS, or a database
whose name no longer points at its source; otherwise change Route 53 first (exact DELETEs, so
a concurrent move makes Route 53 refuse), then the registry items, the meta item last. Every
step compares actual with desired state, so a rerun after a crash converges and a rerun after
success changes nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from migration.database.writer_name import NameTarget, WriterName
from migration.errors import MigrationError
from migration.outputs import StackOutputs
from migration.plan import Plan
from migration.registry import (
    APP_PREFIX,
    DB_PREFIX,
    ROSTER_PREFIX,
    RegisteredApplication,
    RegisteredDatabase,
    RegisteredPlan,
    Registry,
    WaveSummary,
    application_item,
    database_item,
    plan_digest,
    roster_items,
)
from migration.summary import SummarySnapshots
from migration.tracking import iso_timestamp, utc_now
from migration.traffic import (
    ApplicationRecords,
    PairChange,
    TrafficShifter,
    WeightedRecord,
    new_pair,
    normalise_name,
)


@dataclass(frozen=True)
class Desired:
    """What the registry should hold for a plan."""

    applications: dict[str, RegisteredApplication]
    databases: dict[str, RegisteredDatabase]
    waves: tuple[WaveSummary, ...]
    rosters: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Sort key -> roster item: each wave's application names in plan order."""

    @property
    def digest(self) -> str:
        return plan_digest(self.applications.values(), self.databases.values(), self.waves)


def desired_registration(plan: Plan, cdc_latency_alarms: Mapping[str, str]) -> Desired:
    """The registry content of ``plan``; ``cdc_latency_alarms`` maps a database to the name
    of its CDC latency alarm in the deployment (empty when unknown)."""
    applications = {
        app.name: RegisteredApplication(
            name=app.name,
            wave=wave.name,
            dns_name=normalise_name(app.dns_name).rstrip("."),
            record_type=app.record_type,
            on_premises_address=app.on_premises_address,
            aws_address=app.aws_address,
            databases=tuple(app.databases),
            alarms=tuple(app.alarms),
        )
        for wave in plan.waves
        for app in wave.applications
    }
    databases = {
        db.name: RegisteredDatabase(
            name=db.name,
            wave=wave.name,
            dns_name=normalise_name(db.dns_name).rstrip("."),
            engine=db.engine,
            source_host=db.source.host,
            cdc_latency_alarm=cdc_latency_alarms.get(db.name, ""),
        )
        for wave in plan.waves
        for db in wave.databases
    }
    waves = tuple(WaveSummary(w.name, len(w.applications), len(w.databases)) for w in plan.waves)
    rosters = roster_items((w.name, [app.name for app in w.applications]) for w in plan.waves)
    return Desired(applications, databases, waves, rosters)


@dataclass
class PlanDiff:
    """What an apply changes, what it refuses, and the Route 53 work it implies."""

    added: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    changed: dict[str, list[str]] = field(default_factory=dict)
    pair_changes: list[PairChange] = field(default_factory=list)
    names_to_create: list[RegisteredDatabase] = field(default_factory=list)
    names_to_delete: list[RegisteredDatabase] = field(default_factory=list)
    refusals: list[str] = field(default_factory=list)
    registry_puts: list[dict[str, Any]] = field(default_factory=list)
    registry_deletes: list[str] = field(default_factory=list)
    meta_changed: bool = False

    @property
    def empty(self) -> bool:
        return not (
            self.pair_changes
            or self.names_to_create
            or self.names_to_delete
            or self.registry_puts
            or self.registry_deletes
            or self.meta_changed
        )

    def lines(self) -> list[str]:
        """The diff as an operator reads it: one line per entity, ``+`` / ``-`` / ``~``."""
        result = [f"+ {name}" for name in self.added]
        result += [f"- {name}" for name in self.removed]
        # Applications, then databases, then waves, each by name.
        result += [f"~ {name}: {'; '.join(what)}" for name, what in sorted(self.changed.items())]
        return result


def _compare(
    diff: PlanDiff,
    kind: str,
    prefix: str,
    desired: Mapping[str, Any],
    registered: Mapping[str, Any],
    to_item: Callable[[Any], dict[str, Any]],
) -> list[tuple[Any, Any]]:
    """The registry side of one kind of entity: ``+``/``~``/``-`` lines, items to put and
    delete. Returns each desired entity with its registered version (None when new)."""
    result = []
    for name, new in sorted(desired.items()):
        old = registered.get(name)
        if old is None:
            diff.added.append(f"{kind} {name} ({new.wave}, {new.dns_name})")
        elif old != new:
            diff.changed[f"{kind} {name}"] = _field_changes(old, new)
        if old != new:
            diff.registry_puts.append(to_item(new))
        result.append((new, old))
    for name, old in sorted(registered.items()):
        if name not in desired:
            diff.removed.append(f"{kind} {name} ({old.wave}, {old.dns_name})")
            diff.registry_deletes.append(f"{prefix}{name}")
    return result


def _field_changes(old: Any, new: Any) -> list[str]:
    before, after = asdict(old), asdict(new)
    return [
        f"{name} {_text(before[name])} -> {_text(after[name])}"
        for name in after
        if before.get(name) != after[name]
    ]


def _text(value: Any) -> str:
    if isinstance(value, list | tuple):
        return "[" + ", ".join(str(v) for v in value) + "]"
    return str(value) if value != "" else "''"


def _split_text(pair: ApplicationRecords) -> str:
    split = pair.split
    total = split.aws + split.on_premises or 1
    return f"{round(100 * split.aws / total)}% on AWS"


class Registration:
    """Computes and applies the registration of a plan (Route 53 and DynamoDB injected)."""

    def __init__(
        self,
        registry: Registry,
        shifter: TrafficShifter,
        names: WriterName,
        snapshots: SummarySnapshots | None = None,
    ) -> None:
        self._registry = registry
        self._shifter = shifter
        self._names = names
        self._snapshots = snapshots

    def diff(self, desired: Desired) -> PlanDiff:
        """Compare the plan with the registry and the zone; nothing is changed."""
        registered = self._registry.load() or RegisteredPlan()
        records = self._shifter.list_record_sets()
        pairs, halves = self._shifter.pairs_by_name(records)
        diff = PlanDiff()
        self._diff_applications(diff, desired, registered, pairs, halves)
        self._diff_databases(diff, desired, registered, plain_names(records))
        _diff_rosters(diff, desired, registered)
        diff.meta_changed = registered.digest != desired.digest
        return diff

    def _diff_applications(
        self,
        diff: PlanDiff,
        desired: Desired,
        registered: RegisteredPlan,
        pairs: Mapping[str, ApplicationRecords],
        halves: Mapping[str, str],
    ) -> None:
        kept = _compare(
            diff,
            "application",
            APP_PREFIX,
            desired.applications,
            registered.applications,
            application_item,
        )
        for app, old in kept:
            if old is not None and old.dns_name != app.dns_name:
                self._drop_pair(diff, old, pairs, f"renamed to {app.dns_name}")
            self._want_pair(diff, app, pairs, halves, registered=old is not None)
        for name, old in sorted(registered.applications.items()):
            if name not in desired.applications:
                self._drop_pair(diff, old, pairs, "removed from the plan")

    def _want_pair(
        self,
        diff: PlanDiff,
        app: RegisteredApplication,
        pairs: Mapping[str, ApplicationRecords],
        halves: Mapping[str, str],
        *,
        registered: bool,
    ) -> None:
        fqdn = normalise_name(app.dns_name)
        wanted = new_pair(app.name, fqdn, app.record_type, app.on_premises_address, app.aws_address)
        if fqdn in halves:
            diff.refusals.append(
                f"application {app.name}: record name {app.dns_name} holds {halves[fqdn]}; "
                "delete or complete that record by hand, then apply again"
            )
            return
        current = pairs.get(fqdn)
        if current is None:
            diff.pair_changes.append(PairChange(app.name, create=wanted))
            if registered:
                diff.changed.setdefault(f"application {app.name}", []).append(
                    f"record pair missing at {app.dns_name}: created at 100% on-premises"
                )
            return
        if (current.on_premises.type, current.on_premises.values, current.aws.values) == (
            wanted.on_premises.type,
            wanted.on_premises.values,
            wanted.aws.values,
        ):
            return
        # New addresses, same weights: traffic stays where it is.
        kept = ApplicationRecords(
            app.name,
            _with(wanted.on_premises, current.on_premises.weight),
            _with(wanted.aws, current.aws.weight),
        )
        diff.pair_changes.append(PairChange(app.name, delete=current, create=kept))
        diff.changed.setdefault(f"application {app.name}", []).append(
            f"record pair rewritten with the new addresses at {_split_text(current)}"
        )

    def _drop_pair(
        self,
        diff: PlanDiff,
        old: RegisteredApplication,
        pairs: Mapping[str, ApplicationRecords],
        why: str,
    ) -> None:
        current = pairs.get(normalise_name(old.dns_name))
        if current is None:
            return
        if current.split.reaches_aws:
            diff.refusals.append(
                f"application {old.name} ({why}) has traffic on AWS ({_split_text(current)} "
                f"at {old.dns_name}); roll it back (`migrate rollback {old.name}`) first"
            )
            return
        diff.pair_changes.append(PairChange(old.name, delete=current))

    def _diff_databases(
        self,
        diff: PlanDiff,
        desired: Desired,
        registered: RegisteredPlan,
        names: Mapping[str, NameTarget],
    ) -> None:
        kept = _compare(
            diff, "database", DB_PREFIX, desired.databases, registered.databases, database_item
        )
        for db, old in kept:
            if old is not None and old.dns_name != db.dns_name:
                self._drop_name(diff, old, names, f"renamed to {db.dns_name}")
            if normalise_name(db.dns_name) not in names:
                diff.names_to_create.append(db)
                if old is not None:
                    diff.changed.setdefault(f"database {db.name}", []).append(
                        f"name {db.dns_name} missing: created pointing at {db.source_host}"
                    )
        for name, old in sorted(registered.databases.items()):
            if name not in desired.databases:
                self._drop_name(diff, old, names, "removed from the plan")

    def _drop_name(
        self,
        diff: PlanDiff,
        old: RegisteredDatabase,
        names: Mapping[str, NameTarget],
        why: str,
    ) -> None:
        current = names.get(normalise_name(old.dns_name))
        if current is None:
            return
        if current != NameTarget.for_address(old.source_host):
            diff.refusals.append(
                f"database {old.name} ({why}): its name {old.dns_name} points at "
                f"{current.value}, not its source {old.source_host}; fail it back "
                f"(`migrate db failback {old.name}`) first"
            )
            return
        diff.names_to_delete.append(old)

    def apply(self, diff: PlanDiff, desired: Desired, *, applied_by: str, now: str) -> int:
        """Carry out ``diff`` (refused ones are never passed here); the number of changes.

        Then the summary snapshot of the new plan is written (so ``migrate status`` has one
        before the controller's next tick); it is not counted as a change."""
        changed = len(self._shifter.register_pairs(diff.pair_changes, comment="plan apply"))
        for db in diff.names_to_delete:
            self._names.delete(db.dns_name, NameTarget.for_address(db.source_host))
            changed += 1
        for db in diff.names_to_create:
            changed += self._names.create(db.dns_name, NameTarget.for_address(db.source_host))
        meta = None
        if diff.meta_changed:
            meta = {
                "digest": desired.digest,
                "appliedAt": now,
                "appliedBy": applied_by,
                "waves": [asdict(w) for w in desired.waves],
            }
        changed += self._registry.write(diff.registry_puts, diff.registry_deletes, meta)
        if self._snapshots is not None:
            wave_of = {app.name: app.wave for app in desired.applications.values()}
            self._snapshots.write(
                [w.name for w in desired.waves], wave_of, desired.digest, by="plan apply"
            )
        return changed


def _diff_rosters(diff: PlanDiff, desired: Desired, registered: RegisteredPlan) -> None:
    """Roster items to put (new or different) and to delete (no longer wanted): each wave's
    application order. Shown as one line per wave whose order alone changed."""
    changed_waves: set[str] = set()
    for key, item in desired.rosters.items():
        if registered.rosters.get(key) != item:
            diff.registry_puts.append(item)
            changed_waves.add(str(item["wave"]))
    for key, old in registered.rosters.items():
        if key.startswith(ROSTER_PREFIX) and key not in desired.rosters:
            diff.registry_deletes.append(key)
            changed_waves.add(str(old.get("wave", "")))
    described = " ".join(diff.lines())
    for wave in sorted(changed_waves):
        if wave and f"({wave}," not in described:
            diff.changed[f"wave {wave}"] = ["roster (its applications in plan order) written"]


def _with(record: WeightedRecord, weight: int) -> WeightedRecord:
    return replace(record, weight=weight)


def plain_names(records: Iterable[Mapping[str, Any]]) -> dict[str, NameTarget]:
    """The zone's plain (not weighted) A and CNAME records: name -> what it points at."""
    return {
        normalise_name(record["Name"]): NameTarget(
            record["Type"], _value(record["Type"], record["ResourceRecords"][0]["Value"])
        )
        for record in records
        if record.get("Type") in ("A", "CNAME")
        and "SetIdentifier" not in record
        and record.get("ResourceRecords")
    }


def _value(record_type: str, value: str) -> str:
    return value.rstrip(".").lower() if record_type == "CNAME" else value


class RegistrationRefused(MigrationError):
    """The apply would drop traffic on AWS or a cut-over database; nothing was changed."""

    def __init__(self, refusals: list[str]) -> None:
        super().__init__("; ".join(refusals))
        self.refusals = refusals


def registration_for(client: Callable[[str], Any], outputs: StackOutputs) -> Registration:
    """The registration of the deployment ``outputs`` describes (``client`` makes clients)."""
    return Registration(
        Registry(client("dynamodb"), outputs.table_name),
        TrafficShifter(client("route53"), outputs.hosted_zone_id),
        WriterName(client("route53"), outputs.hosted_zone_id),
        SummarySnapshots(client("dynamodb"), outputs.table_name),
    )


def apply_plan(
    plan: Plan, outputs: StackOutputs, client: Callable[[str], Any], *, applied_by: str
) -> PlanDiff:
    """Diff and apply in one go (the demo and the tests); raises RegistrationRefused."""
    registration = registration_for(client, outputs)
    desired = desired_registration(
        plan, outputs.settings.cdc_latency_alarms_of(d.name for d in plan.databases)
    )
    diff = registration.diff(desired)
    if diff.refusals:
        raise RegistrationRefused(diff.refusals)
    if not diff.empty:
        registration.apply(diff, desired, applied_by=applied_by, now=iso_timestamp(utc_now()))
    return diff
