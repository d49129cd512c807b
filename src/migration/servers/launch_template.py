"""The EC2 launch template MGN manages per source server, as ``migrate servers init`` uses it:
a thin wrapper over an injected boto3 ``ec2`` client.

MGN launches a server's test and cutover instances from the *default* version of the EC2
launch template it created for that server (``GetLaunchConfiguration``'s
``ec2LaunchTemplateID``). A launch template version is immutable: a change is a new version
(``CreateLaunchTemplateVersion`` from the default one, only the changed members given, so the
rest is inherited) made the default (``ModifyLaunchTemplate``), as AWS documents for MGN
("Working with EC2 launch templates", MGN user guide). With right-sizing ``BASIC`` MGN sets
the type itself; a fixed type needs right-sizing ``NONE`` first, else MGN may set it back.

The network: MGN's template puts the instance on a network interface (``NetworkInterfaces``,
device 0) in a subnet of the region's default VPC with its default security group. EC2
replaces the ``NetworkInterfaces`` list as a whole when a version gives it, so the interface
is sent complete (:meth:`LaunchNetwork.interface`); and an instance's groups go on that
interface, never also in the top-level ``SecurityGroupIds`` (EC2 refuses a launch with both).

Only the standard library is imported: this module may ship to Lambda.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

DEFAULT: Final = "$Default"
DESCRIPTION: Final = "migrate servers init: instance type and network from the migration plan"
INSTANCE_LEVEL_GROUPS: Final = ("SecurityGroupIds", "SecurityGroups")
"""Top-level members EC2 refuses beside a network interface's groups."""


@dataclass(frozen=True)
class LaunchNetwork:
    """Where a launched instance goes: its subnet, its security groups, no public address."""

    subnet_id: str
    groups: tuple[str, ...]

    def interface(self) -> dict[str, Any]:
        """Network interface 0 as ``LaunchTemplateData.NetworkInterfaces`` takes it."""
        return {
            "DeviceIndex": 0,
            "SubnetId": self.subnet_id,
            "Groups": list(self.groups),
            "AssociatePublicIpAddress": False,
            "DeleteOnTermination": True,
        }


@dataclass(frozen=True)
class TemplateVersion:
    """A launch template's default version: its number, its instance type (None when the
    version sets none), its network interface 0 (empty when none) and the instance-level
    security group members it sets."""

    template_id: str
    number: int
    instance_type: str | None
    interface: Mapping[str, Any]
    instance_level_groups: tuple[str, ...] = ()

    def network_changes(self, wanted: LaunchNetwork) -> list[tuple[str, Any, Any]]:
        """``(member, have, wanted)`` of interface 0 where it differs from ``wanted``."""
        have = self.interface
        found: list[tuple[str, Any, Any]] = []
        if have.get("SubnetId") != wanted.subnet_id:
            found.append(("SubnetId", have.get("SubnetId"), wanted.subnet_id))
        groups = have.get("Groups")
        if sorted(groups or []) != sorted(wanted.groups):
            found.append(("Groups", groups, list(wanted.groups)))
        if have.get("AssociatePublicIpAddress") is not False:
            found.append(("AssociatePublicIpAddress", have.get("AssociatePublicIpAddress"), False))
        return found


class LaunchTemplates:
    """Reads and changes the instance type and network of MGN's EC2 launch templates."""

    def __init__(self, client: Any) -> None:
        self._client = client

    def default_version(self, template_id: str) -> TemplateVersion:
        """``DescribeLaunchTemplateVersions`` of the default version."""
        response = self._client.describe_launch_template_versions(
            LaunchTemplateId=template_id, Versions=[DEFAULT]
        )
        (version,) = response["LaunchTemplateVersions"]
        data = version.get("LaunchTemplateData") or {}
        interfaces = data.get("NetworkInterfaces") or []
        first: Mapping[str, Any] = next(
            (i for i in interfaces if int(i.get("DeviceIndex", 0)) == 0), {}
        )
        return TemplateVersion(
            template_id,
            int(version["VersionNumber"]),
            data.get("InstanceType"),
            dict(first),
            tuple(name for name in INSTANCE_LEVEL_GROUPS if data.get(name)),
        )

    def update(self, current: TemplateVersion, data: Mapping[str, Any]) -> int:
        """A new version from ``current`` with ``data`` (``InstanceType``,
        ``NetworkInterfaces``), made the default; returns its number."""
        created = self._client.create_launch_template_version(
            LaunchTemplateId=current.template_id,
            SourceVersion=str(current.number),
            VersionDescription=DESCRIPTION,
            LaunchTemplateData=dict(data),
        )
        number = int(created["LaunchTemplateVersion"]["VersionNumber"])
        self._client.modify_launch_template(
            LaunchTemplateId=current.template_id, DefaultVersion=str(number)
        )
        return number
