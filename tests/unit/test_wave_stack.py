"""Wave stacks: how a plan is split into nested stacks and alarm names into rules."""

from __future__ import annotations

import itertools
import json
from typing import Any

import aws_cdk as cdk
import yaml
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_events as events
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_route53 as route53
from aws_cdk import aws_sns as sns
from aws_cdk.assertions import Template

from benchmarks.synth_benchmark import generated_plan
from lib.rollback import Rollback
from lib.wave_stack import MAX_DATABASES_PER_STACK, pattern_chunks, trigger_rule_name, wave_parts
from migration.plan import load_plan


def _plan(tmp_path: Any, document: dict[str, Any]) -> Any:
    path = tmp_path / "plan.yaml"
    path.write_text(yaml.safe_dump(document), encoding="utf-8")
    return load_plan(path)


def test_alarm_names_are_split_under_the_pattern_quota() -> None:
    names = [f"application-{n:04}-latency-p99-alarm" for n in range(200)]
    chunks = list(pattern_chunks(names, limit=1000))
    assert len(chunks) > 1
    assert [name for chunk in chunks for name in chunk] == names
    assert all(len(json.dumps(chunk)) <= 1000 for chunk in chunks)
    # Packed: the next name would not have fitted into the previous chunk.
    for chunk, following in itertools.pairwise(chunks):
        assert len(json.dumps([*chunk, following[0]])) > 1000
    assert list(pattern_chunks([])) == []


def test_a_large_wave_is_split_and_its_alarms_routed_once(tmp_path: Any) -> None:
    document = generated_plan(100)  # waves of 50 applications, 5 databases each
    first, second = document["waves"]
    # Move every database into the first wave: 10, still one part; then 85: three parts.
    first["databases"] += second.pop("databases")
    second["databases"] = []
    document["alarms"].append({"name": "shared-alarm"})
    for app in [*second["applications"], first["applications"][0]]:
        app["alarms"].append("shared-alarm")
    parts = wave_parts(_plan(tmp_path, document))
    assert [(p.wave, p.part, len(p.databases)) for p in parts] == [
        ("wave-1", 1, 10),
        ("wave-2", 1, 0),  # no databases, but applications with an alarm of their own
    ]
    assert "shared-alarm" in parts[0].alarm_names
    assert parts[1].alarm_names == tuple(f"app-{n:04}-5xx" for n in range(50, 100))
    assert "shared-alarm" not in parts[1].alarm_names  # routed by the first wave only

    big = generated_plan(850)
    merged = [db for wave in big["waves"] for db in wave.pop("databases")]
    big["waves"][0]["databases"] = merged
    for wave in big["waves"][1:]:
        wave["databases"] = []
    parts = wave_parts(_plan(tmp_path, big))
    sizes = [len(p.databases) for p in parts if p.wave == "wave-1"]
    assert sizes == [MAX_DATABASES_PER_STACK, MAX_DATABASES_PER_STACK, 5]
    assert [p.construct_id for p in parts[:3]] == ["Wave-wave-1", "Wave-wave-1-2", "Wave-wave-1-3"]
    assert all(p.alarm_names == () for p in parts[1:3])  # alarms with the first part only


def test_rule_names_fit_eventbridge_and_do_not_move_with_the_wave_order() -> None:
    (part,) = wave_parts(None) or [None]
    assert part is None  # no plan, no wave stack
    from lib.wave_stack import WavePart

    name = trigger_rule_name("x" * 20, WavePart("w" * 63, 1, (), ("a",)), 12)
    assert len(name) <= 64
    assert name == trigger_rule_name("x" * 20, WavePart("w" * 63, 1, (), ()), 12)


def test_two_stack_triggers_share_one_key_statement() -> None:
    app = cdk.App()
    stack = cdk.Stack(
        app, "Triggers", env=cdk.Environment(account="111111111111", region="eu-west-1")
    )
    key = kms.Key(stack, "Key")
    vpc = ec2.Vpc(stack, "Vpc", max_azs=1, nat_gateways=0, subnet_configuration=[])
    rollback = Rollback(
        stack,
        "Rollback",
        key=key,
        table=dynamodb.Table(
            stack,
            "Table",
            partition_key=dynamodb.Attribute(name="k", type=dynamodb.AttributeType.STRING),
        ),
        topic=sns.Topic(stack, "Topic"),
        hosted_zone=route53.PrivateHostedZone(stack, "Zone", zone_name="z.internal", vpc=vpc),
        log_retention=logs.RetentionDays.ONE_WEEK,
        reserved_concurrency=0,
    )
    pattern = events.EventPattern(source=["aws.cloudwatch"])
    for n in (1, 2):
        rollback.add_trigger(
            stack, f"Trigger{n}", rule_name=f"rule-{n}", description="d", event_pattern=pattern
        )
    statements = Template.from_stack(stack).to_json()["Resources"]
    (policy,) = [r for r in statements.values() if r["Type"] == "AWS::KMS::Key"]
    (statement,) = [
        s
        for s in policy["Properties"]["KeyPolicy"]["Statement"]
        if s.get("Sid") == "AllowRollbackTriggersToDeadLetter"
    ]
    arns = statement["Condition"]["ArnEquals"]["aws:SourceArn"]
    texts = [json.dumps(a) for a in arns]
    assert len(texts) == 2
    assert texts[0].endswith(':rule/rule-1"]]}') and texts[1].endswith(':rule/rule-2"]]}')
