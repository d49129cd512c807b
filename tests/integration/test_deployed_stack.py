"""The deployed stack, through the outputs file: locally by default, or a real account."""

from __future__ import annotations

import json
import os
import time
import uuid
from typing import Any

import pytest

from migration.outputs import SEED_OUTPUTS
from migration.plan import DEFAULT_PLAN_PATH, PLAN_ENV_VAR, Plan, load_plan
from migration.registry import Registry
from tests.conftest import ROOT
from tests.integration.conftest import Target

pytestmark = pytest.mark.integration

PHASE_INDEX = "MigrationPhaseIndex"


def test_outputs_file_has_every_seed_output(target: Target) -> None:
    assert all(target.outputs[name] for name in SEED_OUTPUTS)
    settings = target.outputs.settings
    # Per-database names are derived, not listed (migration.database.names).
    assert settings.environment_suffix and settings.replication_instance_identifier
    assert not settings.cdc_latency_alarms and not settings.replication_tasks


def _deployed_plan() -> Plan:
    """The plan the stack was synthesized from: ``$MIGRATION_PLAN`` or the example."""
    return load_plan(ROOT / os.environ.get(PLAN_ENV_VAR, DEFAULT_PLAN_PATH))


def test_every_output_resolves_to_a_live_resource(target: Target) -> None:
    out, client = target.outputs, target.client
    assert client("ec2").describe_vpcs(VpcIds=[out["VpcId"]])["Vpcs"]
    instances = client("dms").describe_replication_instances(
        Filters=[{"Name": "replication-instance-arn", "Values": [out["DmsReplicationInstanceArn"]]}]
    )["ReplicationInstances"]
    assert [i["ReplicationInstanceIdentifier"] for i in instances] == [
        out.settings.replication_instance_identifier
    ]
    role = client("iam").get_role(RoleName=out["CloudEndureRoleArn"].rsplit("/", 1)[-1])
    assert role["Role"]["Arn"] == out["CloudEndureRoleArn"]
    vpn = client("ec2").describe_vpn_connections(VpnConnectionIds=[out.vpn_connection_id])
    assert vpn["VpnConnections"][0]["VpnConnectionId"] == out.vpn_connection_id
    zone = client("route53").get_hosted_zone(Id=out.hosted_zone_id)
    assert zone["HostedZone"]["Config"]["PrivateZone"] is True
    assert out["VpcId"] in [v["VPCId"] for v in zone["VPCs"]]
    table = client("dynamodb").describe_table(TableName=out.table_name)["Table"]
    assert table["SSEDescription"]["Status"] == "ENABLED"
    assert client("sns").get_topic_attributes(TopicArn=out.topic_arn)["Attributes"][
        "KmsMasterKeyId"
    ]
    assert client("ssm").describe_document(Name=out["SsmDocumentName"])["Document"]["Name"]
    function = client("lambda").get_function(FunctionName=out.rollback_function_arn)
    assert function["Configuration"]["Handler"] == "migration.handlers.rollback.handler"
    if "CutoverControllerArn" in out.values:  # optional: stacks deployed before issue 8 lack it
        controller = client("lambda").get_function(FunctionName=out["CutoverControllerArn"])
        assert controller["Configuration"]["Handler"] == "migration.handlers.controller.handler"
    assert client("cloudwatch").get_dashboard(DashboardName=out["DashboardName"])["DashboardBody"]
    # Per database, the names the runtime derives (or an older stack's outputs list).
    databases = [d.name for d in _deployed_plan().databases]
    cdc_alarms = out.settings.cdc_latency_alarms_of(databases)
    alarm_names = [*out.settings.alarms.values(), *cdc_alarms.values()]
    alarms = client("cloudwatch").describe_alarms(AlarmNames=alarm_names)["MetricAlarms"]
    assert sorted(a["AlarmName"] for a in alarms) == sorted(alarm_names)
    for task_id in map(out.settings.task_identifier, databases):
        tasks = client("dms").describe_replication_tasks(
            Filters=[{"Name": "replication-task-id", "Values": [task_id]}]
        )["ReplicationTasks"]
        assert [t["ReplicationTaskIdentifier"] for t in tasks] == [task_id]


def test_migration_event_workflow(target: Target, clean_table: None) -> None:
    """The seed's workflow: write a migration event, read it back, progress it, clean up."""
    dynamodb, table = target.client("dynamodb"), target.outputs.table_name
    server = f"itest-server-{uuid.uuid4().hex[:12]}"
    key = {"serverId": {"S": server}, "timestamp": {"S": "2026-01-01T00:00:00Z"}}
    dynamodb.put_item(
        TableName=table, Item={**key, "migrationPhase": {"S": "replicating"}, "note": {"S": "it"}}
    )
    item = dynamodb.get_item(TableName=table, Key=key, ConsistentRead=True)["Item"]
    assert item["migrationPhase"]["S"] == "replicating"
    dynamodb.update_item(
        TableName=table,
        Key=key,
        UpdateExpression="SET migrationPhase = :next",
        ConditionExpression="migrationPhase = :current",
        ExpressionAttributeValues={":next": {"S": "cutover"}, ":current": {"S": "replicating"}},
    )
    item = dynamodb.get_item(TableName=table, Key=key, ConsistentRead=True)["Item"]
    assert item["migrationPhase"]["S"] == "cutover"
    dynamodb.delete_item(TableName=table, Key=key)
    assert "Item" not in dynamodb.get_item(TableName=table, Key=key, ConsistentRead=True)


def test_phase_index_answers_a_phase_query(target: Target, clean_table: None) -> None:
    dynamodb, table = target.client("dynamodb"), target.outputs.table_name
    phase = f"itest-phase-{uuid.uuid4().hex[:12]}"
    servers = [f"itest-server-{uuid.uuid4().hex[:8]}" for _ in range(2)]
    for number, server in enumerate(servers):
        dynamodb.put_item(
            TableName=table,
            Item={
                "serverId": {"S": server},
                "timestamp": {"S": f"2026-01-01T00:00:0{number}Z"},
                "migrationPhase": {"S": phase},
            },
        )
    found: list[str] = []
    for _ in range(20):  # the index is eventually consistent in a real account
        items = dynamodb.query(
            TableName=table,
            IndexName=PHASE_INDEX,
            KeyConditionExpression="migrationPhase = :phase",
            ExpressionAttributeValues={":phase": {"S": phase}},
        )["Items"]
        found = [i["serverId"]["S"] for i in items]
        if len(found) == len(servers):
            break
        time.sleep(0.5)
    assert found == servers


def test_sns_message_reaches_a_subscribed_queue(target: Target) -> None:
    sqs, sns = target.client("sqs"), target.client("sns")
    queue_url = sqs.create_queue(QueueName=f"itest-{uuid.uuid4().hex[:12]}")["QueueUrl"]
    subscription = None
    try:
        queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]
        policy = {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Service": "sns.amazonaws.com"},
                    "Action": "sqs:SendMessage",
                    "Resource": queue_arn,
                    "Condition": {"ArnEquals": {"aws:SourceArn": target.outputs.topic_arn}},
                }
            ],
        }
        sqs.set_queue_attributes(QueueUrl=queue_url, Attributes={"Policy": json.dumps(policy)})
        subscription = sns.subscribe(
            TopicArn=target.outputs.topic_arn,
            Protocol="sqs",
            Endpoint=queue_arn,
            Attributes={"RawMessageDelivery": "true"},
            ReturnSubscriptionArn=True,
        )["SubscriptionArn"]
        body = json.dumps({"itest": uuid.uuid4().hex})
        sns.publish(TopicArn=target.outputs.topic_arn, Message=body)
        received: list[str] = []
        for _ in range(10):
            messages = sqs.receive_message(
                QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=2
            ).get("Messages", [])
            received += [m["Body"] for m in messages]
            if body in received:
                break
        assert body in received
    finally:
        if subscription:
            sns.unsubscribe(SubscriptionArn=subscription)
        sqs.delete_queue(QueueUrl=queue_url)


def test_validation_document_is_retrievable_and_well_formed(target: Target) -> None:
    document = target.client("ssm").get_document(
        Name=target.outputs["SsmDocumentName"], DocumentFormat="JSON"
    )
    assert document["DocumentType"] == "Command"
    content = json.loads(document["Content"])
    assert content["schemaVersion"] == "2.2"
    assert content["mainSteps"] and all("action" in step for step in content["mainSteps"])
    assert {"ServicePort", "HealthCheckUrl"} <= set(content["parameters"])


def _weights(target: Target, record_name: str) -> dict[str, int]:
    name = record_name.rstrip(".") + "."
    records = target.client("route53").list_resource_record_sets(
        HostedZoneId=target.outputs.hosted_zone_id, StartRecordName=name
    )["ResourceRecordSets"]
    return {r["SetIdentifier"]: r["Weight"] for r in records if r["Name"] == name and "Weight" in r}


def _set_weights(target: Target, record_name: str, weights: dict[str, int]) -> None:
    name = record_name.rstrip(".") + "."
    records = target.client("route53").list_resource_record_sets(
        HostedZoneId=target.outputs.hosted_zone_id, StartRecordName=name
    )["ResourceRecordSets"]
    changes: list[dict[str, Any]] = []
    for record in records:
        if record["Name"] == name and record.get("SetIdentifier") in weights:
            updated = {**record, "Weight": weights[record["SetIdentifier"]]}
            changes.append({"Action": "UPSERT", "ResourceRecordSet": updated})
    target.client("route53").change_resource_record_sets(
        HostedZoneId=target.outputs.hosted_zone_id, ChangeBatch={"Changes": changes}
    )


def test_weighted_shift_then_rollback_through_the_function(
    target: Target, clean_table: None
) -> None:
    # The registered plan (migrate plan apply) names each application's record.
    registered = Registry(target.client("dynamodb"), target.outputs.table_name).load()
    assert registered is not None, "no plan registered: run migrate plan apply"
    application, record_name = sorted(registered.record_names().items())[0]
    original = _weights(target, record_name)
    assert set(original) == {"on-premises", "aws"}
    try:
        _set_weights(target, record_name, {"on-premises": 50, "aws": 50})
        assert _weights(target, record_name) == {"on-premises": 50, "aws": 50}
        result = target.invoke_rollback(
            {
                "applications": [application],
                "reason": "integration test rollback",
                "idempotencyKey": f"itest-{uuid.uuid4().hex}",
            }
        )
        assert application in json.dumps(result)
        assert _weights(target, record_name) == {"on-premises": 100, "aws": 0}
    finally:
        _set_weights(target, record_name, original)
    assert _weights(target, record_name) == original


def test_dms_task_can_be_started_and_stopped(target: Target) -> None:
    dms = target.client("dms")
    settings = target.outputs.settings
    task_id = sorted(settings.task_identifier(d.name) for d in _deployed_plan().databases)[0]

    def task() -> dict[str, Any]:
        tasks = dms.describe_replication_tasks(
            Filters=[{"Name": "replication-task-id", "Values": [task_id]}]
        )["ReplicationTasks"]
        return dict(tasks[0])

    arn = task()["ReplicationTaskArn"]
    started = dms.start_replication_task(
        ReplicationTaskArn=arn, StartReplicationTaskType="start-replication"
    )["ReplicationTask"]
    assert started["Status"] in ("starting", "running")
    stopped = dms.stop_replication_task(ReplicationTaskArn=arn)["ReplicationTask"]
    assert stopped["Status"] in ("stopping", "stopped")


# --------------------------------------------------------------------------- database cutover


def test_resolver_inbound_addresses_are_the_inbound_endpoints(target: Target) -> None:
    out = target.outputs
    addresses = sorted(out["ResolverInboundAddresses"].split(","))
    assert len(addresses) >= 2
    resolver = target.client("route53resolver")
    endpoints = [
        e
        for e in resolver.list_resolver_endpoints()["ResolverEndpoints"]
        if e["HostVPCId"] == out["VpcId"] and e["Direction"] == "INBOUND"
    ]
    assert len(endpoints) == 1
    ips = resolver.list_resolver_endpoint_ip_addresses(ResolverEndpointId=endpoints[0]["Id"])
    assert sorted(a["Ip"] for a in ips["IpAddresses"]) == addresses


def test_each_database_name_points_at_its_writer(target: Target) -> None:
    """Each planned database's name is one plain record: at the on-premises source (locally
    always; in an account, at the AWS target once that database has been cut over)."""
    plan = _deployed_plan()
    route53 = target.client("route53")
    for database in plan.databases:
        fqdn = f"{database.dns_name}."  # from the plan (what the wave definition stores)
        records = route53.list_resource_record_sets(
            HostedZoneId=target.outputs.hosted_zone_id, StartRecordName=fqdn, MaxItems="10"
        )["ResourceRecordSets"]
        (record,) = [r for r in records if r["Name"] == fqdn]
        assert "SetIdentifier" not in record
        values = [v["Value"] for v in record["ResourceRecords"]]
        writers = [database.source.host] + ([] if target.local else [database.target.host])
        assert len(values) == 1 and values[0] in writers
        assert record["Type"] == ("A" if values[0].replace(".", "").isdigit() else "CNAME")


def test_reverse_tasks_are_prepared_changes_only_with_their_alarms(target: Target) -> None:
    settings = target.outputs.settings
    databases = [d.name for d in _deployed_plan().databases]
    dms = target.client("dms")
    for database in databases:
        (task,) = dms.describe_replication_tasks(
            Filters=[
                {
                    "Name": "replication-task-id",
                    "Values": [settings.reverse_task_identifier(database)],
                }
            ]
        )["ReplicationTasks"]
        assert task["MigrationType"] == "cdc"
        forward = dms.describe_replication_tasks(
            Filters=[
                {"Name": "replication-task-id", "Values": [settings.task_identifier(database)]}
            ]
        )["ReplicationTasks"][0]
        # Its own endpoints, distinct from the forward task's.
        assert {task["SourceEndpointArn"], task["TargetEndpointArn"]}.isdisjoint(
            {forward["SourceEndpointArn"], forward["TargetEndpointArn"]}
        )
        if target.local:
            assert task["Status"] != "running"  # prepared, not started
    alarm_names = [settings.reverse_cdc_latency_alarm(database) for database in databases]
    alarms = target.client("cloudwatch").describe_alarms(AlarmNames=alarm_names)["MetricAlarms"]
    assert sorted(a["AlarmName"] for a in alarms) == sorted(alarm_names)
    assert {a["MetricName"] for a in alarms} == {"CDCLatencyTarget"}


def test_database_step_function_runs_in_the_vpc_with_the_drivers_layer(target: Target) -> None:
    out, client = target.outputs, target.client
    if not _deployed_plan().databases:  # a plan without databases has no step function
        assert "DatabaseStepFunctionArn" not in out.values
        return
    config = client("lambda").get_function_configuration(
        FunctionName=out["DatabaseStepFunctionArn"]
    )
    assert config["Handler"] == "migration.handlers.database_step.handler"
    assert (config["Timeout"], config["MemorySize"]) == (900, 512)
    (layer,) = config["Layers"]
    assert ":layer:" in layer["Arn"]
    subnets = client("ec2").describe_subnets(SubnetIds=config["VpcConfig"]["SubnetIds"])
    assert {s["VpcId"] for s in subnets["Subnets"]} == {out["VpcId"]}
    (group_id,) = config["VpcConfig"]["SecurityGroupIds"]
    (group,) = client("ec2").describe_security_groups(GroupIds=[group_id])["SecurityGroups"]
    assert group["IpPermissions"] == []
    # The controller invokes it by the name in its environment.
    controller = client("lambda").get_function_configuration(
        FunctionName=out["CutoverControllerArn"]
    )
    assert (
        controller["Environment"]["Variables"]["DATABASE_STEP_FUNCTION"] == (config["FunctionName"])
    )
