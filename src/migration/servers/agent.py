"""The AWS Replication Agent's installer command for a planned server, with short-lived
credentials from the stack's agent-installation role (output ``CloudEndureRoleArn``).

The role carries AWS's ``AWSApplicationMigrationAgentInstallationPolicy`` and trusts this
account's principals allowed to assume it; the credentials come from STS ``AssumeRole``
(at most one hour, the role's maximum session), never from a long-lived key. Installer
locations and parameters as the MGN user guide gives them (``--region``,
``--aws-access-key-id``, ``--aws-secret-access-key``, ``--aws-session-token``,
``--no-prompt``).

Only the standard library and botocore are imported.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from migration.servers.spec import WINDOWS

MIN_DURATION_SECONDS: Final = 900
MAX_DURATION_SECONDS: Final = 3600
"""STS's minimum session and the role's ``max_session_duration`` (lib/server_replication.py)."""
LINUX_INSTALLER: Final = "aws-replication-installer-init"
WINDOWS_INSTALLER: Final = "AwsReplicationWindowsInstaller.exe"
_SESSION_NAME_RE: Final = re.compile(r"[^\w+=,.@-]")


@dataclass(frozen=True)
class Credentials:
    """Temporary credentials of the agent-installation role."""

    access_key_id: str
    secret_access_key: str
    session_token: str
    expiration: datetime | None = None


PLACEHOLDERS: Final = Credentials("<AccessKeyId>", "<SecretAccessKey>", "<SessionToken>")


def installer_url(os: str, region: str) -> str:
    """Where MGN publishes the latest installer for ``os`` in ``region``."""
    folder, name = ("windows", WINDOWS_INSTALLER) if os == WINDOWS else ("linux", LINUX_INSTALLER)
    return (
        f"https://aws-application-migration-service-{region}.s3.{region}.amazonaws.com"
        f"/latest/{folder}/{name}"
    )


def installer_commands(os: str, region: str, credentials: Credentials = PLACEHOLDERS) -> list[str]:
    """The commands to run on the server: download the installer, run it (Linux: a shell as
    a sudoer; Windows: PowerShell as an administrator)."""
    url = installer_url(os, region)
    values = (
        ("--region", region),
        ("--aws-access-key-id", credentials.access_key_id),
        ("--aws-secret-access-key", credentials.secret_access_key),
        ("--aws-session-token", credentials.session_token),
    )
    if os == WINDOWS:
        args = " ".join(f"{flag} '{value}'" for flag, value in values)
        return [
            f"Invoke-WebRequest -Uri '{url}' -OutFile '{WINDOWS_INSTALLER}'",
            f".\\{WINDOWS_INSTALLER} {args} --no-prompt",
        ]
    args = " ".join(f"{flag} {shlex.quote(value)}" for flag, value in values)
    return [
        f"sudo wget -O ./{LINUX_INSTALLER} {url}",
        f"sudo chmod +x {LINUX_INSTALLER}",
        f"sudo ./{LINUX_INSTALLER} {args} --no-prompt",
    ]


def session_name(server: str) -> str:
    """The STS session name naming the server (CloudTrail shows who registered it)."""
    return _SESSION_NAME_RE.sub("-", f"mgn-agent-{server}")[:64]


def assume_agent_role(
    sts: Any, role_arn: str, server: str, duration_seconds: int = MIN_DURATION_SECONDS
) -> Credentials:
    """Short-lived credentials of the agent-installation role (raises botocore's errors)."""
    response = sts.assume_role(
        RoleArn=role_arn, RoleSessionName=session_name(server), DurationSeconds=duration_seconds
    )
    found = response["Credentials"]
    return Credentials(
        access_key_id=str(found["AccessKeyId"]),
        secret_access_key=str(found["SecretAccessKey"]),
        session_token=str(found["SessionToken"]),
        expiration=found.get("Expiration"),
    )


def manual_steps(role_arn: str, server: str, duration_seconds: int) -> list[str]:
    """How to get the credentials when this caller cannot assume the role."""
    return [
        f"1. Ask an administrator for sts:AssumeRole on {role_arn} (the stack's"
        " CloudEndureRoleArn: it trusts this account's principals allowed to assume it), or"
        " have someone who has it run step 2.",
        f"2. aws sts assume-role --role-arn {role_arn} --role-session-name"
        f" {session_name(server)} --duration-seconds {duration_seconds}",
        "3. Put its Credentials.AccessKeyId, SecretAccessKey and SessionToken into the"
        " installer command below; they expire with the session (never use a long-lived key).",
    ]
