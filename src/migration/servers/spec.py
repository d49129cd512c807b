"""What the runtime needs of a planned server, as plain data (stdlib only).

The plan (``migration.plan``) builds a :class:`ServerSpec` per server with the wave's
``server_defaults`` applied; the lifecycle, its gates and the agent command read only this.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

DEFAULT_MAX_LAG_SECONDS: Final = 60
"""Replication lag (MGN ``lagDuration``) above which a server is not ready to launch."""
RIGHT_SIZE: Final = "right-size"
"""``instance_type: right-size``: MGN picks the type from the source's CPU and RAM (BASIC)."""
LICENSE_INCLUDED: Final = "license-included"
BYOL: Final = "byol"
USE_SOURCE: Final = "use-source"
LINUX: Final = "linux"
WINDOWS: Final = "windows"
MGN: Final = "mgn"
VALIDATION_ACTION_NAME: Final = "post-migration-validation"
"""The post-launch action running the project's validation document on launched instances."""
VALIDATION_TIMEOUT_SECONDS: Final = 600
"""The validation document's steps time out after 120 s each (one runs per platform); this
bounds the whole post-launch action, SSM's start-up on a fresh instance included."""
POST_LAUNCH_DEPLOYMENT: Final = "TEST_AND_CUTOVER"
"""Post-launch actions run on test and cutover launches: both are validated."""


def validation_action(document: str) -> dict[str, object]:
    """The post-launch action (MGN ``SsmDocument``) validating each launched instance with
    ``document``; it must succeed for cutover."""
    return {
        "actionName": VALIDATION_ACTION_NAME,
        "ssmDocumentName": document,
        "mustSucceedForCutover": True,
        "timeoutSeconds": VALIDATION_TIMEOUT_SECONDS,
    }


@dataclass(frozen=True)
class ServerSpec:
    """A planned server and the MGN settings the plan gives it."""

    id: str
    hostname: str
    ip: str
    replication: str = MGN
    """``mgn`` (Application Migration Service) or ``manual`` (moved by other means)."""
    os: str = LINUX
    """``linux`` or ``windows``: which replication agent installer the server needs."""
    instance_type: str = RIGHT_SIZE
    """``right-size`` or an EC2 instance type (right-sizing off, this type)."""
    licensing: str = LICENSE_INCLUDED
    """``license-included`` or ``byol`` (MGN ``licensing.osByol``)."""
    boot_mode: str = USE_SOURCE
    """``use-source``, ``legacy-bios`` or ``uefi`` (MGN ``bootMode``)."""
    max_lag_seconds: int = DEFAULT_MAX_LAG_SECONDS
    subnet: str | None = None
    """The subnet launched instances go to (one of the stack's private subnets); None: the
    first of them."""
    security_groups: tuple[str, ...] = ()
    """Security groups added to launched instances besides the stack's launch group."""

    @property
    def is_mgn(self) -> bool:
        return self.replication == MGN

    @property
    def fixed_instance_type(self) -> str | None:
        """The EC2 instance type the plan fixes (None for ``right-size``): set in the EC2
        launch template MGN manages for the server, not in its launch configuration."""
        return None if self.instance_type == RIGHT_SIZE else self.instance_type

    def launch_settings(self) -> dict[str, object]:
        """The MGN launch configuration fields the plan controls (``UpdateLaunchConfiguration``
        names); a fixed instance type itself lives in the EC2 launch template MGN manages
        (:attr:`fixed_instance_type`)."""
        return launch_settings(
            instance_type=self.instance_type, licensing=self.licensing, boot_mode=self.boot_mode
        )


def launch_settings(*, instance_type: str, licensing: str, boot_mode: str) -> dict[str, object]:
    """Plan values (a server's, or a wave's ``server_defaults``) as MGN launch configuration
    fields: the one mapping, used per server and by the stack's launch configuration template."""
    return {
        "targetInstanceTypeRightSizingMethod": "BASIC" if instance_type == RIGHT_SIZE else "NONE",
        "licensing": {"osByol": licensing == BYOL},
        "bootMode": boot_mode.upper().replace("-", "_"),
    }
