"""Settings of the rollback function, parsed from environment variables."""

from __future__ import annotations

import pytest

from migration.errors import ConfigurationError
from migration.settings import Settings

BASE = {
    "HOSTED_ZONE_ID": "Z123",
    "TABLE_NAME": "migration-tracking",
    "SNS_TOPIC_ARN": "arn:aws:sns:us-east-1:123456789012:migration",
}


def test_required_settings_and_defaults() -> None:
    settings = Settings.from_env(BASE)
    assert (settings.hosted_zone_id, settings.table_name) == ("Z123", "migration-tracking")
    assert settings.sns_topic_arn.endswith(":migration")
    assert dict(settings.alarm_applications) == {}
    assert dict(settings.application_records) == {}
    # The function waits for INSYNC by default: recovery times need it.
    assert settings.route53_time_budget_s == 60.0 and settings.wait_for_insync is True
    assert settings.applications_for_alarm("anything") is None


def test_optional_settings() -> None:
    settings = Settings.from_env(
        BASE
        | {
            "ALARM_APPLICATIONS": '{"orders-5xx": ["orders", "orders"], "all-5xx": "all"}',
            "APPLICATION_RECORDS": '{"erp": "legacy-erp-01.migration.internal"}',
            "ROUTE53_TIME_BUDGET_SECONDS": "120",
            "WAIT_FOR_INSYNC": "false",
        }
    )
    assert settings.applications_for_alarm("orders-5xx") == ("orders",)
    assert settings.applications_for_alarm("all-5xx") is None
    assert settings.application_records["erp"] == "legacy-erp-01.migration.internal"
    assert settings.route53_time_budget_s == 120.0 and settings.wait_for_insync is False
    with pytest.raises(TypeError):
        settings.alarm_applications["x"] = None  # type: ignore[index]


def test_application_names_in_settings_are_normalised() -> None:
    settings = Settings.from_env(
        BASE
        | {
            "ALARM_APPLICATIONS": '{"Orders-5XX": ["ORDERS", " orders", "Billing"]}',
            "APPLICATION_RECORDS": '{" ERP ": "legacy-erp-01.migration.internal"}',
        }
    )
    # Alarm names are CloudWatch's, case-sensitive: only application names change.
    assert settings.applications_for_alarm("Orders-5XX") == ("orders", "billing")
    assert dict(settings.application_records) == {"erp": "legacy-erp-01.migration.internal"}


@pytest.mark.parametrize("name", ["HOSTED_ZONE_ID", "TABLE_NAME", "SNS_TOPIC_ARN"])
@pytest.mark.parametrize("value", [None, "", "   "])
def test_missing_required_setting_is_named(name: str, value: str | None) -> None:
    env = dict(BASE)
    if value is None:
        del env[name]
    else:
        env[name] = value
    with pytest.raises(ConfigurationError, match=f"^setting {name}: missing or empty"):
        Settings.from_env(env)


@pytest.mark.parametrize(
    ("name", "value", "problem"),
    [
        ("ALARM_APPLICATIONS", "{not json", "not valid JSON"),
        ("ALARM_APPLICATIONS", '["orders"]', "expected a JSON object"),
        ("ALARM_APPLICATIONS", '{"a": []}', "alarm 'a'"),
        ("ALARM_APPLICATIONS", '{"a": [1]}', "alarm 'a'"),
        ("ALARM_APPLICATIONS", '{"a": "everything"}', "alarm 'a'"),
        ("APPLICATION_RECORDS", '{"erp": 5}', "application 'erp'"),
        ("ROUTE53_TIME_BUDGET_SECONDS", "soon", "expected a number"),
        ("ROUTE53_TIME_BUDGET_SECONDS", "-1", "positive"),
        ("ROUTE53_TIME_BUDGET_SECONDS", "nan", "positive"),
        ("WAIT_FOR_INSYNC", "maybe", "true or false"),
    ],
)
def test_malformed_optional_setting_is_named(name: str, value: str, problem: str) -> None:
    with pytest.raises(ConfigurationError, match=f"^setting {name}: .*{problem}") as caught:
        Settings.from_env(BASE | {name: value})
    assert caught.value.name == name
