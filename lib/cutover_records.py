"""Cutover records: each planned application's weighted record pair, created at 100% on-premises."""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import aws_route53 as route53
from constructs import Construct

from migration.plan import Application

# The traffic contract (src/migration/traffic.py): two weighted records of one name and type.
ON_PREMISES = "on-premises"
AWS = "aws"
CUTOVER_TTL_SECONDS = 60


class CutoverRecords(Construct):
    """Per application, SetIdentifier ``on-premises`` (weight 100) and ``aws`` (weight 0).

    CloudFormation creates the pair; the runtime changes the weights during a cutover. A later
    deploy that changes a record's properties writes the template's weights back, i.e. sends
    that application's traffic on-premises again: deploy plan changes between cutovers.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        hosted_zone: route53.IHostedZone,
        applications: Sequence[Application],
    ) -> None:
        super().__init__(scope, construct_id)
        self.records: dict[str, dict[str, route53.CfnRecordSet]] = {}
        for app in applications:
            group = Construct(self, app.name)
            pair = {}
            for identifier, address, weight in (
                (ON_PREMISES, app.on_premises_address, 100),
                (AWS, app.aws_address, 0),
            ):
                pair[identifier] = route53.CfnRecordSet(
                    group,
                    "OnPremises" if identifier == ON_PREMISES else "Aws",
                    hosted_zone_id=hosted_zone.hosted_zone_id,
                    name=f"{app.dns_name}.",
                    type=app.record_type,
                    ttl=str(CUTOVER_TTL_SECONDS),
                    set_identifier=identifier,
                    weight=weight,
                    resource_records=[address],
                )
            self.records[app.name] = pair
