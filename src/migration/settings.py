"""Typed settings of the runtime Lambda functions, read from environment variables.

Required: ``HOSTED_ZONE_ID``, ``TABLE_NAME``, ``SNS_TOPIC_ARN``.
Optional:
``ALARM_APPLICATIONS`` JSON object alarm name -> list of application names or "all"
(alarms not listed roll back every application);
``APPLICATION_RECORDS`` JSON object application name -> record FQDN, for names that do
not follow ``<app>.<zone>``;
application names in both are normalised (stripped, lowercase) like every name that
enters the rollback (:func:`migration.events.normalise_application`);
``ROUTE53_TIME_BUDGET_SECONDS`` (default 60) bounds retries of throttled Route 53 calls;
``WAIT_FOR_INSYNC`` ("true"/"false", default true) waits, within the time budget, for
each rollback change to propagate (INSYNC), so that the tracking items can record when
traffic was back on-premises (``dnsInSyncAt``, ``recoverySeconds``).
``AWS_ENDPOINT_URL`` is honoured by boto3 itself and not read here.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Any

from migration.alarm_names import BUILTIN_ALARMS
from migration.errors import ConfigurationError
from migration.events import normalise_application, normalise_applications
from migration.registry import RegisteredPlan

ALL = "all"


@dataclass(frozen=True)
class Settings:
    """Settings of the rollback function.

    ``alarm_applications`` maps an alarm name to its applications; None means all.
    """

    hosted_zone_id: str
    table_name: str
    sns_topic_arn: str
    alarm_applications: Mapping[str, tuple[str, ...] | None] = field(
        default_factory=lambda: MappingProxyType({})
    )
    application_records: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    route53_time_budget_s: float = 60.0
    wait_for_insync: bool = True

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Settings:
        """Build settings from ``env`` (e.g. ``os.environ``); ConfigurationError if invalid."""
        return cls(
            hosted_zone_id=_required(env, "HOSTED_ZONE_ID"),
            table_name=_required(env, "TABLE_NAME"),
            sns_topic_arn=_required(env, "SNS_TOPIC_ARN"),
            alarm_applications=_alarm_applications(env.get("ALARM_APPLICATIONS", "")),
            application_records=_application_records(env.get("APPLICATION_RECORDS", "")),
            route53_time_budget_s=_positive_float(env, "ROUTE53_TIME_BUDGET_SECONDS", 60.0),
            wait_for_insync=_boolean(env, "WAIT_FOR_INSYNC", True),
        )

    def with_registry(self, plan: RegisteredPlan | None) -> Settings:
        """These settings plus the registered plan's alarm and record mappings (what
        ``migrate plan apply`` registered); an entry of the environment wins over the
        registry's for the same alarm or application."""
        if plan is None:
            return self
        alarms = {
            alarm: normalise_applications(apps)
            for alarm, apps in plan.alarm_applications(BUILTIN_ALARMS).items()
        }
        records = {normalise_application(app): name for app, name in plan.record_names().items()}
        return replace(
            self,
            alarm_applications=MappingProxyType({**alarms, **self.alarm_applications}),
            application_records=MappingProxyType({**records, **self.application_records}),
        )

    def applications_for_alarm(self, alarm_name: str) -> tuple[str, ...] | None:
        """Applications targeted by ``alarm_name``; None = every application."""
        return self.alarm_applications.get(alarm_name)


def _required(env: Mapping[str, str], name: str) -> str:
    value = env.get(name, "").strip()
    if not value:
        raise ConfigurationError(name, "missing or empty; set it in the function's environment")
    return value


def _json_object(name: str, raw: str) -> dict[str, Any]:
    try:
        value = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise ConfigurationError(name, f"not valid JSON ({exc.msg})") from None
    if not isinstance(value, dict):
        raise ConfigurationError(name, "expected a JSON object")
    return value


def _alarm_applications(raw: str) -> Mapping[str, tuple[str, ...] | None]:
    name = "ALARM_APPLICATIONS"
    if not raw.strip():
        return MappingProxyType({})
    result: dict[str, tuple[str, ...] | None] = {}
    for alarm, apps in _json_object(name, raw).items():
        if apps == ALL:
            result[alarm] = None
        elif (
            isinstance(apps, list)
            and apps
            and all(isinstance(app, str) and app.strip() for app in apps)
        ):
            result[alarm] = normalise_applications(apps)
        else:
            raise ConfigurationError(
                name, f'alarm {alarm!r}: expected a non-empty list of application names or "all"'
            )
    return MappingProxyType(result)


def _application_records(raw: str) -> Mapping[str, str]:
    name = "APPLICATION_RECORDS"
    if not raw.strip():
        return MappingProxyType({})
    result: dict[str, str] = {}
    for app, fqdn in _json_object(name, raw).items():
        if not isinstance(fqdn, str) or not fqdn.strip():
            raise ConfigurationError(name, f"application {app!r}: expected a record name string")
        result[normalise_application(app)] = fqdn
    return MappingProxyType(result)


def _positive_float(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigurationError(name, f"expected a number of seconds, got {raw!r}") from None
    if not math.isfinite(value) or value <= 0:
        raise ConfigurationError(name, f"expected a positive number of seconds, got {raw!r}")
    return value


def _boolean(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = env.get(name, "").strip().lower()
    if not raw:
        return default
    if raw in ("true", "1", "yes"):
        return True
    if raw in ("false", "0", "no"):
        return False
    raise ConfigurationError(name, f"expected true or false, got {raw!r}")
