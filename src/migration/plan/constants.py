"""Facts the plan shares with the stack: the AWS side of the network, built-in alarms, defaults.

The stack's configuration (``lib/config.py``) takes the VPC CIDR and the AWS-side ASN from here,
so the network the plan checks on-premises CIDRs against is the network the stack creates.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final, Literal

from migration import alarm_names

AWS_VPC_CIDR: Final = "10.0.0.0/16"
"""CIDR of the VPC the stack creates; on-premises CIDRs must not overlap it."""

AWS_SIDE_ASN: Final = 64512
"""BGP ASN of the AWS side (virtual private gateway); the customer gateway must differ."""

BGP_ASN_MIN: Final = 1
BGP_ASN_MAX: Final = 4_294_967_294
"""The customer gateway's ASN range (4-byte ASNs; 4294967295 is reserved)."""

PORT_MIN: Final = 1
PORT_MAX: Final = 65_535
"""TCP ports a database endpoint may listen on."""

BUILTIN_ALARMS = alarm_names.BUILTIN_ALARMS
"""Alarms the stack creates; applications may gate on them without declaring them."""

DEFAULT_DNS_ZONE: Final = "migration.internal"
DEFAULT_SHIFT_STEPS: Final = (10, 50, 100)
DEFAULT_BAKE_MINUTES: Final = 10
DEFAULT_MAX_PARALLEL: Final = 25
DEFAULT_CDC_LATENCY_THRESHOLD_SECONDS: Final = 60
DEFAULT_DRAIN_TIMEOUT_SECONDS: Final = 300
DEFAULT_FREEZE_TIMEOUT_SECONDS: Final = 600
BUILTIN_FREEZE_ENGINES: Final = frozenset({"postgres", "mysql"})
"""Engines whose writes the runtime freezes itself (``freeze: builtin``)."""
DEFAULT_PORTS: Final[Mapping[str, int]] = {
    "postgres": 5432,
    "mysql": 3306,
    "sqlserver": 1433,
    "oracle": 1521,
}
PLAN_ENV_VAR: Final = "MIGRATION_PLAN"
DEFAULT_PLAN_PATH: Final = "examples/migration-plan.yaml"

Engine = Literal["postgres", "mysql", "sqlserver", "oracle"]
Replication = Literal["mgn", "manual"]
"""How a server is moved: ``mgn`` (AWS Application Migration Service) or ``manual``."""
