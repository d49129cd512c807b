"""Nothing in a Lambda environment, a stack output or an IAM policy grows with the number of
planned databases (issue 10): Lambda caps an environment at 4 KB, IAM a role's inline policies
at 10,240 characters.

Two plans in the shape of examples/migration-plan.yaml that differ only in the number of
databases (5 and 40, none used by an application, so the rollback function's alarm mappings
stay out of it) are synthesized once each; every function's environment and every policy
document has the same byte length in both, and the CutoverSettings output is the same.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.unit.conftest import Synthesized

SMALL, LARGE = 5, 40
# Properties that hold an IAM policy document: identity policies, trust policies, and the
# resource policies of the key, queues and topic.
POLICY_PROPERTIES = ("PolicyDocument", "AssumeRolePolicyDocument", "KeyPolicy", "Policies")


def plan_document(databases: int) -> dict[str, Any]:
    """A plan like the example's, with ``databases`` databases of equally long names."""
    return {
        "version": 1,
        "site": {
            "customer_gateway_ip": "203.0.113.10",
            "bgp_asn": 65000,
            "on_premises_cidrs": ["192.168.0.0/16"],
            "dns_zone": "migration.internal",
        },
        "alarms": [{"name": "orders-api-5xx", "description": "5xx rate of the orders API"}],
        "waves": [
            {
                "name": "wave-1",
                "applications": [
                    {
                        "name": "orders-api",
                        "on_premises_address": "192.168.10.21",
                        "aws_address": "10.0.1.21",
                        "shift_steps": [10, 50, 100],
                        "bake_minutes": 15,
                        "alarms": ["orders-api-5xx", "vpn-tunnel-down"],
                    }
                ],
                "databases": [_database(number) for number in range(1, databases + 1)],
            }
        ],
    }


def _database(number: int) -> dict[str, Any]:
    name = f"db-{number:03}"
    return {
        "name": name,
        "engine": "postgres",
        "source": {
            "host": f"192.168.20.{100 + number}",
            "database": "orders",
            "secret": f"migration/{name}/source",
        },
        "target": {
            "host": f"{name}.cluster-abcdefghijkl.eu-west-1.rds.amazonaws.com",
            "database": "orders",
            "secret": f"migration/{name}/target",
        },
        "tables": [{"schema": "public", "table": "%"}],
        "cdc_latency_threshold_seconds": 30,
        "freeze": "builtin",
        "drain_timeout_seconds": 300,
        "cutover": "manual",
    }


@pytest.fixture(scope="module")
def plans(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[int, Path]]:
    folder = tmp_path_factory.mktemp("plans")
    paths = {}
    for count in (SMALL, LARGE):
        paths[count] = folder / f"plan-{count}-databases.yaml"
        paths[count].write_text(yaml.safe_dump(plan_document(count), sort_keys=False))
    yield paths


@pytest.fixture(scope="module")
def synthesized(
    synth: Callable[..., Synthesized], plans: dict[int, Path]
) -> dict[int, Synthesized]:
    return {count: synth(planFile=str(path)) for count, path in plans.items()}


def _size(value: Any) -> int:
    return len(json.dumps(value, sort_keys=True, separators=(",", ":")).encode())


def _environments(template: dict[str, Any]) -> dict[str, int]:
    return {
        logical_id: _size(resource["Properties"].get("Environment"))
        for logical_id, resource in template["Resources"].items()
        if resource["Type"] == "AWS::Lambda::Function"
    }


def _policies(template: dict[str, Any]) -> dict[str, int]:
    return {
        f"{logical_id}.{name}": _size(resource["Properties"][name])
        for logical_id, resource in template["Resources"].items()
        for name in POLICY_PROPERTIES
        if name in resource.get("Properties", {})
    }


def test_the_plans_differ_in_their_databases(synthesized: dict[int, Synthesized]) -> None:
    for count, synth in synthesized.items():
        tasks = [
            r for r in synth.all_resources().values() if r["Type"] == "AWS::DMS::ReplicationTask"
        ]
        assert len(tasks) == 2 * count  # forward and reverse, in the wave stacks
        assert synth.stack.database_step.function is not None


def test_every_function_environment_is_the_same_size(
    synthesized: dict[int, Synthesized],
) -> None:
    small, large = (_environments(synthesized[n].template_json) for n in (SMALL, LARGE))
    assert len(small) == 3  # rollback, cutover controller, database step
    assert large == small


def test_every_policy_document_is_the_same_size(synthesized: dict[int, Synthesized]) -> None:
    small, large = (_policies(synthesized[n].template_json) for n in (SMALL, LARGE))
    # No policy appears with the databases either (CDK moves what overflows a role's inline
    # policies into extra managed policies).
    assert any(".PolicyDocument" in key for key in small)
    assert large == small


def test_the_cutover_settings_output_is_the_same(synthesized: dict[int, Synthesized]) -> None:
    small, large = (
        synthesized[n].template_json["Outputs"]["CutoverSettings"] for n in (SMALL, LARGE)
    )
    assert large == small
