"""The deployed stack's outputs: what the runtime needs to find the resources it drives.

Read from ``cfn-outputs/flat-outputs.json`` (``make deploy`` or the local deployment write it;
a flat ``{"OutputName": "value"}`` object, the shape CI pipelines use) or fetched from
CloudFormation by stack name. Both give the same :class:`StackOutputs`.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from migration.database import names
from migration.errors import OutputsError

DEFAULT_OUTPUTS_PATH = Path("cfn-outputs") / "flat-outputs.json"
# What the local emulator deployment writes: apart, so a demo never replaces a real one's.
LOCAL_OUTPUTS_PATH = Path("cfn-outputs") / "local" / "flat-outputs.json"

# The seed's ten outputs, in its order, plus the settings output the runtime reads.
SEED_OUTPUTS = (
    "VpcId",
    "DmsReplicationInstanceArn",
    "CloudEndureRoleArn",
    "VpnConnectionId",
    "PrivateHostedZoneId",
    "MigrationTrackingTableName",
    "SnsTopicArn",
    "SsmDocumentName",
    "RollbackLambdaArn",
    "DashboardName",
)
SETTINGS_OUTPUT = "CutoverSettings"
SERVER_SETTINGS_OUTPUT = "ServerMigrationSettings"
LAUNCH_SECURITY_GROUP_KEY = "launchSecurityGroupId"
"""Optional: stacks deployed before server migration lack it (only ``servers init`` reads it)."""


@dataclass(frozen=True)
class CutoverSettings:
    """Names the stack generated or fixed, which the cutover engine and gates look up.

    Per-database names are derived (:mod:`migration.database.names`), so the stack's output
    and the functions' environment stay the same size whatever the number of databases.
    Stacks deployed before that listed them per database (``replicationTasks``,
    ``cdcLatencyAlarms``, ``reverseReplicationTasks``, ``reverseCdcLatencyAlarms``, empty
    here for newer ones); a database's entry there wins over the derived name.
    """

    environment_suffix: str
    replication_instance_identifier: str
    alarms: Mapping[str, str]
    replication_tasks: Mapping[str, str] = field(default_factory=dict)
    cdc_latency_alarms: Mapping[str, str] = field(default_factory=dict)
    reverse_replication_tasks: Mapping[str, str] = field(default_factory=dict)
    reverse_cdc_latency_alarms: Mapping[str, str] = field(default_factory=dict)

    def task_identifier(self, database: str) -> str:
        """The forward (on-premises -> AWS) DMS task of ``database``."""
        return self.replication_tasks.get(database) or names.task_identifier(
            database, self.environment_suffix
        )

    def reverse_task_identifier(self, database: str) -> str:
        """The reverse (AWS -> on-premises) DMS task of ``database``."""
        return self.reverse_replication_tasks.get(database) or names.reverse_task_identifier(
            database, self.environment_suffix
        )

    def cdc_latency_alarm(self, database: str) -> str:
        """The CDC latency alarm of ``database``'s forward task."""
        return self.cdc_latency_alarms.get(database) or names.cdc_latency_alarm_name(
            database, self.environment_suffix
        )

    def reverse_cdc_latency_alarm(self, database: str) -> str:
        """The CDC latency alarm of ``database``'s reverse task."""
        return self.reverse_cdc_latency_alarms.get(database) or names.cdc_latency_alarm_name(
            database, self.environment_suffix, "reverse"
        )

    def cdc_latency_alarms_of(self, databases: Iterable[str]) -> dict[str, str]:
        """Database -> forward CDC latency alarm, for ``databases`` (the plan's or a wave's)."""
        return {database: self.cdc_latency_alarm(database) for database in databases}


@dataclass(frozen=True)
class ServerMigrationSettings:
    """What the stack created for MGN (the ``ServerMigrationSettings`` output), which
    ``migrate servers init`` puts into MGN's replication configuration template."""

    staging_subnet_ids: tuple[str, ...]
    """Private subnets of the project VPC; the staging area uses the first."""
    replication_security_group_id: str
    kms_key_arn: str
    """The project key: staging disks and launched volumes are encrypted with it."""
    launch_configuration_template_id: str
    """The stack's ``AWS::MGN::LaunchConfigurationTemplate`` (settings of new source servers)."""
    validation_document_name: str
    """The SSM document run as the post-launch validation action."""
    launch_security_group_id: str | None = None
    """The group of launched test and cutover instances (``launchSecurityGroupId``); None in
    the outputs of stacks made before it, which ``servers init`` refuses."""

    @property
    def staging_subnet_id(self) -> str:
        return self.staging_subnet_ids[0]


@dataclass(frozen=True)
class StackOutputs:
    """The stack outputs, typed. ``values`` keeps every output as given."""

    source: str
    values: Mapping[str, str]
    settings: CutoverSettings

    def __getitem__(self, name: str) -> str:
        return self.values[name]

    @property
    def hosted_zone_id(self) -> str:
        return self.values["PrivateHostedZoneId"]

    @property
    def table_name(self) -> str:
        return self.values["MigrationTrackingTableName"]

    @property
    def topic_arn(self) -> str:
        return self.values["SnsTopicArn"]

    @property
    def rollback_function_arn(self) -> str:
        return self.values["RollbackLambdaArn"]

    @property
    def vpn_connection_id(self) -> str:
        return self.values["VpnConnectionId"]

    def server_migration_settings(self) -> ServerMigrationSettings:
        """The ``ServerMigrationSettings`` output, read when asked (an older stack lacks it,
        and only the commands setting MGN up need it); OutputsError if missing or bad."""
        raw = self.values.get(SERVER_SETTINGS_OUTPUT)
        if not raw:
            raise OutputsError(
                self.source,
                f"missing output {SERVER_SETTINGS_OUTPUT}; deploy the stack version that"
                " creates MGN's settings, then write the outputs again",
            )
        return parse_server_migration_settings(raw, self.source)


def parse_outputs(data: Any, source: str) -> StackOutputs:
    """Validate a flat outputs mapping; the error names the file and the missing/bad key."""
    if not isinstance(data, Mapping):
        raise OutputsError(source, "expected a JSON object of stack outputs")
    missing = [name for name in (*SEED_OUTPUTS, SETTINGS_OUTPUT) if not data.get(name)]
    if missing:
        raise OutputsError(
            source,
            f"missing output(s) {', '.join(missing)}; is this the migration stack's outputs file?",
        )
    values = {str(k): str(v) for k, v in data.items()}
    return StackOutputs(source, values, parse_cutover_settings(values[SETTINGS_OUTPUT], source))


def _json_output(raw: str, source: str, name: str) -> tuple[dict[str, Any], Callable[[str], str]]:
    """Output ``name``'s JSON object, and a reader of its non-empty string members (each
    problem an OutputsError naming the member)."""
    try:
        data = json.loads(raw)
    except json.JSONDecodeError as error:
        raise OutputsError(source, f"{name}: not JSON ({error.msg})") from None
    if not isinstance(data, dict):
        raise OutputsError(source, f"{name}: expected a JSON object")

    def text(key: str) -> str:
        value = data.get(key)
        if not isinstance(value, str) or not value:
            raise OutputsError(source, f"{name}.{key}: expected a non-empty string")
        return value

    return data, text


def parse_cutover_settings(raw: str, source: str) -> CutoverSettings:
    """The ``CutoverSettings`` JSON (a stack output, and the controller's environment)."""
    data, text = _json_output(raw, source, SETTINGS_OUTPUT)

    def names_of(key: str) -> dict[str, str]:
        value = data.get(key, {})
        if not isinstance(value, dict) or not all(
            isinstance(k, str) and isinstance(v, str) and v for k, v in value.items()
        ):
            raise OutputsError(source, f"{SETTINGS_OUTPUT}.{key}: expected an object of names")
        return dict(value)

    # The per-database maps only in outputs of older stacks (and their controller's
    # environment); a database's name in the private zone comes from the plan, never from
    # here (their "databaseNames" is ignored).
    return CutoverSettings(
        environment_suffix=text("environmentSuffix"),
        replication_instance_identifier=text("replicationInstanceIdentifier"),
        alarms=names_of("alarms"),
        replication_tasks=names_of("replicationTasks"),
        cdc_latency_alarms=names_of("cdcLatencyAlarms"),
        reverse_replication_tasks=names_of("reverseReplicationTasks"),
        reverse_cdc_latency_alarms=names_of("reverseCdcLatencyAlarms"),
    )


def parse_server_migration_settings(raw: str, source: str) -> ServerMigrationSettings:
    """The ``ServerMigrationSettings`` JSON (a stack output)."""
    name = SERVER_SETTINGS_OUTPUT
    data, text = _json_output(raw, source, name)
    subnets = data.get("stagingSubnetIds")
    if (
        not isinstance(subnets, list)
        or not subnets
        or not all(isinstance(s, str) and s for s in subnets)
    ):
        raise OutputsError(source, f"{name}.stagingSubnetIds: expected a non-empty list of ids")
    return ServerMigrationSettings(
        staging_subnet_ids=tuple(subnets),
        replication_security_group_id=text("replicationSecurityGroupId"),
        kms_key_arn=text("kmsKeyArn"),
        launch_configuration_template_id=text("launchConfigurationTemplateId"),
        validation_document_name=text("validationDocumentName"),
        # Optional: older stacks lack it; only init needs it (and says so).
        launch_security_group_id=(
            text(LAUNCH_SECURITY_GROUP_KEY) if LAUNCH_SECURITY_GROUP_KEY in data else None
        ),
    )


def load_outputs(path: str | os.PathLike[str] = DEFAULT_OUTPUTS_PATH) -> StackOutputs:
    """Read a flat outputs file; a missing or malformed file is an :class:`OutputsError`."""
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise OutputsError(
            str(file),
            (
                "not found; deploy first (make deploy) or pass --stack NAME (a local "
                f"deployment writes {LOCAL_OUTPUTS_PATH}: pass --outputs)"
            ),
        ) from None
    except OSError as error:
        raise OutputsError(str(file), f"cannot be read ({error.strerror})") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        problem = f"not valid JSON (line {error.lineno}: {error.msg})"
        raise OutputsError(str(file), problem) from None
    return parse_outputs(data, str(file))


def fetch_outputs(cloudformation: Any, stack_name: str) -> StackOutputs:
    """Read the outputs of a deployed stack through CloudFormation ``DescribeStacks``."""
    from botocore.exceptions import ClientError

    source = f"stack {stack_name}"
    try:
        stacks = cloudformation.describe_stacks(StackName=stack_name)["Stacks"]
    except ClientError as error:
        message = error.response.get("Error", {}).get("Message", str(error))
        raise OutputsError(source, f"cannot be described ({message})") from None
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stacks[0].get("Outputs", [])}
    return parse_outputs(outputs, source)
