"""The built-in alarms' plan names: one definition for the plan, the stack, the gates and the
functions (standard library only: it ships in the Lambda asset, the plan package does not)."""

from __future__ import annotations

from typing import Final

VPN_TUNNEL_DOWN: Final = "vpn-tunnel-down"
"""One of the two VPN tunnels is down."""
VPN_BOTH_TUNNELS_DOWN: Final = "vpn-both-tunnels-down"
"""The site is unreachable."""
CDC_LATENCY: Final = "dms-cdc-latency"
"""A DMS task's CDC latency is above its database's threshold."""

BUILTIN_ALARMS: Final[frozenset[str]] = frozenset(
    {VPN_TUNNEL_DOWN, VPN_BOTH_TUNNELS_DOWN, CDC_LATENCY}
)
"""Alarms the stack creates; applications may gate on them without declaring them."""
