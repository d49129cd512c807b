"""CDK nested stacks flattened into the parent template before the local deployment.

A CDK ``NestedStack`` is an ``AWS::CloudFormation::Stack`` resource of its parent whose
``TemplateURL`` names a file asset of the root stack's asset manifest (``<Stack>.assets.json``
next to the parent template: the nested template, ``<...>.nested.template.json``), whose
``Parameters`` pass the parent's values, and whose outputs the parent reads as
``Fn::GetAtt: [<resource>, "Outputs.<name>"]``. moto's CloudFormation creates a nested stack
but skips the types it does not support inside it, without a word, loses the parent's outputs
when one reads ``Outputs.<name>``, and recreates the nested stack on every ``update_stack``
(see docs/local-deployment.md). The local deployment therefore deploys one flat template:

- each nested template (its own nested stacks flattened first, recursively) is inlined into its
  parent, its logical ids prefixed with the logical id of its stack resource;
- a ``Ref`` to one of its parameters becomes the parent's expression for it (or the default);
  ``AWS::StackName`` and ``AWS::StackId`` become the nested stack's own (``<parent
  name>-<resource id>-<suffix>``, as CloudFormation names nested stacks);
- in the parent, ``Fn::GetAtt [<resource>, Outputs.X]`` becomes the nested output's expression,
  ``Ref <resource>`` the nested stack's id and ``DependsOn: <resource>`` every resource inlined
  from it; the stack resource's own ``DependsOn`` goes to each of them.

The synthesized files are never changed. Anything that cannot be flattened faithfully (a missing
template file, an unknown parameter, a nested template with conditions or mappings, ...) raises
:class:`~migration.local.deploy_types.LocalDeployError` naming the nested stack resource.
"""

from __future__ import annotations

import copy
import hashlib
import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from migration.local.deploy_types import LocalDeployError
from migration.local.template import (
    PSEUDO_PREFIX,
    Evaluator,
    Reference,
    UnresolvedError,
    rewrite_references,
)

NESTED_STACK_TYPE = "AWS::CloudFormation::Stack"
# Sections of a nested template the flattening would have to merge with the parent's.
UNSUPPORTED_SECTIONS = ("Conditions", "Mappings", "Rules", "Transform")
# Properties of the stack resource that have no local effect (said in the summary).
IGNORED_PROPERTIES = ("NotificationARNs", "Tags", "TimeoutInMinutes")
# The TemplateURL is evaluated with these, then matched with an asset's object key.
_URL_PSEUDO = {
    "AWS::AccountId": "${AWS::AccountId}",
    "AWS::Region": "${AWS::Region}",
    "AWS::Partition": "${AWS::Partition}",
    "AWS::URLSuffix": "amazonaws.com",
}


@dataclass
class NestedStack:
    """One nested stack flattened into the deployed template."""

    logical_id: str  # of its AWS::CloudFormation::Stack resource, in the flattened template
    path: str  # its stack resources' logical ids from the root, each in its own template: "A/B"
    template_file: str  # its template, as the asset manifest names it
    resources: list[str] = field(default_factory=list)  # flattened ids of its own resources
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Origin:
    """Where a resource of the flattened template is declared."""

    nested_stack: str  # NestedStack.path
    logical_id: str  # its logical id in that nested template


@dataclass
class Flattened:
    """The deployable template with where each of its nested resources comes from."""

    template: dict[str, Any]
    nested_stacks: list[NestedStack] = field(default_factory=list)
    origins: dict[str, Origin] = field(default_factory=dict)


def flatten(template: dict[str, Any], template_path: Path) -> Flattened:
    """``template`` (read from ``template_path``) with every nested stack inlined, recursively."""
    return _Flattener(template_path).flatten(template, (), ())


@dataclass
class _Inlined:
    resources: dict[str, Any]
    outputs: dict[str, Any]
    stacks: list[NestedStack]
    origins: dict[str, Origin]


class _Flattener:
    def __init__(self, template_path: Path) -> None:
        stem = template_path.name.removesuffix(".template.json")
        self.manifest_path = template_path.with_name(stem + ".assets.json")
        self._assets: dict[str, str] | None = None

    # -- the template files -----------------------------------------------------------------

    def assets(self, label: str) -> dict[str, str]:
        """Object key -> source path of every file asset of the root stack's manifest."""
        if self._assets is None:
            try:
                manifest = json.loads(self.manifest_path.read_text(encoding="utf-8"))
            except (OSError, ValueError) as error:
                raise LocalDeployError(
                    f"{label}: cannot read the asset manifest {self.manifest_path} that names "
                    f"its template ({error})"
                ) from None
            self._assets = {
                destination["objectKey"]: asset["source"]["path"]
                for asset in manifest.get("files", {}).values()
                if asset.get("source", {}).get("packaging", "file") == "file"
                for destination in asset.get("destinations", {}).values()
            }
        return self._assets

    def template_file(self, label: str, resource: Mapping[str, Any]) -> Path:
        expression = resource.get("Properties", {}).get("TemplateURL")

        def no_lookup(ref: Reference) -> Any:
            raise UnresolvedError(f"{ref[0]} {ref[1]}")

        try:
            url = str(Evaluator(_URL_PSEUDO, no_lookup)(expression))
        except UnresolvedError as error:
            raise LocalDeployError(f"{label}: TemplateURL cannot be evaluated: {error}") from None
        for key, source in self.assets(label).items():
            if url.endswith("/" + key):
                return self.manifest_path.parent / source
        raise LocalDeployError(
            f"{label}: TemplateURL {url} is no file asset of {self.manifest_path.name}"
        )

    def load(self, label: str, path: Path, files: tuple[Path, ...]) -> dict[str, Any]:
        if path in files:
            raise LocalDeployError(f"{label}: template file {path} includes itself")
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise LocalDeployError(f"{label}: template file {path} not found") from None
        except OSError as error:
            raise LocalDeployError(f"{label}: cannot read template file {path}: {error}") from None
        try:
            template = json.loads(text)
        except ValueError as error:
            raise LocalDeployError(f"{label}: template file {path} is not JSON: {error}") from None
        if not isinstance(template, dict):
            raise LocalDeployError(f"{label}: template file {path} is not a template")
        sections = sorted(s for s in UNSUPPORTED_SECTIONS if template.get(s))
        conditional = sorted(
            lid for lid, r in template.get("Resources", {}).items() if "Condition" in r
        )
        if sections or conditional:
            what = ", ".join(sections + [f"Condition on {lid}" for lid in conditional])
            raise LocalDeployError(
                f"{label}: {path.name} has {what}, which the local deployment does not flatten"
            )
        return template

    # -- flattening -------------------------------------------------------------------------

    def flatten(
        self, template: dict[str, Any], chain: tuple[str, ...], files: tuple[Path, ...]
    ) -> Flattened:
        """``template`` (nested stack ``chain`` of the root) with its nested stacks inlined."""
        resources: dict[str, Any] = template.get("Resources", {})
        nested = [lid for lid, r in resources.items() if r.get("Type") == NESTED_STACK_TYPE]
        if not nested:
            return Flattened(template)
        result = Flattened(copy.deepcopy(template))
        merged: dict[str, Any] = {}
        outputs: dict[str, dict[str, Any]] = {}
        members: dict[str, list[str]] = {}
        for logical_id, resource in resources.items():
            if logical_id not in nested:
                merged[logical_id] = copy.deepcopy(resource)
                continue
            inlined = self.inline(logical_id, resource, chain, files)
            for new_id in inlined.resources:
                if new_id in resources or new_id in merged:
                    raise LocalDeployError(
                        f"{_label(chain, logical_id)}: its resource's flattened id {new_id} "
                        "is already a logical id of the parent"
                    )
            merged.update(inlined.resources)
            outputs[logical_id] = inlined.outputs
            members[logical_id] = list(inlined.resources)
            result.nested_stacks += inlined.stacks
            result.origins.update(inlined.origins)
        replace = _ParentReferences(chain, outputs)
        result.template["Resources"] = {
            logical_id: _with_depends_on(rewrite_references(resource, replace), members)
            for logical_id, resource in merged.items()
        }
        if "Outputs" in template:
            result.template["Outputs"] = rewrite_references(template["Outputs"], replace)
        return result

    def inline(
        self,
        logical_id: str,
        resource: Mapping[str, Any],
        chain: tuple[str, ...],
        files: tuple[Path, ...],
    ) -> _Inlined:
        """The nested stack's resources and outputs in the parent's namespace."""
        label = _label(chain, logical_id)
        if "Condition" in resource:
            raise LocalDeployError(f"{label}: a conditional nested stack is not flattened")
        path = self.template_file(label, resource)
        child = self.flatten(self.load(label, path, files), (*chain, logical_id), (*files, path))
        child_resources: dict[str, Any] = child.template.get("Resources", {})
        replace = _ChildReferences(
            label, logical_id, chain, child_resources, _parameters(label, resource, child.template)
        )
        extra = _depends_on(resource)
        resources = {}
        for child_id, child_resource in child_resources.items():
            renamed = rewrite_references(child_resource, replace)
            unknown = sorted(set(_depends_on(child_resource)) - set(child_resources))
            if unknown:
                raise LocalDeployError(f"{label}: {child_id} depends on unknown {unknown}")
            depends = [logical_id + d for d in _depends_on(child_resource)] + extra
            renamed.pop("DependsOn", None)
            if depends:
                renamed["DependsOn"] = depends
            resources[logical_id + child_id] = renamed
        own = [logical_id + cid for cid in child_resources if cid not in child.origins]
        stack = NestedStack(logical_id, "/".join((*chain, logical_id)), path.name, own)
        stack.notes += _ignored(resource, child.template)
        inner = [
            NestedStack(
                logical_id + s.logical_id,
                s.path,
                s.template_file,
                [logical_id + r for r in s.resources],
                s.notes,
            )
            for s in child.nested_stacks
        ]
        return _Inlined(
            resources=resources,
            outputs={
                key: rewrite_references(output.get("Value"), replace)
                for key, output in child.template.get("Outputs", {}).items()
            },
            stacks=[stack, *inner],
            origins={
                logical_id + cid: child.origins.get(cid, Origin(stack.path, cid))
                for cid in child_resources
            },
        )


def _label(chain: tuple[str, ...], logical_id: str) -> str:
    return f"nested stack {'/'.join((*chain, logical_id))} ({NESTED_STACK_TYPE})"


def _depends_on(resource: Mapping[str, Any]) -> list[str]:
    depends = resource.get("DependsOn", [])
    return [depends] if isinstance(depends, str) else list(depends)


def _with_depends_on(resource: dict[str, Any], members: Mapping[str, list[str]]) -> dict[str, Any]:
    """``DependsOn`` a nested stack resource: on every resource inlined from it."""
    depends = _depends_on(resource)
    if any(d in members for d in depends):
        resource["DependsOn"] = list(dict.fromkeys(m for d in depends for m in members.get(d, [d])))
    return resource


def _parameters(
    label: str, resource: Mapping[str, Any], template: Mapping[str, Any]
) -> dict[str, Any]:
    """Each parameter of the nested template: the parent's expression for it, or its default."""
    declared: dict[str, Any] = template.get("Parameters", {})
    given: dict[str, Any] = resource.get("Properties", {}).get("Parameters") or {}
    unknown = sorted(set(given) - set(declared))
    if unknown:
        raise LocalDeployError(f"{label}: passes parameter(s) its template lacks: {unknown}")
    values: dict[str, Any] = {}
    for name, spec in declared.items():
        kind = str(spec.get("Type", "String"))
        if name in given:
            value = given[name]
        elif "Default" in spec:
            value = spec["Default"]
        else:
            raise LocalDeployError(f"{label}: parameter {name} has no value and no default")
        if kind.startswith("AWS::SSM::Parameter"):
            raise LocalDeployError(f"{label}: parameter {name} of type {kind} is not flattened")
        if (kind == "CommaDelimitedList" or kind.startswith("List<")) and not isinstance(
            value, list
        ):
            value = {"Fn::Split": [",", value]}
        values[name] = value
    return values


def _ignored(resource: Mapping[str, Any], template: Mapping[str, Any]) -> list[str]:
    notes = [
        f"not applied locally: {key} of the nested stack resource"
        for key in IGNORED_PROPERTIES
        if key in resource.get("Properties", {})
    ]
    notes += [
        f"not applied locally: export {output['Export']} of output {key}"
        for key, output in template.get("Outputs", {}).items()
        if "Export" in output
    ]
    return notes


def _stack_name(parent: tuple[str, ...], logical_id: str) -> dict[str, Any]:
    """The nested stack's name as CloudFormation forms it (a stable suffix here)."""
    digest = hashlib.sha1("/".join((*parent, logical_id)).encode(), usedforsecurity=False)
    suffix = digest.hexdigest()[:12].upper()
    return {"Fn::Join": ["", [{"Ref": "AWS::StackName"}, f"-{logical_id}-{suffix}"]]}


def _stack_id(parent: tuple[str, ...], logical_id: str) -> dict[str, Any]:
    """The nested stack's id (its ARN)."""
    stack_uuid = uuid.uuid5(uuid.NAMESPACE_URL, "/".join((*parent, logical_id)))
    return {
        "Fn::Join": [
            "",
            [
                "arn:",
                {"Ref": "AWS::Partition"},
                ":cloudformation:",
                {"Ref": "AWS::Region"},
                ":",
                {"Ref": "AWS::AccountId"},
                ":stack/",
                _stack_name(parent, logical_id),
                f"/{stack_uuid}",
            ],
        ]
    }


class _ChildReferences:
    """Rewrites a nested template's references into its parent's namespace."""

    def __init__(
        self,
        label: str,
        logical_id: str,
        chain: tuple[str, ...],
        resources: Mapping[str, Any],
        parameters: Mapping[str, Any],
    ) -> None:
        self.label = label
        self.prefix = logical_id
        self.resources = resources
        self.values: dict[str, Any] = {
            **parameters,
            "AWS::StackName": _stack_name(chain, logical_id),
            "AWS::StackId": _stack_id(chain, logical_id),
        }

    def __call__(self, ref: Reference) -> Any:
        kind, name, attribute = ref
        if kind == "Ref" and name in self.values:
            return copy.deepcopy(self.values[name])
        if name in self.resources:
            new = self.prefix + name
            return {"Ref": new} if kind == "Ref" else {"Fn::GetAtt": [new, attribute]}
        if kind == "Ref" and name.startswith(PSEUDO_PREFIX):
            return None
        raise LocalDeployError(
            f"{self.label}: {kind} {name}{'.' + attribute if attribute else ''} names no "
            "resource or parameter of its template"
        )


class _ParentReferences:
    """Rewrites references to the nested stack resources in the template that held them."""

    def __init__(self, chain: tuple[str, ...], outputs: Mapping[str, Mapping[str, Any]]) -> None:
        self.chain = chain
        self.outputs = outputs
        self.resolving: set[tuple[str, str]] = set()

    def __call__(self, ref: Reference) -> Any:
        kind, name, attribute = ref
        if name not in self.outputs:
            return None
        label = _label(self.chain, name)
        if kind == "Ref":
            return _stack_id(self.chain, name)
        output = attribute.removeprefix("Outputs.")
        if output == attribute:
            raise LocalDeployError(f"{label}: attribute {attribute} is not flattened")
        if output not in self.outputs[name]:
            raise LocalDeployError(f"{label}: its template has no output {output}")
        if (name, output) in self.resolving:
            raise LocalDeployError(f"{label}: output {output} refers to itself")
        self.resolving.add((name, output))
        try:
            return rewrite_references(copy.deepcopy(self.outputs[name][output]), self)
        finally:
            self.resolving.discard((name, output))
