"""A local deployment updated in place (``deploy_local(..., previous=...)``), small templates.

CloudFormation's resources go through ``update_stack`` of the same stack (kept, added, deleted);
the fillers' resources keep their physical ids, an alarm whose threshold changed is updated in
place, a removed DMS endpoint is deleted, a removed customer gateway (no local deleter) is listed
as left behind; what cannot be updated locally is refused in one line, changing nothing.
"""

from __future__ import annotations

import copy
import io
import json
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from migration.local import Emulator, LocalDeployError, LocalDeployment
from tests.runtime.local_deploy_fixtures import deploy_template

ALARM: dict[str, Any] = {
    "Type": "AWS::CloudWatch::Alarm",
    "Properties": {
        "MetricName": "Lag",
        "Namespace": "Test",
        "Statistic": "Average",
        "Period": 60,
        "EvaluationPeriods": 1,
        "Threshold": 10,
        "ComparisonOperator": "GreaterThanThreshold",
        "AlarmActions": [{"Ref": "Topic"}],
    },
}
ENDPOINT: dict[str, Any] = {
    "Type": "AWS::DMS::Endpoint",
    "Properties": {
        "EndpointType": "source",
        "EngineName": "postgres",
        "ServerName": "db.example.com",
        "Port": 5432,
        "DatabaseName": "orders",
    },
}
GATEWAY: dict[str, Any] = {
    "Type": "AWS::EC2::CustomerGateway",
    "Properties": {"BgpAsn": 65000, "IpAddress": "203.0.113.10", "Type": "ipsec.1"},
}
FIRST: dict[str, Any] = {
    "Resources": {
        "Topic": {"Type": "AWS::SNS::Topic", "Properties": {}},
        "Queue": {"Type": "AWS::SQS::Queue", "Properties": {}},
        "Vpc": {"Type": "AWS::EC2::VPC", "Properties": {"CidrBlock": "10.1.0.0/16"}},
        "Alarm": ALARM,
        "Endpoint": ENDPOINT,
        "Gateway": GATEWAY,
    },
    "Outputs": {
        "AlarmName": {"Value": {"Ref": "Alarm"}},
        "QueueUrl": {"Value": {"Ref": "Queue"}},
    },
}


def _second() -> dict[str, Any]:
    """Alarm threshold changed, a queue and an alarm added, a queue, an endpoint and a gateway
    removed."""
    template = copy.deepcopy(FIRST)
    resources = template["Resources"]
    resources["Alarm"]["Properties"]["Threshold"] = 20
    for removed in ("Queue", "Endpoint", "Gateway"):
        del resources[removed]
    resources["Queue2"] = {"Type": "AWS::SQS::Queue", "Properties": {}}
    resources["Alarm2"] = {
        **ALARM,
        "Properties": {**ALARM["Properties"], "MetricName": "Lag2"},
    }
    template["Outputs"] = {
        "AlarmName": {"Value": {"Ref": "Alarm"}},
        "Alarm2Name": {"Value": {"Ref": "Alarm2"}},
        "QueueUrl": {"Value": {"Ref": "Queue2"}},
    }
    return template


@pytest.fixture(scope="module")
def emulator() -> Iterator[Emulator]:
    with Emulator(region="us-west-2") as emu:
        yield emu


def _physical(deployment: LocalDeployment) -> dict[str, str]:
    return {lid: r.physical_id for lid, r in deployment.resources.items()}


def test_an_update_keeps_updates_adds_and_removes(emulator: Emulator, tmp_path: Path) -> None:
    first = deploy_template(emulator, tmp_path, FIRST, "Redeploy")
    second = deploy_template(emulator, tmp_path, _second(), "Redeploy", previous=first)

    before, after = _physical(first), _physical(second)
    for kept in ("Topic", "Vpc", "Alarm"):
        assert after[kept] == before[kept], kept
    assert set(second.verified) == set(_second()["Resources"])
    alarms = emulator.client("cloudwatch").describe_alarms(AlarmNames=[after["Alarm"]])
    assert alarms["MetricAlarms"][0]["Threshold"] == 20  # updated in place, same name
    assert "updated in place from the earlier deployment" in second.resources["Alarm"].notes

    dms = emulator.client("dms").describe_endpoints()["Endpoints"]
    assert before["Endpoint"] not in {e["EndpointArn"] for e in dms}
    queues = {u.rsplit("/", 1)[-1] for u in emulator.client("sqs").list_queues()["QueueUrls"]}
    assert before["Queue"].rsplit("/", 1)[-1] not in queues
    assert after["Queue2"].rsplit("/", 1)[-1] in queues
    gateways = emulator.client("ec2").describe_customer_gateways()["CustomerGateways"]
    assert before["Gateway"] in {g["CustomerGatewayId"] for g in gateways}
    outcomes = {r.logical_id: r.outcome for r in second.removed}
    assert outcomes == {
        "Queue": "deleted by CloudFormation",
        "Endpoint": "deleted by the local deployment (dms:DeleteEndpoint)",
        "Gateway": "LEFT BEHIND: the local deployment cannot delete this type",
    }
    summary = second.summary()
    assert "(updated in place, 3 removed)" in summary.splitlines()[0]
    assert "removed by the update (3, 1 left behind on the emulator):" in summary

    written = json.loads((tmp_path / "out" / "flat-outputs.json").read_text())
    assert written == second.outputs
    assert written["QueueUrl"] == after["Queue2"]
    assert written["Alarm2Name"] == after["Alarm2"]

    # The same template again: nothing created, nothing removed, every id the same.
    third = deploy_template(emulator, tmp_path, _second(), "Redeploy", previous=second)
    assert _physical(third) == after
    assert third.removed == []


def _refused(
    emulator: Emulator, tmp_path: Path, name: str, change: dict[str, Any], message: str
) -> None:
    first = deploy_template(emulator, tmp_path, FIRST, name)
    cloudformation = emulator.client("cloudformation")
    template_before = cloudformation.get_template(StackName=name)["TemplateBody"]
    changed = copy.deepcopy(FIRST)
    changed["Resources"].update(change)
    with pytest.raises(LocalDeployError) as raised:
        deploy_template(emulator, tmp_path, changed, name, previous=first)
    text = str(raised.value)
    assert "\n" not in text
    assert text.startswith(f"cannot update {name} locally: ")
    assert message in text
    assert text.endswith("(nothing was changed)")
    assert cloudformation.get_template(StackName=name)["TemplateBody"] == template_before


def test_a_changed_filler_resource_without_updater_is_refused(
    emulator: Emulator, tmp_path: Path
) -> None:
    endpoint = copy.deepcopy(ENDPOINT)
    endpoint["Properties"]["DatabaseName"] = "billing"
    _refused(
        emulator,
        tmp_path,
        "RefusedEndpoint",
        {"Endpoint": endpoint},
        "Endpoint (AWS::DMS::Endpoint): properties changed, and the local deployment cannot "
        "update this type in place",
    )


def test_a_change_moto_cannot_update_is_refused(emulator: Emulator, tmp_path: Path) -> None:
    _refused(
        emulator,
        tmp_path,
        "RefusedVpc",
        {"Vpc": {"Type": "AWS::EC2::VPC", "Properties": {"CidrBlock": "10.2.0.0/16"}}},
        "Vpc (AWS::EC2::VPC): changed, and moto's CloudFormation cannot update this type",
    )


def test_a_type_change_is_refused(emulator: Emulator, tmp_path: Path) -> None:
    _refused(
        emulator,
        tmp_path,
        "RefusedType",
        {"Queue": {"Type": "AWS::SNS::Topic", "Properties": {}}},
        "Queue: type changed from AWS::SQS::Queue to AWS::SNS::Topic",
    )


def test_an_earlier_deployment_of_another_stack_is_refused(
    emulator: Emulator, tmp_path: Path
) -> None:
    first = deploy_template(emulator, tmp_path, FIRST, "Original")
    with pytest.raises(LocalDeployError, match="the earlier deployment is of Original"):
        deploy_template(emulator, tmp_path, FIRST, "Other", previous=first)


def _function_template(timeout: int, stage: str) -> dict[str, Any]:
    role = {
        "Type": "AWS::IAM::Role",
        "Properties": {
            "AssumeRolePolicyDocument": {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": {"Service": "lambda.amazonaws.com"},
                        "Action": "sts:AssumeRole",
                    }
                ],
            }
        },
    }
    function = {
        "Type": "AWS::Lambda::Function",
        "Properties": {
            "Runtime": "python3.12",
            "Handler": "index.handler",
            "Role": {"Fn::GetAtt": ["Role", "Arn"]},
            "Code": {"S3Bucket": "redeploy-code", "S3Key": "code.zip"},
            "Timeout": timeout,
            "Environment": {"Variables": {"STAGE": stage}},
        },
    }
    return {
        "Resources": {"Role": role, "Function": function},
        "Outputs": {"FunctionArn": {"Value": {"Fn::GetAtt": ["Function", "Arn"]}}},
    }


def test_a_changed_function_is_updated_in_place(emulator: Emulator, tmp_path: Path) -> None:
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as code:
        code.writestr("index.py", "def handler(event, context):\n    return event\n")
    s3 = emulator.client("s3")
    s3.create_bucket(
        Bucket="redeploy-code", CreateBucketConfiguration={"LocationConstraint": emulator.region}
    )
    s3.put_object(Bucket="redeploy-code", Key="code.zip", Body=archive.getvalue())

    first = deploy_template(emulator, tmp_path, _function_template(10, "one"), "RedeployFunction")
    second = deploy_template(
        emulator, tmp_path, _function_template(20, "two"), "RedeployFunction", previous=first
    )

    assert second.outputs["FunctionArn"] == first.outputs["FunctionArn"]
    assert "updated in place from the earlier deployment" in second.resources["Function"].notes
    assert "Function" in second.verified  # timeout and environment read back
    configuration = emulator.client("lambda").get_function_configuration(
        FunctionName=second.resources["Function"].physical_id
    )
    assert configuration["Timeout"] == 20
    assert configuration["Environment"]["Variables"] == {"STAGE": "two"}
