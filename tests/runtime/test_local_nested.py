"""Nested stacks flattened into the parent template (``migration.local.nested``), no emulator.

Hand-written templates in CDK's shape: the parent's ``AWS::CloudFormation::Stack`` resource
names its template through the asset manifest, passes parameters and reads ``Outputs.X``.
What deploys end to end is in test_local_deploy_nested.py (a synthesized CDK app).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from migration.local.deploy_types import LocalDeployError
from migration.local.nested import flatten
from migration.local.template import Evaluator, Reference

URL = {
    "Fn::Join": [
        "",
        [
            "https://s3.",
            {"Ref": "AWS::Region"},
            ".",
            {"Ref": "AWS::URLSuffix"},
            "/",
            {"Fn::Sub": "cdk-hnb659fds-assets-${AWS::AccountId}-${AWS::Region}"},
            "/{key}.json",
        ],
    ]
}
PARENT_TOPIC = {"Type": "AWS::SNS::Topic", "Properties": {}}


def _stack(key: str, parameters: dict[str, Any] | None = None, **extra: Any) -> dict[str, Any]:
    url = json.loads(json.dumps(URL).replace("{key}", key))
    props: dict[str, Any] = {"TemplateURL": url}
    if parameters is not None:
        props["Parameters"] = parameters
    return {"Type": "AWS::CloudFormation::Stack", "Properties": props, **extra}


def _write(out: Path, parent: dict[str, Any], nested: dict[str, dict[str, Any]]) -> Path:
    """``parent`` as Parent.template.json, each nested template as an asset ``<key>.json``."""
    out.mkdir(exist_ok=True)
    files = {}
    for key, template in nested.items():
        (out / f"Parent{key}.nested.template.json").write_text(json.dumps(template))
        files[key] = {
            "source": {"path": f"Parent{key}.nested.template.json", "packaging": "file"},
            "destinations": {
                "current": {
                    "bucketName": "cdk-hnb659fds-assets-${AWS::AccountId}-${AWS::Region}",
                    "objectKey": f"{key}.json",
                }
            },
        }
    (out / "Parent.assets.json").write_text(json.dumps({"version": "55.0.0", "files": files}))
    path = out / "Parent.template.json"
    path.write_text(json.dumps(parent))
    return path


def _flatten(path: Path) -> Any:
    return flatten(json.loads(path.read_text()), path)


def _evaluate(expr: Any, values: dict[Reference, Any]) -> Any:
    pseudo = {
        "AWS::StackName": "Parent",
        "AWS::Region": "us-west-2",
        "AWS::AccountId": "123456789012",
        "AWS::Partition": "aws",
        "AWS::URLSuffix": "amazonaws.com",
    }
    return Evaluator(pseudo, values.__getitem__)(expr)


def _wave(**extra_resources: Any) -> dict[str, Any]:
    return {
        "Parameters": {
            "TopicArn": {"Type": "String"},
            "Threshold": {"Type": "String", "Default": "300"},
            "Subnets": {"Type": "CommaDelimitedList"},
        },
        "Resources": {
            "Alarm": {
                "Type": "AWS::CloudWatch::Alarm",
                "Properties": {
                    "AlarmName": {"Fn::Sub": "${AWS::StackName}-cdc-${Threshold}-${AWS::Region}"},
                    "AlarmActions": [{"Ref": "TopicArn"}],
                    "Threshold": {"Ref": "Threshold"},
                },
            },
            "Queue": {
                "Type": "AWS::SQS::Queue",
                "DependsOn": "Alarm",
                "Properties": {
                    "Tags": [{"Key": "subnet", "Value": {"Fn::Select": [1, {"Ref": "Subnets"}]}}]
                },
            },
            **extra_resources,
        },
        "Outputs": {
            "AlarmName": {"Value": {"Ref": "Alarm"}},
            "QueueArn": {"Value": {"Fn::Sub": "${Queue.Arn}|${TopicArn}"}},
        },
    }


def _parent(**extra: Any) -> dict[str, Any]:
    return {
        "Resources": {
            "Topic": PARENT_TOPIC,
            "Wave": _stack(
                "wave",
                {
                    "TopicArn": {"Ref": "Topic"},
                    "Subnets": {"Fn::Join": [",", ["subnet-a", "subnet-b"]]},
                },
                DependsOn="Topic",
            ),
            "Reader": {
                "Type": "AWS::SSM::Parameter",
                "DependsOn": ["Wave"],
                "Properties": {
                    "Type": "String",
                    "Value": {"Fn::GetAtt": ["Wave", "Outputs.QueueArn"]},
                },
            },
            **extra,
        },
        "Outputs": {
            "AlarmName": {"Value": {"Fn::GetAtt": ["Wave", "Outputs.AlarmName"]}},
            "WaveStack": {"Value": {"Ref": "Wave"}},
            "Described": {"Value": {"Fn::Sub": "alarm ${Wave.Outputs.AlarmName} in ${Topic}"}},
        },
    }


def test_a_template_without_nested_stacks_is_deployed_as_it_is(tmp_path: Path) -> None:
    template = {"Resources": {"Topic": PARENT_TOPIC}, "Outputs": {"T": {"Value": {"Ref": "Topic"}}}}
    path = _write(tmp_path, template, {})
    flat = _flatten(path)
    assert flat.template == template and flat.nested_stacks == [] and flat.origins == {}


def test_parameters_outputs_pseudo_parameters_and_dependencies_are_carried_over(
    tmp_path: Path,
) -> None:
    path = _write(tmp_path, _parent(), {"wave": _wave()})
    before = path.read_text()
    flat = _flatten(path)
    assert path.read_text() == before
    resources = flat.template["Resources"]
    assert list(resources) == ["Topic", "WaveAlarm", "WaveQueue", "Reader"]
    alarm = resources["WaveAlarm"]["Properties"]
    assert alarm["AlarmActions"] == [{"Ref": "Topic"}]
    assert alarm["Threshold"] == "300"  # the parameter's default
    values: dict[Reference, Any] = {
        ("Ref", "Topic", ""): "arn:topic",
        ("Ref", "WaveAlarm", ""): "the-alarm",
        ("GetAtt", "WaveQueue", "Arn"): "arn:queue",
    }
    name = _evaluate(alarm["AlarmName"], values)
    assert name.startswith("Parent-Wave-") and name.endswith("-cdc-300-us-west-2")
    tags = resources["WaveQueue"]["Properties"]["Tags"]
    assert _evaluate(tags, values) == [{"Key": "subnet", "Value": "subnet-b"}]
    # DependsOn: inside the nested stack (prefixed), of the nested stack (to each of its
    # resources), on the nested stack (on each of its resources).
    assert resources["WaveQueue"]["DependsOn"] == ["WaveAlarm", "Topic"]
    assert resources["WaveAlarm"]["DependsOn"] == ["Topic"]
    assert resources["Reader"]["DependsOn"] == ["WaveAlarm", "WaveQueue"]
    reader = resources["Reader"]["Properties"]["Value"]
    assert _evaluate(reader, values) == "arn:queue|arn:topic"
    outputs = flat.template["Outputs"]
    assert outputs["AlarmName"] == {"Value": {"Ref": "WaveAlarm"}}
    assert outputs["Described"] == {"Value": {"Fn::Sub": "alarm ${WaveAlarm} in ${Topic}"}}
    stack_id = _evaluate(outputs["WaveStack"]["Value"], values)
    stack_name = name.removesuffix("-cdc-300-us-west-2")
    assert stack_id.startswith(f"arn:aws:cloudformation:us-west-2:123456789012:stack/{stack_name}/")
    assert [(s.logical_id, s.path, s.resources) for s in flat.nested_stacks] == [
        ("Wave", "Wave", ["WaveAlarm", "WaveQueue"])
    ]
    assert {k: (o.nested_stack, o.logical_id) for k, o in flat.origins.items()} == {
        "WaveAlarm": ("Wave", "Alarm"),
        "WaveQueue": ("Wave", "Queue"),
    }


def test_a_nested_stack_inside_a_nested_stack(tmp_path: Path) -> None:
    inner = {
        "Parameters": {"Topic": {"Type": "String"}},
        "Resources": {
            "Sub": {
                "Type": "AWS::SNS::Subscription",
                "Properties": {"TopicArn": {"Ref": "Topic"}, "Protocol": "email"},
            }
        },
        "Outputs": {"SubArn": {"Value": {"Fn::Sub": "${Sub}@${AWS::StackName}"}}},
    }
    middle = _wave(Inner=_stack("inner", {"Topic": {"Ref": "TopicArn"}}))
    middle["Outputs"]["Deep"] = {"Value": {"Fn::GetAtt": ["Inner", "Outputs.SubArn"]}}
    parent = _parent()
    parent["Outputs"]["Deep"] = {"Value": {"Fn::GetAtt": ["Wave", "Outputs.Deep"]}}
    flat = _flatten(_write(tmp_path, parent, {"wave": middle, "inner": inner}))
    resources = flat.template["Resources"]
    assert resources["WaveInnerSub"]["Properties"]["TopicArn"] == {"Ref": "Topic"}
    assert resources["Reader"]["DependsOn"] == ["WaveAlarm", "WaveQueue", "WaveInnerSub"]
    deep = _evaluate(flat.template["Outputs"]["Deep"]["Value"], {("Ref", "WaveInnerSub", ""): "s"})
    assert deep.startswith("s@Parent-Wave-") and "-Inner-" in deep
    assert [(s.logical_id, s.path, s.resources) for s in flat.nested_stacks] == [
        ("Wave", "Wave", ["WaveAlarm", "WaveQueue"]),
        ("WaveInner", "Wave/Inner", ["WaveInnerSub"]),
    ]
    assert flat.origins["WaveInnerSub"].nested_stack == "Wave/Inner"


def test_one_nested_stack_reads_anothers_output_through_the_parent(tmp_path: Path) -> None:
    reader = {
        "Parameters": {"Alarm": {"Type": "String"}},
        "Resources": {
            "Param": {"Type": "AWS::SSM::Parameter", "Properties": {"Value": {"Ref": "Alarm"}}}
        },
    }
    parent = _parent(
        Other=_stack("other", {"Alarm": {"Fn::GetAtt": ["Wave", "Outputs.AlarmName"]}})
    )
    flat = _flatten(_write(tmp_path, parent, {"wave": _wave(), "other": reader}))
    assert flat.template["Resources"]["OtherParam"]["Properties"]["Value"] == {"Ref": "WaveAlarm"}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            lambda p, n: p["Resources"]["Wave"]["Properties"]["Parameters"].update(Extra="x"),
            r"nested stack Wave \(AWS::CloudFormation::Stack\): passes parameter\(s\) its "
            r"template lacks: \['Extra'\]",
        ),
        (
            lambda p, n: p["Resources"]["Wave"]["Properties"]["Parameters"].pop("TopicArn"),
            "parameter TopicArn has no value and no default",
        ),
        (
            lambda p, n: p["Outputs"].update(X={"Value": {"Fn::GetAtt": ["Wave", "Outputs.Nope"]}}),
            r"nested stack Wave \(AWS::CloudFormation::Stack\): its template has no output Nope",
        ),
        (
            lambda p, n: p["Outputs"].update(X={"Value": {"Fn::GetAtt": ["Wave", "StackId"]}}),
            "attribute StackId is not flattened",
        ),
        (
            lambda p, n: n.update(Conditions={"Yes": {"Fn::Equals": ["a", "a"]}}),
            r"Parentwave.nested.template.json has Conditions, which the local deployment",
        ),
        (
            lambda p, n: n["Resources"]["Alarm"].update(Condition="Yes"),
            "has Condition on Alarm",
        ),
        (
            lambda p, n: p["Resources"]["Wave"].update(Condition="Yes"),
            "a conditional nested stack is not flattened",
        ),
        (
            lambda p, n: n["Resources"]["Alarm"]["Properties"].update(X={"Ref": "Nothing"}),
            "Ref Nothing names no resource or parameter of its template",
        ),
        (
            lambda p, n: p["Resources"].update(WaveAlarm=PARENT_TOPIC),
            "its resource's flattened id WaveAlarm is already a logical id of the parent",
        ),
        (
            lambda p, n: p["Resources"]["Wave"]["Properties"].update(
                TemplateURL="https://x/y.json"
            ),
            r"TemplateURL https://x/y.json is no file asset of Parent.assets.json",
        ),
        (
            lambda p, n: p["Resources"]["Wave"]["Properties"].update(
                TemplateURL={"Fn::GetAtt": ["Topic", "Url"]}
            ),
            "TemplateURL cannot be evaluated: GetAtt Topic",
        ),
    ],
)
def test_what_cannot_be_flattened_faithfully_is_named(
    tmp_path: Path, change: Any, message: str
) -> None:
    parent, nested = _parent(), _wave()
    change(parent, nested)
    with pytest.raises(LocalDeployError, match=message) as caught:
        _flatten(_write(tmp_path, parent, {"wave": nested}))
    assert "\n" not in str(caught.value)


def test_a_missing_manifest_or_template_file_is_named(tmp_path: Path) -> None:
    path = _write(tmp_path, _parent(), {"wave": _wave()})
    (tmp_path / "Parentwave.nested.template.json").unlink()
    with pytest.raises(
        LocalDeployError,
        match=r"^nested stack Wave \(AWS::CloudFormation::Stack\): "
        r"template file .*Parentwave.nested.template.json not found$",
    ):
        _flatten(path)
    (tmp_path / "Parent.assets.json").unlink()
    with pytest.raises(
        LocalDeployError,
        match=r"^nested stack Wave .*: cannot read the asset manifest .*Parent.assets.json",
    ):
        _flatten(path)


def test_a_template_that_includes_itself_is_refused(tmp_path: Path) -> None:
    looping = {"Resources": {"Again": _stack("wave")}}
    parent = {"Resources": {"Wave": _stack("wave")}}
    with pytest.raises(LocalDeployError, match=r"^nested stack Wave/Again .* includes itself$"):
        _flatten(_write(tmp_path, parent, {"wave": looping}))


def test_properties_without_local_effect_are_noted(tmp_path: Path) -> None:
    parent = _parent()
    parent["Resources"]["Wave"]["Properties"]["TimeoutInMinutes"] = 5
    nested = _wave()
    nested["Outputs"]["AlarmName"]["Export"] = {"Name": "alarm-name"}
    flat = _flatten(_write(tmp_path, parent, {"wave": nested}))
    assert flat.nested_stacks[0].notes == [
        "not applied locally: TimeoutInMinutes of the nested stack resource",
        "not applied locally: export {'Name': 'alarm-name'} of output AlarmName",
    ]
