"""The migration plan: a YAML file describing the on-premises site and the waves to migrate.

The plan is validated by a frozen pydantic v2 model with ``extra="forbid"`` everywhere. Every
problem is reported as one line ``<field path>: <message>``, the path in the form
``waves[1].applications[0].shift_steps[2]``.

Public API::

    load_plan(path) -> Plan            read, parse and validate a YAML file; raises PlanError
    parse_plan(data, source) -> Plan   validate already-parsed data; raises PlanError
    PlanError                          .source, .problems (tuple of Problem), .lines();
                                       str() = one line per problem, "<source>: <path>: <message>"
    Problem                            .path, .message, .line (YAML line or None);
                                       str() = "<path>: <message>"
    default_plan_path() -> Path        $MIGRATION_PLAN or examples/migration-plan.yaml (from cwd)

Schema (see ``examples/migration-plan.yaml`` for an annotated example)::

    version: 1                          optional, only 1 is accepted
    site:
      customer_gateway_ip: 203.0.113.10 public IPv4 (documentation ranges allowed)
      bgp_asn: 65000                    1..4294967294, not AWS_SIDE_ASN (64512)
      on_premises_cidrs: [192.168.0.0/16]  non-empty, no overlap with AWS_VPC_CIDR or each other
      dns_zone: migration.internal      optional
      on_premises_domains: [corp.example.com]  optional; forwarded from AWS to the resolvers
      on_premises_resolvers: [192.168.0.2]     on-premises DNS servers (inside the CIDRs)
    alarms:                             optional; alarms that exist in the account
      - {name: orders-5xx, description: ...}
    waves:                              at least one
      - name: wave-1
        applications: [{name, dns_name?, on_premises_address, aws_address, shift_steps?,
                        bake_minutes?, alarms?, databases?, servers?}]
        databases: [{name, engine, dns_name?, source: {host, port?, database, secret},
                     target: {...}, tables?, cdc_latency_threshold_seconds?, freeze?,
                     freeze_timeout_seconds?, drain_timeout_seconds?, cutover?}]
        server_defaults: {instance_type?, licensing?, boot_mode?, max_lag_seconds?}
        servers: [{id, hostname, ip, replication?, os?, instance_type?, licensing?,
                   boot_mode?, max_lag_seconds?}]
    server_replication:                 optional; MGN's replication template (servers init)
      {bandwidth_throttling_mbps?, replication_server_instance_type?, staging_disk_type?,
       dedicated_replication_server?}

Every name (wave, application, database, server id) is unique across the whole plan, in a
single namespace, so a name always identifies one thing. Applications may reference the
built-in alarms the stack creates (``BUILTIN_ALARMS``) or alarms of the top-level ``alarms`` list.

The package, by job::

    constants    facts shared with the stack (AWS_VPC_CIDR, AWS_SIDE_ASN, BUILTIN_ALARMS), defaults
    errors       Problem, PlanError, pydantic errors as one line per field path
    validators   field rules (names, addresses, CIDRs, secrets) and the site's network rules
    model        the entries: Site, Alarm, Application, Endpoint, TableSelection, Database,
                 ServerDefaults, Server, ServerReplication, Wave
    references   checks across entries (unique names, DNS names, addresses, alarms, databases,
                 servers)
    document     Plan: the entries put together, cross-checked, with accessors
    loader       YAML with line numbers and duplicate keys; load_plan, parse_plan

This package is imported by the CDK stack at synth time and by the CLI: it must never import
boto3 or aws_cdk.
"""

from __future__ import annotations

from migration.plan.constants import (
    AWS_SIDE_ASN,
    AWS_VPC_CIDR,
    BUILTIN_ALARMS,
    DEFAULT_DNS_ZONE,
    DEFAULT_MAX_PARALLEL,
    DEFAULT_PLAN_PATH,
    DEFAULT_PORTS,
    DEFAULT_SHIFT_STEPS,
    PLAN_ENV_VAR,
)
from migration.plan.document import Plan
from migration.plan.errors import PlanError, Problem, format_path
from migration.plan.loader import default_plan_path, load_plan, parse_plan
from migration.plan.model import (
    Alarm,
    Application,
    Database,
    Endpoint,
    Server,
    ServerDefaults,
    Site,
    TableSelection,
    Wave,
)

__all__ = [
    "AWS_SIDE_ASN",
    "AWS_VPC_CIDR",
    "BUILTIN_ALARMS",
    "DEFAULT_DNS_ZONE",
    "DEFAULT_MAX_PARALLEL",
    "DEFAULT_PLAN_PATH",
    "DEFAULT_PORTS",
    "DEFAULT_SHIFT_STEPS",
    "PLAN_ENV_VAR",
    "Alarm",
    "Application",
    "Database",
    "Endpoint",
    "Plan",
    "PlanError",
    "Problem",
    "Server",
    "ServerDefaults",
    "Site",
    "TableSelection",
    "Wave",
    "default_plan_path",
    "format_path",
    "load_plan",
    "parse_plan",
]
