"""Every file of tests/fixtures/bad_plans/ is one kind of mistake with its exact error line(s)."""

from __future__ import annotations

from pathlib import Path

import pytest

from migration.plan import PlanError, load_plan

CORPUS = Path(__file__).resolve().parents[1] / "fixtures" / "bad_plans"

APP0 = "waves[0].applications[0]"
DB0 = "waves[0].databases[0]"
NAME_RULE = "use 1-63 lowercase letters, digits and hyphens, not starting or ending with a hyphen"
CREDENTIALS = (
    "plans must not contain credentials: store them in a Secrets Manager secret and give its"
    " name in `secret`"
)

EXPECTED: dict[str, list[str]] = {
    "database_name_collides": [
        f"{DB0}.dns_name: 'orders-api.migration.internal' is already used by"
        " waves[0].applications[0]"
    ],
    "database_name_outside_zone": [
        f"{DB0}.dns_name: 'orders.db.corp.example.com' is not a name inside the DNS zone"
        " 'migration.internal'"
    ],
    "freeze_unknown": [
        f"{DB0}.freeze: 'pause' is not builtin, manual, ssm:<document> or lambda:<function>"
    ],
    "freeze_builtin_unsupported": [
        f"{DB0}.freeze: builtin freeze supports mysql, postgres; for oracle declare manual,"
        " ssm:<document> or lambda:<function>"
    ],
    "forwarding_without_resolvers": [
        "site.on_premises_resolvers: required when on_premises_domains is set"
    ],
    "forwarding_overlaps_zone": [
        "site.on_premises_domains[0]: 'migration.internal' overlaps the migration zone"
        " 'migration.internal', which AWS answers",
        "site.on_premises_resolvers[0]: 10.9.0.2 is not inside any of site.on_premises_cidrs",
    ],
    "shift_steps_not_increasing": [
        f"{APP0}.shift_steps[2]: must be increasing (previous step is 50)"
    ],
    "shift_steps_last_not_100": [f"{APP0}.shift_steps[2]: the last step must be 100, got 90"],
    "shift_step_out_of_range": [f"{APP0}.shift_steps[0]: must be between 1 and 100, got 0"],
    "shift_steps_empty": [
        f"{APP0}.shift_steps: must contain at least one step (the last must be 100)"
    ],
    "unknown_field": [f"{APP0}.colour: unknown field"],
    "misspelled_top_level_key": ["waves: is required", "wavez: unknown field"],
    "missing_required_field": ["waves[0].servers[0].ip: is required"],
    "gateway_ip_private": [
        "site.customer_gateway_ip: 172.16.5.5 is a private address; the customer gateway needs"
        " a public IPv4 address"
    ],
    "gateway_ip_invalid": ["site.customer_gateway_ip: '203.0.113.300' is not a valid IPv4 address"],
    "bgp_asn_aws_side": ["site.bgp_asn: must differ from the AWS side ASN 64512"],
    "bgp_asn_out_of_range": ["site.bgp_asn: must be at most 4294967294, got 4294967295"],
    "bgp_asn_quoted": ["site.bgp_asn: must be an integer, got string '65000'"],
    "cidr_overlaps_vpc": [
        "site.on_premises_cidrs[1]: 10.0.128.0/17 overlaps the AWS VPC 10.0.0.0/16"
    ],
    "cidr_host_bits": [
        "site.on_premises_cidrs[0]: '192.168.1.0/16' has host bits set"
        " (did you mean 192.168.0.0/16?)"
    ],
    "cidrs_empty": ["site.on_premises_cidrs: must contain at least 1 item"],
    "application_name_invalid": [f"{APP0}.name: 'Orders_API' is not a valid name: {NAME_RULE}"],
    "dns_name_outside_zone": [
        f"{APP0}.dns_name: 'orders.example.com' is not inside the DNS zone 'migration.internal'"
    ],
    "dns_name_duplicate": [
        "waves[1].applications[0].dns_name: 'orders-api.migration.internal' is already used by"
        " waves[0].applications[0]"
    ],
    "cname_at_zone_apex": [
        "waves[1].applications[0].dns_name: a CNAME record cannot be at the zone apex; use a name"
        " inside the zone"
    ],
    "address_kinds_differ": [
        f"{APP0}.aws_address: must be an IPv4 address like on_premises_address: both share one"
        " record type (A or CNAME)"
    ],
    "address_invalid": [f"{APP0}.on_premises_address: '192.168.10' is not a valid IPv4 address"],
    "aws_address_on_premises": [
        f"{APP0}.aws_address: 192.168.50.21 is inside site.on_premises_cidrs; it must be an"
        " address in AWS"
    ],
    "unknown_alarm": [
        f"{APP0}.alarms[1]: unknown alarm 'orders-api-latency': declare it in the top-level"
        " alarms list or use a built-in one (dms-cdc-latency, vpn-both-tunnels-down,"
        " vpn-tunnel-down)"
    ],
    "alarm_listed_twice": [f"{APP0}.alarms[1]: 'orders-api-5xx' is listed twice"],
    "builtin_alarm_declared": [
        "alarms[1].name: 'vpn-tunnel-down' is a built-in alarm; do not declare it"
    ],
    "unknown_database": [
        f"{APP0}.databases[0]: unknown database 'orders': no wave migrates a database of that name"
    ],
    "unknown_server": [
        f"{APP0}.servers[1]: unknown server 'orders-app-02': no wave migrates a server of that id"
    ],
    "server_settings_invalid": [
        "waves[0].server_defaults.max_lag_seconds: must be greater than 0, got 0",
        "waves[0].servers[0].os: must be 'linux' or 'windows', got string 'solaris'",
        "waves[0].servers[0].instance_type: 'large' is neither right-size nor an EC2 instance"
        " type (family.size, e.g. m6i.large)",
        "waves[0].servers[0].licensing: must be 'license-included' or 'byol', got string"
        " 'bring-your-own'",
    ],
    "server_network_invalid": [
        "waves[0].server_defaults.security_groups: must contain at most 4 items, got 5",
        "waves[0].servers[0].subnet: 'private-a' is not a subnet id (subnet- and 8 or 17 hex"
        " digits)",
        "waves[0].servers[0].security_groups[0]: 'sg-1' is not a security group id (sg- and 8"
        " or 17 hex digits)",
        "waves[0].servers[1].security_groups[1]: sg-0123456789abcdef0 is listed twice",
    ],
    "server_replication_invalid": [
        "server_replication.bandwidth_throttling_mbps: must be at least 0, got -5",
        "server_replication.staging_disk_type: must be 'GP2', 'GP3' or 'ST1', got string 'IO2'",
    ],
    "name_used_twice_across_kinds": [
        f"{DB0}.name: 'orders-api' is already used by waves[0].applications[0]"
    ],
    "wave_name_duplicate": ["waves[1].name: 'wave-1' is already used by waves[0]"],
    "server_id_duplicate": [
        "waves[1].servers[0].id: 'orders-app-01' is already used by waves[0].servers[0]"
    ],
    "password_in_plan": [f"{DB0}.source.password: {CREDENTIALS}"],
    "engine_unknown": [
        f"{DB0}.engine: must be 'postgres', 'mysql', 'sqlserver' or 'oracle', got string 'mongodb'"
    ],
    "secret_invalid": [
        f"{DB0}.target.secret: 'orders db secret' is not a Secrets Manager secret name or ARN"
        " (names use letters, digits and /_+=.@-)"
    ],
    "port_out_of_range": [f"{DB0}.source.port: must be at most 65535, got 70000"],
    "cdc_threshold_zero": [f"{DB0}.cdc_latency_threshold_seconds: must be greater than 0, got 0"],
    "bake_minutes_negative": [f"{APP0}.bake_minutes: must be at least 0, got -5"],
    "replication_invalid": [
        "waves[0].servers[0].replication: must be 'mgn' or 'manual', got string 'cloudendure'"
    ],
    "server_ip_outside_site": [
        "waves[1].servers[0].ip: 172.16.0.31 is not inside any of site.on_premises_cidrs"
    ],
    "no_waves": ["waves: must contain at least 1 item"],
    "applications_not_a_list": ["waves[1].applications: must be a list, got a mapping"],
    "duplicate_key": [f"{APP0}.bake_minutes: duplicate key (first on line 15)"],
    "non_string_key": ["site.True: key True must be a string (YAML read it as bool; quote it)"],
    "version_unsupported": ["version: must be 1, got number 2"],
    "yaml_syntax_error": [
        "invalid YAML at line 4, column 2: expected <block end>, but found '<block mapping start>'"
    ],
    "empty_file": ["the plan is empty"],
    "top_level_list": ["the plan must be a mapping at the top level, got a list"],
}


def test_corpus_and_expectations_match() -> None:
    files = {path.stem for path in CORPUS.glob("*.yaml")}
    assert files == set(EXPECTED), "every corpus file needs an expectation and vice versa"
    assert len(files) >= 20


@pytest.mark.parametrize("case", sorted(EXPECTED))
def test_bad_plan_reports_exact_problems(case: str) -> None:
    path = CORPUS / f"{case}.yaml"
    with pytest.raises(PlanError) as caught:
        load_plan(path)
    error = caught.value
    assert [str(problem) for problem in error.problems] == EXPECTED[case]
    assert error.source == str(path)
    # str() gives one line per problem, each naming the file
    assert str(error).splitlines() == error.lines()
    assert all(line.startswith(f"{path}: ") for line in error.lines())
