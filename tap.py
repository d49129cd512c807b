#!/usr/bin/env python3
"""CDK app entry point: reads CDK context into typed configuration and builds the stack.

This is the only place that reads the environment or CDK context.
"""

from __future__ import annotations

import os
import sys

import aws_cdk as cdk
from cdk_nag import AwsSolutionsChecks

from lib.config import ConfigError, MigrationConfig
from lib.tap_stack import TapStack, TapStackProps


def build_app(app: cdk.App | None = None) -> cdk.App:
    """Create the app with the migration stack and the cdk-nag AwsSolutions checks."""
    app = app or cdk.App()
    context = {
        key: app.node.try_get_context(key)
        for key in (
            "environmentSuffix",
            "region",
            "availabilityZones",
            "customerGatewayIp",
            "onPremisesBgpAsn",
            "onPremisesCidrs",
            "databasePorts",
            "cdcLatencyThresholdSeconds",
            "createDmsVpcRole",
            "logRetentionDays",
            "zoneName",
        )
    }
    config = MigrationConfig.from_context({k: v for k, v in context.items() if v is not None})
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
    app.synth()
    return 0


if __name__ == "__main__":
    sys.exit(main())
