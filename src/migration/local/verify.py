"""Check every resource of the original template on the emulator, with what matters.

A checker reads the resource back through its service API and returns ``(what, expected,
actual)`` triples; any mismatch, missing physical id or failed read raises
:class:`~migration.local.deploy_types.LocalDeployError` naming the logical id and type.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from migration.local import lambda_layers, mgn_templates, resolver, security_groups
from migration.local.deploy_types import DeployedStack, LocalDeployError
from migration.local.fillers import DMS_ENDPOINT_NAMES
from migration.local.template import UnresolvedError

Check = tuple[str, Any, Any]
Client = Callable[[str], Any]
Checker = Callable[[Client, str, Mapping[str, Any]], list[Check]]


def _tags(items: Any) -> dict[str, str]:
    return {t.get("Key", t.get("TagKey")): t.get("Value", t.get("TagValue")) for t in items or []}


def kms_key(client: Client, key_id: str, props: Mapping[str, Any]) -> list[Check]:
    kms = client("kms")
    metadata = kms.describe_key(KeyId=key_id)["KeyMetadata"]
    rotation = kms.get_key_rotation_status(KeyId=key_id)["KeyRotationEnabled"]
    tags = _tags(kms.list_resource_tags(KeyId=key_id).get("Tags"))
    checks: list[Check] = [
        ("enabled", True, metadata["Enabled"]),
        ("rotation", bool(props.get("EnableKeyRotation", False)), rotation),
        ("tags", _tags(props.get("Tags")), tags),
    ]
    if "KeyPolicy" in props:
        policy = kms.get_key_policy(KeyId=key_id, PolicyName="default")["Policy"]
        expected = props["KeyPolicy"]
        checks.append(
            (
                "key policy",
                json.loads(expected) if isinstance(expected, str) else expected,
                json.loads(policy),
            )
        )
    return checks


def dynamodb_table(client: Client, name: str, props: Mapping[str, Any]) -> list[Check]:
    dynamodb = client("dynamodb")
    table = dynamodb.describe_table(TableName=name)["Table"]
    indexes = {i["IndexName"]: i["KeySchema"] for i in table.get("GlobalSecondaryIndexes", [])}
    expected_indexes = {
        i["IndexName"]: i["KeySchema"] for i in props.get("GlobalSecondaryIndexes", [])
    }
    checks: list[Check] = [
        ("key schema", props["KeySchema"], table["KeySchema"]),
        ("global secondary indexes", expected_indexes, indexes),
    ]
    sse = props.get("SSESpecification", {})
    if sse.get("SSEEnabled"):
        actual = table.get("SSEDescription", {})
        checks.append(("SSE", "ENABLED", actual.get("Status")))
        if "SSEType" in sse:
            checks.append(("SSE type", sse["SSEType"], actual.get("SSEType")))
        if "KMSMasterKeyId" in sse:
            checks.append(("SSE KMS key", sse["KMSMasterKeyId"], actual.get("KMSMasterKeyArn")))
    if props.get("PointInTimeRecoverySpecification", {}).get("PointInTimeRecoveryEnabled"):
        backups = dynamodb.describe_continuous_backups(TableName=name)
        status = backups["ContinuousBackupsDescription"]["PointInTimeRecoveryDescription"]
        checks.append(("point-in-time recovery", "ENABLED", status["PointInTimeRecoveryStatus"]))
    ttl = props.get("TimeToLiveSpecification", {})
    if ttl.get("Enabled"):
        found = dynamodb.describe_time_to_live(TableName=name)["TimeToLiveDescription"]
        checks.append(
            (
                "time to live",
                f"ENABLED on {ttl['AttributeName']}",
                f"{found.get('TimeToLiveStatus')} on {found.get('AttributeName')}",
            )
        )
    return checks


def hosted_zone(client: Client, zone_id: str, props: Mapping[str, Any]) -> list[Check]:
    zone = client("route53").get_hosted_zone(Id=zone_id)
    vpcs = sorted(v["VPCId"] for v in zone.get("VPCs", []))
    expected_vpcs = sorted(v["VPCId"] for v in props.get("VPCs", []))
    return [
        ("name", props["Name"], zone["HostedZone"]["Name"]),
        ("private", bool(expected_vpcs), zone["HostedZone"]["Config"]["PrivateZone"]),
        ("VPCs", expected_vpcs, vpcs),
    ]


def record_set(client: Client, physical_id: str, props: Mapping[str, Any]) -> list[Check]:
    name = props["Name"] if props["Name"].endswith(".") else props["Name"] + "."
    records = client("route53").list_resource_record_sets(
        HostedZoneId=props["HostedZoneId"], StartRecordName=name, StartRecordType=props["Type"]
    )["ResourceRecordSets"]
    found = [
        r
        for r in records
        if r["Name"] == name
        and r["Type"] == props["Type"]
        and r.get("SetIdentifier") == props.get("SetIdentifier")
    ]
    actual = found[0] if found else {}
    checks: list[Check] = [("record exists", True, bool(found))]
    if "TTL" in props:
        checks.append(("TTL", int(props["TTL"]), actual.get("TTL")))
    if "Weight" in props:
        checks.append(("weight", int(props["Weight"]), actual.get("Weight")))
    if "ResourceRecords" in props:
        values = [r["Value"] for r in actual.get("ResourceRecords", [])]
        checks.append(("values", list(props["ResourceRecords"]), values))
    return checks


def sns_topic(client: Client, arn: str, props: Mapping[str, Any]) -> list[Check]:
    attributes = client("sns").get_topic_attributes(TopicArn=arn)["Attributes"]
    return [("KMS key", props.get("KmsMasterKeyId"), attributes.get("KmsMasterKeyId"))]


def sns_topic_policy(client: Client, _id: str, props: Mapping[str, Any]) -> list[Check]:
    sns = client("sns")
    return [
        (
            f"policy of {topic}",
            props["PolicyDocument"],
            json.loads(sns.get_topic_attributes(TopicArn=topic)["Attributes"].get("Policy", "{}")),
        )
        for topic in props["Topics"]
    ]


def sqs_queue(client: Client, url: str, props: Mapping[str, Any]) -> list[Check]:
    attributes = client("sqs").get_queue_attributes(QueueUrl=url, AttributeNames=["All"])[
        "Attributes"
    ]
    return [("KMS key", props.get("KmsMasterKeyId"), attributes.get("KmsMasterKeyId"))]


def sqs_queue_policy(client: Client, _id: str, props: Mapping[str, Any]) -> list[Check]:
    sqs = client("sqs")
    checks: list[Check] = []
    for url in props["Queues"]:
        attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["Policy"])
        policy = json.loads(attributes.get("Attributes", {}).get("Policy", "{}"))
        checks.append((f"policy of {url}", props["PolicyDocument"], policy))
    return checks


def ssm_document(client: Client, name: str, props: Mapping[str, Any]) -> list[Check]:
    document = client("ssm").get_document(Name=name)
    content = document["Content"]
    expected = props["Content"]
    actual: Any = json.loads(content) if not isinstance(expected, str) else content
    return [
        ("content", expected, actual),
        ("document type", props.get("DocumentType", "Command"), document.get("DocumentType")),
    ]


def _vpc_config(config: Mapping[str, Any]) -> dict[str, list[str]]:
    vpc = config.get("VpcConfig", config)
    return {key: sorted(vpc.get(key, [])) for key in ("SubnetIds", "SecurityGroupIds")}


def lambda_function(client: Client, name: str, props: Mapping[str, Any]) -> list[Check]:
    lam = client("lambda")
    config = lam.get_function_configuration(FunctionName=name)
    checks: list[Check] = [
        ("runtime", props.get("Runtime"), config.get("Runtime")),
        ("handler", props.get("Handler"), config.get("Handler")),
        (
            "environment",
            props.get("Environment", {}).get("Variables", {}),
            config.get("Environment", {}).get("Variables", {}),
        ),
        ("role", props["Role"], config.get("Role")),
        ("timeout", props.get("Timeout", 3), config.get("Timeout")),
        ("memory", props.get("MemorySize", 128), config.get("MemorySize")),
        ("layers", props.get("Layers", []), [layer["Arn"] for layer in config.get("Layers", [])]),
    ]
    if "VpcConfig" in props:
        checks.append(("VPC config", _vpc_config(props["VpcConfig"]), _vpc_config(config)))
    if "Architectures" in props:
        checks.append(("architectures", props["Architectures"], config.get("Architectures")))
    if "TracingConfig" in props:
        checks.append(("tracing", props["TracingConfig"], config.get("TracingConfig")))
    if "KmsKeyArn" in props:
        checks.append(("KMS key", props["KmsKeyArn"], config.get("KMSKeyArn")))
    if "ReservedConcurrentExecutions" in props:
        concurrency = lam.get_function_concurrency(FunctionName=name)
        checks.append(
            (
                "reserved concurrency",
                int(props["ReservedConcurrentExecutions"]),
                concurrency.get("ReservedConcurrentExecutions"),
            )
        )
    return checks


def lambda_permission(client: Client, _id: str, props: Mapping[str, Any]) -> list[Check]:
    policy = json.loads(client("lambda").get_policy(FunctionName=props["FunctionName"])["Policy"])
    sources = [
        s.get("Condition", {}).get("ArnLike", {}).get("AWS:SourceArn")
        for s in policy.get("Statement", [])
    ]
    return [("statement for source", True, props.get("SourceArn") in sources)]


def event_invoke_config(client: Client, _id: str, props: Mapping[str, Any]) -> list[Check]:
    config = client("lambda").get_function_event_invoke_config(
        FunctionName=props["FunctionName"], Qualifier=props.get("Qualifier", "$LATEST")
    )
    return [
        ("maximum retries", props.get("MaximumRetryAttempts"), config.get("MaximumRetryAttempts")),
        (
            "maximum event age",
            props.get("MaximumEventAgeInSeconds"),
            config.get("MaximumEventAgeInSeconds"),
        ),
    ]


def log_group(client: Client, name: str, props: Mapping[str, Any]) -> list[Check]:
    groups = client("logs").describe_log_groups(logGroupNamePrefix=name)["logGroups"]
    group: dict[str, Any] = next((g for g in groups if g["logGroupName"] == name), {})
    return [
        ("exists", True, bool(group)),
        ("KMS key", props.get("KmsKeyId"), group.get("kmsKeyId")),
        ("retention", props.get("RetentionInDays"), group.get("retentionInDays")),
    ]


_ALARM_FIELDS = (
    "MetricName",
    "Namespace",
    "Statistic",
    "Period",
    "EvaluationPeriods",
    "Threshold",
    "ComparisonOperator",
    "TreatMissingData",
    "AlarmActions",
    "OKActions",
)


def alarm(client: Client, name: str, props: Mapping[str, Any]) -> list[Check]:
    alarms = client("cloudwatch").describe_alarms(AlarmNames=[name])["MetricAlarms"]
    actual = alarms[0] if alarms else {}
    checks: list[Check] = [("exists", True, bool(alarms))]
    for key in _ALARM_FIELDS:
        if key in props:
            expected = props[key]
            checks.append(
                (key, float(expected) if key == "Threshold" else expected, actual.get(key))
            )
    if "Dimensions" in props:
        dims = sorted((d["Name"], d["Value"]) for d in props["Dimensions"])
        checks.append(
            (
                "dimensions",
                dims,
                sorted((d["Name"], d["Value"]) for d in actual.get("Dimensions", [])),
            )
        )
    return checks


# Target fields checked: where it goes, its retry policy and its dead-letter queue.
_TARGET_FIELDS = ("Arn", "RetryPolicy", "DeadLetterConfig")


def _targets(targets: Any) -> dict[str, dict[str, Any]]:
    return {t["Id"]: {k: t[k] for k in _TARGET_FIELDS if k in t} for t in targets or []}


def events_rule(client: Client, name: str, props: Mapping[str, Any]) -> list[Check]:
    events = client("events")
    rule = events.describe_rule(Name=name)
    targets = events.list_targets_by_rule(Rule=name)["Targets"]
    checks: list[Check] = [
        ("state", props.get("State", "ENABLED"), rule.get("State")),
        ("event pattern", props.get("EventPattern"), json.loads(rule.get("EventPattern", "null"))),
        (
            "targets (ARN, retry policy, dead-letter queue)",
            _targets(props.get("Targets")),
            _targets(targets),
        ),
    ]
    if "Name" in props:
        checks.append(("name", props["Name"], rule.get("Name")))
    if "ScheduleExpression" in props:
        checks.append(("schedule", props["ScheduleExpression"], rule.get("ScheduleExpression")))
    return checks


def subnet(client: Client, subnet_id: str, props: Mapping[str, Any]) -> list[Check]:
    found = client("ec2").describe_subnets(SubnetIds=[subnet_id])["Subnets"][0]
    return [
        ("VPC", props["VpcId"], found.get("VpcId")),
        ("CIDR", props.get("CidrBlock"), found.get("CidrBlock")),
        ("availability zone", props.get("AvailabilityZone"), found.get("AvailabilityZone")),
        (
            "public IPs on launch",
            bool(props.get("MapPublicIpOnLaunch", False)),
            found.get("MapPublicIpOnLaunch"),
        ),
    ]


def iam_role(client: Client, name: str, props: Mapping[str, Any]) -> list[Check]:
    iam = client("iam")
    iam.get_role(RoleName=name)
    attached = iam.list_attached_role_policies(RoleName=name)["AttachedPolicies"]
    return [
        (
            "managed policies",
            sorted(props.get("ManagedPolicyArns", [])),
            sorted(p["PolicyArn"] for p in attached),
        )
    ]


def customer_gateway(client: Client, gateway_id: str, props: Mapping[str, Any]) -> list[Check]:
    gateway = client("ec2").describe_customer_gateways(CustomerGatewayIds=[gateway_id])[
        "CustomerGateways"
    ][0]
    return [
        ("IP address", props["IpAddress"], gateway.get("IpAddress")),
        ("BGP ASN", str(props["BgpAsn"]), str(gateway.get("BgpAsn"))),
    ]


def vpn_connection(client: Client, vpn_id: str, props: Mapping[str, Any]) -> list[Check]:
    connection = client("ec2").describe_vpn_connections(VpnConnectionIds=[vpn_id])[
        "VpnConnections"
    ][0]
    return [
        ("customer gateway", props["CustomerGatewayId"], connection.get("CustomerGatewayId")),
        ("VPN gateway", props.get("VpnGatewayId"), connection.get("VpnGatewayId")),
    ]


def dms_subnet_group(client: Client, identifier: str, props: Mapping[str, Any]) -> list[Check]:
    groups = client("dms").describe_replication_subnet_groups(
        Filters=[{"Name": "replication-subnet-group-id", "Values": [identifier]}]
    )["ReplicationSubnetGroups"]
    # moto's DMS reports placeholder subnets (subnet-12345); the filler checked the real ones.
    description = groups[0].get("ReplicationSubnetGroupDescription") if groups else None
    return [
        ("exists", True, bool(groups)),
        ("description", props["ReplicationSubnetGroupDescription"], description),
    ]


def dms_instance(client: Client, arn: str, props: Mapping[str, Any]) -> list[Check]:
    instances = client("dms").describe_replication_instances(
        Filters=[{"Name": "replication-instance-arn", "Values": [arn]}]
    )["ReplicationInstances"]
    actual = instances[0] if instances else {}
    checks: list[Check] = [("exists", True, bool(instances))]
    for key in ("ReplicationInstanceClass", "KmsKeyId", "MultiAZ", "PubliclyAccessible"):
        if key in props:
            checks.append((key, props[key], actual.get(key)))
    return checks


def dms_endpoint(client: Client, arn: str, props: Mapping[str, Any]) -> list[Check]:
    endpoints = client("dms").describe_endpoints(
        Filters=[{"Name": "endpoint-arn", "Values": [arn]}]
    )["Endpoints"]
    actual = endpoints[0] if endpoints else {}
    checks: list[Check] = [
        ("exists", True, bool(endpoints)),
        ("type", props["EndpointType"].upper(), str(actual.get("EndpointType", "")).upper()),
        ("engine", props["EngineName"], actual.get("EngineName")),
    ]
    for key in ("DatabaseName", "SslMode", "KmsKeyId"):
        if key in props:
            checks.append((key, props[key], actual.get(key)))
    # The engine settings: the secret, its access role and (PostgreSQL) the replication slot.
    for key, api_key in DMS_ENDPOINT_NAMES.items():
        if key in props:
            checks.append((key, props[key], actual.get(api_key)))
    return checks


def dms_task(client: Client, arn: str, props: Mapping[str, Any]) -> list[Check]:
    tasks = client("dms").describe_replication_tasks(
        Filters=[{"Name": "replication-task-arn", "Values": [arn]}]
    )["ReplicationTasks"]
    actual = tasks[0] if tasks else {}
    checks: list[Check] = [("exists", True, bool(tasks))]
    for key in (
        "ReplicationTaskIdentifier",
        "MigrationType",
        "SourceEndpointArn",
        "TargetEndpointArn",
        "ReplicationInstanceArn",
    ):
        if key in props:
            checks.append((key, props[key], actual.get(key)))
    return checks


def vpc(client: Client, vpc_id: str, props: Mapping[str, Any]) -> list[Check]:
    found = client("ec2").describe_vpcs(VpcIds=[vpc_id])["Vpcs"][0]
    return [("CIDR", props.get("CidrBlock"), found.get("CidrBlock"))]


def dashboard(client: Client, name: str, props: Mapping[str, Any]) -> list[Check]:
    body = client("cloudwatch").get_dashboard(DashboardName=name)["DashboardBody"]
    return [("body", json.loads(props["DashboardBody"]), json.loads(body))]


CHECKERS: dict[str, Checker] = {
    "AWS::KMS::Key": kms_key,
    "AWS::DynamoDB::Table": dynamodb_table,
    "AWS::Route53::HostedZone": hosted_zone,
    "AWS::Route53::RecordSet": record_set,
    "AWS::SNS::Topic": sns_topic,
    "AWS::SNS::TopicPolicy": sns_topic_policy,
    "AWS::SQS::Queue": sqs_queue,
    "AWS::SQS::QueuePolicy": sqs_queue_policy,
    "AWS::SSM::Document": ssm_document,
    "AWS::Lambda::Function": lambda_function,
    "AWS::Lambda::Permission": lambda_permission,
    "AWS::Lambda::EventInvokeConfig": event_invoke_config,
    "AWS::Logs::LogGroup": log_group,
    "AWS::CloudWatch::Alarm": alarm,
    "AWS::CloudWatch::Dashboard": dashboard,
    "AWS::Events::Rule": events_rule,
    "AWS::IAM::Role": iam_role,
    "AWS::EC2::CustomerGateway": customer_gateway,
    "AWS::EC2::VPNConnection": vpn_connection,
    "AWS::EC2::VPC": vpc,
    "AWS::EC2::Subnet": subnet,
    "AWS::DMS::ReplicationSubnetGroup": dms_subnet_group,
    "AWS::DMS::ReplicationInstance": dms_instance,
    "AWS::DMS::Endpoint": dms_endpoint,
    "AWS::DMS::ReplicationTask": dms_task,
    "AWS::EC2::SecurityGroup": security_groups.check_security_group,
    **resolver.CHECKERS,
    **lambda_layers.CHECKERS,
    **mgn_templates.CHECKERS,
}

# Types whose physical id moto's CloudFormation leaves empty; their checker proves them.
_NO_PHYSICAL_ID = {"AWS::Lambda::Permission"}


def verify(deployment: DeployedStack) -> dict[str, list[str]]:
    """Check every logical resource; returns the checks done per logical id."""
    problems: list[str] = []
    done: dict[str, list[str]] = {}
    for logical_id, resource in deployment.resources.items():
        kind = resource["Type"]
        record = deployment.records.get(logical_id)
        label = f"{logical_id} ({kind})"
        if record is None or (not record.physical_id and kind not in _NO_PHYSICAL_ID):
            problems.append(f"{label}: not created (no physical id)")
            continue
        checker = CHECKERS.get(kind)
        if checker is None:
            done[logical_id] = ["exists (physical id)"]
            continue
        try:
            props = deployment.evaluate(resource.get("Properties", {}))
            checks = checker(deployment.client, record.physical_id, props)
        except UnresolvedError as error:
            problems.append(f"{label}: cannot evaluate the template's properties: {error}")
            continue
        except (ClientError, BotoCoreError, KeyError, IndexError, ValueError) as error:
            problems.append(f"{label}: cannot be read back: {error}")
            continue
        wrong = [
            f"{label}: {what}: expected {expected!r}, found {actual!r}"
            for what, expected, actual in checks
            if expected != actual
        ]
        problems += wrong
        if not wrong:
            done[logical_id] = [f"verified: {', '.join(what for what, _, _ in checks)}"]
    if problems:
        raise LocalDeployError(
            f"local deployment does not match the template ({len(problems)} problem(s)):\n  "
            + "\n  ".join(problems)
        )
    return done
