"""Go/no-go gates checked before each traffic shift step of an application.

Every check returns a :class:`GateResult`; the cutover proceeds only when all are ok.
Clients are injected (boto3 or any object with the same methods), and so is the clock.

* DMS, per database of the application, task ``<db>-<suffix>``: the task is ``running``;
  the Maximum of ``AWS/DMS CDCLatencySource`` over the last 5 minutes is under the
  database's ``cdc_latency_threshold_seconds`` (no datapoint fails); no table has
  ``ValidationState == "Mismatched records"`` or ``ValidationFailedRecords > 0``.
* Databases by phase (``database_phase``): cut over = ok without DMS gates (the forward
  task is stopped on purpose); writes frozen = fail (wait); ``cutover: before-applications``
  and not cut over = fail, naming ``migrate db cutover``.
* VPN: every VPN connection (or the given ones) has two tunnels, both ``UP``.
* Alarms: every alarm of the application exists and is ``OK``. Built-in alarm names
  (``plan.BUILTIN_ALARMS``) map to real alarm names through ``alarm_names``. With
  ``cdc_latency_alarms`` (database -> alarm name: ``CutoverSettings.cdc_latency_alarms_of``),
  an application listing ``dms-cdc-latency`` is gated on the CDC latency alarm of each of
  its databases; a database without an alarm there fails the gate.

Task identifiers come from ``task_identifiers`` (database -> task id, as older stacks
output them) and default to ``migration.database.names.task_identifier(db, task_suffix)``.

A client error is turned into a failed gate with the error in the detail: an unreadable
signal never lets a cutover through.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from botocore.exceptions import BotoCoreError, ClientError

from migration import alarm_names
from migration.database import names as database_names
from migration.tracking import utc_now

__all__ = [
    "CDC_LATENCY_ALARM",
    "CDC_LATENCY_METRIC",
    "DEFAULT_TASK_SUFFIX",
    "MISMATCHED_RECORDS",
    "GateResult",
    "Gates",
    "all_ok",
]

DEFAULT_TASK_SUFFIX = "cdc"
CDC_LATENCY_ALARM = alarm_names.CDC_LATENCY
"""The built-in plan alarm that stands for the CDC latency alarms of an application's databases."""
CDC_LATENCY_METRIC = "CDCLatencySource"
DMS_NAMESPACE = "AWS/DMS"
LATENCY_WINDOW = timedelta(minutes=5)
MISMATCHED_RECORDS = "Mismatched records"
MAX_ALARM_NAMES_PER_CALL = 100
CUT_OVER = "CUT_OVER"
FROZEN_PHASES = frozenset({"WRITES_FROZEN", "FAILBACK_FROZEN"})
BEFORE_APPLICATIONS = "before-applications"
SERVERS_GATE = "servers"


class GatedApplication(Protocol):
    """What the gates read of an application (the plan's Application or an ApplicationSpec)."""

    @property
    def name(self) -> str: ...

    @property
    def alarms(self) -> tuple[str, ...]: ...

    @property
    def databases(self) -> tuple[str, ...]: ...


class ServerGate(Protocol):
    """The ``servers`` gate (``migration.servers.watch.ServerWatch``): an application's
    traffic waits until each of its MGN servers is launched for cutover and validated."""

    def gate(self, app: Any) -> GateResult: ...

    def observe(self) -> list[str]: ...


class GatedDatabase(Protocol):
    @property
    def name(self) -> str: ...

    @property
    def cdc_latency_threshold_seconds(self) -> float: ...


DatabasePhases = Callable[[str], "str | None"]
"""The current phase of database ``name`` (``db#<name>``; None when not tracked yet)."""


class DatabaseCatalog(Protocol):
    """Where the gates find an application's databases (the Plan, or a WaveSpec)."""

    def databases_of(self, app: Any) -> Sequence[GatedDatabase]: ...


@dataclass(frozen=True)
class GateResult:
    """Outcome of one go/no-go check."""

    name: str
    ok: bool
    detail: str
    wait: bool = False
    """A failure that means "not yet" (a database's writer moving or not moved yet): the
    application waits at its current split and is never rolled back for it."""


def _servers_of(app: Any) -> tuple[str, ...]:
    return tuple(getattr(app, "servers", ()) or ())


def all_ok(results: Iterable[GateResult]) -> bool:
    """True when every gate passed."""
    return all(result.ok for result in results)


def _error_text(exc: Exception) -> str:
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        return f"{error.get('Code', 'ClientError')}: {error.get('Message', '')}".rstrip(": ")
    return f"{type(exc).__name__}: {exc}"


class Gates:
    """The go/no-go checks of the applications of ``plan`` (a Plan or a WaveSpec).

    Only the standard library and botocore are imported: the controller function runs it.
    """

    def __init__(
        self,
        plan: DatabaseCatalog,
        *,
        dms: Any,
        cloudwatch: Any,
        ec2: Any,
        alarm_names: Mapping[str, str] | None = None,
        vpn_connection_ids: Sequence[str] | None = None,
        task_suffix: str = DEFAULT_TASK_SUFFIX,
        replication_instance_identifier: str | None = None,
        task_identifiers: Mapping[str, str] | None = None,
        cdc_latency_alarms: Mapping[str, str] | None = None,
        clock: Callable[[], datetime] = utc_now,
        database_phase: DatabasePhases | None = None,
        servers: ServerGate | None = None,
    ) -> None:
        self._plan = plan
        self._servers = servers
        self._database_phase = database_phase
        self._dms = dms
        self._cloudwatch = cloudwatch
        self._ec2 = ec2
        self._alarm_names = dict(alarm_names or {})
        self._vpn_ids = list(vpn_connection_ids) if vpn_connection_ids else None
        self._suffix = task_suffix
        self._instance = replication_instance_identifier
        self._tasks = dict(task_identifiers or {})
        self._cdc_alarms = dict(cdc_latency_alarms) if cdc_latency_alarms is not None else None
        self._clock = clock

    # -- naming -----------------------------------------------------------------------

    def task_identifier(self, database: str) -> str:
        """Replication task identifier of ``database`` (the mapping, else ``<db>-<suffix>``)."""
        return self._tasks.get(database) or database_names.task_identifier(database, self._suffix)

    def real_alarm_name(self, alarm: str) -> str:
        """The CloudWatch name of a plan alarm (built-in names through ``alarm_names``)."""
        return self._alarm_names.get(alarm, alarm)

    def alarms_of(self, app: GatedApplication) -> tuple[dict[str, str], list[str]]:
        """CloudWatch alarms gating ``app``: ({real name: label}, problems).

        ``dms-cdc-latency`` expands to the CDC latency alarm of each database of ``app``
        when ``cdc_latency_alarms`` is known; a database missing there is a problem (the
        gate fails), never a skipped check.
        """
        wanted: dict[str, str] = {}
        problems: list[str] = []
        for alarm in app.alarms:
            if alarm == CDC_LATENCY_ALARM and self._cdc_alarms is not None and app.databases:
                for database in app.databases:
                    real = self._cdc_alarms.get(database)
                    if real:
                        wanted[real] = f"{CDC_LATENCY_ALARM} of {database}"
                    else:
                        problems.append(
                            f"no {CDC_LATENCY_ALARM} alarm known for database {database}"
                        )
            else:
                wanted[self.real_alarm_name(alarm)] = alarm
        return wanted, problems

    def gate_names(self, app: GatedApplication) -> list[str]:
        """Names of the gates :meth:`check_gates` evaluates for ``app`` (for dry runs)."""
        names = []
        for database in app.databases:
            names += [f"dms-task:{database}", f"dms-latency:{database}"]
            names.append(f"dms-validation:{database}")
        if _servers_of(app):
            names.append(SERVERS_GATE)
        return [*names, "vpn", "alarms"]

    # -- all gates --------------------------------------------------------------------

    def check_gates(self, app: GatedApplication) -> list[GateResult]:
        """Every gate of ``app``; the cutover proceeds only if all are ok."""
        results: list[GateResult] = []
        for database in self._plan.databases_of(app):
            results += self.database_gates(database)
        if _servers_of(app):
            results.append(self.server_gate(app))
        results.append(self.vpn_gate())
        results.append(self.alarm_gate(app))
        return results

    # -- servers ------------------------------------------------------------------------

    def server_gate(self, app: GatedApplication) -> GateResult:
        """Each of ``app``'s MGN servers launched for cutover and validated; without a
        way to ask MGN the gate fails ("not yet"), it is never skipped."""
        if self._servers is None:
            return GateResult(
                SERVERS_GATE,
                False,
                f"{app.name} runs on server(s) {', '.join(_servers_of(app))}, and these gates "
                "have no MGN client to check them",
                wait=True,
            )
        return self._servers.gate(app)

    def observe_servers(self) -> list[str]:
        """Record what MGN shows of the servers not looked at yet; notes (see ServerWatch)."""
        return self._servers.observe() if self._servers is not None else []

    # -- databases ----------------------------------------------------------------------

    def database_gates(self, database: GatedDatabase) -> list[GateResult]:
        """What a database says about its applications' next step, by its phase.

        Its writer on AWS (CUT_OVER): nothing to wait for (the forward task is stopped on
        purpose). Its writer moving (WRITES_FROZEN, FAILBACK_FROZEN): wait. Otherwise the
        forward DMS gates, and with ``cutover: before-applications`` the database must be
        cut over first.
        """
        name = database.name
        phase = self._database_phase(name) if self._database_phase is not None else None
        gate = f"database:{name}"
        if phase == CUT_OVER:
            return [GateResult(gate, True, f"database {name}: writer on AWS (CUT_OVER)")]
        if phase in FROZEN_PHASES:
            return [
                GateResult(gate, False, f"database {name} is {phase}: its writer is moving", True)
            ]
        results = self.dms_gates(name, database.cdc_latency_threshold_seconds)
        if getattr(database, "cutover", "manual") == BEFORE_APPLICATIONS:
            results.append(
                GateResult(
                    gate,
                    False,
                    f"database {name} is {phase or 'not cut over'}; the plan cuts it over"
                    f" before its applications: migrate db cutover {name}",
                    wait=True,
                )
            )
        return results

    # -- DMS --------------------------------------------------------------------------

    def dms_gates(self, database: str, threshold_seconds: float) -> list[GateResult]:
        """Task running, CDC latency under ``threshold_seconds``, no validation mismatch."""
        task_id = self.task_identifier(database)
        names = (
            f"dms-task:{database}",
            f"dms-latency:{database}",
            f"dms-validation:{database}",
        )
        try:
            tasks = self._dms.describe_replication_tasks(
                Filters=[{"Name": "replication-task-id", "Values": [task_id]}]
            ).get("ReplicationTasks", [])
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ResourceNotFoundFault":
                tasks = []
            else:
                return [GateResult(n, False, f"{task_id}: {_error_text(exc)}") for n in names]
        except BotoCoreError as exc:
            return [GateResult(n, False, f"{task_id}: {_error_text(exc)}") for n in names]
        task = next((t for t in tasks if t.get("ReplicationTaskIdentifier") == task_id), None)
        if task is None:
            missing = f"replication task {task_id} does not exist"
            return [GateResult(n, False, missing) for n in names]
        status = str(task.get("Status", "unknown"))
        task_gate = GateResult(
            names[0],
            status == "running",
            f"replication task {task_id} is {status}"
            + ("" if status == "running" else " (expected running)"),
        )
        arn = str(task["ReplicationTaskArn"])
        return [
            task_gate,
            self._latency_gate(names[1], task_id, arn, threshold_seconds),
            self._validation_gate(names[2], task_id, arn),
        ]

    def _latency_gate(self, name: str, task_id: str, arn: str, threshold: float) -> GateResult:
        end = self._clock()
        # The metric's ReplicationTaskIdentifier dimension is the task's resource id, the
        # last segment of its ARN.
        # DMS publishes it together with ReplicationInstanceIdentifier (the instance's name);
        # CloudWatch only returns datapoints for the exact set of dimensions.
        resource_id = arn.rsplit(":", 1)[-1]
        dimensions = [{"Name": "ReplicationTaskIdentifier", "Value": resource_id}]
        if self._instance:
            dimensions.insert(0, {"Name": "ReplicationInstanceIdentifier", "Value": self._instance})
        try:
            response = self._cloudwatch.get_metric_statistics(
                Namespace=DMS_NAMESPACE,
                MetricName=CDC_LATENCY_METRIC,
                Dimensions=dimensions,
                StartTime=end - LATENCY_WINDOW,
                EndTime=end,
                Period=60,
                Statistics=["Maximum"],
            )
        except (ClientError, BotoCoreError) as exc:
            return GateResult(name, False, f"{task_id}: {_error_text(exc)}")
        points = [float(p["Maximum"]) for p in response.get("Datapoints", []) if "Maximum" in p]
        if not points:
            return GateResult(
                name, False, f"{task_id}: no {CDC_LATENCY_METRIC} datapoint in the last 5 minutes"
            )
        worst = max(points)
        ok = worst < threshold
        relation = "under" if ok else "not under"
        return GateResult(
            name,
            ok,
            f"{task_id}: CDC latency {worst:g}s (max over 5 min) {relation} {threshold:g}s",
        )

    def _validation_gate(self, name: str, task_id: str, arn: str) -> GateResult:
        bad: list[str] = []
        params: dict[str, Any] = {"ReplicationTaskArn": arn}
        try:
            # Hand loop, not the paginator: stand-ins for this call moto lacks answer it alone.
            while True:
                page = self._dms.describe_table_statistics(**params)
                for table in page.get("TableStatistics", []):
                    failed = int(table.get("ValidationFailedRecords", 0) or 0)
                    state = table.get("ValidationState", "")
                    if state == MISMATCHED_RECORDS or failed > 0:
                        bad.append(
                            f"{table.get('SchemaName', '?')}.{table.get('TableName', '?')}"
                            f" ({state or 'no state'}, {failed} failed records)"
                        )
                marker = page.get("Marker")
                if not marker:
                    break
                params["Marker"] = marker
        except (ClientError, BotoCoreError) as exc:
            return GateResult(name, False, f"{task_id}: {_error_text(exc)}")
        if bad:
            return GateResult(name, False, f"{task_id}: validation mismatches in {', '.join(bad)}")
        return GateResult(name, True, f"{task_id}: no validation mismatch")

    # -- VPN --------------------------------------------------------------------------

    def vpn_gate(self) -> GateResult:
        """Both tunnels of every VPN connection (or of the configured ones) are UP."""
        params: dict[str, Any] = {}
        if self._vpn_ids:
            params["VpnConnectionIds"] = self._vpn_ids
        else:
            params["Filters"] = [{"Name": "state", "Values": ["available"]}]
        try:
            connections = self._ec2.describe_vpn_connections(**params).get("VpnConnections", [])
        except (ClientError, BotoCoreError) as exc:
            return GateResult("vpn", False, _error_text(exc))
        if not connections:
            return GateResult("vpn", False, "no VPN connection found")
        problems: list[str] = []
        for connection in connections:
            vpn_id = connection.get("VpnConnectionId", "?")
            tunnels = connection.get("VgwTelemetry", [])
            up = [t for t in tunnels if t.get("Status") == "UP"]
            if len(tunnels) < 2:
                problems.append(f"{vpn_id} reports {len(tunnels)} tunnel(s), expected 2")
            elif len(up) < len(tunnels):
                down = [
                    f"{t.get('OutsideIpAddress', '?')} {t.get('Status', '?')}"
                    for t in tunnels
                    if t.get("Status") != "UP"
                ]
                problems.append(f"{vpn_id} tunnel(s) not UP: {', '.join(down)}")
        if problems:
            return GateResult("vpn", False, "; ".join(problems))
        return GateResult("vpn", True, f"{len(connections)} VPN connection(s), both tunnels UP")

    # -- alarms -----------------------------------------------------------------------

    def alarm_gate(self, app: GatedApplication) -> GateResult:
        """Every alarm of ``app`` exists and is OK."""
        wanted, problems = self.alarms_of(app)
        if not wanted and not problems:
            return GateResult("alarms", True, "no alarm configured")
        states: dict[str, str] = {}
        names = sorted(wanted)
        try:
            paginator = self._cloudwatch.get_paginator("describe_alarms")
            for start in range(0, len(names), MAX_ALARM_NAMES_PER_CALL):
                for page in paginator.paginate(
                    AlarmNames=names[start : start + MAX_ALARM_NAMES_PER_CALL],
                    AlarmTypes=["MetricAlarm", "CompositeAlarm"],
                ):
                    for alarm in [*page.get("MetricAlarms", []), *page.get("CompositeAlarms", [])]:
                        states[alarm["AlarmName"]] = str(alarm.get("StateValue", "UNKNOWN"))
        except (ClientError, BotoCoreError) as exc:
            return GateResult("alarms", False, _error_text(exc))
        for real in names:
            label = real if wanted[real] == real else f"{real} (plan alarm {wanted[real]})"
            if real not in states:
                problems.append(f"alarm {label} does not exist")
            elif states[real] != "OK":
                problems.append(f"alarm {label} is {states[real]}")
        if problems:
            return GateResult("alarms", False, "; ".join(problems))
        return GateResult("alarms", True, f"{len(names)} alarm(s) OK")
