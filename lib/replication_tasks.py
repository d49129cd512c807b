"""Replication tasks: per planned database, a validated full-load-and-cdc task on-premises -> AWS
and a prepared CDC-only reverse task AWS -> on-premises, each with its own DMS endpoints."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence

from aws_cdk import Aws, CfnTag, Fn, Stack
from aws_cdk import aws_dms as dms
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from constructs import Construct

from lib.monitoring import ReplicationTaskMonitor
from lib.nag import acknowledge
from migration.database.names import (
    Direction,
    cdc_latency_alarm_name,
    reverse_task_identifier,
    slot_name,
    task_identifier,
)
from migration.plan import Database, Endpoint

# Property of CfnEndpoint carrying the Secrets Manager reference, and its struct, per plan
# engine. The typed struct matters: a plain dict with snake_case keys reaches CloudFormation as
# an empty object (jsii passes dict keys through unchanged), i.e. an endpoint without credentials.
_SETTINGS_PROPERTY = {
    "postgres": ("postgre_sql_settings", dms.CfnEndpoint.PostgreSqlSettingsProperty),
    "mysql": ("my_sql_settings", dms.CfnEndpoint.MySqlSettingsProperty),
    "sqlserver": (
        "microsoft_sql_server_settings",
        dms.CfnEndpoint.MicrosoftSqlServerSettingsProperty,
    ),
    "oracle": ("oracle_settings", dms.CfnEndpoint.OracleSettingsProperty),
}

_POSTGRES = "postgre_sql_settings"

# Task settings: validation compares source and target rows during full load and CDC; the
# cutover gates read its results (no mismatch allowed) before moving any traffic.
TASK_SETTINGS = {
    "TargetMetadata": {"SupportLobs": True, "LimitedSizeLobMode": True, "LobMaxSize": 32},
    "FullLoadSettings": {"TargetTablePrepMode": "DO_NOTHING"},
    "ValidationSettings": {
        "EnableValidation": True,
        "ValidationMode": "ROW_LEVEL",
        "ThreadCount": 5,
        "FailureMaxCount": 10000,
    },
}


# The reverse task replicates changes only (no full load: the on-premises database already holds
# every row up to the cutover, and the task starts from the change position recorded then).
# Validation stays off: DMS validation compares whole tables, which would read the on-premises
# database at full size while it is the standby; the failback runs its own chunked consistency
# check before the name moves back.
REVERSE_TASK_SETTINGS = {
    "TargetMetadata": TASK_SETTINGS["TargetMetadata"],
    # Never drop or truncate on-premises tables, even if someone reruns the task as a full load.
    "FullLoadSettings": {"TargetTablePrepMode": "DO_NOTHING"},
    "ValidationSettings": {"EnableValidation": False},
}

# The forward alarm watches the latency of reading the on-premises source (the DMS metric the
# cutover gates use). The reverse alarm watches the latency of applying on-premises
# (CDCLatencyTarget, which includes reading AWS): what a failback waits for is AWS's writes
# being applied on-premises, across the VPN.
FORWARD_LATENCY_METRIC = "CDCLatencySource"
REVERSE_LATENCY_METRIC = "CDCLatencyTarget"


# Every task carries this tag (value: the environment suffix). The roles that read, start or
# stop the tasks are granted on this account's tasks in this region carrying it (DMS authorises
# DescribeTableStatistics, Start- and StopReplicationTask on the task and evaluates
# aws:ResourceTag/<key> for them), so no policy lists a task per planned database: IAM caps a
# role's inline policies at 10,240 characters.
TASK_TAG_KEY = "migration:replication-tasks"
# A task's ARN ends in an identifier DMS assigns at creation (not the task's name).
TASK_ARNS = f"arn:{Aws.PARTITION}:dms:{Aws.REGION}:{Aws.ACCOUNT_ID}:task:*"
TASKS_FINDING = (
    "AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:dms:<AWS::Region>:<AWS::AccountId>:task:*]"
)
TASKS_REASON = (
    "Per-task DMS actions on this stack's replication tasks only: the statement's condition "
    f"requires the task tag {TASK_TAG_KEY} with this deployment's value, which the stack sets on "
    "each task it creates; a task ARN ends in an identifier DMS assigns at creation, so the "
    "tasks cannot be named in advance, and one statement keeps the policy the same size "
    "whatever the number of planned databases. The role holds no DMS tagging permission."
)


def tasks_statement(
    actions: Sequence[str], tasks: Sequence[dms.CfnReplicationTask]
) -> iam.PolicyStatement:
    """``actions`` on ``tasks``, in one statement whatever their number: an ARN pattern and
    the tasks' tag (:data:`TASK_TAG_KEY`), read from the tasks themselves."""
    values = {task.tags.tag_values().get(TASK_TAG_KEY) for task in tasks}
    if len(values) != 1 or None in values:
        raise ValueError(f"tasks_statement: the tasks must share one {TASK_TAG_KEY} tag value")
    (value,) = values
    return iam.PolicyStatement(
        actions=list(actions),
        resources=[TASK_ARNS],
        conditions={"StringEquals": {f"aws:ResourceTag/{TASK_TAG_KEY}": value}},
    )


def secret_arn(secret: str) -> str:
    """The IAM resource of a secret given by ARN or by name (Secrets Manager adds 6 characters)."""
    if secret.startswith("arn:"):
        return secret
    return (
        f"arn:{Aws.PARTITION}:secretsmanager:{Aws.REGION}:{Aws.ACCOUNT_ID}:secret:{secret}-??????"
    )


_LOCAL_SECRETS = f"arn:{Aws.PARTITION}:secretsmanager:{Aws.REGION}:{Aws.ACCOUNT_ID}:secret:"
_LOCAL_FINDING = "arn:<AWS::Partition>:secretsmanager:<AWS::Region>:<AWS::AccountId>:secret:"


def _common_folder(names: Sequence[str]) -> str:
    """The folder every name is in (``migration/`` for ``migration/orders-db/source`` and
    ``migration/shop-db/target``), "" when they share none."""
    common = names[0].split("/")[:-1]
    for name in names[1:]:
        folder = name.split("/")[:-1]
        same = [a == b for a, b in zip(common, folder, strict=False)]
        common = common[: same.index(False) if False in same else len(same)]
    return "".join(f"{part}/" for part in common)


def _secret_groups(secrets: Iterable[str]) -> dict[str, list[str]]:
    """Secret names by the ARN prefix of their account and region ("" for this stack's)."""
    groups: dict[str, list[str]] = {}
    for secret in sorted(set(secrets)):
        base, _, name = (
            secret.rpartition(":secret:") if secret.startswith("arn:") else ("", "", secret)
        )
        groups.setdefault(f"{base}:secret:" if base else "", []).append(name)
    return groups


def grant_secret_reads(role: iam.IRole, secrets: Iterable[str]) -> None:
    """Let ``role`` read ``secrets`` (names or ARNs): per account and region, several secrets
    under one folder are granted as that folder's pattern (``secret:migration/*``), so the
    policy is the same size whatever the number of databases (IAM caps a role's inline
    policies at 10,240 characters); a secret alone, or secrets without a common folder, are
    listed one by one (a name with the ``-??????`` Secrets Manager appends)."""
    resources: list[str] = []
    for base, names in _secret_groups(secrets).items():
        folder = _common_folder(names) if len(names) > 1 else ""
        if folder:
            resources.append(f"{base or _LOCAL_SECRETS}{folder}*")
            acknowledge(
                role,
                f"AwsSolutions-IAM5[Resource::{base or _LOCAL_FINDING}{folder}*]",
                f"The plan's database secrets{' in ' + base if base else ''} are all under "
                f"{folder}: one pattern keeps the policy the same size whatever the number of "
                "databases (IAM caps a role's inline policies at 10,240 characters) and matches "
                "the six random characters Secrets Manager appends to each name. Read-only; keep "
                f"other deployments' secrets out of {folder}.",
            )
        else:
            resources += [f"{base}{name}" if base else secret_arn(name) for name in names]
    role.add_to_principal_policy(
        iam.PolicyStatement(
            actions=["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"],
            resources=resources,
        )
    )


def table_mappings(database: Database) -> str:
    """DMS selection rules for the plan's table selection, in plan order."""
    rules = [
        {
            "rule-type": "selection",
            "rule-id": str(number),
            "rule-name": f"include-{number}",
            "object-locator": {
                "schema-name": selection.schema_name,
                "table-name": selection.table_name,
            },
            "rule-action": "include",
        }
        for number, selection in enumerate(database.tables, start=1)
    ]
    return json.dumps({"rules": rules}, sort_keys=True)


class ReplicationTasks(Construct):
    """DMS source/target endpoints reading credentials from Secrets Manager, and the tasks.

    Credentials never enter the template: each endpoint names its secret, and DMS reads it
    through an access role that may read exactly the plan's secrets. Connections require TLS.

    Per database there are two tasks. The forward task (``tasks``) replicates on-premises ->
    AWS, full load then changes. The reverse task (``reverse_tasks``) replicates AWS ->
    on-premises, changes only, over its own pair of endpoints (the AWS target read as a source,
    the on-premises source written as a target): it keeps the way back open after a database
    cutover. CloudFormation creates DMS tasks but never starts them, so the reverse task is
    prepared, not started, by construction; the runtime starts it from the target's change
    position recorded at the cutover. PostgreSQL source endpoints name their logical replication
    slot (``migration.database.names.slot_name``) so the runtime can prove a drain from it.
    Every task carries the tag ``TASK_TAG_KEY`` = the environment suffix, on which the roles
    that drive the tasks are granted (:func:`tasks_statement`).
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        databases: Sequence[Database],
        replication_instance: dms.CfnReplicationInstance,
        key: kms.IKey,
        environment_suffix: str,
    ) -> None:
        super().__init__(scope, construct_id)
        self._tag = CfnTag(key=TASK_TAG_KEY, value=environment_suffix)
        self.monitors: list[ReplicationTaskMonitor] = []
        self.reverse_monitors: list[ReplicationTaskMonitor] = []
        self.tasks: dict[str, dms.CfnReplicationTask] = {}
        self.reverse_tasks: dict[str, dms.CfnReplicationTask] = {}
        if not databases:
            return
        self._create_access_role(databases, environment_suffix)
        for database in databases:
            group = Construct(self, database.name)
            forward = self._task(
                group,
                "",
                database,
                (database.source, database.target),
                key,
                replication_instance,
                task_identifier(database.name, environment_suffix),
            )
            reverse = self._task(
                group,
                "Reverse",
                database,
                (database.target, database.source),
                key,
                replication_instance,
                reverse_task_identifier(database.name, environment_suffix),
            )
            self.tasks[database.name] = forward
            self.reverse_tasks[database.name] = reverse
            self.monitors.append(
                _monitor(forward, database, environment_suffix, FORWARD_LATENCY_METRIC)
            )
            self.reverse_monitors.append(
                _monitor(reverse, database, environment_suffix, REVERSE_LATENCY_METRIC)
            )

    def _create_access_role(self, databases: Sequence[Database], environment_suffix: str) -> None:
        region = Stack.of(self).region
        self.access_role = iam.Role(
            self,
            "SecretsAccessRole",
            # DMS assumes secret-access roles through its regional service principal.
            assumed_by=iam.ServicePrincipal(f"dms.{region}.amazonaws.com"),
            description=f"DMS reads the plan's database secrets ({environment_suffix})",
        )
        grant_secret_reads(
            self.access_role, (e.secret for d in databases for e in (d.source, d.target))
        )

    def _task(
        self,
        group: Construct,
        prefix: str,
        database: Database,
        sides: tuple[Endpoint, Endpoint],
        key: kms.IKey,
        replication_instance: dms.CfnReplicationInstance,
        task_id: str,
    ) -> dms.CfnReplicationTask:
        """A task between two endpoints of its own; ``prefix`` "" is forward, "Reverse" back."""
        direction: Direction = "reverse" if prefix else "forward"
        source = self._endpoint(
            group, f"{prefix}Source", "source", database, sides[0], key, direction
        )
        target = self._endpoint(group, f"{prefix}Target", "target", database, sides[1], key)
        settings = REVERSE_TASK_SETTINGS if prefix else TASK_SETTINGS
        return dms.CfnReplicationTask(
            group,
            f"{prefix}Task",
            replication_task_identifier=task_id,
            migration_type="cdc" if prefix else "full-load-and-cdc",
            replication_instance_arn=replication_instance.ref,
            source_endpoint_arn=source.ref,
            target_endpoint_arn=target.ref,
            table_mappings=table_mappings(database),
            replication_task_settings=json.dumps(settings, sort_keys=True),
            tags=[self._tag],
        )

    def _endpoint(
        self,
        group: Construct,
        construct_id: str,
        endpoint_type: str,
        database: Database,
        endpoint: Endpoint,
        key: kms.IKey,
        slot: Direction | None = None,
    ) -> dms.CfnEndpoint:
        name, struct = _SETTINGS_PROPERTY[database.engine]
        extra = {"slot_name": slot_name(database.name, slot)} if slot and name == _POSTGRES else {}
        settings = {
            name: struct(
                secrets_manager_secret_id=endpoint.secret,
                secrets_manager_access_role_arn=self.access_role.role_arn,
                **extra,
            )
        }
        return dms.CfnEndpoint(
            group,
            construct_id,
            endpoint_type=endpoint_type,
            engine_name=database.engine,
            database_name=endpoint.database,
            ssl_mode="require",
            kms_key_id=key.key_arn,
            **settings,
        )


def _monitor(
    task: dms.CfnReplicationTask, database: Database, environment_suffix: str, metric_name: str
) -> ReplicationTaskMonitor:
    direction: Direction = "forward" if metric_name == FORWARD_LATENCY_METRIC else "reverse"
    return ReplicationTaskMonitor(
        task_identifier=str(task.replication_task_identifier),
        # A name the runtime derives from the database (migration.database.names), so no
        # per-database map of alarm names reaches a Lambda environment or a stack output.
        alarm_name=cdc_latency_alarm_name(database.name, environment_suffix, direction),
        cdc_latency_threshold_seconds=database.cdc_latency_threshold_seconds,
        # arn:<partition>:dms:<region>:<account>:task:<resource id>
        metric_task_id=Fn.select(6, Fn.split(":", task.ref)),
        metric_name=metric_name,
        # Rolling application traffic back cannot help a lagging reverse replication: after a
        # database cutover every application writes through the database's name either way.
        triggers_rollback=metric_name == FORWARD_LATENCY_METRIC,
    )
