"""The local deployment fails loudly: unsupported types, skipped resources, dropped properties."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import textwrap
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from migration.local import Emulator, LocalDeployError, deploy_local, lambda_layers
from migration.local import deploy as deploy_module
from migration.local import fillers as fillers_module
from migration.local.deploy import moto_cloudformation_types

KEY = {
    "Type": "AWS::KMS::Key",
    "Properties": {
        "EnableKeyRotation": True,
        "KeyPolicy": {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {
                        "AWS": {
                            "Fn::Join": ["", ["arn:aws:iam::", {"Ref": "AWS::AccountId"}, ":root"]]
                        }
                    },
                    "Action": "kms:*",
                    "Resource": "*",
                }
            ],
        },
        "Tags": [{"Key": "Project", "Value": "local-test"}],
    },
}
TABLE = {
    "Type": "AWS::DynamoDB::Table",
    "Properties": {
        "TableName": "local-deploy-test",
        "BillingMode": "PAY_PER_REQUEST",
        "AttributeDefinitions": [{"AttributeName": "id", "AttributeType": "S"}],
        "KeySchema": [{"AttributeName": "id", "KeyType": "HASH"}],
        "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": True},
        "SSESpecification": {
            "SSEEnabled": True,
            "SSEType": "KMS",
            "KMSMasterKeyId": {"Fn::GetAtt": ["Key", "Arn"]},
        },
        "TimeToLiveSpecification": {"AttributeName": "expiresAt", "Enabled": True},
    },
}
GATEWAY = {
    "Type": "AWS::EC2::CustomerGateway",
    "Properties": {"BgpAsn": 65000, "IpAddress": "203.0.113.10", "Type": "ipsec.1"},
}


@pytest.fixture(scope="module")
def emulator() -> Iterator[Emulator]:
    with Emulator(region="us-west-2") as emu:
        yield emu


def _template(tmp_path: Path, resources: dict[str, Any], outputs: dict[str, Any]) -> Path:
    path = tmp_path / "Test.template.json"
    path.write_text(json.dumps({"Resources": resources, "Outputs": outputs}))
    return path


def _deploy(emulator: Emulator, template: Path, tmp_path: Path, name: str) -> Any:
    return deploy_local(
        template,
        endpoint_url=emulator.endpoint_url,
        stack_name=name,
        region=emulator.region,
        outputs_path=tmp_path / "out" / "flat-outputs.json",
    )


def test_deploys_verifies_and_writes_flat_outputs(emulator: Emulator, tmp_path: Path) -> None:
    resources = {
        "Key": KEY,
        "Table": {**TABLE, "Properties": {**TABLE["Properties"], "TableName": "ok-table"}},
        "Gateway": GATEWAY,
    }
    outputs = {
        "TableName": {"Value": {"Ref": "Table"}},
        "Summary": {
            "Value": {"Fn::Join": [":", [{"Ref": "Gateway"}, {"Fn::GetAtt": ["Key", "Arn"]}]]}
        },
    }
    deployment = _deploy(emulator, _template(tmp_path, resources, outputs), tmp_path, "LocalOk")
    written = json.loads((tmp_path / "out" / "flat-outputs.json").read_text())
    assert written == deployment.outputs
    assert written["TableName"] == "ok-table"
    gateway_id = deployment.resources["Gateway"].physical_id
    assert written["Summary"].startswith(gateway_id + ":arn:aws:kms:us-west-2:")
    assert deployment.resources["Key"].created_by == "cloudformation"
    assert deployment.resources["Table"].created_by == "tool"
    table = emulator.client("dynamodb").describe_table(TableName="ok-table")["Table"]
    assert table["SSEDescription"]["Status"] == "ENABLED"
    ttl = emulator.client("dynamodb").describe_time_to_live(TableName="ok-table")
    assert ttl["TimeToLiveDescription"] == {
        "TimeToLiveStatus": "ENABLED",
        "AttributeName": "expiresAt",
    }
    summary = deployment.summary()
    assert "point-in-time recovery" in summary and "Gateway" in summary
    assert "time to live" in summary
    assert deployment.verified["Key"] == ["verified: enabled, rotation, tags, key policy"]


def test_unsupported_type_is_named_before_anything_is_created(
    emulator: Emulator, tmp_path: Path
) -> None:
    kind = "AWS::AppFlow::Flow"
    assert kind not in moto_cloudformation_types()
    template = _template(tmp_path, {"Flow": {"Type": kind, "Properties": {}}, "Key": KEY}, {})
    with pytest.raises(LocalDeployError, match=r"AWS::AppFlow::Flow: Flow"):
        _deploy(emulator, template, tmp_path, "LocalUnsupported")
    stacks = emulator.client("cloudformation").list_stacks()["StackSummaries"]
    assert "LocalUnsupported" not in [s["StackName"] for s in stacks]


def test_a_filler_that_skips_its_resource_is_caught(
    emulator: Emulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def skipping(ctx: Any, props: Any) -> fillers_module.Filled:
        return fillers_module.Filled("")

    monkeypatch.setitem(
        fillers_module.FILLERS, "AWS::EC2::CustomerGateway", (skipping, "test: skips")
    )
    template = _template(tmp_path, {"Gateway": GATEWAY}, {})
    with pytest.raises(
        LocalDeployError, match=r"Gateway \(AWS::EC2::CustomerGateway\): not created"
    ):
        _deploy(emulator, template, tmp_path, "LocalSkipped")


def test_a_dropped_property_is_caught(
    emulator: Emulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = fillers_module.dynamodb_table

    def without_pitr(ctx: Any, props: Any) -> fillers_module.Filled:
        return real(
            ctx, {k: v for k, v in props.items() if k != "PointInTimeRecoverySpecification"}
        )

    monkeypatch.setitem(fillers_module.FILLERS, "AWS::DynamoDB::Table", (without_pitr, "test"))
    resources = {
        "Key": KEY,
        "Table": {**TABLE, "Properties": {**TABLE["Properties"], "TableName": "no-pitr"}},
    }
    template = _template(tmp_path, resources, {})
    with pytest.raises(LocalDeployError) as caught:
        _deploy(emulator, template, tmp_path, "LocalNoPitr")
    message = str(caught.value)
    assert "Table (AWS::DynamoDB::Table): point-in-time recovery: expected 'ENABLED'" in message
    assert not (tmp_path / "out" / "flat-outputs.json").exists()


def test_a_dropped_time_to_live_is_caught(
    emulator: Emulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = fillers_module.dynamodb_table

    def without_ttl(ctx: Any, props: Any) -> fillers_module.Filled:
        return real(ctx, {k: v for k, v in props.items() if k != "TimeToLiveSpecification"})

    monkeypatch.setitem(fillers_module.FILLERS, "AWS::DynamoDB::Table", (without_ttl, "test"))
    resources = {
        "Key": KEY,
        "Table": {**TABLE, "Properties": {**TABLE["Properties"], "TableName": "no-ttl"}},
    }
    with pytest.raises(LocalDeployError, match=r"time to live: expected 'ENABLED on expiresAt'"):
        _deploy(emulator, _template(tmp_path, resources, {}), tmp_path, "LocalNoTtl")


def test_an_output_referencing_an_unknown_resource_is_rejected(
    emulator: Emulator, tmp_path: Path
) -> None:
    template = _template(tmp_path, {"Gateway": GATEWAY}, {"Missing": {"Value": {"Ref": "Nope"}}})
    with pytest.raises(LocalDeployError, match="output Missing"):
        _deploy(emulator, template, tmp_path, "LocalBadOutput")


VPC = {"Type": "AWS::EC2::VPC", "Properties": {"CidrBlock": "10.9.0.0/16"}}
SUBNET = {
    "Type": "AWS::EC2::Subnet",
    "Properties": {
        "VpcId": {"Ref": "Vpc"},
        "CidrBlock": "10.9.1.0/24",
        "AvailabilityZone": "us-west-2a",
        "MapPublicIpOnLaunch": False,
    },
}
QUEUE = {"Type": "AWS::SQS::Queue", "Properties": {}}
RULE = {
    "Type": "AWS::Events::Rule",
    "Properties": {
        "Name": "local-deploy-test-rule",
        "EventPattern": {"source": ["aws.cloudwatch"]},
        "State": "ENABLED",
        "Targets": [
            {
                "Id": "Target0",
                "Arn": {"Fn::GetAtt": ["Target", "Arn"]},
                "DeadLetterConfig": {"Arn": {"Fn::GetAtt": ["DeadLetters", "Arn"]}},
                "RetryPolicy": {"MaximumRetryAttempts": 4, "MaximumEventAgeInSeconds": 3600},
            }
        ],
    },
}


SCHEDULE = {
    "Type": "AWS::Events::Rule",
    "Properties": {
        "ScheduleExpression": "rate(1 minute)",
        "State": "ENABLED",
        "Targets": [
            {
                "Arn": "arn:aws:lambda:us-west-2:123456789012:function:tick",
                "Id": "Target0",
                "RetryPolicy": {"MaximumRetryAttempts": 4, "MaximumEventAgeInSeconds": 300},
                "DeadLetterConfig": {"Arn": {"Fn::GetAtt": ["Queue", "Arn"]}},
            }
        ],
    },
}


def _rule_resources() -> dict[str, Any]:
    return {"Vpc": VPC, "Subnet": SUBNET, "Target": QUEUE, "DeadLetters": QUEUE, "Rule": RULE}


def test_subnets_and_rule_targets_are_verified_with_their_security_settings(
    emulator: Emulator, tmp_path: Path
) -> None:
    template = _template(tmp_path, _rule_resources(), {})
    deployment = _deploy(emulator, template, tmp_path, "LocalRuleOk")
    assert deployment.verified["Subnet"] == [
        "verified: VPC, CIDR, availability zone, public IPs on launch"
    ]
    assert deployment.verified["Rule"] == [
        "verified: state, event pattern, targets (ARN, retry policy, dead-letter queue), name"
    ]


def test_a_rule_target_without_its_dead_letter_queue_is_caught(
    emulator: Emulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = deploy_module._Deployment.cfn_resource

    def dropping(self: Any, logical_id: str) -> dict[str, Any]:
        resource = real(self, logical_id)
        for target in resource.get("Properties", {}).get("Targets", []):
            target.pop("DeadLetterConfig", None)
        return resource

    monkeypatch.setattr(deploy_module._Deployment, "cfn_resource", dropping)
    resources = {**_rule_resources(), "Rule": {**RULE, "Properties": {**RULE["Properties"]}}}
    resources["Rule"]["Properties"]["Name"] = "local-deploy-test-rule-without-dlq"
    template = _template(tmp_path, resources, {})
    with pytest.raises(LocalDeployError) as caught:
        _deploy(emulator, template, tmp_path, "LocalRuleNoDlq")
    assert (
        "Rule (AWS::Events::Rule): targets (ARN, retry policy, dead-letter queue): expected"
        in str(caught.value)
    )


def test_a_key_policy_that_differs_is_caught(
    emulator: Emulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = deploy_module._Deployment.cfn_resource

    def first_statement_only(self: Any, logical_id: str) -> dict[str, Any]:
        resource = real(self, logical_id)
        policy = json.loads(resource["Properties"]["KeyPolicy"])
        policy["Statement"] = policy["Statement"][:1]
        resource["Properties"]["KeyPolicy"] = json.dumps(policy)
        return resource

    monkeypatch.setattr(deploy_module._Deployment, "cfn_resource", first_statement_only)
    statement = {
        "Sid": "Extra",
        "Effect": "Allow",
        "Principal": {"Service": "events.amazonaws.com"},
        "Action": "kms:Decrypt",
        "Resource": "*",
    }
    key = json.loads(json.dumps(KEY))
    key["Properties"]["KeyPolicy"]["Statement"].append(statement)
    template = _template(tmp_path, {"Key": key}, {})
    with pytest.raises(LocalDeployError, match=r"Key \(AWS::KMS::Key\): key policy: expected"):
        _deploy(emulator, template, tmp_path, "LocalKeyPolicy")


def test_lambda_settings_moto_does_not_store_are_reported_as_not_verified() -> None:
    class FakeLambda:
        def create_function(self, **kwargs: Any) -> dict[str, str]:
            return {"FunctionArn": f"arn:aws:lambda:us-west-2:1:function:{kwargs['FunctionName']}"}

    ctx = fillers_module.FillContext("S", "Fn", "us-west-2", "1", lambda service: FakeLambda())
    props = {
        "FunctionName": "fn",
        "TracingConfig": {"Mode": "Active"},
        "LoggingConfig": {"LogFormat": "JSON"},
        "DeadLetterConfig": {"TargetArn": "arn:aws:sqs:us-west-2:1:dlq"},
    }
    filled = fillers_module.lambda_function(ctx, props)
    assert filled.notes == [
        "NOT VERIFIED: moto does not store DeadLetterConfig, LoggingConfig (sent to CreateFunction)"
    ]
    assert fillers_module.lambda_function(ctx, {"FunctionName": "plain"}).notes == []


def test_a_schedule_rule_is_verified_with_its_retry_policy_and_dead_letter_queue(
    emulator: Emulator, tmp_path: Path
) -> None:
    template = _template(tmp_path, {"Queue": QUEUE, "Schedule": SCHEDULE}, {})
    deployment = _deploy(emulator, template, tmp_path, "LocalSchedule")
    assert deployment.verified["Schedule"] == [
        "verified: state, event pattern, targets (ARN, retry policy, dead-letter queue), schedule"
    ]


def test_a_dropped_retry_policy_is_caught() -> None:
    from migration.local.verify import events_rule

    class Events:
        def describe_rule(self, Name: str) -> dict[str, Any]:
            return {"State": "ENABLED", "ScheduleExpression": "rate(1 minute)"}

        def list_targets_by_rule(self, Rule: str) -> dict[str, Any]:
            return {"Targets": [{"Id": "Target0", "Arn": "arn:aws:lambda:::function:tick"}]}

    props = {
        "ScheduleExpression": "rate(1 minute)",
        "Targets": [
            {
                "Id": "Target0",
                "Arn": "arn:aws:lambda:::function:tick",
                "RetryPolicy": {"MaximumRetryAttempts": 4},
            }
        ],
    }
    checks = events_rule(lambda service: Events(), "tick", props)
    wrong = [(what, expected, actual) for what, expected, actual in checks if expected != actual]
    assert wrong == [
        (
            "targets (ARN, retry policy, dead-letter queue)",
            {
                "Target0": {
                    "Arn": "arn:aws:lambda:::function:tick",
                    "RetryPolicy": {"MaximumRetryAttempts": 4},
                }
            },
            {"Target0": {"Arn": "arn:aws:lambda:::function:tick"}},
        )
    ]


def test_a_resource_without_properties_survives_the_next_layers_update(
    emulator: Emulator, tmp_path: Path
) -> None:
    """moto stores such a resource with an empty Properties: sent again as it is, the next
    update_stack replaced it (a topic under a new ARN, the alarm still naming the old one)."""
    alarm = {
        "Type": "AWS::CloudWatch::Alarm",
        "Properties": {
            "MetricName": "Errors",
            "Namespace": "Migration",
            "Statistic": "Sum",
            "Period": 60,
            "EvaluationPeriods": 1,
            "Threshold": 1,
            "ComparisonOperator": "GreaterThanOrEqualToThreshold",
            "AlarmActions": [{"Ref": "Topic"}],
        },
    }
    rule = {  # a CloudFormation resource after the alarm: a second update_stack
        "Type": "AWS::Events::Rule",
        "Properties": {
            "EventPattern": {"resources": [{"Fn::GetAtt": ["Alarm", "Arn"]}]},
            "State": "ENABLED",
        },
    }
    resources = {"Topic": {"Type": "AWS::SNS::Topic"}, "Alarm": alarm, "Rule": rule}
    outputs = {"Topic": {"Value": {"Ref": "Topic"}}}
    deployment = _deploy(emulator, _template(tmp_path, resources, outputs), tmp_path, "NoProps")
    assert "AlarmActions" in deployment.verified["Alarm"][0]
    topics = emulator.client("sns").list_topics()["Topics"]
    assert deployment.outputs["Topic"] in [t["TopicArn"] for t in topics]


def test_the_key_policy_is_verified(emulator: Emulator, tmp_path: Path) -> None:
    deployment = _deploy(emulator, _template(tmp_path, {"Key": KEY}, {}), tmp_path, "LocalKey")
    assert "key policy" in deployment.verified["Key"][0]


def test_the_emulators_route53_refuses_a_delete_of_stale_values() -> None:
    """As Route 53 does (the controller's conditional moves rely on it); moto alone accepts it.

    In a fresh interpreter: this test session installs the same fidelity patch for the other
    runtime tests, which would hide an emulator that does not.
    """
    script = textwrap.dedent(
        """
        from botocore.exceptions import ClientError
        from migration.local import Emulator

        def record(weight):
            return {"Name": "app.fidelity.internal", "Type": "A", "SetIdentifier": "aws",
                    "Weight": weight, "TTL": 60, "ResourceRecords": [{"Value": "10.0.0.1"}]}

        with Emulator() as emulator:
            route53 = emulator.client("route53")
            zone = route53.create_hosted_zone(Name="fidelity.internal", CallerReference="f")
            zone_id = zone["HostedZone"]["Id"]

            def change(*changes):
                route53.change_resource_record_sets(HostedZoneId=zone_id, ChangeBatch={
                    "Changes": [{"Action": a, "ResourceRecordSet": record(w)} for a, w in changes]
                })

            change(("CREATE", 0))
            change(("UPSERT", 50))  # a rollback, say, moved it meanwhile
            try:
                change(("DELETE", 0), ("CREATE", 10))
            except ClientError as error:
                print(error.response["Error"]["Code"], error.response["Error"]["Message"])
            sets = route53.list_resource_record_sets(HostedZoneId=zone_id)["ResourceRecordSets"]
            print([r["Weight"] for r in sets if r.get("SetIdentifier") == "aws"])
        """
    )
    completed = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=False
    )
    assert completed.returncode == 0, completed.stderr
    code_and_message, weights = completed.stdout.strip().splitlines()[-2:]
    assert code_and_message.startswith("InvalidChangeBatch ")
    assert "do not match the current values" in code_and_message
    assert weights == "[50]"


# --------------------------------------------------------------------------- name resolution


def _subnet(cidr: str, zone: str) -> dict[str, Any]:
    return {
        "Type": "AWS::EC2::Subnet",
        "Properties": {"VpcId": {"Ref": "Vpc"}, "CidrBlock": cidr, "AvailabilityZone": zone},
    }


def _dns_rules(cidr: str) -> list[dict[str, Any]]:
    return [
        {"CidrIp": cidr, "IpProtocol": protocol, "FromPort": 53, "ToPort": 53}
        for protocol in ("tcp", "udp")
    ]


def _resolver_resources() -> dict[str, Any]:
    """A VPC with the stack's name-resolution shape: reserved blocks, an inbound and an outbound
    endpoint at pinned addresses, a DNS-only egress group, one forwarding rule."""
    subnets = {"SubnetA": ("10.9.3.0/24", "us-west-2a"), "SubnetB": ("10.9.4.0/24", "us-west-2b")}
    resources: dict[str, Any] = {"Vpc": VPC}
    for name, (cidr, zone) in subnets.items():
        resources[name] = _subnet(cidr, zone)
        resources[f"Reservation{name}"] = {
            "Type": "AWS::EC2::SubnetCidrReservation",
            "Properties": {
                "SubnetId": {"Ref": name},
                "Cidr": cidr.replace(".0/24", ".48/28"),
                "ReservationType": "explicit",
            },
        }
    resources["InboundGroup"] = {
        "Type": "AWS::EC2::SecurityGroup",
        "Properties": {
            "GroupDescription": "inbound DNS",
            "VpcId": {"Ref": "Vpc"},
            "SecurityGroupIngress": _dns_rules("192.168.0.0/16"),
            "SecurityGroupEgress": [
                {
                    "CidrIp": "255.255.255.255/32",
                    "IpProtocol": "icmp",
                    "FromPort": 252,
                    "ToPort": 86,
                }
            ],
        },
    }
    resources["OutboundGroup"] = {
        "Type": "AWS::EC2::SecurityGroup",
        "Properties": {
            "GroupDescription": "outbound DNS",
            "VpcId": {"Ref": "Vpc"},
            "SecurityGroupEgress": _dns_rules("192.168.0.2/32"),
        },
    }
    for direction, host in (("Inbound", 53), ("Outbound", 54)):
        resources[f"{direction}Endpoint"] = {
            "Type": "AWS::Route53Resolver::ResolverEndpoint",
            "DependsOn": ["ReservationSubnetA", "ReservationSubnetB"],
            "Properties": {
                "Direction": direction.upper(),
                "Name": f"test-{direction.lower()}",
                "SecurityGroupIds": [{"Fn::GetAtt": [f"{direction}Group", "GroupId"]}],
                "IpAddresses": [
                    {"SubnetId": {"Ref": "SubnetA"}, "Ip": f"10.9.3.{host}"},
                    {"SubnetId": {"Ref": "SubnetB"}, "Ip": f"10.9.4.{host}"},
                ],
            },
        }
    resources["ForwardRule"] = {
        "Type": "AWS::Route53Resolver::ResolverRule",
        "Properties": {
            "RuleType": "FORWARD",
            "DomainName": "corp.example.com",
            "Name": "test-corp-example-com",
            "ResolverEndpointId": {"Fn::GetAtt": ["OutboundEndpoint", "ResolverEndpointId"]},
            "TargetIps": [{"Ip": "192.168.0.2", "Port": "53"}],
        },
    }
    resources["ForwardRuleAssociation"] = {
        "Type": "AWS::Route53Resolver::ResolverRuleAssociation",
        "Properties": {
            "ResolverRuleId": {"Fn::GetAtt": ["ForwardRule", "ResolverRuleId"]},
            "VPCId": {"Ref": "Vpc"},
        },
    }
    return resources


def test_resolver_endpoints_rules_and_reservations_are_created_and_verified(
    emulator: Emulator, tmp_path: Path
) -> None:
    outputs = {"Inbound": {"Value": {"Fn::GetAtt": ["InboundEndpoint", "ResolverEndpointId"]}}}
    template = _template(tmp_path, _resolver_resources(), outputs)
    deployment = _deploy(emulator, template, tmp_path, "LocalResolver")
    for logical_id in ("InboundEndpoint", "OutboundEndpoint"):
        assert deployment.resources[logical_id].created_by == "tool"
        assert deployment.verified[logical_id] == [
            "verified: direction, name, security groups, VPC, addresses"
        ]
    assert deployment.verified["ForwardRule"] == ["verified: rule type, domain, targets, endpoint"]
    assert deployment.verified["ForwardRuleAssociation"] == ["verified: rule, VPC"]
    assert (
        "verified: exists, CIDR, reservation type" in deployment.verified["ReservationSubnetA"][0]
    )
    assert deployment.outputs["Inbound"] == deployment.resources["InboundEndpoint"].physical_id
    addresses = emulator.client("route53resolver").list_resolver_endpoint_ip_addresses(
        ResolverEndpointId=deployment.outputs["Inbound"]
    )["IpAddresses"]
    assert sorted(a["Ip"] for a in addresses) == ["10.9.3.53", "10.9.4.53"]
    # moto's CloudFormation keeps the default allow-all egress: the fix replaces it.
    group = emulator.client("ec2").describe_security_groups(
        GroupIds=[deployment.resources["OutboundGroup"].physical_id]
    )["SecurityGroups"][0]
    assert sorted(
        (p["IpProtocol"], r["CidrIp"]) for p in group["IpPermissionsEgress"] for r in p["IpRanges"]
    ) == [("tcp", "192.168.0.2/32"), ("udp", "192.168.0.2/32")]
    assert deployment.verified["OutboundGroup"] == ["verified: description, VPC, ingress, egress"]


def test_a_forwarding_rule_with_other_targets_is_caught(
    emulator: Emulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from migration.local import resolver as resolver_module

    def elsewhere(ctx: Any, props: Any) -> fillers_module.Filled:
        return resolver_module.resolver_rule(
            ctx, {**props, "TargetIps": [{"Ip": "192.168.0.99", "Port": "53"}]}
        )

    monkeypatch.setitem(
        fillers_module.FILLERS, "AWS::Route53Resolver::ResolverRule", (elsewhere, "test")
    )
    resources = _resolver_resources()
    with pytest.raises(LocalDeployError) as caught:
        _deploy(emulator, _template(tmp_path, resources, {}), tmp_path, "LocalResolverBad")
    assert "ForwardRule (AWS::Route53Resolver::ResolverRule): targets: expected" in str(
        caught.value
    )


def test_an_egress_rule_left_open_is_caught(
    emulator: Emulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from migration.local import fixes

    monkeypatch.setitem(fixes.FIXES, "AWS::EC2::SecurityGroup", lambda *_: [])
    resources = {"Vpc": VPC, "OutboundGroup": _resolver_resources()["OutboundGroup"]}
    with pytest.raises(LocalDeployError) as caught:
        _deploy(emulator, _template(tmp_path, resources, {}), tmp_path, "LocalOpenEgress")
    assert "OutboundGroup (AWS::EC2::SecurityGroup): egress: expected" in str(caught.value)


def test_a_layer_is_published_with_its_asset_and_verified(
    emulator: Emulator, tmp_path: Path
) -> None:
    s3 = emulator.client("s3")
    s3.create_bucket(
        Bucket="layer-assets", CreateBucketConfiguration={"LocationConstraint": "us-west-2"}
    )
    s3.put_object(Bucket="layer-assets", Key="drivers.zip", Body=_zip({"python/pg8000/x.py": "x"}))
    layer = {
        "Type": "AWS::Lambda::LayerVersion",
        "Properties": {
            "Content": {"S3Bucket": "layer-assets", "S3Key": "drivers.zip"},
            "CompatibleRuntimes": ["python3.14"],
            "CompatibleArchitectures": ["arm64"],
            "Description": "drivers",
        },
    }
    outputs = {"LayerArn": {"Value": {"Ref": "Layer"}}}
    deployment = _deploy(emulator, _template(tmp_path, {"Layer": layer}, outputs), tmp_path, "Lyr")
    assert deployment.resources["Layer"].created_by == "tool"
    assert deployment.outputs["LayerArn"].startswith("arn:aws:lambda:us-west-2:")
    assert deployment.verified["Layer"] == [
        "verified: description, runtimes, architectures, content (SHA-256 of the published asset)"
    ]
    # Another asset at the same key: the published layer no longer matches.
    s3.put_object(Bucket="layer-assets", Key="drivers.zip", Body=_zip({"python/other.py": "y"}))
    checks = lambda_layers.check_layer_version(
        emulator.client, deployment.outputs["LayerArn"], layer["Properties"]
    )
    assert [what for what, expected, actual in checks if expected != actual] == [
        "content (SHA-256 of the published asset)"
    ]


def _zip(files: dict[str, str]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, text in files.items():
            archive.writestr(name, text)
    return buffer.getvalue()
