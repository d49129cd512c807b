"""The size of a DynamoDB item by the documented rules (pure functions, no AWS call).

DynamoDB refuses an item over 400 KB ("Item size has exceeded the maximum allowed size"),
and moto does not enforce the limit the way DynamoDB counts it, so the ledger's bounds are
checked with this computation instead. The rules, from "DynamoDB item sizes and formats"
(https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/CapacityUnitCalculations.html):

* an item is the sum of its attributes; an attribute is the UTF-8 length of its name plus
  the size of its value;
* String: the UTF-8 length; Binary: the raw length (not the base64 text);
* Number: 1 byte per two significant digits (leading and trailing zeros trimmed) plus 1;
* Null and Boolean: 1 byte;
* List and Map: 3 bytes plus the sum of the sizes of their elements, and 1 byte more per
  element; a map element counts its key as an attribute name.

Sets (SS, NS, BS) are not on that page; they are counted like a list of their elements,
which can only overestimate. The documented 100 bytes of per-item storage overhead are
for billing, not part of the 400 KB, and are left out.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

MAX_ITEM_BYTES = 400 * 1024
"""DynamoDB's maximum item size (400 KB), names and values included."""

_SETS = {"SS": "S", "NS": "N", "BS": "B"}


def number_size(text: str) -> int:
    """Bytes of a Number given as DynamoDB's text form (``"-12.50"``, ``"1E+3"``)."""
    mantissa = text.strip().lstrip("+-").lower().split("e", 1)[0]
    digits = mantissa.replace(".", "").lstrip("0").rstrip("0")
    return (len(digits) + 1) // 2 + 1


def value_size(value: Mapping[str, Any]) -> int:
    """Bytes of one attribute value in the low-level form (``{"S": "text"}``), name excluded."""
    ((kind, content),) = value.items()
    if kind == "S":
        return len(str(content).encode("utf-8"))
    if kind == "N":
        return number_size(str(content))
    if kind == "B":
        return len(content)
    if kind in ("NULL", "BOOL"):
        return 1
    if kind == "L":
        return 3 + sum(1 + value_size(element) for element in content)
    if kind == "M":
        return 3 + sum(1 + attribute_size(name, element) for name, element in content.items())
    if kind in _SETS:
        element_kind = _SETS[kind]
        return 3 + sum(1 + value_size({element_kind: element}) for element in content)
    raise ValueError(f"unknown DynamoDB attribute type {kind!r}")


def attribute_size(name: str, value: Mapping[str, Any]) -> int:
    """Bytes of one attribute: its name's UTF-8 length plus its value's size."""
    return len(name.encode("utf-8")) + value_size(value)


def item_size(item: Mapping[str, Mapping[str, Any]]) -> int:
    """Bytes DynamoDB counts against the 400 KB item limit for ``item`` (low-level form)."""
    return sum(attribute_size(name, value) for name, value in item.items())
