"""Updating a local deployment in place: what is remembered of the earlier deployment, what
moto's CloudFormation can update, and the fillers' resources kept, updated or deleted.

A second :func:`~migration.local.deploy.deploy_local` of the same stack with ``previous=`` (the
:class:`~migration.local.deploy.LocalDeployment` of the earlier deploy) updates that stack as
``cdk deploy`` of a changed app would: CloudFormation-managed resources go through
``update_stack`` (moto creates, updates and deletes them); a filler's resource whose logical id
already existed keeps its physical id and attributes (updated in place by an updater below when
its properties changed); a new one is filled; a removed one is deleted by a deleter below, or
listed as left behind. What moto or the tool cannot do is refused in one line, naming the
resource, before anything changes (see docs/local-deployment.md, "Updating a deployment").
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from functools import cache
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from migration.local import mgn_templates
from migration.local.deploy_types import CLOUDFORMATION, TOOL, LocalDeployError
from migration.local.fillers import event_invoke_config, queue_policy, topic_policy
from migration.local.filling import FillContext, Filled
from migration.local.template import depends_on

# Deletion policies under which CloudFormation leaves a removed resource in place.
RETAINING_POLICIES = ("Retain", "RetainExceptOnCreate", "Snapshot")


@dataclass(frozen=True)
class ToolResource:
    """A filler's resource as created (or last updated): kept for the next update."""

    type: str
    props: Any  # the evaluated properties it was created (or updated) with
    filled: Filled


@dataclass(frozen=True)
class Removal:
    """A resource of the earlier template that the updated one no longer has."""

    logical_id: str
    type: str
    created_by: str
    physical_id: str
    outcome: str

    @property
    def left_behind(self) -> bool:
        return self.outcome.startswith(("LEFT BEHIND", "retained"))

    def line(self) -> str:
        return (
            f"  {self.created_by:<14} {self.type:<40} {self.logical_id} -> {self.physical_id}: "
            + self.outcome
        )


@cache
def moto_can_update(resource_type: str) -> bool:
    """Whether moto's CloudFormation updates a changed resource of this type (otherwise its
    ``update_stack`` drops the resource from the stack without a word)."""
    from moto.cloudformation.parsing import get_model_map

    model = get_model_map().get(resource_type)
    method = getattr(model, "update_from_cloudformation_json", None)
    return method is not None and not hasattr(method, "__isabstractmethod__")


@cache
def moto_can_delete(resource_type: str) -> bool:
    """Whether moto's CloudFormation deletes a removed resource of this type."""
    from moto.cloudformation.parsing import get_model_map

    model = get_model_map().get(resource_type)
    method = getattr(model, "delete_from_cloudformation_json", None)
    deletes = method is not None and not hasattr(method, "__isabstractmethod__")
    return deletes or callable(getattr(model, "delete", None))


def refusals(
    old: Mapping[str, Any], new: Mapping[str, Any], kind: Callable[[str], str]
) -> list[str]:
    """What cannot be updated locally, one line per resource (checked before any change)."""
    found = []
    for logical_id in sorted(set(old) & set(new)):
        before, after = old[logical_id], new[logical_id]
        label = f"{logical_id} ({after['Type']})"
        if before["Type"] != after["Type"]:
            found.append(
                f"{logical_id}: type changed from {before['Type']} to {after['Type']} "
                "(CloudFormation refuses this too)"
            )
        elif kind(logical_id) == CLOUDFORMATION:
            if before != after and not moto_can_update(after["Type"]):
                found.append(
                    f"{label}: changed, and moto's CloudFormation cannot update this type "
                    "(its update_stack would drop the resource from the stack)"
                )
        elif (
            before.get("Properties", {}) != after.get("Properties", {})
            and after["Type"] not in TOOL_UPDATERS
        ):
            found.append(
                f"{label}: properties changed, and the local deployment cannot update "
                "this type in place"
            )
    return found


def changed_bodies(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[str]:
    """Resources an ``update_stack`` would modify that moto cannot update (with values)."""
    return [
        f"{logical_id} ({body['Type']}): changed, and moto's CloudFormation cannot update "
        "this type (its update_stack would drop the resource from the stack)"
        for logical_id, body in sorted(new.items())
        if logical_id in old and old[logical_id] != body and not moto_can_update(body["Type"])
    ]


def refuse(stack_name: str, problems: list[str], *, started: bool = False) -> None:
    """One line naming every problem; whether the update had started is said."""
    if problems:
        state = (
            "the update stopped here, earlier layers were applied"
            if started
            else "nothing was changed"
        )
        raise LocalDeployError(
            f"cannot update {stack_name} locally: " + "; ".join(problems) + f" ({state})"
        )


# -- fillers' resources whose properties changed ------------------------------------------------


def _unchanged(old: Mapping[str, Any], new: Mapping[str, Any], keys: Iterable[str]) -> None:
    """Raise ValueError naming the first of ``keys`` whose value differs (a replacement)."""
    for key in keys:
        if old.get(key) != new.get(key):
            raise ValueError(
                f"{key} changed: CloudFormation would replace the resource; the local "
                "deployment does not (deploy into a fresh emulator)"
            )


def update_alarm(ctx: FillContext, filled: Filled, old: Mapping[str, Any], new: Any) -> Filled:
    """PutMetricAlarm under the same name replaces the alarm's whole definition."""
    _unchanged(old, new, ["AlarmName"])
    kwargs = {key: value for key, value in new.items() if key != "AlarmName"}
    ctx.client("cloudwatch").put_metric_alarm(AlarmName=filled.ref, **kwargs)
    return filled


def update_policy(ctx: FillContext, filled: Filled, old: Mapping[str, Any], new: Any) -> Filled:
    """A topic or queue policy: the policy written again to the same topics or queues."""
    _unchanged(old, new, ["Topics", "Queues"])
    setter = topic_policy if "Topics" in new else queue_policy
    setter(ctx, new)
    return filled


def update_invoke_config(
    ctx: FillContext, filled: Filled, old: Mapping[str, Any], new: Any
) -> Filled:
    """PutFunctionEventInvokeConfig replaces the configuration."""
    _unchanged(old, new, ["FunctionName", "Qualifier"])
    event_invoke_config(ctx, new)
    return filled


_LAMBDA_CODE_KEYS = ("Code", "Architectures")
_LAMBDA_OWN_KEYS = ("FunctionName", "Tags", "PackageType", "ReservedConcurrentExecutions")
_LAMBDA_CONFIG_NAMES = {"KmsKeyArn": "KMSKeyArn"}


def update_function(ctx: FillContext, filled: Filled, old: Mapping[str, Any], new: Any) -> Filled:
    """UpdateFunctionCode / UpdateFunctionConfiguration / concurrency, as CloudFormation does."""
    _unchanged(old, new, ["FunctionName", "PackageType", "Tags"])
    client = ctx.client("lambda")
    name = filled.ref
    if any(old.get(key) != new.get(key) for key in _LAMBDA_CODE_KEYS):
        code = dict(new["Code"])
        client.update_function_code(
            FunctionName=name,
            **code,
            **({"Architectures": new["Architectures"]} if "Architectures" in new else {}),
        )
    config_keys = set(old) | set(new)
    config_keys -= {*_LAMBDA_CODE_KEYS, *_LAMBDA_OWN_KEYS}
    if any(old.get(key) != new.get(key) for key in config_keys):
        client.update_function_configuration(
            FunctionName=name,
            **{_LAMBDA_CONFIG_NAMES.get(k, k): v for k, v in new.items() if k in config_keys},
        )
    if old.get("ReservedConcurrentExecutions") != new.get("ReservedConcurrentExecutions"):
        if "ReservedConcurrentExecutions" in new:
            client.put_function_concurrency(
                FunctionName=name,
                ReservedConcurrentExecutions=int(new["ReservedConcurrentExecutions"]),
            )
        else:
            client.delete_function_concurrency(FunctionName=name)
    return filled


def update_launch_template(
    ctx: FillContext, filled: Filled, old: Mapping[str, Any], new: Any
) -> Filled:
    """An MGN launch configuration template: its recorded properties replaced, the same ID
    (CloudFormation updates it in place; its Tags are create-only)."""
    _unchanged(old, new, ["Tags"])
    return mgn_templates.launch_configuration_template(ctx, new)


Updater = Callable[[FillContext, Filled, Mapping[str, Any], Any], Filled]

# Filler types the local deployment can update in place (any other change is refused).
TOOL_UPDATERS: dict[str, Updater] = {
    "AWS::CloudWatch::Alarm": update_alarm,
    "AWS::SNS::TopicPolicy": update_policy,
    "AWS::SQS::QueuePolicy": update_policy,
    "AWS::Lambda::EventInvokeConfig": update_invoke_config,
    "AWS::Lambda::Function": update_function,
    mgn_templates.TYPE: update_launch_template,
}


def update_tool_resource(ctx: FillContext, kept: ToolResource, props: Any) -> ToolResource:
    """The kept resource, updated in place when its evaluated properties changed."""
    if props == kept.props:
        return kept
    updater = TOOL_UPDATERS.get(kept.type)
    if updater is None:
        raise ValueError(
            "its evaluated properties changed and the local deployment cannot update this type "
            "in place: "
            + ", ".join(
                sorted(k for k in set(props) | set(kept.props) if props.get(k) != kept.props.get(k))
            )
        )
    filled = updater(ctx, kept.filled, kept.props, props)
    return ToolResource(kept.type, props, replace(filled, notes=[*filled.notes]))


# -- fillers' resources removed from the template ----------------------------------------------


def _delete_alarm(client: Callable[[str], Any], kept: ToolResource) -> str:
    client("cloudwatch").delete_alarms(AlarmNames=[kept.filled.ref])
    return "cloudwatch:DeleteAlarms"


def _delete_dms_task(client: Callable[[str], Any], kept: ToolResource) -> str:
    client("dms").delete_replication_task(ReplicationTaskArn=kept.filled.ref)
    return "dms:DeleteReplicationTask"


def _delete_dms_endpoint(client: Callable[[str], Any], kept: ToolResource) -> str:
    client("dms").delete_endpoint(EndpointArn=kept.filled.ref)
    return "dms:DeleteEndpoint"


def _delete_function(client: Callable[[str], Any], kept: ToolResource) -> str:
    client("lambda").delete_function(FunctionName=kept.filled.ref)
    return "lambda:DeleteFunction"


def _delete_invoke_config(client: Callable[[str], Any], kept: ToolResource) -> str:
    props = kept.props
    client("lambda").delete_function_event_invoke_config(
        FunctionName=props["FunctionName"], Qualifier=props.get("Qualifier", "$LATEST")
    )
    return "lambda:DeleteFunctionEventInvokeConfig"


def _delete_log_group(client: Callable[[str], Any], kept: ToolResource) -> str:
    client("logs").delete_log_group(logGroupName=kept.filled.ref)
    return "logs:DeleteLogGroup"


def _delete_document(client: Callable[[str], Any], kept: ToolResource) -> str:
    client("ssm").delete_document(Name=kept.filled.ref)
    return "ssm:DeleteDocument"


def _forget_launch_template(_client: Callable[[str], Any], _kept: ToolResource) -> str:
    return "nothing held on the emulator: moto has no MGN; its recorded properties dropped"


Deleter = Callable[[Callable[[str], Any], ToolResource], str]

TOOL_DELETERS: dict[str, Deleter] = {
    "AWS::CloudWatch::Alarm": _delete_alarm,
    "AWS::DMS::ReplicationTask": _delete_dms_task,
    "AWS::DMS::Endpoint": _delete_dms_endpoint,
    "AWS::Lambda::Function": _delete_function,
    "AWS::Lambda::EventInvokeConfig": _delete_invoke_config,
    "AWS::Logs::LogGroup": _delete_log_group,
    "AWS::SSM::Document": _delete_document,
    mgn_templates.TYPE: _forget_launch_template,
}


def removal_order(removed: Iterable[str], resources: Mapping[str, Any]) -> list[str]:
    """Dependents first (a DMS task before its endpoints), as CloudFormation deletes."""
    pending, ordered = sorted(removed), list[str]()
    while pending:
        # Ready: no other pending resource depends on it.
        ready = [
            lid
            for lid in pending
            if not any(lid in depends_on(resources[o]) for o in pending if o != lid)
        ] or pending[:1]
        ordered += ready
        pending = [lid for lid in pending if lid not in ready]
    return ordered


def remove_tool_resource(
    client: Callable[[str], Any], logical_id: str, resource: Mapping[str, Any], kept: ToolResource
) -> Removal:
    """Delete what a filler created for a resource the template no longer has, if it can."""

    def removal(outcome: str) -> Removal:
        return Removal(logical_id, kept.type, TOOL, kept.filled.ref, outcome)

    policy = resource.get("DeletionPolicy", "Delete")
    if policy in RETAINING_POLICIES:
        return removal(f"retained (DeletionPolicy {policy}), as CloudFormation would")
    deleter = TOOL_DELETERS.get(kept.type)
    if deleter is None:
        return removal("LEFT BEHIND: the local deployment cannot delete this type")
    try:
        api = deleter(client, kept)
    except (ClientError, BotoCoreError, KeyError) as error:
        return removal(f"LEFT BEHIND: deleting it failed: {error}")
    return removal(f"deleted by the local deployment ({api})")


def remove_cfn_resource(logical_id: str, resource: Mapping[str, Any], physical_id: str) -> Removal:
    """What moto's CloudFormation did with a resource the template no longer has."""
    kind = resource["Type"]
    policy = resource.get("DeletionPolicy", "Delete")
    if not moto_can_delete(kind):
        outcome = "LEFT BEHIND: moto's CloudFormation removes it from the stack without deleting it"
    elif policy in RETAINING_POLICIES:
        outcome = f"deleted by moto's CloudFormation despite DeletionPolicy {policy}"
    else:
        outcome = "deleted by CloudFormation"
    return Removal(logical_id, kind, CLOUDFORMATION, physical_id, outcome)
