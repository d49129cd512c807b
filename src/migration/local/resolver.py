"""Name resolution locally: Route 53 Resolver endpoints, rules and rule associations, and the
subnet reservations that hold the endpoints' pinned addresses.

moto's CloudFormation supports none of these types, its Route 53 Resolver and EC2 APIs do: each
is created through them (fillers) and read back with what matters (checkers): an endpoint's
direction, security groups and exact addresses; a rule's domain, targets and endpoint; an
association's rule and VPC; a reservation's block and type.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from migration.local.filling import FillContext, Filled, generated_name

Check = tuple[str, Any, Any]
Client = Callable[[str], Any]


# -- fillers --------------------------------------------------------------------------------


def subnet_cidr_reservation(ctx: FillContext, props: Mapping[str, Any]) -> Filled:
    reservation = ctx.client("ec2").create_subnet_cidr_reservation(
        SubnetId=props["SubnetId"], Cidr=props["Cidr"], ReservationType=props["ReservationType"]
    )["SubnetCidrReservation"]
    return Filled(
        reservation["SubnetCidrReservationId"],
        {"Id": reservation["SubnetCidrReservationId"]},
        notes=[
            "moto stores the reservation (block and type checked) but neither keeps its "
            "description nor honours it when it assigns addresses itself"
        ],
    )


def resolver_endpoint(ctx: FillContext, props: Mapping[str, Any]) -> Filled:
    kwargs: dict[str, Any] = {
        "CreatorRequestId": generated_name(ctx.stack_name, ctx.logical_id),
        "Direction": props["Direction"],
        "SecurityGroupIds": list(props["SecurityGroupIds"]),
        "IpAddresses": [dict(address) for address in props["IpAddresses"]],
        "Tags": list(props.get("Tags", [])),
    }
    if "Name" in props:
        kwargs["Name"] = props["Name"]
    endpoint = ctx.client("route53resolver").create_resolver_endpoint(**kwargs)
    endpoint = endpoint["ResolverEndpoint"]
    attributes = {
        "Arn": endpoint["Arn"],
        "Direction": endpoint["Direction"],
        "HostVPCId": endpoint["HostVPCId"],
        "IpAddressCount": str(endpoint["IpAddressCount"]),
        "Name": endpoint.get("Name", ""),
        "ResolverEndpointId": endpoint["Id"],
    }
    return Filled(endpoint["Id"], attributes)


def _target_ips(targets: Any) -> list[dict[str, Any]]:
    """CloudFormation gives the port as a string (default 53), the API wants a number."""
    return [{"Ip": t["Ip"], "Port": int(t.get("Port", 53))} for t in targets or []]


def resolver_rule(ctx: FillContext, props: Mapping[str, Any]) -> Filled:
    kwargs: dict[str, Any] = {
        "CreatorRequestId": generated_name(ctx.stack_name, ctx.logical_id),
        "RuleType": props["RuleType"],
        "DomainName": props["DomainName"],
        "TargetIps": _target_ips(props.get("TargetIps")),
        "ResolverEndpointId": props["ResolverEndpointId"],
        "Tags": list(props.get("Tags", [])),
    }
    if "Name" in props:
        kwargs["Name"] = props["Name"]
    rule = ctx.client("route53resolver").create_resolver_rule(**kwargs)["ResolverRule"]
    attributes = {
        "Arn": rule["Arn"],
        "DomainName": rule["DomainName"],
        "Name": rule.get("Name", ""),
        "ResolverEndpointId": rule.get("ResolverEndpointId", ""),
        "ResolverRuleId": rule["Id"],
    }
    return Filled(rule["Id"], attributes)


def resolver_rule_association(ctx: FillContext, props: Mapping[str, Any]) -> Filled:
    kwargs = {"ResolverRuleId": props["ResolverRuleId"], "VPCId": props["VPCId"]}
    if "Name" in props:
        kwargs["Name"] = props["Name"]
    association = ctx.client("route53resolver").associate_resolver_rule(**kwargs)
    association = association["ResolverRuleAssociation"]
    attributes = {
        "ResolverRuleAssociationId": association["Id"],
        "ResolverRuleId": association["ResolverRuleId"],
        "VPCId": association["VPCId"],
        "Name": association.get("Name", ""),
    }
    return Filled(association["Id"], attributes)


_REASON = "not supported by moto's CloudFormation"
FILLERS = {
    "AWS::EC2::SubnetCidrReservation": (subnet_cidr_reservation, _REASON),
    "AWS::Route53Resolver::ResolverEndpoint": (resolver_endpoint, _REASON),
    "AWS::Route53Resolver::ResolverRule": (resolver_rule, _REASON),
    "AWS::Route53Resolver::ResolverRuleAssociation": (resolver_rule_association, _REASON),
}


# -- checkers -------------------------------------------------------------------------------


def check_subnet_cidr_reservation(
    client: Client, reservation_id: str, props: Mapping[str, Any]
) -> list[Check]:
    found = client("ec2").get_subnet_cidr_reservations(SubnetId=props["SubnetId"])
    reservations = [
        r
        for key in ("SubnetIpv4CidrReservations", "SubnetIpv6CidrReservations")
        for r in found.get(key, [])
        if r["SubnetCidrReservationId"] == reservation_id
    ]
    actual = reservations[0] if reservations else {}
    return [
        ("exists", True, bool(reservations)),
        ("CIDR", props["Cidr"], actual.get("Cidr")),
        ("reservation type", props["ReservationType"], actual.get("ReservationType")),
    ]


def _addresses(items: Any) -> list[tuple[str, str]]:
    return sorted((a["SubnetId"], a.get("Ip", "")) for a in items or [])


def check_resolver_endpoint(
    client: Client, endpoint_id: str, props: Mapping[str, Any]
) -> list[Check]:
    resolver = client("route53resolver")
    endpoint = resolver.get_resolver_endpoint(ResolverEndpointId=endpoint_id)["ResolverEndpoint"]
    addresses = resolver.list_resolver_endpoint_ip_addresses(ResolverEndpointId=endpoint_id)
    subnet = props["IpAddresses"][0]["SubnetId"]
    vpc = client("ec2").describe_subnets(SubnetIds=[subnet])["Subnets"][0]["VpcId"]
    return [
        ("direction", props["Direction"], endpoint.get("Direction")),
        ("name", props.get("Name"), endpoint.get("Name")),
        (
            "security groups",
            sorted(props["SecurityGroupIds"]),
            sorted(endpoint["SecurityGroupIds"]),
        ),
        ("VPC", vpc, endpoint.get("HostVPCId")),
        ("addresses", _addresses(props["IpAddresses"]), _addresses(addresses["IpAddresses"])),
    ]


def check_resolver_rule(client: Client, rule_id: str, props: Mapping[str, Any]) -> list[Check]:
    rule = client("route53resolver").get_resolver_rule(ResolverRuleId=rule_id)["ResolverRule"]
    return [
        ("rule type", props["RuleType"], rule.get("RuleType")),
        # Route 53 Resolver may report the domain fully qualified (a trailing dot).
        ("domain", props["DomainName"].rstrip("."), str(rule.get("DomainName", "")).rstrip(".")),
        ("targets", _target_ips(props.get("TargetIps")), _target_ips(rule.get("TargetIps"))),
        ("endpoint", props.get("ResolverEndpointId"), rule.get("ResolverEndpointId")),
    ]


def check_resolver_rule_association(
    client: Client, association_id: str, props: Mapping[str, Any]
) -> list[Check]:
    association = client("route53resolver").get_resolver_rule_association(
        ResolverRuleAssociationId=association_id
    )["ResolverRuleAssociation"]
    return [
        ("rule", props["ResolverRuleId"], association.get("ResolverRuleId")),
        ("VPC", props["VPCId"], association.get("VPCId")),
    ]


CHECKERS = {
    "AWS::EC2::SubnetCidrReservation": check_subnet_cidr_reservation,
    "AWS::Route53Resolver::ResolverEndpoint": check_resolver_endpoint,
    "AWS::Route53Resolver::ResolverRule": check_resolver_rule,
    "AWS::Route53Resolver::ResolverRuleAssociation": check_resolver_rule_association,
}
