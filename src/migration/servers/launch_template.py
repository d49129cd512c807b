"""The EC2 launch template MGN manages per source server, as ``migrate servers init`` uses it:
a thin wrapper over an injected boto3 ``ec2`` client.

MGN launches a server's test and cutover instances from the *default* version of the EC2
launch template it created for that server (``GetLaunchConfiguration``'s
``ec2LaunchTemplateID``). A launch template version is immutable: a change is a new version
(``CreateLaunchTemplateVersion`` from the default one, only ``InstanceType`` given, so the
rest is inherited) made the default (``ModifyLaunchTemplate``), as AWS documents for MGN
("Working with EC2 launch templates", MGN user guide). With right-sizing ``BASIC`` MGN sets
the type itself; a fixed type needs right-sizing ``NONE`` first, else MGN may set it back.

Only the standard library is imported: this module may ship to Lambda.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

DEFAULT: Final = "$Default"
DESCRIPTION: Final = "migrate servers init: instance type from the migration plan"


@dataclass(frozen=True)
class TemplateVersion:
    """A launch template's default version: its number and its instance type (None when
    the version sets none)."""

    template_id: str
    number: int
    instance_type: str | None


class LaunchTemplates:
    """Reads and changes the instance type of MGN's EC2 launch templates."""

    def __init__(self, client: Any) -> None:
        self._client = client

    def default_version(self, template_id: str) -> TemplateVersion:
        """``DescribeLaunchTemplateVersions`` of the default version."""
        response = self._client.describe_launch_template_versions(
            LaunchTemplateId=template_id, Versions=[DEFAULT]
        )
        (version,) = response["LaunchTemplateVersions"]
        data = version.get("LaunchTemplateData") or {}
        return TemplateVersion(template_id, int(version["VersionNumber"]), data.get("InstanceType"))

    def set_instance_type(self, current: TemplateVersion, instance_type: str) -> int:
        """A new version from ``current`` with ``instance_type``, made the default; returns
        its number."""
        created = self._client.create_launch_template_version(
            LaunchTemplateId=current.template_id,
            SourceVersion=str(current.number),
            VersionDescription=DESCRIPTION,
            LaunchTemplateData={"InstanceType": instance_type},
        )
        number = int(created["LaunchTemplateVersion"]["VersionNumber"])
        self._client.modify_launch_template(
            LaunchTemplateId=current.template_id, DefaultVersion=str(number)
        )
        return number
