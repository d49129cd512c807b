"""What the plan's ``server_replication`` block asks of MGN's replication, as plain data
(stdlib only: the plan package builds it, ``migration.servers.setup`` applies it)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

DEFAULT_REPLICATION_SERVER_INSTANCE_TYPE: Final = "t3.small"
"""MGN's own default replication server type."""
STAGING_DISK_TYPES: Final = ("GP2", "GP3", "ST1")
"""MGN ``defaultLargeStagingDiskType`` values (for disks over 500 GiB)."""
DEFAULT_STAGING_DISK_TYPE: Final = "GP3"
MAX_BANDWIDTH_THROTTLING_MBPS: Final = 10_000
"""MGN's limit of ``bandwidthThrottling``."""


@dataclass(frozen=True)
class ReplicationSpec:
    """MGN replication settings the plan controls; the rest of the replication configuration
    template comes from the stack (subnet, security group, key) and is fixed by design."""

    bandwidth_throttling_mbps: int = 0
    """Per source server, in Mbps; 0 = no throttling."""
    replication_server_instance_type: str = DEFAULT_REPLICATION_SERVER_INSTANCE_TYPE
    staging_disk_type: str = DEFAULT_STAGING_DISK_TYPE
    dedicated_replication_server: bool = False
    """One replication server per source server (instead of shared ones)."""
