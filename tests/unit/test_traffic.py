"""Traffic: the private hosted zone attached to the VPC."""

from __future__ import annotations

from aws_cdk import aws_route53 as route53
from aws_cdk.assertions import Template

from lib.tap_stack import TapStack

ZONE_ID = "TrafficHostedZone35B4C649"


def test_private_hosted_zone_attached_to_the_vpc(template: Template) -> None:
    template.resource_count_is("AWS::Route53::HostedZone", 1)
    template.has_resource(
        "AWS::Route53::HostedZone",
        {
            "Properties": {
                "Name": "migration.internal.",
                "VPCs": [{"VPCId": {"Ref": "NetworkVpc7FB7348F"}, "VPCRegion": "us-east-1"}],
                "HostedZoneConfig": {
                    "Comment": "Migration cutover records (weighted on-premises / aws pairs)"
                },
                "HostedZoneTags": [
                    {"Key": "Environment", "Value": "dev"},
                    {"Key": "Project", "Value": "migration-orchestration"},
                ],
            },
            "DeletionPolicy": "Delete",
            "UpdateReplacePolicy": "Delete",
        },
    )


def test_zone_name_and_region_come_from_context(site_template: Template) -> None:
    (zone,) = site_template.find_resources("AWS::Route53::HostedZone").values()
    assert zone["Properties"]["Name"] == "cutover.example.internal."
    assert zone["Properties"]["VPCs"][0]["VPCRegion"] == "eu-west-1"


def test_private_hosted_zone_attribute(stack: TapStack) -> None:
    assert isinstance(stack.private_hosted_zone, route53.PrivateHostedZone)
    assert stack.resolve(stack.private_hosted_zone.hosted_zone_id) == {"Ref": ZONE_ID}
