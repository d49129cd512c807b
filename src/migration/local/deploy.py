"""Deploy the synthesized template to moto's server and write its flat outputs file.

The file defaults to ``cfn-outputs/local/flat-outputs.json``, apart from the one ``make deploy``
writes for a real account (``cfn-outputs/flat-outputs.json``).

moto's CloudFormation skips some resource types silently, drops some properties and cannot
evaluate references to what it skipped. The local deployment therefore works in layers: the
resources moto's CloudFormation handles correctly are created through ``create_stack`` /
``update_stack`` of the same stack, the others through the service APIs (``fillers``) with
their properties evaluated from the stack's values, alternating as the references require.
Afterwards ``verify`` checks every resource of the original template and the properties that
matter; anything missing raises :class:`LocalDeployError` naming it. The synthesized file is
never changed; only copies are sent to moto. CDK nested stacks are flattened into the deployed
template first (``nested``), so every one of their resources goes through the same layers,
fillers and checks.
"""

from __future__ import annotations

import contextlib
import copy
import hashlib
import io
import json
import os
import zipfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError, WaiterError

from migration.local.deploy_types import (
    CLOUDFORMATION,
    TOOL,
    LocalDeployError,
    ResourceRecord,
)
from migration.local.emulator import DUMMY_CREDENTIALS
from migration.local.fillers import FILLERS, FillContext
from migration.local.fixes import FIXES
from migration.local.nested import NestedStack, flatten
from migration.local.template import (
    Evaluator,
    Reference,
    UnresolvedError,
    depends_on,
    references,
    substitute,
)
from migration.local.update import (
    Removal,
    ToolResource,
    changed_bodies,
    refusals,
    refuse,
    removal_order,
    remove_cfn_resource,
    remove_tool_resource,
    update_tool_resource,
)
from migration.local.verify import verify
from migration.outputs import LOCAL_OUTPUTS_PATH

BOOTSTRAP_PARAMETER = "/cdk-bootstrap/hnb659fds/version"
# A current bootstrap stack version (CDK's check requires >= 6).
BOOTSTRAP_VERSION = "30"
SYNTHETIC_OUTPUT_PREFIX = "LocalDeployRef"
# How long a create_stack or update_stack on the emulator may take, polled this often.
STACK_WAIT_TIMEOUT_S = 300
STACK_WAIT_DELAY_S = 1


@dataclass
class LocalDeployment:
    """Result of :func:`deploy_local`: outputs, every resource and how it was created/checked."""

    stack_name: str
    region: str
    endpoint_url: str
    outputs_path: Path
    outputs: dict[str, str]
    resources: dict[str, ResourceRecord]
    verified: dict[str, list[str]] = field(default_factory=dict)
    nested_stacks: list[NestedStack] = field(default_factory=list)
    # What the next update of this stack needs (deploy_local(..., previous=this)): the deployed
    # (flattened) template and what each filler created, with the properties it was given.
    template: dict[str, Any] = field(default_factory=dict)
    tool_resources: dict[str, ToolResource] = field(default_factory=dict)
    # Set by an update: the earlier template's resources this one no longer has.
    updated: bool = False
    removed: list[Removal] = field(default_factory=list)

    def by(self, creator: str) -> list[ResourceRecord]:
        return [r for r in self.resources.values() if r.created_by == creator]

    def summary(self) -> str:
        cfn, tool = self.by(CLOUDFORMATION), self.by(TOOL)
        nested = [r for r in self.resources.values() if r.nested_stack]
        lines = [
            f"stack {self.stack_name} at {self.endpoint_url} ({self.region}): "
            f"{len(self.resources)} resources"
            + (
                f" ({len(nested)} from {len(self.nested_stacks)} nested stacks)"
                if self.nested_stacks
                else ""
            )
            + f", {len(cfn)} by CloudFormation, {len(tool)} by the local deployment"
            + (f" (updated in place, {len(self.removed)} removed)" if self.updated else ""),
        ]
        for record in sorted(self.resources.values(), key=lambda r: r.logical_id):
            checks = self.verified.get(record.logical_id, [])
            origin = [record.origin] if record.origin else []
            detail = "; ".join([*origin, *record.notes, *checks])
            lines.append(
                f"  {record.created_by:<14} {record.type:<40} {record.logical_id} "
                f"-> {record.physical_id}" + (f"  [{detail}]" if detail else "")
            )
        if self.nested_stacks:
            lines.append(f"nested stacks ({len(self.nested_stacks)}), flattened into the stack:")
        for stack in self.nested_stacks:
            notes = "".join(f"; {note}" for note in stack.notes)
            lines.append(
                f"  {stack.path} <- {stack.template_file}: {len(stack.resources)} resources{notes}"
            )
        if self.removed:
            left = sum(r.left_behind for r in self.removed)
            lines.append(
                f"removed by the update ({len(self.removed)}, {left} left behind on the emulator):"
            )
            lines += [r.line() for r in sorted(self.removed, key=lambda r: r.logical_id)]
        lines.append(f"outputs ({len(self.outputs)}) written to {self.outputs_path}")
        return "\n".join(lines)


@cache
def moto_cloudformation_types() -> frozenset[str]:
    """Resource types moto's CloudFormation can create (the local deployment fills the rest)."""
    from moto.cloudformation.parsing import get_model_map

    return frozenset(get_model_map())


def _reference_key(ref: Reference) -> str:
    digest = hashlib.sha1("|".join(ref).encode(), usedforsecurity=False).hexdigest()[:16]
    return SYNTHETIC_OUTPUT_PREFIX + digest


class _Deployment:
    def __init__(
        self,
        template: dict[str, Any],
        template_path: Path,
        *,
        client: Callable[[str], Any],
        stack_name: str,
        region: str,
        previous: LocalDeployment | None = None,
    ) -> None:
        self.original = template
        self.template_path = template_path
        self.client = client
        self.stack_name = stack_name
        self.region = region
        self.resources: dict[str, Any] = template.get("Resources", {})
        self.values: dict[Reference, Any] = {}
        self.records: dict[str, ResourceRecord] = {}
        self.created_stack = previous is not None
        self.account = ""
        self.previous = previous
        # What each filler created (or kept) in this deployment, for the next update.
        self.tool_state: dict[str, ToolResource] = {}
        # The resources as last sent to moto: the stack's template (an update starts from it).
        self.sent: dict[str, Any] = {}
        self.removed: list[Removal] = []

    # -- planning ---------------------------------------------------------------------------

    def kind(self, logical_id: str) -> str:
        return TOOL if self.resources[logical_id]["Type"] in FILLERS else CLOUDFORMATION

    def check_types(self) -> None:
        supported = moto_cloudformation_types()
        unsupported: dict[str, list[str]] = {}
        for logical_id, resource in self.resources.items():
            kind = resource["Type"]
            if kind not in FILLERS and kind not in supported:
                unsupported.setdefault(kind, []).append(logical_id)
        if unsupported:
            names = "; ".join(f"{k}: {', '.join(v)}" for k, v in sorted(unsupported.items()))
            raise LocalDeployError(
                f"no local support for resource type(s) moto's CloudFormation would skip: {names}"
            )
        for logical_id, resource in self.resources.items():
            missing = sorted(d for d in depends_on(resource) if d not in self.resources)
            if missing:
                raise LocalDeployError(f"{logical_id} references unknown resource(s) {missing}")
        for key, output in self.original.get("Outputs", {}).items():
            missing = sorted(
                {ref[1] for ref in references(output.get("Value"))} - set(self.resources)
            )
            if missing:
                raise LocalDeployError(f"output {key} references unknown resource(s) {missing}")

    def layers(self) -> list[list[str]]:
        """Even layers: CloudFormation; odd layers: the fillers. A resource goes after its deps."""
        layer: dict[str, int] = {}
        visiting: set[str] = set()

        def place(logical_id: str) -> int:
            if logical_id in layer:
                return layer[logical_id]
            if logical_id in visiting:
                raise LocalDeployError(f"circular dependency through {logical_id}")
            visiting.add(logical_id)
            parity = 1 if self.kind(logical_id) == TOOL else 0
            needed = parity
            for dep in depends_on(self.resources[logical_id]):
                dep_layer = place(dep)
                needed = max(
                    needed, dep_layer if self.kind(dep) == self.kind(logical_id) else dep_layer + 1
                )
            if needed % 2 != parity:
                needed += 1
            visiting.discard(logical_id)
            layer[logical_id] = needed
            return needed

        for logical_id in self.resources:
            place(logical_id)
        result: list[list[str]] = [[] for _ in range(max(layer.values(), default=0) + 1)]
        for logical_id in self.resources:  # template order within a layer
            result[layer[logical_id]].append(logical_id)
        return result

    # -- values -----------------------------------------------------------------------------

    def pseudo(self) -> dict[str, str]:
        return {
            "AWS::AccountId": self.account,
            "AWS::Region": self.region,
            "AWS::Partition": "aws",
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::StackName": self.stack_name,
            "AWS::NoValue": "",
        }

    def lookup(self, ref: Reference) -> Any:
        if ref not in self.values:
            what = ref[1] if ref[0] == "Ref" else f"{ref[1]}.{ref[2]}"
            raise UnresolvedError(f"no value for {ref[0]} {what}")
        return self.values[ref]

    def evaluate(self, expr: Any) -> Any:
        return Evaluator(self.pseudo(), self.lookup)(expr)

    def known_tool_value(self, ref: Reference) -> tuple[bool, Any]:
        if self.kind(ref[1]) == TOOL and ref in self.values:
            return True, self.values[ref]
        return False, None

    # -- bootstrap --------------------------------------------------------------------------

    def bootstrap(self) -> None:
        """What ``cdk bootstrap`` provides: the version parameter and the asset bucket."""
        self.account = self.client("sts").get_caller_identity()["Account"]
        parameter = self.original.get("Parameters", {}).get("BootstrapVersion", {})
        name = parameter.get("Default", BOOTSTRAP_PARAMETER)
        if str(parameter.get("Type", "")).startswith("AWS::SSM::Parameter"):
            self.client("ssm").put_parameter(
                Name=name, Value=BOOTSTRAP_VERSION, Type="String", Overwrite=True
            )
        self.publish_assets()

    def publish_assets(self) -> None:
        name = self.template_path.name.removesuffix(".template.json") + ".assets.json"
        manifest_path = self.template_path.with_name(name)
        if not manifest_path.exists():
            return
        manifest = json.loads(manifest_path.read_text())
        s3 = self.client("s3")
        for asset in manifest.get("files", {}).values():
            source = manifest_path.parent / asset["source"]["path"]
            body = _zip_directory(source) if asset["source"].get("packaging") == "zip" else None
            for destination in asset.get("destinations", {}).values():
                bucket = self._placeholders(destination["bucketName"])
                key = self._placeholders(destination["objectKey"])
                _ensure_bucket(s3, bucket, self.region)
                # As cdk-assets: an asset already published (its key is its hash) is not sent
                # again; a zip made again from another cdk.out differs in its timestamps.
                if _object_exists(s3, bucket, key):
                    continue
                data = body if body is not None else source.read_bytes()
                s3.put_object(Bucket=bucket, Key=key, Body=data)

    def _placeholders(self, text: str) -> str:
        return (
            text.replace("${AWS::AccountId}", self.account)
            .replace("${AWS::Region}", self.region)
            .replace("${AWS::Partition}", "aws")
        )

    # -- CloudFormation phases --------------------------------------------------------------

    def cfn_resource(self, logical_id: str) -> dict[str, Any]:
        """The resource as sent to moto: tool values substituted, known moto bugs avoided."""
        resource = copy.deepcopy(self.resources[logical_id])
        resource = substitute(resource, self.known_tool_value)
        # moto adds an empty Properties to its stored copy of a resource without any, so the same
        # resource sent again in the next layer's update_stack would differ from it and be
        # replaced (a topic recreated under a new ARN, the alarms naming the old one).
        resource.setdefault("Properties", {})
        depends = resource.get("DependsOn")
        if depends is not None:
            kept = [
                d
                for d in ([depends] if isinstance(depends, str) else depends)
                if self.kind(d) != TOOL
            ]
            if kept:
                resource["DependsOn"] = kept
            else:
                resource.pop("DependsOn")
        props = resource.get("Properties", {})
        if resource["Type"] == "AWS::KMS::Key":
            # moto's KMS model reads tags as TagKey/TagValue and fails on CloudFormation's
            # Key/Value (KeyError, which surfaces as "GetAtt references undefined resource").
            props.pop("Tags", None)
            if isinstance(props.get("KeyPolicy"), dict):
                # moto stores the policy object as given and its KMS API then fails reading it
                # as JSON (HTTP 500 on DescribeKey): send it evaluated, as a JSON string.
                try:
                    props["KeyPolicy"] = json.dumps(self.evaluate(props["KeyPolicy"]))
                except UnresolvedError as error:
                    raise LocalDeployError(
                        f"{logical_id} (AWS::KMS::Key): KeyPolicy cannot be evaluated: {error}"
                    ) from None
        return resource

    def cfn_template(
        self, logical_ids: list[str], outputs: Mapping[str, Any], *, final: bool = False
    ) -> dict[str, Any]:
        """The stack's template for one layer: ``logical_ids`` as they are now; in an update,
        before the final layer, also the stack's other resources as they were (CloudFormation
        deletes removed resources at the end of an update; moto would delete them at once)."""
        body: dict[str, Any] = {
            key: copy.deepcopy(value)
            for key, value in self.original.items()
            if key not in ("Resources", "Outputs")
        }
        included = set(logical_ids)
        kept = {} if final else {k: v for k, v in self.sent.items() if k not in included}
        body["Resources"] = {
            **kept,
            **{logical_id: self.cfn_resource(logical_id) for logical_id in logical_ids},
        }
        wanted = set()
        for resource in self.resources.values():
            wanted |= references(resource.get("Properties", {}))
        for output in self.original.get("Outputs", {}).values():
            wanted |= references(output.get("Value"))
        synthetic = {
            _reference_key(ref): {
                "Value": {"Ref": ref[1]} if ref[0] == "Ref" else {"Fn::GetAtt": [ref[1], ref[2]]}
            }
            for ref in sorted(wanted)
            if ref[1] in included and self.kind(ref[1]) == CLOUDFORMATION
        }
        body["Outputs"] = {**synthetic, **outputs}
        return body

    def submit(self, body: dict[str, Any]) -> dict[str, str]:
        cloudformation = self.client("cloudformation")
        kwargs = {
            "StackName": self.stack_name,
            "TemplateBody": json.dumps(body),
            "Capabilities": ["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM", "CAPABILITY_AUTO_EXPAND"],
        }
        action = "update_stack" if self.created_stack else "create_stack"
        refuse(self.stack_name, changed_bodies(self.sent, body["Resources"]), started=True)
        try:
            getattr(cloudformation, action)(**kwargs)
        except (ClientError, BotoCoreError) as error:
            hint = " (to update it, pass its earlier deployment as previous=)"
            hint = hint if "AlreadyExists" in str(error) else ""
            raise LocalDeployError(
                f"{action} of {self.stack_name} failed: {error}{hint}{self.events_text()}"
            ) from None
        self.created_stack = True
        self.sent = copy.deepcopy(body["Resources"])
        stack = self.wait(action)
        return {o["OutputKey"]: o.get("OutputValue", "") for o in stack.get("Outputs", [])}

    def wait(self, action: str) -> dict[str, Any]:
        """Wait for ``action`` (``create_stack`` or ``update_stack``) to end; the stack."""
        cloudformation = self.client("cloudformation")
        waiter = "stack_update_complete" if action == "update_stack" else "stack_create_complete"
        # A failure or timeout ends the wait; the stack's status below says which.
        with contextlib.suppress(WaiterError):
            cloudformation.get_waiter(waiter).wait(
                StackName=self.stack_name,
                WaiterConfig={
                    "Delay": STACK_WAIT_DELAY_S,
                    "MaxAttempts": STACK_WAIT_TIMEOUT_S // STACK_WAIT_DELAY_S,
                },
            )
        stack = cloudformation.describe_stacks(StackName=self.stack_name)["Stacks"][0]
        status = stack["StackStatus"]
        if status.endswith("_IN_PROGRESS"):
            raise LocalDeployError(
                f"{self.stack_name} still {status} after {STACK_WAIT_TIMEOUT_S} s"
            )
        if status not in ("CREATE_COMPLETE", "UPDATE_COMPLETE"):
            raise LocalDeployError(
                f"{self.stack_name}: {status} {stack.get('StackStatusReason', '')}"
                + self.events_text()
            )
        return dict(stack)

    def events_text(self) -> str:
        try:
            events = self.client("cloudformation").describe_stack_events(StackName=self.stack_name)
        except (ClientError, BotoCoreError):
            return ""
        reasons = [
            f"\n  {e['LogicalResourceId']}: {e['ResourceStatus']} "
            f"{e.get('ResourceStatusReason', '')}"
            for e in events.get("StackEvents", [])
            if "FAILED" in e.get("ResourceStatus", "")
        ]
        return "".join(reasons)

    def record_outputs(self, outputs: Mapping[str, str]) -> None:
        for resource in [*self.resources.values(), *self.original.get("Outputs", {}).values()]:
            for ref in references(resource.get("Properties", resource.get("Value"))):
                key = _reference_key(ref)
                if key in outputs and outputs[key] not in ("", "None"):
                    value: Any = outputs[key]
                    if ref[2] in ("NameServers",):
                        value = value.split(",")
                    self.values[ref] = value

    # -- fillers ----------------------------------------------------------------------------

    def fill(self, logical_id: str) -> None:
        resource = self.resources[logical_id]
        filler, _reason = FILLERS[resource["Type"]]
        try:
            props = self.evaluate(resource.get("Properties", {}))
        except UnresolvedError as error:
            raise LocalDeployError(
                f"{logical_id} ({resource['Type']}): cannot evaluate: {error}"
            ) from None
        ctx = FillContext(self.stack_name, logical_id, self.region, self.account, self.client)
        kept = self.previous.tool_resources.get(logical_id) if self.previous else None
        try:
            if kept is None:
                state = ToolResource(resource["Type"], props, filler(ctx, props))
                notes = []
            else:
                state = update_tool_resource(ctx, kept, props)
                notes = [
                    "kept from the earlier deployment"
                    if state is kept
                    else "updated in place from the earlier deployment"
                ]
        except (ClientError, BotoCoreError, KeyError, ValueError) as error:
            action = "created" if kept is None else "updated"
            raise LocalDeployError(
                f"{logical_id} ({resource['Type']}): could not be {action} locally: {error}"
            ) from None
        filled = state.filled
        self.tool_state[logical_id] = state
        self.values[("Ref", logical_id, "")] = filled.ref
        for name, value in filled.attributes.items():
            self.values[("GetAtt", logical_id, name)] = value
        self.records[logical_id] = ResourceRecord(
            logical_id, resource["Type"], TOOL, filled.ref, [*filled.notes, *notes]
        )

    # -- run --------------------------------------------------------------------------------

    def run(self) -> dict[str, str]:
        self.check_types()
        if self.previous is not None:
            self.start_update(self.previous)
        self.bootstrap()
        cfn_ids: list[str] = []
        for index, layer in enumerate(self.layers()):
            if index % 2 == 0:
                cfn_ids += layer
                if layer or not self.created_stack:
                    self.record_outputs(self.submit(self.cfn_template(cfn_ids, {})))
            else:
                for logical_id in _tool_order(layer, self.resources):
                    self.fill(logical_id)
        template_outputs = {
            key: substitute(copy.deepcopy(value), self.known_tool_value)
            for key, value in self.original.get("Outputs", {}).items()
        }
        final = self.submit(self.cfn_template(cfn_ids, template_outputs, final=True))
        self.record_outputs(final)
        self.record_physical_ids(cfn_ids)
        if self.previous is not None:
            self.remove(self.previous)
        return self.outputs(final)

    # -- update -----------------------------------------------------------------------------

    def start_update(self, previous: LocalDeployment) -> None:
        """Refuse (changing nothing) what cannot be updated; read the stack's template."""
        old = previous.template.get("Resources", {})
        problems = refusals(old, self.resources, self.kind)
        unknown = sorted(
            lid
            for lid, resource in old.items()
            if resource["Type"] in FILLERS and lid not in previous.tool_resources
        )
        if unknown:
            problems.append(f"the earlier deployment does not say what was created for {unknown}")
        refuse(self.stack_name, problems)
        try:
            body = self.client("cloudformation").get_template(StackName=self.stack_name)
        except (ClientError, BotoCoreError) as error:
            raise LocalDeployError(
                f"cannot update {self.stack_name} locally: the stack cannot be read: {error}"
            ) from None
        template = body["TemplateBody"]
        self.sent = dict(
            (json.loads(template) if isinstance(template, str) else template)["Resources"]
        )

    def remove(self, previous: LocalDeployment) -> None:
        """After the final update_stack: what the template no longer has (deleted if possible)."""
        old = previous.template.get("Resources", {})
        gone = [lid for lid in old if lid not in self.resources]
        for logical_id in removal_order(gone, old):
            kept = previous.tool_resources.get(logical_id)
            if kept is not None:
                removal = remove_tool_resource(self.client, logical_id, old[logical_id], kept)
            else:
                record = previous.resources.get(logical_id)
                physical_id = record.physical_id if record else ""
                removal = remove_cfn_resource(logical_id, old[logical_id], physical_id)
            self.removed.append(removal)

    def record_physical_ids(self, cfn_ids: list[str]) -> None:
        cloudformation = self.client("cloudformation")
        physical = {
            summary["LogicalResourceId"]: summary.get("PhysicalResourceId", "")
            for page in cloudformation.get_paginator("list_stack_resources").paginate(
                StackName=self.stack_name
            )
            for summary in page["StackResourceSummaries"]
        }
        for logical_id in cfn_ids:
            self.records[logical_id] = ResourceRecord(
                logical_id,
                self.resources[logical_id]["Type"],
                CLOUDFORMATION,
                physical.get(logical_id, ""),
            )

    def outputs(self, stack_outputs: Mapping[str, str]) -> dict[str, str]:
        """The template's outputs as the stack reports them, cross-checked by evaluation."""
        result: dict[str, str] = {}
        problems = []
        for key, output in self.original.get("Outputs", {}).items():
            value = stack_outputs.get(key)
            try:
                expected = str(self.evaluate(output.get("Value")))
            except UnresolvedError as error:
                problems.append(f"output {key}: cannot evaluate ({error})")
                continue
            if value in (None, "", "None"):
                problems.append(f"output {key}: missing from the stack (expected {expected!r})")
            elif value != expected:
                problems.append(
                    f"output {key}: stack has {value!r}, template evaluates to {expected!r}"
                )
            else:
                result[key] = value
        if problems:
            raise LocalDeployError("outputs do not match the template:\n  " + "\n  ".join(problems))
        return result


def _tool_order(layer: list[str], resources: Mapping[str, Any]) -> list[str]:
    """Topological order of one filler layer (fillers may depend on each other)."""
    pending, ordered = list(layer), list[str]()
    members = set(layer)
    while pending:
        ready = [
            lid for lid in pending if not (depends_on(resources[lid]) & members) - set(ordered)
        ]
        if not ready:
            raise LocalDeployError(f"circular dependency among {sorted(pending)}")
        ordered += ready
        pending = [lid for lid in pending if lid not in ready]
    return ordered


def _zip_directory(path: Path) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for file in sorted(p for p in path.rglob("*") if p.is_file()):
            archive.write(file, file.relative_to(path).as_posix())
    return buffer.getvalue()


def _object_exists(s3: Any, bucket: str, key: str) -> bool:
    try:
        s3.head_object(Bucket=bucket, Key=key)
    except ClientError:
        return False
    return True


def _ensure_bucket(s3: Any, bucket: str, region: str) -> None:
    try:
        s3.head_bucket(Bucket=bucket)
        return
    except ClientError:
        pass
    if region == "us-east-1":
        s3.create_bucket(Bucket=bucket)
    else:
        s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": region})


def client_factory(endpoint_url: str, region: str) -> Callable[[str], Any]:
    """boto3 clients for the emulator: dummy credentials, the given region and endpoint."""
    session = boto3.Session(region_name=region, **DUMMY_CREDENTIALS)
    clients: dict[str, Any] = {}

    def client(service: str) -> Any:
        if service not in clients:
            clients[service] = session.client(service, endpoint_url=endpoint_url)
        return clients[service]

    return client


def deploy_local(
    template_path: str | os.PathLike[str],
    *,
    endpoint_url: str,
    stack_name: str,
    region: str = "us-east-1",
    outputs_path: str | os.PathLike[str] = LOCAL_OUTPUTS_PATH,
    previous: LocalDeployment | None = None,
) -> LocalDeployment:
    """Create the template on the emulator, verify it, write the flat outputs file.

    With ``previous`` (what the earlier ``deploy_local`` of this stack returned) the stack is
    updated instead, as ``cdk deploy`` of a changed app would (docs/local-deployment.md).
    """
    path = Path(template_path)
    if previous is not None and (previous.stack_name, previous.endpoint_url, previous.region) != (
        stack_name,
        endpoint_url,
        region,
    ):
        raise LocalDeployError(
            f"cannot update {stack_name} locally: the earlier deployment is of "
            f"{previous.stack_name} at {previous.endpoint_url} ({previous.region})"
        )
    flat = flatten(json.loads(path.read_text(encoding="utf-8")), path)
    client = client_factory(endpoint_url, region)
    deployment = _Deployment(
        flat.template,
        path,
        client=client,
        stack_name=stack_name,
        region=region,
        previous=previous,
    )
    outputs = deployment.run()
    for logical_id, origin in flat.origins.items():
        if logical_id in deployment.records:
            deployment.records[logical_id].nested_stack = origin.nested_stack
            deployment.records[logical_id].nested_logical_id = origin.logical_id
    for record in deployment.records.values():
        resource = deployment.resources[record.logical_id]
        record.notes.extend(fix_dropped_properties(deployment, record, resource))
    verified = verify(deployment)
    target = Path(outputs_path)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(outputs, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return LocalDeployment(
        stack_name=stack_name,
        region=region,
        endpoint_url=endpoint_url,
        outputs_path=target,
        outputs=outputs,
        resources=deployment.records,
        verified=verified,
        nested_stacks=flat.nested_stacks,
        template=flat.template,
        tool_resources=deployment.tool_state,
        updated=previous is not None,
        removed=deployment.removed,
    )


def fix_dropped_properties(
    deployment: _Deployment, record: ResourceRecord, resource: Mapping[str, Any]
) -> list[str]:
    """Set what moto's CloudFormation accepted but dropped; returns notes for the summary."""
    fixer = FIXES.get(record.type)
    if fixer is None or record.created_by != CLOUDFORMATION:
        return []
    try:
        props = deployment.evaluate(resource.get("Properties", {}))
    except UnresolvedError as error:
        raise LocalDeployError(
            f"{record.logical_id} ({record.type}): cannot evaluate: {error}"
        ) from None
    try:
        return fixer(deployment.client, record.physical_id, props)
    except (ClientError, BotoCoreError, KeyError, ValueError) as error:
        raise LocalDeployError(
            f"{record.logical_id} ({record.type}): could not restore what moto dropped: {error}"
        ) from None
