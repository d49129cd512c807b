"""Replication tasks: per planned database, DMS endpoints and a validated full-load-and-cdc task."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence

from aws_cdk import Aws, Fn, Stack
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_dms as dms
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from constructs import Construct

from lib.monitoring import ReplicationTaskMonitor
from lib.nag import acknowledge
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


def secret_arn(secret: str) -> str:
    """The IAM resource of a secret given by ARN or by name (Secrets Manager adds 6 characters)."""
    if secret.startswith("arn:"):
        return secret
    return (
        f"arn:{Aws.PARTITION}:secretsmanager:{Aws.REGION}:{Aws.ACCOUNT_ID}:secret:{secret}-??????"
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
        self.monitors: list[ReplicationTaskMonitor] = []
        self.tasks: dict[str, dms.CfnReplicationTask] = {}
        if not databases:
            return
        region = Stack.of(self).region
        self.access_role = iam.Role(
            self,
            "SecretsAccessRole",
            # DMS assumes secret-access roles through its regional service principal.
            assumed_by=iam.ServicePrincipal(f"dms.{region}.amazonaws.com"),
            description=f"DMS reads the plan's database secrets ({environment_suffix})",
        )
        secrets = sorted({e.secret for d in databases for e in (d.source, d.target)})
        self.access_role.add_to_policy(
            iam.PolicyStatement(
                actions=["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"],
                resources=[secret_arn(s) for s in secrets],
            )
        )
        for secret in secrets:
            if not secret.startswith("arn:"):
                acknowledge(
                    self.access_role,
                    f"AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:secretsmanager:"
                    f"<AWS::Region>:<AWS::AccountId>:secret:{secret}-??????]",
                    f"Secret {secret} is named in the plan; Secrets Manager appends six random "
                    "characters to a secret's ARN, which only this wildcard can match.",
                )

        for database in databases:
            group = Construct(self, database.name)
            source = self._endpoint(group, "Source", "source", database, database.source, key)
            target = self._endpoint(group, "Target", "target", database, database.target, key)
            task_id = f"{database.name}-{environment_suffix}"
            self.tasks[database.name] = dms.CfnReplicationTask(
                group,
                "Task",
                replication_task_identifier=task_id,
                migration_type="full-load-and-cdc",
                replication_instance_arn=replication_instance.ref,
                source_endpoint_arn=source.ref,
                target_endpoint_arn=target.ref,
                table_mappings=table_mappings(database),
                replication_task_settings=json.dumps(TASK_SETTINGS, sort_keys=True),
            )
            self.monitors.append(
                ReplicationTaskMonitor(
                    task_identifier=task_id,
                    cdc_latency_threshold_seconds=database.cdc_latency_threshold_seconds,
                    # arn:<partition>:dms:<region>:<account>:task:<resource id>
                    metric_task_id=Fn.select(6, Fn.split(":", self.tasks[database.name].ref)),
                )
            )

    def alarms(self, alarms: Mapping[str, cloudwatch.Alarm]) -> dict[str, cloudwatch.Alarm]:
        """The CDC latency alarm of each planned database, from the monitoring alarms by id."""
        return {
            database: alarms[f"CdcLatency-{task.task_identifier}"]
            for database, task in zip(self.tasks, self.monitors, strict=True)
        }

    def _endpoint(
        self,
        group: Construct,
        construct_id: str,
        endpoint_type: str,
        database: Database,
        endpoint: Endpoint,
        key: kms.IKey,
    ) -> dms.CfnEndpoint:
        name, struct = _SETTINGS_PROPERTY[database.engine]
        settings = {
            name: struct(
                secrets_manager_secret_id=endpoint.secret,
                secrets_manager_access_role_arn=self.access_role.role_arn,
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
