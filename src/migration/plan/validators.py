"""The plan's field rules: names, addresses, CIDRs, secrets, and the site's network rules.

Each rule is a function raising ``value_error`` (a ``ValueError`` whose ``str()`` is the
message) and an ``Annotated`` type applying it in the model. The stack's configuration
(``lib/config.py``) applies the site rules (``check_public_ipv4``, ``check_bgp_asn``,
``check_cidr``, ``cidr_overlaps``) to its context values, so a rule is written once.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterator, Sequence
from typing import Annotated, Any, Final

from pydantic import AfterValidator, Field, Strict

from migration.plan.constants import (
    AWS_SIDE_ASN,
    AWS_VPC_CIDR,
    BGP_ASN_MAX,
    BGP_ASN_MIN,
    PORT_MAX,
    PORT_MIN,
)
from migration.plan.errors import Loc, problems_at, value_error

_LABEL_RE: Final = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")
_HOST_LABEL_RE: Final = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$", re.IGNORECASE)
_SECRET_NAME_RE: Final = re.compile(r"^[A-Za-z0-9/_+=.@-]{1,512}$")
_SECRET_ARN_RE: Final = re.compile(
    r"^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:[A-Za-z0-9/_+=.@-]{1,512}$"
)
_INSTANCE_TYPE_RE: Final = re.compile(r"^[a-z][a-z0-9-]*\.[a-z0-9]+$")
# EC2 resource ids: the prefix, then 8 (older) or 17 hexadecimal digits.
_SUBNET_ID_RE: Final = re.compile(r"^subnet-[0-9a-f]{8,17}$")
_SECURITY_GROUP_ID_RE: Final = re.compile(r"^sg-[0-9a-f]{8,17}$")
_LOOKS_NUMERIC: Final = re.compile(r"^[0-9./]+$")
_DOCUMENTATION_NETS: Final = tuple(
    ipaddress.IPv4Network(n) for n in ("192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24")
)
_SHARED_NET: Final = ipaddress.IPv4Network("100.64.0.0/10")

# -- names -------------------------------------------------------------------------------------


def _check_label(value: str) -> str:
    if not _LABEL_RE.fullmatch(value):
        raise value_error(
            f"{value!r} is not a valid name: use 1-63 lowercase letters, digits and hyphens,"
            " not starting or ending with a hyphen"
        )
    return value


def _is_hostname(value: str, min_labels: int = 2) -> bool:
    labels = value.split(".")
    return (
        len(value) <= 253
        and len(labels) >= min_labels
        and all(_HOST_LABEL_RE.fullmatch(label) for label in labels)
        and not labels[-1].isdigit()
    )


def _check_dns_name(value: str) -> str:
    name = value.lower().removesuffix(".")
    if not _is_hostname(name):
        raise value_error(f"{value!r} is not a valid DNS name")
    return name


def _check_hostname(value: str) -> str:
    """A host name, short (``orders01``) or fully qualified."""
    name = value.lower().removesuffix(".")
    if not _is_hostname(name, min_labels=1):
        raise value_error(f"{value!r} is not a valid host name")
    return name


def _check_text(value: str) -> str:
    if not value.strip():
        raise value_error("must not be empty")
    if value != value.strip():
        raise value_error(f"{value!r} has leading or trailing spaces")
    if any(ord(c) < 32 for c in value):
        raise value_error(f"{value!r} contains control characters")
    return value


def _check_instance_type(value: str) -> str:
    """``right-size`` or an EC2 instance type such as ``m6i.large``."""
    if value != "right-size" and not _INSTANCE_TYPE_RE.fullmatch(value):
        raise value_error(
            f"{value!r} is neither right-size nor an EC2 instance type (family.size, e.g."
            " m6i.large)"
        )
    return value


def _check_ec2_instance_type(value: str) -> str:
    """An EC2 instance type such as ``t3.small`` (no ``right-size``)."""
    if not _INSTANCE_TYPE_RE.fullmatch(value):
        raise value_error(f"{value!r} is not an EC2 instance type (family.size, e.g. t3.small)")
    return value


def _check_subnet_id(value: str) -> str:
    """An EC2 subnet id (which subnet: ``servers init`` checks it against the stack's)."""
    if not _SUBNET_ID_RE.fullmatch(value):
        raise value_error(f"{value!r} is not a subnet id (subnet- and 8 or 17 hex digits)")
    return value


def _check_security_group_id(value: str) -> str:
    if not _SECURITY_GROUP_ID_RE.fullmatch(value):
        raise value_error(f"{value!r} is not a security group id (sg- and 8 or 17 hex digits)")
    return value


def _check_unique_ids(values: tuple[str, ...]) -> tuple[str, ...]:
    for index, value in enumerate(values):
        if value in values[:index]:
            raise problems_at([((index,), f"{value} is listed twice")])
    return values


# -- addresses and networks --------------------------------------------------------------------


def _parse_ipv4(value: str) -> ipaddress.IPv4Address:
    try:
        return ipaddress.IPv4Address(value)
    except ValueError:
        raise value_error(f"{value!r} is not a valid IPv4 address") from None


def _check_ipv4(value: str) -> str:
    return str(_parse_ipv4(value))


def is_ipv4(address: str) -> bool:
    """Whether ``address`` is an IPv4 address (else a DNS name)."""
    try:
        ipaddress.IPv4Address(address)
    except ValueError:
        return False
    return True


def _check_address(value: str) -> str:
    """An IPv4 address or a fully qualified DNS name."""
    if _LOOKS_NUMERIC.fullmatch(value):
        return _check_ipv4(value)
    name = value.lower().removesuffix(".")
    if not _is_hostname(name):
        raise value_error(f"{value!r} is neither an IPv4 address nor a fully qualified DNS name")
    return name


def check_cidr(value: str) -> str:
    """An IPv4 network without host bits: ``192.168.0.0/16``."""
    try:
        return str(ipaddress.IPv4Network(value, strict=True))
    except ValueError as exc:
        if "host bits set" in str(exc):
            network = ipaddress.IPv4Network(value, strict=False)
            raise value_error(f"{value!r} has host bits set (did you mean {network}?)") from None
        raise value_error(f"{value!r} is not a valid IPv4 CIDR") from None


def _address_kind(ip: ipaddress.IPv4Address) -> str | None:
    """Why an address is not public (``"a loopback"``), or None for a public one."""
    if ip.is_unspecified:
        return "an unspecified"
    if ip.is_loopback:
        return "a loopback"
    if ip.is_link_local:
        return "a link-local"
    if ip.is_multicast:
        return "a multicast"
    if ip in _SHARED_NET:
        return "a shared (carrier-grade NAT)"
    if ip.is_reserved:
        return "a reserved"
    if ip.is_private or not ip.is_global:
        return "a private"
    return None


# -- the site ----------------------------------------------------------------------------------


def check_public_ipv4(value: str) -> str:
    """The customer gateway's address: a public IPv4 address (documentation ranges allowed)."""
    ip = _parse_ipv4(value)
    if any(ip in net for net in _DOCUMENTATION_NETS):
        return str(ip)  # documentation ranges (RFC 5737) are accepted for examples and tests
    kind = _address_kind(ip)
    if kind:
        raise value_error(
            f"{ip} is {kind} address; the customer gateway needs a public IPv4 address"
        )
    return str(ip)


def check_bgp_asn(value: int) -> int:
    """The customer gateway's BGP ASN: in range and not the AWS side's."""
    if value < BGP_ASN_MIN:
        raise value_error(f"must be at least {BGP_ASN_MIN}, got {value}")
    if value > BGP_ASN_MAX:
        raise value_error(f"must be at most {BGP_ASN_MAX}, got {value}")
    if value == AWS_SIDE_ASN:
        raise value_error(f"must differ from the AWS side ASN {AWS_SIDE_ASN}")
    return value


def cidr_overlaps(
    cidrs: Sequence[str], name: str = "on_premises_cidrs"
) -> Iterator[tuple[int, str]]:
    """On-premises CIDRs (valid ones) overlapping the AWS VPC or an earlier one: (index, why).

    ``name`` is how the list is called in the message (``on_premises_cidrs[0]``).
    """
    vpc = ipaddress.IPv4Network(AWS_VPC_CIDR)
    nets = [ipaddress.IPv4Network(c) for c in cidrs]
    for i, net in enumerate(nets):
        if net.overlaps(vpc):
            yield i, f"{net} overlaps the AWS VPC {vpc}"
            continue
        for j in range(i):
            if net.overlaps(nets[j]):
                yield i, f"{net} overlaps {name}[{j}] ({nets[j]})"
                break


# -- secrets -----------------------------------------------------------------------------------


def _check_secret(value: str) -> str:
    if not (_SECRET_NAME_RE.fullmatch(value) or _SECRET_ARN_RE.fullmatch(value)):
        raise value_error(
            f"{value!r} is not a Secrets Manager secret name or ARN (names use letters, digits"
            " and /_+=.@-)"
        )
    return value


_CREDENTIAL_WORDS: Final = ("password", "passwd", "passphrase")
_CREDENTIAL_KEYS: Final = frozenset({"pwd", "pass", "secretstring", "secretvalue"})


def _looks_like_credential(key: str) -> bool:
    normalized = re.sub(r"[^a-z]", "", key.lower())
    return (
        any(word in normalized for word in _CREDENTIAL_WORDS)
        or normalized in _CREDENTIAL_KEYS
        or normalized.endswith("pwd")
    )


def raw_key_problems(data: Any, loc: Loc = ()) -> Iterator[tuple[Loc, str]]:
    """Keys that are not strings, and keys that look like credentials, anywhere in the data."""
    if isinstance(data, dict):
        for key, value in data.items():
            if not isinstance(key, str):
                yield (
                    (*loc, str(key)),
                    f"key {key!r} must be a string (YAML read it as {type(key).__name__};"
                    " quote it)",
                )
                continue
            if _looks_like_credential(key):
                yield (
                    (*loc, key),
                    "plans must not contain credentials: store them in a Secrets Manager"
                    " secret and give its name in `secret`",
                )
                continue
            yield from raw_key_problems(value, (*loc, key))
    elif isinstance(data, list):
        for i, item in enumerate(data):
            yield from raw_key_problems(item, (*loc, i))


# -- the types the model uses ------------------------------------------------------------------

StrictInt = Annotated[int, Strict()]
Label = Annotated[str, AfterValidator(_check_label)]
DnsName = Annotated[str, AfterValidator(_check_dns_name)]
Hostname = Annotated[str, AfterValidator(_check_hostname)]
IPv4 = Annotated[str, AfterValidator(_check_ipv4)]
PublicIPv4 = Annotated[str, AfterValidator(check_public_ipv4)]
Address = Annotated[str, AfterValidator(_check_address)]
Cidr = Annotated[str, AfterValidator(check_cidr)]
BgpAsn = Annotated[StrictInt, AfterValidator(check_bgp_asn)]
Port = Annotated[StrictInt, Field(ge=PORT_MIN, le=PORT_MAX)]
SecretRef = Annotated[str, AfterValidator(_check_secret)]
Text = Annotated[str, AfterValidator(_check_text)]
InstanceType = Annotated[str, AfterValidator(_check_instance_type)]
Ec2InstanceType = Annotated[str, AfterValidator(_check_ec2_instance_type)]
SubnetId = Annotated[str, AfterValidator(_check_subnet_id)]
MAX_EXTRA_SECURITY_GROUPS: Final = 4
"""A launched instance's network interface takes 5 security groups (EC2's default quota):
the stack's launched-instance group and up to 4 the plan names."""
SecurityGroupIds = Annotated[
    tuple[Annotated[str, AfterValidator(_check_security_group_id)], ...],
    Field(max_length=MAX_EXTRA_SECURITY_GROUPS),
    AfterValidator(_check_unique_ids),
]
