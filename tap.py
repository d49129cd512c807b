#!/usr/bin/env python3
"""CDK app entry point: reads CDK context into typed configuration and builds the stack.

This is the only place that reads the environment or CDK context.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import aws_cdk as cdk
from cdk_nag import AwsSolutionsChecks

from lib.config import ConfigError, MigrationConfig
from lib.tap_stack import TapStack, TapStackProps
from migration.plan import Plan, PlanError, load_plan

PROJECT_ROOT = Path(__file__).resolve().parent
DEFAULT_PLAN = PROJECT_ROOT / "examples" / "migration-plan.yaml"
CONTEXT_KEYS = (
    "environmentSuffix",
    "region",
    "availabilityZones",
    "customerGatewayIp",
    "onPremisesBgpAsn",
    "onPremisesCidrs",
    "databasePorts",
    "rollbackReservedConcurrency",
    "createDmsVpcRole",
    "logRetentionDays",
    "zoneName",
)


def plan_context(plan: Plan) -> dict[str, Any]:
    """Configuration the plan provides: the on-premises site and the databases' ports."""
    site = plan.site
    context: dict[str, Any] = {
        "customerGatewayIp": site.customer_gateway_ip,
        "onPremisesBgpAsn": site.bgp_asn,
        "onPremisesCidrs": list(site.on_premises_cidrs),
        "zoneName": site.dns_zone,
    }
    ports = sorted({e.port for d in plan.databases for e in (d.source, d.target)})
    if ports:
        context["databasePorts"] = ports
    return context


def build_app(app: cdk.App | None = None) -> cdk.App:
    """Create the app with the migration stack and the cdk-nag AwsSolutions checks."""
    app = app or cdk.App()
    plan_file = app.node.try_get_context("planFile")
    plan = load_plan(Path(plan_file) if plan_file else DEFAULT_PLAN)
    explicit = {
        key: value for key in CONTEXT_KEYS if (value := app.node.try_get_context(key)) is not None
    }
    from_plan = plan_context(plan)
    zone = explicit.get("zoneName")
    if zone is not None and zone != from_plan["zoneName"]:
        raise ConfigError(
            f"zoneName: {zone!r} differs from the plan's site.dns_zone "
            f"{from_plan['zoneName']!r}; change the plan instead"
        )
    # Explicit context wins over the plan, the plan over the built-in defaults.
    config = MigrationConfig.from_context({**from_plan, **explicit})
    suffix = config.environment_suffix

    # Tags are constants or explicit inputs: no timestamps or user names, so synth is repeatable.
    cdk.Tags.of(app).add("Environment", suffix)
    cdk.Tags.of(app).add("Project", "migration-orchestration")
    repository = app.node.try_get_context("repository")
    if repository:
        cdk.Tags.of(app).add("Repository", str(repository))

    props = TapStackProps(
        environment_suffix=suffix,
        config=config,
        plan=plan,
        env=cdk.Environment(account=os.environ.get("CDK_DEFAULT_ACCOUNT"), region=config.region),
        description=f"Phased on-premises to AWS migration orchestration ({suffix})",
    )
    TapStack(app, f"TapStack{suffix}", props=props, env=props.env)
    cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    return app


def main() -> int:
    try:
        app = build_app()
    except ConfigError as error:
        print(f"error: CDK context {error}", file=sys.stderr)
        return 2
    except PlanError as error:
        for line in error.lines():
            print(f"error: {line}", file=sys.stderr)
        return 2
    app.synth()
    return 0


if __name__ == "__main__":
    sys.exit(main())
