"""MGN's API shapes as botocore's service model gives them (API version 2020-02-26): the
validation of a request or response against an operation's input or output shape, MGN's
error format, and the small value formats MGN uses (ISO-8601 durations and times).

Used by the local MGN stand-in (:mod:`migration.local.mgn_stand_in`) for every answer it
gives, and by the tests' Stubber fixtures (``tests/runtime/mgn_fixtures.py``): a misspelt
member, a wrong type or an enum value MGN does not have fails where it is produced.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from typing import Any, Final

import botocore.session
from botocore.validate import ParamValidator

SERVICE: Final = "mgn"
ENDPOINT_VARIABLE: Final = "AWS_ENDPOINT_URL_MGN"
"""boto3's service-specific endpoint for MGN (it wins over ``AWS_ENDPOINT_URL``)."""


@functools.cache
def service_model() -> Any:
    """MGN's botocore service model (loaded once)."""
    return botocore.session.get_session().get_service_model(SERVICE)


class MgnApiError(Exception):
    """An error MGN answers with: its code (the botocore ``ClientError`` code), HTTP status
    and message. ``status`` defaults to the one MGN's model gives the code."""

    def __init__(self, code: str, message: str, status: int | None = None) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.status = status if status is not None else error_status(code)

    def body(self) -> dict[str, str]:
        """The JSON body of MGN's rest-json errors (``message`` and ``code``)."""
        return {"message": self.message, "code": self.code}


def error_status(code: str) -> int:
    """The HTTP status MGN's model gives an error code (400 for a code it does not know)."""
    try:
        shape = service_model().shape_for(code)
    except Exception:  # botocore's NoShapeFoundError: not one of MGN's error shapes
        return 400
    return int(shape.metadata.get("error", {}).get("httpStatusCode", 400))


def problems(operation: str, value: Mapping[str, Any], *, output: bool = True) -> list[str]:
    """What is wrong with ``value`` as ``operation``'s output (or input) shape: names,
    types, required members, and enum values (which botocore's validator leaves out)."""
    model = service_model().operation_model(operation)
    shape = model.output_shape if output else model.input_shape
    if shape is None:
        return [] if not value else [f"{operation} takes no members, got {sorted(value)}"]
    report = ParamValidator().validate(dict(value), shape)
    found = [report.generate_report()] if report.has_errors() else []
    found += [f"Invalid value {p}" for p in _enum_problems(value, shape, operation)]
    return found


def validated(operation: str, response: Mapping[str, Any]) -> dict[str, Any]:
    """``response`` if it matches ``operation``'s output shape, else AssertionError."""
    bad = problems(operation, response)
    if bad:
        raise AssertionError(f"{operation} response: {'; '.join(bad)}")
    return dict(response)


def _enum_problems(value: Any, shape: Any, path: str) -> Iterator[str]:
    if shape.type_name == "structure" and isinstance(value, Mapping):
        for name, member in shape.members.items():
            if name in value:
                yield from _enum_problems(value[name], member, f"{path}.{name}")
    elif shape.type_name == "list" and isinstance(value, list):
        for i, item in enumerate(value):
            yield from _enum_problems(item, shape.member, f"{path}[{i}]")
    elif shape.type_name == "map" and isinstance(value, Mapping):
        for key, item in value.items():
            yield from _enum_problems(item, shape.value, f"{path}[{key}]")
    elif getattr(shape, "enum", None) and value not in shape.enum:
        yield f"{path}: {value!r} is not one of {shape.enum}"


def iso_duration(seconds: float) -> str:
    """Seconds as MGN writes ``lagDuration``: ``PT5S``, ``PT3M``, ``PT1H2M5S``, ``PT0S``."""
    whole = max(0, round(seconds))
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    parts = [f"{n}{unit}" for n, unit in ((hours, "H"), (minutes, "M"), (secs, "S")) if n]
    return "PT" + ("".join(parts) or "0S")


def iso_time(moment: datetime) -> str:
    """A time as MGN's ``ISO8601DatetimeString`` members carry it (UTC, seconds)."""
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S+00:00")
