"""Security groups locally: moto's CloudFormation creates them but drops ``SecurityGroupEgress``
and keeps the default allow-all egress rule, which would hide an egress restriction (the DMS
group's database ports, the Resolver outbound group's DNS-only rules). The fix replaces the
default rule by the template's; the checker compares both directions rule by rule.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

Check = tuple[str, Any, Any]
Client = Callable[[str], Any]
Rule = tuple[str, int | None, int | None, str]

_ALLOW_ALL = {"IpProtocol": "-1", "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}


def _template_rules(rules: Iterable[Mapping[str, Any]]) -> list[Rule]:
    return sorted(
        (
            str(r["IpProtocol"]),
            None if r.get("FromPort") is None else int(r["FromPort"]),
            None if r.get("ToPort") is None else int(r["ToPort"]),
            r["CidrIp"],
        )
        for r in rules
        if "CidrIp" in r
    )


def _api_rules(permissions: Iterable[Mapping[str, Any]]) -> list[Rule]:
    return sorted(
        (str(p["IpProtocol"]), p.get("FromPort"), p.get("ToPort"), r["CidrIp"])
        for p in permissions
        for r in p.get("IpRanges", [])
    )


def _permission(rule: Mapping[str, Any]) -> dict[str, Any]:
    permission: dict[str, Any] = {
        "IpProtocol": str(rule["IpProtocol"]),
        "IpRanges": [
            {
                "CidrIp": rule["CidrIp"],
                **({"Description": d} if (d := rule.get("Description")) else {}),
            }
        ],
    }
    for key in ("FromPort", "ToPort"):
        if key in rule:
            permission[key] = int(rule[key])
    return permission


def fix_security_group(client: Client, group_id: str, props: Mapping[str, Any]) -> list[str]:
    """SecurityGroupEgress: dropped by moto's CloudFormation (the default allow-all stays)."""
    if "SecurityGroupEgress" not in props:
        return []
    ec2 = client("ec2")
    wanted = list(props["SecurityGroupEgress"])

    def current_rules() -> list[Rule]:
        group = ec2.describe_security_groups(GroupIds=[group_id])["SecurityGroups"][0]
        return _api_rules(group["IpPermissionsEgress"])

    allow_all = ("-1", None, None, "0.0.0.0/0")
    # Only if present: an update of the stack runs this again on the group already fixed.
    if allow_all not in _template_rules(wanted) and allow_all in current_rules():
        ec2.revoke_security_group_egress(GroupId=group_id, IpPermissions=[_ALLOW_ALL])
    current = current_rules()
    missing = [r for r in wanted if _template_rules([r])[0] not in current]
    if missing:
        ec2.authorize_security_group_egress(
            GroupId=group_id, IpPermissions=[_permission(r) for r in missing]
        )
    return [f"fixed: {len(wanted)} egress rule(s) set through ec2:AuthorizeSecurityGroupEgress"]


def check_security_group(client: Client, group_id: str, props: Mapping[str, Any]) -> list[Check]:
    group = client("ec2").describe_security_groups(GroupIds=[group_id])["SecurityGroups"][0]
    checks: list[Check] = [
        ("description", props.get("GroupDescription"), group.get("Description")),
        ("VPC", props.get("VpcId"), group.get("VpcId")),
        (
            "ingress",
            _template_rules(props.get("SecurityGroupIngress", [])),
            _api_rules(group.get("IpPermissions", [])),
        ),
    ]
    if "SecurityGroupEgress" in props:
        checks.append(
            (
                "egress",
                _template_rules(props["SecurityGroupEgress"]),
                _api_rules(group.get("IpPermissionsEgress", [])),
            )
        )
    return checks
