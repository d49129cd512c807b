"""Database records: one name per planned database, created pointing at the on-premises source."""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

from aws_cdk import aws_route53 as route53
from constructs import Construct

from migration.plan import Database

# A database switch moves every writer at once: with a short TTL, clients still holding the old
# answer after the drain and the switch are few and brief (application records use 60 s because
# a weight change only moves a share of the traffic).
DATABASE_TTL_SECONDS = 30


def record_type(host: str) -> str:
    """``A`` for an IPv4 address, ``CNAME`` for a host name."""
    try:
        ipaddress.IPv4Address(host)
    except ValueError:
        return "CNAME"
    return "A"


class DatabaseRecords(Construct):
    """Per planned database, one plain record ``database.dns_name`` -> its on-premises source.

    Not weighted and without a set identifier: a database has one writer, and the runtime moves
    the name to the AWS target (and back) in one atomic Route 53 change (DELETE + CREATE, which
    also changes the type between A and CNAME). A later deploy that changes a record's properties
    writes the source back, i.e. moves the writer on-premises without a drain: deploy database
    changes only while no database is cut over.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        hosted_zone: route53.IHostedZone,
        databases: Sequence[Database],
    ) -> None:
        super().__init__(scope, construct_id)
        self.records: dict[str, route53.CfnRecordSet] = {}
        for database in databases:
            host = database.source.host
            self.records[database.name] = route53.CfnRecordSet(
                Construct(self, database.name),
                "Record",
                hosted_zone_id=hosted_zone.hosted_zone_id,
                name=f"{database.dns_name}.",
                type=record_type(host),
                ttl=str(DATABASE_TTL_SECONDS),
                resource_records=[host],
            )
        self.names = {database.name: database.dns_name for database in databases}
