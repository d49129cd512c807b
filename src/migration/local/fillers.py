"""Resources moto's CloudFormation cannot create (correctly), created through the service APIs.

Each filler receives the resource's properties with every intrinsic function already evaluated
and returns its Ref value, its GetAtt attributes and notes for the summary. A filler never skips
part of a resource silently: what the emulator cannot represent is named in ``notes``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

from migration.local import lambda_layers, mgn_templates, resolver
from migration.local.filling import FillContext, Filled, generated_name

__all__ = ["FILLERS", "FillContext", "Filled", "Filler", "generated_name"]


def _tag_specifications(kind: str, props: Mapping[str, Any]) -> list[dict[str, Any]]:
    tags = list(props.get("Tags", []))
    return [{"ResourceType": kind, "Tags": tags}] if tags else []


def customer_gateway(ctx: FillContext, props: Mapping[str, Any]) -> Filled:
    gateway = ctx.client("ec2").create_customer_gateway(
        BgpAsn=int(props["BgpAsn"]),
        PublicIp=props["IpAddress"],
        Type=props["Type"],
        TagSpecifications=_tag_specifications("customer-gateway", props),
    )["CustomerGateway"]
    return Filled(gateway["CustomerGatewayId"])


def vpn_connection(ctx: FillContext, props: Mapping[str, Any]) -> Filled:
    options: dict[str, Any] = {}
    if "StaticRoutesOnly" in props:
        options["StaticRoutesOnly"] = bool(props["StaticRoutesOnly"])
    kwargs: dict[str, Any] = {
        "CustomerGatewayId": props["CustomerGatewayId"],
        "Type": props["Type"],
        "TagSpecifications": _tag_specifications("vpn-connection", props),
    }
    for name in ("VpnGatewayId", "TransitGatewayId"):
        if name in props:
            kwargs[name] = props[name]
    if options:
        kwargs["Options"] = options
    connection = ctx.client("ec2").create_vpn_connection(**kwargs)["VpnConnection"]
    return Filled(connection["VpnConnectionId"])


def vpn_route_propagation(ctx: FillContext, props: Mapping[str, Any]) -> Filled:
    """moto has no EnableVgwRoutePropagation: check what can be checked and say so."""
    ec2 = ctx.client("ec2")
    gateway_id = props["VpnGatewayId"]
    tables = ec2.describe_route_tables(RouteTableIds=list(props["RouteTableIds"]))["RouteTables"]
    gateway = ec2.describe_vpn_gateways(VpnGatewayIds=[gateway_id])["VpnGateways"][0]
    attached = {a["VpcId"] for a in gateway.get("VpcAttachments", []) if a["State"] == "attached"}
    detached = sorted(t["RouteTableId"] for t in tables if t["VpcId"] not in attached)
    if detached:
        raise ValueError(f"{gateway_id} is not attached to the VPC of route table(s) {detached}")
    return Filled(
        f"{gateway_id}|{','.join(sorted(props['RouteTableIds']))}",
        notes=[
            "EMULATED: moto has no EnableVgwRoutePropagation API; checked that the "
            f"{len(tables)} route tables exist and {gateway_id} is attached to their VPC, "
            "propagation itself is not represented"
        ],
    )


def _dms_tags(props: Mapping[str, Any]) -> list[dict[str, Any]]:
    return list(props.get("Tags", []))


def dms_subnet_group(ctx: FillContext, props: Mapping[str, Any]) -> Filled:
    identifier = props.get("ReplicationSubnetGroupIdentifier") or generated_name(
        ctx.stack_name, ctx.logical_id, lower=True
    )
    subnets = ctx.client("ec2").describe_subnets(SubnetIds=list(props["SubnetIds"]))["Subnets"]
    ctx.client("dms").create_replication_subnet_group(
        ReplicationSubnetGroupIdentifier=identifier,
        ReplicationSubnetGroupDescription=props["ReplicationSubnetGroupDescription"],
        SubnetIds=list(props["SubnetIds"]),
        Tags=_dms_tags(props),
    )
    return Filled(
        identifier.lower(),
        notes=[
            f"subnets {sorted(s['SubnetId'] for s in subnets)} checked through EC2: moto's DMS "
            "reports placeholder subnets on read"
        ],
    )


_DMS_INSTANCE_KEYS = (
    "AllocatedStorage",
    "AllowMajorVersionUpgrade",
    "AutoMinorVersionUpgrade",
    "AvailabilityZone",
    "EngineVersion",
    "KmsKeyId",
    "MultiAZ",
    "NetworkType",
    "PreferredMaintenanceWindow",
    "PubliclyAccessible",
    "ReplicationInstanceClass",
    "ReplicationSubnetGroupIdentifier",
    "VpcSecurityGroupIds",
)


def dms_instance(ctx: FillContext, props: Mapping[str, Any]) -> Filled:
    identifier = props.get("ReplicationInstanceIdentifier") or generated_name(
        ctx.stack_name, ctx.logical_id, lower=True, limit=63
    )
    kwargs = {key: props[key] for key in _DMS_INSTANCE_KEYS if key in props}
    instance = ctx.client("dms").create_replication_instance(
        ReplicationInstanceIdentifier=identifier, Tags=_dms_tags(props), **kwargs
    )["ReplicationInstance"]
    return Filled(instance["ReplicationInstanceArn"])


# CloudFormation property names of AWS::DMS::Endpoint that differ from the API's.
DMS_ENDPOINT_NAMES = {
    "PostgreSqlSettings": "PostgreSQLSettings",
    "MySqlSettings": "MySQLSettings",
    "MicrosoftSqlServerSettings": "MicrosoftSQLServerSettings",
    "IbmDb2Settings": "IBMDb2Settings",
    "GcpMySQLSettings": "GcpMySQLSettings",
}


def dms_endpoint(ctx: FillContext, props: Mapping[str, Any]) -> Filled:
    kwargs = {
        DMS_ENDPOINT_NAMES.get(key, key): value for key, value in props.items() if key != "Tags"
    }
    kwargs.setdefault(
        "EndpointIdentifier", generated_name(ctx.stack_name, ctx.logical_id, lower=True)
    )
    endpoint = ctx.client("dms").create_endpoint(Tags=_dms_tags(props), **kwargs)["Endpoint"]
    return Filled(endpoint["EndpointArn"], {"ExternalId": endpoint.get("ExternalId", "")})


def dms_task(ctx: FillContext, props: Mapping[str, Any]) -> Filled:
    kwargs = {key: value for key, value in props.items() if key not in ("Tags",)}
    kwargs.setdefault(
        "ReplicationTaskIdentifier", generated_name(ctx.stack_name, ctx.logical_id, lower=True)
    )
    task = ctx.client("dms").create_replication_task(Tags=_dms_tags(props), **kwargs)
    return Filled(task["ReplicationTask"]["ReplicationTaskArn"])


def alarm(ctx: FillContext, props: Mapping[str, Any]) -> Filled:
    name = props.get("AlarmName") or generated_name(ctx.stack_name, ctx.logical_id)
    kwargs = {key: value for key, value in props.items() if key != "AlarmName"}
    cloudwatch = ctx.client("cloudwatch")
    cloudwatch.put_metric_alarm(AlarmName=name, **kwargs)
    arn = cloudwatch.describe_alarms(AlarmNames=[name])["MetricAlarms"][0]["AlarmArn"]
    return Filled(name, {"Arn": arn})


def hosted_zone(ctx: FillContext, props: Mapping[str, Any]) -> Filled:
    """Created through the API: moto's CloudFormation makes every zone public, VPCs ignored."""
    route53 = ctx.client("route53")
    vpcs = list(props.get("VPCs", []))
    config = dict(props.get("HostedZoneConfig", {}))
    kwargs: dict[str, Any] = {
        "Name": props["Name"],
        "CallerReference": generated_name(ctx.stack_name, ctx.logical_id),
        "HostedZoneConfig": {**config, "PrivateZone": bool(vpcs)},
    }
    if vpcs:
        kwargs["VPC"] = {"VPCRegion": vpcs[0]["VPCRegion"], "VPCId": vpcs[0]["VPCId"]}
    response = route53.create_hosted_zone(**kwargs)
    zone_id = response["HostedZone"]["Id"].rsplit("/", 1)[-1]
    for vpc in vpcs[1:]:
        route53.associate_vpc_with_hosted_zone(
            HostedZoneId=zone_id, VPC={"VPCRegion": vpc["VPCRegion"], "VPCId": vpc["VPCId"]}
        )
    if props.get("HostedZoneTags"):
        route53.change_tags_for_resource(
            ResourceType="hostedzone", ResourceId=zone_id, AddTags=list(props["HostedZoneTags"])
        )
    name_servers = response.get("DelegationSet", {}).get("NameServers", [])
    return Filled(zone_id, {"Id": zone_id, "NameServers": name_servers})


def ssm_document(ctx: FillContext, props: Mapping[str, Any]) -> Filled:
    """Created through the API: moto's CloudFormation requires DocumentFormat (CloudFormation's
    default is JSON), stores an object Content as a Python repr and names the document a UUID."""
    content = props["Content"]
    document_format = props.get("DocumentFormat", "JSON")
    if not isinstance(content, str):
        content = json.dumps(content, indent=2)
        document_format = "JSON" if document_format == "TEXT" else document_format
    name = props.get("Name") or generated_name(ctx.stack_name, ctx.logical_id, limit=128)
    kwargs: dict[str, Any] = {
        "Content": content,
        "Name": name,
        "DocumentFormat": document_format,
        "DocumentType": props.get("DocumentType", "Command"),
        "Tags": list(props.get("Tags", [])),
    }
    for key in ("TargetType", "VersionName", "Requires", "Attachments"):
        if key in props:
            kwargs[key] = props[key]
    ctx.client("ssm").create_document(**kwargs)
    return Filled(name)


def _tag_map(props: Mapping[str, Any]) -> dict[str, str]:
    return {tag["Key"]: tag["Value"] for tag in props.get("Tags", [])}


def dynamodb_table(ctx: FillContext, props: Mapping[str, Any]) -> Filled:
    """Created through the API: moto's CloudFormation drops SSESpecification, PITR and Time
    To Live."""
    dynamodb = ctx.client("dynamodb")
    name = props.get("TableName") or generated_name(ctx.stack_name, ctx.logical_id)
    kwargs: dict[str, Any] = {
        "TableName": name,
        "KeySchema": list(props["KeySchema"]),
        "AttributeDefinitions": list(props["AttributeDefinitions"]),
        "BillingMode": props.get("BillingMode", "PROVISIONED"),
    }
    for key in (
        "GlobalSecondaryIndexes",
        "LocalSecondaryIndexes",
        "ProvisionedThroughput",
        "StreamSpecification",
        "DeletionProtectionEnabled",
        "TableClass",
    ):
        if key in props:
            kwargs[key] = props[key]
    sse = props.get("SSESpecification")
    if sse:
        # CloudFormation says SSEEnabled, the API Enabled.
        kwargs["SSESpecification"] = {
            "Enabled": bool(sse.get("SSEEnabled", False)),
            **({"SSEType": sse["SSEType"]} if "SSEType" in sse else {}),
            **({"KMSMasterKeyId": sse["KMSMasterKeyId"]} if "KMSMasterKeyId" in sse else {}),
        }
    if props.get("Tags"):
        kwargs["Tags"] = list(props["Tags"])
    table = dynamodb.create_table(**kwargs)["TableDescription"]
    pitr = props.get("PointInTimeRecoverySpecification", {})
    if pitr.get("PointInTimeRecoveryEnabled"):
        dynamodb.update_continuous_backups(
            TableName=name,
            PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True},
        )
    ttl = props.get("TimeToLiveSpecification", {})
    if ttl.get("Enabled"):
        dynamodb.update_time_to_live(
            TableName=name,
            TimeToLiveSpecification={"Enabled": True, "AttributeName": ttl["AttributeName"]},
        )
    attributes = {"Arn": table["TableArn"]}
    if "LatestStreamArn" in table:
        attributes["StreamArn"] = table["LatestStreamArn"]
    return Filled(name, attributes)


def log_group(ctx: FillContext, props: Mapping[str, Any]) -> Filled:
    """Created through the API: moto's CloudFormation drops KmsKeyId."""
    logs = ctx.client("logs")
    name = props.get("LogGroupName") or generated_name(ctx.stack_name, ctx.logical_id, limit=512)
    kwargs: dict[str, Any] = {"logGroupName": name}
    if "KmsKeyId" in props:
        kwargs["kmsKeyId"] = props["KmsKeyId"]
    if props.get("Tags"):
        kwargs["tags"] = _tag_map(props)
    logs.create_log_group(**kwargs)
    if "RetentionInDays" in props:
        logs.put_retention_policy(logGroupName=name, retentionInDays=int(props["RetentionInDays"]))
    arn = f"arn:aws:logs:{ctx.region}:{ctx.account}:log-group:{name}:*"
    return Filled(name, {"Arn": arn})


# CloudFormation property names of AWS::Lambda::Function that differ from CreateFunction's.
_LAMBDA_NAMES = {"KmsKeyArn": "KMSKeyArn"}
_LAMBDA_SKIP = {"Tags", "ReservedConcurrentExecutions"}
# Accepted by moto's CreateFunction but neither stored nor returned: nothing to verify against.
_LAMBDA_UNSTORED = ("DeadLetterConfig", "LoggingConfig")


def lambda_function(ctx: FillContext, props: Mapping[str, Any]) -> Filled:
    """Created through the API: moto's CloudFormation drops Architectures, KmsKeyArn,
    DeadLetterConfig, LoggingConfig and ReservedConcurrentExecutions."""
    client = ctx.client("lambda")
    name = props.get("FunctionName") or generated_name(ctx.stack_name, ctx.logical_id, limit=64)
    kwargs = {_LAMBDA_NAMES.get(k, k): v for k, v in props.items() if k not in _LAMBDA_SKIP}
    kwargs["FunctionName"] = name
    if props.get("Tags"):
        kwargs["Tags"] = _tag_map(props)
    function = client.create_function(**kwargs)
    if "ReservedConcurrentExecutions" in props:
        client.put_function_concurrency(
            FunctionName=name,
            ReservedConcurrentExecutions=int(props["ReservedConcurrentExecutions"]),
        )
    unchecked = sorted(key for key in _LAMBDA_UNSTORED if key in props)
    notes = (
        [f"NOT VERIFIED: moto does not store {', '.join(unchecked)} (sent to CreateFunction)"]
        if unchecked
        else []
    )
    return Filled(name, {"Arn": function["FunctionArn"]}, notes=notes)


def event_invoke_config(ctx: FillContext, props: Mapping[str, Any]) -> Filled:
    ctx.client("lambda").put_function_event_invoke_config(**props)
    return Filled(f"{props['FunctionName']}:{props.get('Qualifier', '$LATEST')}")


def topic_policy(ctx: FillContext, props: Mapping[str, Any]) -> Filled:
    sns = ctx.client("sns")
    for topic in props["Topics"]:
        sns.set_topic_attributes(
            TopicArn=topic,
            AttributeName="Policy",
            AttributeValue=json.dumps(props["PolicyDocument"]),
        )
    return Filled(generated_name(ctx.stack_name, ctx.logical_id))


def queue_policy(ctx: FillContext, props: Mapping[str, Any]) -> Filled:
    sqs = ctx.client("sqs")
    for queue_url in props["Queues"]:
        sqs.set_queue_attributes(
            QueueUrl=queue_url, Attributes={"Policy": json.dumps(props["PolicyDocument"])}
        )
    return Filled(generated_name(ctx.stack_name, ctx.logical_id))


Filler = Callable[[FillContext, Mapping[str, Any]], Filled]

# Resource types the local deployment creates itself, and why.
FILLERS: dict[str, tuple[Filler, str]] = {
    "AWS::EC2::CustomerGateway": (customer_gateway, "not supported by moto's CloudFormation"),
    "AWS::EC2::VPNConnection": (vpn_connection, "not supported by moto's CloudFormation"),
    "AWS::EC2::VPNGatewayRoutePropagation": (
        vpn_route_propagation,
        "not supported by moto's CloudFormation nor its EC2 API",
    ),
    "AWS::DMS::ReplicationSubnetGroup": (
        dms_subnet_group,
        "not supported by moto's CloudFormation",
    ),
    "AWS::DMS::ReplicationInstance": (dms_instance, "not supported by moto's CloudFormation"),
    "AWS::DMS::Endpoint": (dms_endpoint, "not supported by moto's CloudFormation"),
    "AWS::DMS::ReplicationTask": (dms_task, "not supported by moto's CloudFormation"),
    "AWS::CloudWatch::Alarm": (alarm, "not supported by moto's CloudFormation"),
    "AWS::Route53::HostedZone": (
        hosted_zone,
        "moto's CloudFormation makes every zone public and ignores VPCs",
    ),
    "AWS::SSM::Document": (
        ssm_document,
        "moto's CloudFormation requires DocumentFormat and stores object Content as a Python repr",
    ),
    "AWS::DynamoDB::Table": (dynamodb_table, "moto's CloudFormation drops SSE, PITR and TTL"),
    "AWS::Logs::LogGroup": (log_group, "moto's CloudFormation drops KmsKeyId"),
    "AWS::Lambda::Function": (
        lambda_function,
        "moto's CloudFormation drops Architectures, KmsKeyArn, DeadLetterConfig, "
        "LoggingConfig and ReservedConcurrentExecutions",
    ),
    "AWS::Lambda::EventInvokeConfig": (
        event_invoke_config,
        "not supported by moto's CloudFormation",
    ),
    "AWS::SNS::TopicPolicy": (topic_policy, "not supported by moto's CloudFormation"),
    "AWS::SQS::QueuePolicy": (queue_policy, "not supported by moto's CloudFormation"),
    **resolver.FILLERS,
    **lambda_layers.FILLERS,
    **mgn_templates.FILLERS,
}
