"""Replication tasks: DMS endpoints reading Secrets Manager, validated full-load-and-cdc tasks."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_dms as dms
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk.assertions import Capture, Match, Template
from cdk_nag import AwsSolutionsChecks

from lib.replication_tasks import (
    REVERSE_TASK_SETTINGS,
    TASK_SETTINGS,
    TASK_TAG_KEY,
    ReplicationTasks,
    grant_secret_reads,
    secret_arn,
    table_mappings,
    tasks_statement,
)
from migration.database.names import (
    cdc_latency_alarm_name,
    reverse_task_identifier,
    slot_name,
    task_identifier,
)
from migration.plan import Database

KEY_ARN = "arn:aws:kms:us-east-1:111111111111:key/11111111-2222-3333-4444-555555555555"
TARGET_SECRET_ARN = "arn:aws:secretsmanager:us-east-1:111111111111:secret:orders-target-AbCdEf"


def _database(name: str, engine: str, source_secret: str, target_secret: str, **extra: Any):
    return Database.model_validate(
        {
            "name": name,
            "engine": engine,
            "source": {"host": "192.168.20.10", "database": name, "secret": source_secret},
            "target": {
                "host": f"{name}.example.internal",
                "database": name,
                "secret": target_secret,
            },
            **extra,
        }
    )


DATABASES = (
    _database(
        "orders-db",
        "postgres",
        "migration/orders-db/source",
        TARGET_SECRET_ARN,
        tables=[{"schema": "public", "table": "%"}, {"schema": "billing", "table": "invoices"}],
        cdc_latency_threshold_seconds=30,
    ),
    _database("shop-db", "mysql", "migration/shop-db/source", "migration/shop-db/target"),
    _database("crm-db", "sqlserver", "migration/crm-db/source", "migration/crm-db/target"),
    _database("erp-db", "oracle", "migration/erp-db/source", "migration/erp-db/target"),
)
SETTINGS_KEYS = {
    "postgres": "PostgreSqlSettings",
    "mysql": "MySqlSettings",
    "sqlserver": "MicrosoftSqlServerSettings",
    "oracle": "OracleSettings",
}


class Built:
    def __init__(self, outdir: Path) -> None:
        self.app = cdk.App(outdir=str(outdir))
        env = cdk.Environment(account="111111111111", region="us-east-1")
        self.stack = cdk.Stack(self.app, "Tasks", env=env)
        self.empty_stack = cdk.Stack(self.app, "NoTasks", env=env)
        self.tasks = self._build(self.stack, DATABASES)
        self.empty = self._build(self.empty_stack, ())
        cdk.Validations.of(self.app).add_plugins(AwsSolutionsChecks(self.app))
        self.app.synth()
        self.template = Template.from_stack(self.stack)
        self.empty_template = Template.from_stack(self.empty_stack)
        report = json.loads((outdir / "validation-report.json").read_text())
        self.nag = [p for p in report["pluginReports"] if p["pluginName"] == "AwsSolutions"]

    @staticmethod
    def _build(stack: cdk.Stack, databases: tuple[Database, ...]) -> ReplicationTasks:
        instance = dms.CfnReplicationInstance(
            stack,
            "Instance",
            replication_instance_class="dms.t3.medium",
            publicly_accessible=False,
            multi_az=True,
            auto_minor_version_upgrade=True,
            kms_key_id=KEY_ARN,
        )
        return ReplicationTasks(
            stack,
            "ReplicationTasks",
            databases=databases,
            replication_instance=instance,
            key=kms.Key.from_key_arn(stack, "Key", KEY_ARN),
            environment_suffix="test",
        )


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Built:
    return Built(tmp_path_factory.mktemp("replication-tasks"))


# --------------------------------------------------------------------------- helpers


def test_secret_arn_keeps_an_arn() -> None:
    assert secret_arn(TARGET_SECRET_ARN) == TARGET_SECRET_ARN


def test_secret_arn_of_a_name_matches_the_random_suffix() -> None:
    stack = cdk.Stack(cdk.App(), "Arn")
    assert stack.resolve(secret_arn("migration/db/source")) == {
        "Fn::Join": [
            "",
            [
                "arn:",
                {"Ref": "AWS::Partition"},
                ":secretsmanager:",
                {"Ref": "AWS::Region"},
                ":",
                {"Ref": "AWS::AccountId"},
                ":secret:migration/db/source-??????",
            ],
        ]
    }


def test_every_task_carries_the_grant_tag(built: Built) -> None:
    tasks = built.template.find_resources("AWS::DMS::ReplicationTask")
    assert len(tasks) == 2 * len(DATABASES)
    for task in tasks.values():
        assert task["Properties"]["Tags"] == [{"Key": TASK_TAG_KEY, "Value": "test"}]


def test_tasks_statement_grants_on_the_tag_of_the_tasks(built: Built) -> None:
    tasks = [*built.tasks.tasks.values(), *built.tasks.reverse_tasks.values()]
    statement = built.stack.resolve(tasks_statement(["dms:StopReplicationTask"], tasks).to_json())
    assert statement["Action"] == "dms:StopReplicationTask"
    assert statement["Condition"] == {"StringEquals": {f"aws:ResourceTag/{TASK_TAG_KEY}": "test"}}
    assert statement["Resource"]["Fn::Join"][1][-1] == ":task:*"
    # The same statement for one task or all of them: its size does not grow with the plan.
    one = built.stack.resolve(tasks_statement(["dms:StopReplicationTask"], tasks[:1]).to_json())
    assert one == statement


def test_tasks_statement_refuses_tasks_without_one_shared_tag() -> None:
    stack = cdk.Stack(cdk.App(), "Untagged")

    def task(name: str, tags: list[cdk.CfnTag] | None) -> dms.CfnReplicationTask:
        return dms.CfnReplicationTask(
            stack, name, migration_type="cdc", replication_instance_arn="i",
            source_endpoint_arn="s", target_endpoint_arn="t", table_mappings="{}", tags=tags,
        )  # fmt: skip

    untagged = task("Untagged", None)
    dev = task("Dev", [cdk.CfnTag(key=TASK_TAG_KEY, value="dev")])
    qa = task("Qa", [cdk.CfnTag(key=TASK_TAG_KEY, value="qa")])
    for tasks in ([untagged], [dev, qa], []):
        with pytest.raises(ValueError, match=f"share one {TASK_TAG_KEY} tag value"):
            tasks_statement(["dms:StopReplicationTask"], tasks)


def test_table_mappings_are_selection_rules_in_plan_order() -> None:
    mappings = json.loads(table_mappings(DATABASES[0]))
    assert mappings == {
        "rules": [
            {
                "rule-type": "selection",
                "rule-id": "1",
                "rule-name": "include-1",
                "object-locator": {"schema-name": "public", "table-name": "%"},
                "rule-action": "include",
            },
            {
                "rule-type": "selection",
                "rule-id": "2",
                "rule-name": "include-2",
                "object-locator": {"schema-name": "billing", "table-name": "invoices"},
                "rule-action": "include",
            },
        ]
    }


def test_default_table_selection_is_everything() -> None:
    (rule,) = json.loads(table_mappings(DATABASES[1]))["rules"]
    assert rule["object-locator"] == {"schema-name": "%", "table-name": "%"}


def test_task_settings_validate_rows() -> None:
    assert TASK_SETTINGS["ValidationSettings"]["EnableValidation"] is True
    assert TASK_SETTINGS["ValidationSettings"]["ValidationMode"] == "ROW_LEVEL"
    assert TASK_SETTINGS["FullLoadSettings"] == {"TargetTablePrepMode": "DO_NOTHING"}


# --------------------------------------------------------------------------- construct


def test_one_task_per_database(built: Built) -> None:
    # Per database a forward and a reverse task, each with its own two endpoints.
    built.template.resource_count_is("AWS::DMS::ReplicationTask", 8)
    built.template.resource_count_is("AWS::DMS::Endpoint", 16)
    instance = Capture()
    for database in DATABASES:
        built.template.has_resource_properties(
            "AWS::DMS::ReplicationTask",
            {
                "ReplicationTaskIdentifier": f"{database.name}-test",
                "MigrationType": "full-load-and-cdc",
                "ReplicationInstanceArn": {"Ref": instance},
                "SourceEndpointArn": {"Ref": Match.string_like_regexp("^ReplicationTasks.*Source")},
                "TargetEndpointArn": {"Ref": Match.string_like_regexp("^ReplicationTasks.*Target")},
                "TableMappings": table_mappings(database),
                "ReplicationTaskSettings": json.dumps(TASK_SETTINGS, sort_keys=True),
            },
        )
    assert instance.as_string() == built.stack.get_logical_id(
        built.stack.node.find_child("Instance")
    )


def test_each_task_reads_its_own_endpoints(built: Built) -> None:
    for name, task in built.tasks.tasks.items():
        group = built.tasks.node.find_child(name)
        resolved = built.stack.resolve
        assert resolved(task.source_endpoint_arn) == resolved(group.node.find_child("Source").ref)
        assert resolved(task.target_endpoint_arn) == resolved(group.node.find_child("Target").ref)


@pytest.mark.parametrize("database", DATABASES, ids=[d.engine for d in DATABASES])
def test_endpoints_use_tls_the_key_and_a_secret(built: Built, database: Database) -> None:
    role = built.stack.get_logical_id(built.tasks.access_role.node.default_child)
    for endpoint_type, endpoint in (("source", database.source), ("target", database.target)):
        built.template.has_resource_properties(
            "AWS::DMS::Endpoint",
            {
                "EndpointType": endpoint_type,
                "EngineName": database.engine,
                "DatabaseName": endpoint.database,
                "SslMode": "require",
                "KmsKeyId": KEY_ARN,
                SETTINGS_KEYS[database.engine]: {
                    "SecretsManagerSecretId": endpoint.secret,
                    "SecretsManagerAccessRoleArn": {"Fn::GetAtt": [role, "Arn"]},
                },
            },
        )


def test_no_credentials_in_the_template(built: Built) -> None:
    for endpoint in built.template.find_resources("AWS::DMS::Endpoint").values():
        properties = endpoint["Properties"]
        for forbidden in ("Password", "Username", "ServerName", "Port"):
            assert forbidden not in properties


def test_access_role_reads_exactly_the_plan_secrets(built: Built) -> None:
    built.template.has_resource_properties(
        "AWS::IAM::Role",
        {
            "AssumeRolePolicyDocument": {
                "Statement": [
                    {
                        "Action": "sts:AssumeRole",
                        "Effect": "Allow",
                        "Principal": {"Service": "dms.us-east-1.amazonaws.com"},
                    }
                ],
                "Version": "2012-10-17",
            },
            "Description": "DMS reads the plan's database secrets (test)",
        },
    )
    (policy,) = built.template.find_resources("AWS::IAM::Policy").values()
    (statement,) = policy["Properties"]["PolicyDocument"]["Statement"]
    assert statement["Action"] == ["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"]
    # Seven names under migration/ (one pattern) and one ARN (listed as given).
    secrets = sorted({e.secret for d in DATABASES for e in (d.source, d.target)})
    assert len(secrets) == 8
    assert statement["Resource"] == [TARGET_SECRET_ARN, _local_secrets("migration/*")]


def _local_secrets(tail: str) -> dict[str, Any]:
    return {
        "Fn::Join": [
            "",
            [
                "arn:",
                {"Ref": "AWS::Partition"},
                ":secretsmanager:",
                {"Ref": "AWS::Region"},
                ":",
                {"Ref": "AWS::AccountId"},
                f":secret:{tail}",
            ],
        ]
    }


OTHER = "arn:aws:secretsmanager:eu-west-1:222222222222:secret:"


@pytest.mark.parametrize(
    ("secrets", "resources", "patterns"),
    [
        # One secret: exactly it (with the six characters Secrets Manager appends).
        (["migration/orders-db/source"], [_local_secrets("migration/orders-db/source-??????")], []),
        # One database: its folder.
        (
            ["migration/orders-db/source", "migration/orders-db/target"],
            [_local_secrets("migration/orders-db/*")],
            ["migration/orders-db/*"],
        ),
        # Names without a common folder: one by one.
        (
            ["orders-source", "shop/target"],
            [_local_secrets("orders-source-??????"), _local_secrets("shop/target-??????")],
            [],
        ),
        # ARNs: by account and region, the same rule; names of this account apart.
        (
            [f"{OTHER}ops/a/x-AbCdEf", f"{OTHER}ops/b/y-GhIjKl", "ops/c/z", f"{OTHER}z-MnOpQr"],
            [
                f"{OTHER}ops/a/x-AbCdEf",
                f"{OTHER}ops/b/y-GhIjKl",
                f"{OTHER}z-MnOpQr",
                _local_secrets("ops/c/z-??????"),
            ],
            [],
        ),
        (
            [f"{OTHER}ops/a/x-AbCdEf", f"{OTHER}ops/b/y-GhIjKl"],
            [f"{OTHER}ops/*"],
            [f"{OTHER}ops/*"],
        ),
    ],
)
def test_secret_reads_are_one_pattern_per_common_folder(
    tmp_path: Path, secrets: list[str], resources: list[Any], patterns: list[str]
) -> None:
    app = cdk.App(outdir=str(tmp_path))
    stack = cdk.Stack(app, "Secrets")
    role = iam.Role(stack, "Role", assumed_by=iam.ServicePrincipal("dms.amazonaws.com"))
    grant_secret_reads(role, secrets)
    cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    app.synth()  # raises on an unacknowledged finding
    (statement,) = stack.resolve(role.node.find_child("DefaultPolicy").document.to_json())[
        "Statement"
    ]
    assert statement["Resource"] == (resources[0] if len(resources) == 1 else resources)
    report = json.loads((tmp_path / "validation-report.json").read_text())
    suppressed = [v["ruleName"] for p in report["pluginReports"] for v in p["suppressedViolations"]]
    local = "arn:<AWS::Partition>:secretsmanager:<AWS::Region>:<AWS::AccountId>:secret:"
    assert suppressed == [
        f"AwsSolutions-IAM5[Resource::{p if p.startswith('arn:') else local + p}]" for p in patterns
    ]


def test_cdk_nag_finds_nothing_unacknowledged(built: Built) -> None:
    # Synthesis with the AwsSolutions checks succeeded (a violation raises); nothing is left over.
    assert all(p["violations"] == [] for p in built.nag)


def test_monitors_carry_task_ids_and_thresholds(built: Built) -> None:
    monitors = built.tasks.monitors
    assert [(m.task_identifier, m.cdc_latency_threshold_seconds) for m in monitors] == [
        ("orders-db-test", 30),
        ("shop-db-test", 60),
        ("crm-db-test", 60),
        ("erp-db-test", 60),
    ]
    # The metric dimension is the task's resource id: the last field of its ARN.
    stack = cdk.Stack.of(built.tasks)
    for monitor, task in zip(monitors, built.tasks.tasks.values(), strict=True):
        assert stack.resolve(monitor.metric_task_id) == {
            "Fn::Select": [6, {"Fn::Split": [":", {"Ref": stack.get_logical_id(task)}]}]
        }
    assert list(built.tasks.tasks) == [d.name for d in DATABASES]


def test_no_databases_creates_nothing(built: Built) -> None:
    assert built.empty.monitors == []
    assert built.empty.reverse_monitors == []
    assert built.empty.tasks == {}
    assert built.empty.reverse_tasks == {}
    for kind in ("AWS::DMS::ReplicationTask", "AWS::DMS::Endpoint", "AWS::IAM::Role"):
        built.empty_template.resource_count_is(kind, 0)


# --------------------------------------------------------------------------- reverse replication


def test_reverse_task_settings_replicate_changes_only_without_validation() -> None:
    assert REVERSE_TASK_SETTINGS["FullLoadSettings"] == {"TargetTablePrepMode": "DO_NOTHING"}
    assert REVERSE_TASK_SETTINGS["ValidationSettings"] == {"EnableValidation": False}
    assert REVERSE_TASK_SETTINGS["TargetMetadata"] == TASK_SETTINGS["TargetMetadata"]


def test_one_cdc_only_reverse_task_per_database(built: Built) -> None:
    for database in DATABASES:
        built.template.has_resource_properties(
            "AWS::DMS::ReplicationTask",
            {
                "ReplicationTaskIdentifier": reverse_task_identifier(database.name, "test"),
                "MigrationType": "cdc",
                "TableMappings": table_mappings(database),
                "ReplicationTaskSettings": json.dumps(REVERSE_TASK_SETTINGS, sort_keys=True),
                "CdcStartPosition": Match.absent(),
            },
        )
    assert list(built.tasks.reverse_tasks) == [d.name for d in DATABASES]


def test_reverse_task_reads_the_aws_target_and_writes_on_premises(built: Built) -> None:
    resolved = built.stack.resolve
    role = built.stack.get_logical_id(built.tasks.access_role.node.default_child)
    for database in DATABASES:
        group = built.tasks.node.find_child(database.name)
        task = built.tasks.reverse_tasks[database.name]
        source, target = (
            group.node.find_child("ReverseSource"),
            group.node.find_child("ReverseTarget"),
        )
        assert resolved(task.source_endpoint_arn) == resolved(source.ref)
        assert resolved(task.target_endpoint_arn) == resolved(target.ref)
        for endpoint, endpoint_type, side in (
            (source, "source", database.target),
            (target, "target", database.source),
        ):
            properties = built.template.to_json()["Resources"][built.stack.get_logical_id(endpoint)]
            settings = properties["Properties"][SETTINGS_KEYS[database.engine]]
            assert properties["Properties"]["EndpointType"] == endpoint_type
            assert properties["Properties"]["DatabaseName"] == side.database
            assert properties["Properties"]["SslMode"] == "require"
            assert properties["Properties"]["KmsKeyId"] == KEY_ARN
            assert settings["SecretsManagerSecretId"] == side.secret
            assert settings["SecretsManagerAccessRoleArn"] == {"Fn::GetAtt": [role, "Arn"]}


def test_postgres_source_endpoints_name_their_replication_slot(built: Built) -> None:
    resources = built.template.to_json()["Resources"]
    slots = {
        logical_id: r["Properties"]["PostgreSqlSettings"].get("SlotName")
        for logical_id, r in resources.items()
        if r["Type"] == "AWS::DMS::Endpoint" and "PostgreSqlSettings" in r["Properties"]
    }
    assert slots == {
        "ReplicationTasksordersdbSource1D65E59B": slot_name("orders-db", "forward"),
        "ReplicationTasksordersdbTarget52EEFF45": None,
        "ReplicationTasksordersdbReverseSource0B9DCADA": slot_name("orders-db", "reverse"),
        "ReplicationTasksordersdbReverseTargetCD4DD87F": None,
    }
    # Other engines have no slots.
    for r in resources.values():
        for key in ("MySqlSettings", "MicrosoftSqlServerSettings", "OracleSettings"):
            assert "SlotName" not in r.get("Properties", {}).get(key, {})


def test_logical_ids_of_the_tasks_are_pinned(built: Built) -> None:
    # Renaming a task's construct path replaces the DMS task (and loses its CDC position).
    ids = {
        name: (
            built.stack.get_logical_id(built.tasks.tasks[name]),
            built.stack.get_logical_id(built.tasks.reverse_tasks[name]),
        )
        for name in ("orders-db", "shop-db")
    }
    assert ids == {
        "orders-db": (
            "ReplicationTasksordersdbTask800F0492",
            "ReplicationTasksordersdbReverseTaskF0A8BD1D",
        ),
        "shop-db": (
            "ReplicationTasksshopdbTask6E836D26",
            "ReplicationTasksshopdbReverseTaskA0DC84AC",
        ),
    }


def test_reverse_monitors_watch_target_latency_and_do_not_roll_back(built: Built) -> None:
    monitors = built.tasks.reverse_monitors
    assert [(m.task_identifier, m.cdc_latency_threshold_seconds) for m in monitors] == [
        (reverse_task_identifier(d.name, "test"), d.cdc_latency_threshold_seconds)
        for d in DATABASES
    ]
    assert {(m.metric_name, m.triggers_rollback) for m in monitors} == {("CDCLatencyTarget", False)}
    assert {(m.metric_name, m.triggers_rollback) for m in built.tasks.monitors} == {
        ("CDCLatencySource", True)
    }
    stack = cdk.Stack.of(built.tasks)
    for monitor, task in zip(monitors, built.tasks.reverse_tasks.values(), strict=True):
        assert stack.resolve(monitor.metric_task_id) == {
            "Fn::Select": [6, {"Fn::Split": [":", {"Ref": stack.get_logical_id(task)}]}]
        }


def test_monitors_name_their_alarms_as_the_runtime_derives_them(built: Built) -> None:
    assert [m.alarm_name for m in built.tasks.monitors] == [
        cdc_latency_alarm_name(d.name, "test") for d in DATABASES
    ]
    assert [m.alarm_name for m in built.tasks.reverse_monitors] == [
        cdc_latency_alarm_name(d.name, "test", "reverse") for d in DATABASES
    ]
    assert [str(t.replication_task_identifier) for t in built.tasks.tasks.values()] == [
        task_identifier(d.name, "test") for d in DATABASES
    ]
