"""The demo's database scene: the writer moves to AWS and back with a workload running.

Two PostgreSQL 15 clusters on 127.0.0.1 play the on-premises and the AWS database of the
plan's first PostgreSQL database; PostgreSQL's logical replication stands in for its two DMS
tasks (said on screen). Everything else is the production code: credentials from the
(emulated) Secrets Manager, the freeze, the drain proof, the consistency check, the name in
the (emulated) private zone, the phases in the tracking table. When the plan orders the
database (``cutover: after-applications``), the deployed cutover controller hands it to the
database step function once its applications completed, and that function's handler runs
here on the controller's request (moto runs no function code). A workload writes numbered
rows through the database's name from the start of the night to the end; at the end every
acknowledged row must be in the writer exactly once.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from migration import operations
from migration.database.credentials import Credentials
from migration.database.writer_name import WriterName
from migration.local.database_stand_in import StandIn, Workload, audit, prepare
from migration.local.emulator import Emulator
from migration.local.invoke import LocalLambda, invoke_database_step_locally
from migration.local.postgres_clusters import ADMIN, APP_USER, Cluster
from migration.outputs import StackOutputs
from migration.plan import Database, Plan
from migration.tracking import TrackingStore, db_id

WRITE_SECONDS = 1.0
"""Real seconds the workload writes between the database chapters' commands."""


def choose_database(plan: Plan) -> Database | None:
    """The first PostgreSQL database of the plan (the one the scene moves)."""
    return next((db for db in plan.databases if db.engine == "postgres"), None)


@dataclass
class DatabaseScene:
    """The clusters, the stand-in replication and the workload of one planned database."""

    db: Database
    emulator: Emulator
    outputs: StackOutputs
    onprem: Cluster
    aws: Cluster
    stand_in: StandIn | None = None
    workload: Workload | None = None
    step: LocalLambda | None = None
    codes: dict[str, int] = field(default_factory=dict)

    # -- chapter 3: what the account and the data centre already have ----------------------

    def start(self, say: Callable[[str], None]) -> None:
        self.stand_in = prepare(self.db.name, self.db.source.database, self.onprem, self.aws)
        self._store_secrets()
        say(
            f"   database {self.db.name}: PostgreSQL 15 on 127.0.0.1:{self.onprem.port}"
            f" (on-premises) and 127.0.0.1:{self.aws.port} (aws)"
        )
        say("   replication: PostgreSQL logical replication, the local STAND-IN for its two DMS")
        say("   tasks (forward running, reverse prepared); everything else is production code")
        self.stand_in.forward.wait_healthy()
        self.workload = Workload(self._resolver()).start()
        say(f"   workload: writing numbered rows through {self.db.dns_name} from now on")

    def _store_secrets(self) -> None:
        """The plan's secrets as a real account holds them (the connection address of the
        local clusters overrides the plan's host, which is what the name resolves to)."""
        secrets = self.emulator.client("secretsmanager")
        for endpoint, cluster in ((self.db.source, self.onprem), (self.db.target, self.aws)):
            value = json.dumps(
                {"username": ADMIN, "password": cluster.admin_password, "host": "127.0.0.1",
                 "port": cluster.port, "dbname": endpoint.database}
            )  # fmt: skip
            try:
                secrets.create_secret(Name=endpoint.secret, SecretString=value)
            except secrets.exceptions.ResourceExistsException:
                secrets.put_secret_value(SecretId=endpoint.secret, SecretString=value)

    def _resolver(self) -> Callable[[], tuple[Credentials, str]]:
        names = WriterName(self.emulator.client("route53"), self.outputs.hosted_zone_id)
        by_address = {
            self.db.source.host.lower(): self.onprem,
            self.db.target.host.lower(): self.aws,
        }

        def resolve() -> tuple[Credentials, str]:
            target = names.current(self.db.dns_name)
            if target is None or target.value not in by_address:
                raise OSError(f"{self.db.dns_name} does not resolve to either database")
            cluster = by_address[target.value]
            return cluster.credentials(self.db.source.database, user=APP_USER), cluster.label

        return resolve

    # -- the seams: DMS replaced by the stand-in, the step function run here -----------------

    def replications(self, *_: Any) -> tuple[Any, Any]:
        assert self.stand_in is not None
        return self.stand_in.forward, self.stand_in.reverse

    def lambda_client(self, inner: Any) -> Any:
        """The controller's Lambda client: invocations of the step function run here."""
        arn = self.outputs.values.get("DatabaseStepFunctionArn")
        if not arn:
            return inner

        def run_step(event: Any) -> dict[str, Any]:
            return invoke_database_step_locally(
                self.outputs, event, endpoint_url=self.emulator.endpoint_url,
                region=self.emulator.region, replications=self.replications,
            )  # fmt: skip

        self.step = LocalLambda(inner, arn, run_step)
        return self.step

    # -- chapters 9-10 ---------------------------------------------------------------------

    def after_the_night(
        self,
        migrate: Callable[[Sequence[str]], int],
        say: Callable[[str], None],
        heading: Callable[[int, str], None],
        common: list[str],
    ) -> list[str]:
        """The database after the wave; a failback; the count. Returns the problems."""
        assert self.stand_in is not None and self.workload is not None
        db, workload = self.db, self.workload
        who = "the controller, after its applications" if self.step else "the operator"
        heading(9, f"Database {db.name}: its writer moved to AWS by {who}")
        saved = operations.make_replications, operations.make_timing
        operations.make_replications = self.replications  # type: ignore[assignment]
        operations.make_timing = operations.Timing  # real time: the drain waits for real
        try:
            if self.step is None:
                say("   (this stack has no database step function)")
                self.codes["migrate db cutover"] = migrate(
                    ["db", "cutover", db.name, "--yes", "--by", "demo", *common]
                )
            for result in self.step.results if self.step else []:
                say(f"   database step function (run here on the controller's request): {result}")
            migrate(["db", "status", db.name, *common])
            migrate(["history", db.name, *common])
            _write_for(workload, say, "since")
            heading(
                10, f"A day later: fail {db.name} back to on-premises with every write made on AWS"
            )
            self.stand_in.reverse.wait_healthy()
            self.codes["migrate db failback"] = migrate(
                ["db", "failback", db.name, "--yes", "--by", "demo", *common]
            )
            _write_for(workload, say, "after the failback")
            migrate(["db", "status", db.name, *common])
        finally:
            workload.stop()
            operations.make_replications, operations.make_timing = saved
        return self._count(say)

    def _count(self, say: Callable[[str], None]) -> list[str]:
        assert self.stand_in is not None and self.workload is not None
        workload = self.workload
        result = audit(self.stand_in.source, workload.acknowledged)
        on_premises, on_aws = workload.by_side[self.onprem.label], workload.by_side[self.aws.label]
        say(
            f"   workload: {result.acknowledged} rows acknowledged ({on_premises} on-premises,"
            f" {on_aws} on AWS), each written through {self.db.dns_name}"
        )
        say(f"   in the writer (on-premises): lost {result.lost}, duplicated {result.duplicated}")
        problems = [
            f"{what} exited {code}, expected 0" for what, code in self.codes.items() if code
        ]
        tracking = TrackingStore(self.emulator.client("dynamodb"), self.outputs.table_name)
        actors = {e.actor for e in tracking.history(db_id(self.db.name)) if e.phase}
        if self.step is not None and "database-step" not in actors:
            problems.append(f"the controller's database step never moved {self.db.name}")
        if result.lost or result.duplicated:
            problems.append(f"{result.lost} acknowledged rows lost, {result.duplicated} duplicated")
        if not on_aws:
            problems.append("no row was written on AWS while it was the writer")
        for problem in problems:
            say(f"   FAIL {problem}")
        if not problems:
            done = "cut over to AWS and failed back, every acknowledged row once"
            say(f"   OK {self.db.name}: {done}")
        return problems


def _write_for(workload: Workload, say: Callable[[str], None], when: str) -> None:
    before = len(workload.acknowledged)
    time.sleep(WRITE_SECONDS)
    say(f"   workload: {len(workload.acknowledged) - before} rows acknowledged {when}")
