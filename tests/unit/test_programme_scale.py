"""A programme-size plan synthesizes within CloudFormation's and Lambda's limits.

The generated plans of benchmarks/synth_benchmark.py (waves of 50 applications, one database
per ten, two servers each): 1,000 applications and 100 databases give 20 wave stacks besides
the main one. Every template stays at or below 400 resources and under 800 KB, and every Lambda
environment and IAM policy is byte-for-byte the size it is for 10 applications.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from benchmarks.synth_benchmark import generated_plan

MAX_RESOURCES = 400
MAX_TEMPLATE_BYTES = 800 * 1024


@pytest.fixture(scope="module")
def programmes(synth: Any, tmp_path_factory: pytest.TempPathFactory) -> dict[int, Any]:
    work = tmp_path_factory.mktemp("programme-plans")
    result = {}
    for size in (10, 1000):
        path = work / f"plan-{size}.yaml"
        path.write_text(yaml.safe_dump(generated_plan(size)), encoding="utf-8")
        result[size] = synth(planFile=str(path))
    return result


def _templates(synthesized: Any) -> dict[str, str]:
    return {
        path.name: path.read_text()
        for path in sorted(Path(synthesized.outdir).glob("TapStackdev*.template.json"))
    }


def _sizes(synthesized: Any, resource_type: str, key: str) -> list[int]:
    return sorted(
        len(json.dumps(resource["Properties"].get(key, {})))
        for resource in synthesized.all_resources().values()
        if resource["Type"] == resource_type
    )


def test_every_stack_stays_within_the_limits(programmes: dict[int, Any]) -> None:
    templates = _templates(programmes[1000])
    assert len(templates) == 21  # the main stack and 20 wave stacks
    for name, text in templates.items():
        assert len(text.encode()) < MAX_TEMPLATE_BYTES, name
        assert len(json.loads(text)["Resources"]) <= MAX_RESOURCES, name
    tasks = [
        r
        for r in programmes[1000].all_resources().values()
        if r["Type"] == "AWS::DMS::ReplicationTask"
    ]
    assert len(tasks) == 200  # forward and reverse of each of the 100 databases


def test_no_lambda_environment_or_main_stack_policy_grows(programmes: dict[int, Any]) -> None:
    small, large = programmes[10], programmes[1000]
    environment = ("AWS::Lambda::Function", "Environment")
    assert _sizes(large, *environment) == _sizes(small, *environment)
    main_policies = [
        sorted(
            len(json.dumps(r["Properties"]["PolicyDocument"]))
            for r in s.template_json["Resources"].values()
            if r["Type"] == "AWS::IAM::Policy"
        )
        for s in (small, large)
    ]
    # None larger (the database step's secrets grant is one folder pattern: migration/db-0000/*
    # for one database, migration/* for a hundred).
    assert len(main_policies[0]) == len(main_policies[1])
    assert all(big <= small for small, big in zip(*main_policies, strict=True))
