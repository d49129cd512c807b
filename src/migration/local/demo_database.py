"""The demo's database chapter: the writer moves to AWS and back with a workload running.

Two PostgreSQL 15 clusters on 127.0.0.1 play the on-premises and the AWS database of the
plan's first PostgreSQL database; PostgreSQL's logical replication stands in for the two DMS
tasks (said on screen). Everything else is the production code the CLI runs: credentials from
the (emulated) Secrets Manager, the freeze, the drain proof, the consistency check, the name
in the (emulated) private zone, the phases in the tracking table. A workload writes numbered
rows through the database's name the whole time; at the end every acknowledged row must be
in the writer exactly once.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from typing import Any

from migration import operations
from migration.database.credentials import Credentials
from migration.database.writer_name import WriterName
from migration.local.database_stand_in import StandIn, Workload, audit, prepare
from migration.local.emulator import Emulator
from migration.local.postgres_clusters import ADMIN, APP_USER, Cluster, LocalClusters
from migration.outputs import StackOutputs
from migration.plan import Database, Plan

WRITE_SECONDS = 1.0
"""Real seconds the workload writes in each phase (before, on AWS, back on-premises)."""


def choose_database(plan: Plan) -> Database | None:
    """The first PostgreSQL database of the plan with the built-in freeze."""
    return next(
        (db for db in plan.databases if db.engine == "postgres" and db.freeze == "builtin"), None
    )


def _store_secrets(emulator: Emulator, db: Database, onprem: Cluster, aws: Cluster) -> None:
    """The plan's secrets, as a real account would hold them (the connection address of the
    local clusters overrides the plan's host, which is what the name resolves to)."""
    secrets = emulator.client("secretsmanager")
    for endpoint, cluster in ((db.source, onprem), (db.target, aws)):
        value = json.dumps(
            {"username": ADMIN, "password": cluster.admin_password, "host": "127.0.0.1",
             "port": cluster.port, "dbname": endpoint.database}
        )  # fmt: skip
        try:
            secrets.create_secret(Name=endpoint.secret, SecretString=value)
        except secrets.exceptions.ResourceExistsException:
            secrets.put_secret_value(SecretId=endpoint.secret, SecretString=value)


def _resolver(
    emulator: Emulator, outputs: StackOutputs, db: Database, onprem: Cluster, aws: Cluster
) -> Callable[[], tuple[Credentials, str]]:
    names = WriterName(emulator.client("route53"), outputs.hosted_zone_id)
    by_address = {db.source.host.lower(): onprem, db.target.host.lower(): aws}
    database = db.source.database

    def resolve() -> tuple[Credentials, str]:
        target = names.current(db.dns_name)
        if target is None or target.value not in by_address:
            raise OSError(f"{db.dns_name} does not resolve to either database")
        cluster = by_address[target.value]
        return cluster.credentials(database, user=APP_USER), cluster.label

    return resolve


def _write_for(workload: Workload, seconds: float, say: Callable[[str], None], where: str) -> None:
    before = len(workload.acknowledged)
    time.sleep(seconds)
    say(f"   workload: {len(workload.acknowledged) - before} rows acknowledged {where}")


def database_night(
    emulator: Emulator,
    outputs: StackOutputs,
    plan: Plan,
    migrate: Callable[[Sequence[str]], int],
    say: Callable[[str], None],
    heading: Callable[[int, str], None],
    common: list[str],
) -> list[str]:
    """Chapters 9-10; returns the problems found (empty: no row lost or duplicated)."""
    db = choose_database(plan)
    if db is None:
        return []
    heading(9, f"Database {db.name}: two PostgreSQL 15 clusters on 127.0.0.1 and a workload")
    with LocalClusters() as (onprem, aws):
        stand_in = prepare(db.name, db.source.database, onprem, aws)
        _store_secrets(emulator, db, onprem, aws)
        say(f"   {onprem.label}: 127.0.0.1:{onprem.port}   aws: 127.0.0.1:{aws.port}")
        say("   replication: PostgreSQL logical replication, the local STAND-IN for the two")
        say("   DMS tasks (forward running, reverse prepared); everything else is production code")
        saved = operations.make_replications, operations.make_timing
        operations.make_replications = _stand_in_replications(stand_in)
        operations.make_timing = operations.Timing  # real time: the drain waits for real
        _wait_healthy(stand_in)
        workload = Workload(_resolver(emulator, outputs, db, onprem, aws)).start()
        try:
            codes = _cutover_and_failback(db, workload, migrate, say, heading, common)
        finally:
            workload.stop()
            operations.make_replications, operations.make_timing = saved
        result = audit(stand_in.source, workload.acknowledged)
        on_premises, on_aws = workload.by_side[onprem.label], workload.by_side[aws.label]
        say(
            f"   workload: {result.acknowledged} rows acknowledged ({on_premises} on-premises,"
            f" {on_aws} on AWS), each written through {db.dns_name}"
        )
        say(f"   in the writer (on-premises): lost {result.lost}, duplicated {result.duplicated}")
    problems = [f"{what} exited {code}, expected 0" for what, code in codes.items() if code]
    if result.lost or result.duplicated:
        problems.append(f"{result.lost} acknowledged rows lost, {result.duplicated} duplicated")
    if not on_aws:
        problems.append("no row was written on AWS while it was the writer")
    if not problems:
        say(f"   OK {db.name}: cut over to AWS and failed back, every acknowledged row once")
    return problems


def _stand_in_replications(stand_in: StandIn) -> Any:
    def make(runtime: Any, database: Any, source: Any, target: Any) -> tuple[Any, Any]:
        return stand_in.forward, stand_in.reverse

    return make


def _wait_healthy(stand_in: StandIn, timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while stand_in.forward.health(60.0):
        if time.monotonic() > deadline:
            raise RuntimeError(f"forward replication not healthy: {stand_in.forward.health(60)}")
        time.sleep(0.05)


def _cutover_and_failback(
    db: Database,
    workload: Workload,
    migrate: Callable[[Sequence[str]], int],
    say: Callable[[str], None],
    heading: Callable[[int, str], None],
    common: list[str],
) -> dict[str, int]:
    _write_for(workload, WRITE_SECONDS, say, "on-premises")
    migrate(["db", "status", db.name, *common])
    cutover = migrate(["db", "cutover", db.name, "--yes", "--by", "demo", *common])
    _write_for(workload, WRITE_SECONDS, say, "after the cutover")
    migrate(["db", "status", db.name, *common])
    heading(10, f"A day later: fail {db.name} back to on-premises with every write made on AWS")
    failback = migrate(["db", "failback", db.name, "--yes", "--by", "demo", *common])
    _write_for(workload, WRITE_SECONDS, say, "after the failback")
    migrate(["db", "status", db.name, *common])
    return {"migrate db cutover": cutover, "migrate db failback": failback}
