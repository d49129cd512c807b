"""``migrate servers init``: the MGN settings that exist only in MGN's API, applied
idempotently, each change shown field by field before it is made.

1. ``InitializeService`` where MGN was never initialised in the region (MGN answers
   ``UninitializedAccountException`` to ``DescribeReplicationConfigurationTemplates``).
2. The replication configuration template: created when there is none (every required
   member sent), else the single existing one updated with the fields that differ only.
   Staging area in the stack's subnet and security group (not the default one), staging
   and launched disks encrypted with the project key, replication over the Site-to-Site VPN
   (``dataPlaneRouting PRIVATE_IP``, no public IP), the project's tags on staging
   resources (others already there are kept), and the plan's ``server_replication``.
3. Per planned ``mgn`` server already registered with MGN, the plan's launch settings
   (``ServerSpec.launch_settings()``) with ``UpdateLaunchConfiguration``, only where
   ``GetLaunchConfiguration`` differs. A server without the agent yet is listed, not an error.
4. Per such server, the EC2 launch template MGN manages for it (``ec2LaunchTemplateID``),
   where the template's default version differs: the plan's fixed EC2 instance type (not
   ``right-size``, whose type is left to MGN) and the network (network interface 0 in the
   plan's subnet, else the first of the stack's private subnets, with the stack's launch
   security group and the plan's ``security_groups``, no public address; MGN's own template
   uses the default VPC). One new version from the default one with what differs, made the
   default (:mod:`migration.servers.launch_template`). After the launch configuration's
   right-sizing ``NONE``, so MGN does not set its own type back.

:meth:`MgnSetup.plan` only reads; :meth:`MgnSetup.apply` makes the writes the plan lists,
so a second run finds nothing to change and makes no write.
"""

from __future__ import annotations

import enum
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from migration.outputs import (
    LAUNCH_SECURITY_GROUP_KEY,
    SERVER_SETTINGS_OUTPUT,
    ServerMigrationSettings,
)
from migration.servers.launch_template import LaunchNetwork, LaunchTemplates, TemplateVersion
from migration.servers.mgn import Mgn, MgnError, SourceServer
from migration.servers.replication import ReplicationSpec
from migration.servers.spec import POST_LAUNCH_DEPLOYMENT, ServerSpec, validation_action

PROJECT_TAGS: Final = {"Project": "migration-orchestration"}
"""Tags ``tap.py`` puts on every resource of the stack, plus ``Environment`` (the suffix)."""
UNSET: Final = "(unset)"
NETWORK_INTERFACES: Final = "NetworkInterfaces"
INTERFACE: Final = "NetworkInterfaces[0]"


class Call(enum.StrEnum):
    """The MGN write a step makes."""

    INITIALIZE = "InitializeService"
    CREATE_TEMPLATE = "CreateReplicationConfigurationTemplate"
    UPDATE_TEMPLATE = "UpdateReplicationConfigurationTemplate"
    UPDATE_LAUNCH = "UpdateLaunchConfiguration"
    UPDATE_LAUNCH_TEMPLATE = "CreateLaunchTemplateVersion"
    """Then ``ModifyLaunchTemplate``: the new version becomes the default."""


@dataclass(frozen=True)
class FieldChange:
    """One field a step sets: its MGN name (``licensing.osByol`` for a member of a
    structure), the value MGN has (None: unset) and the value wanted."""

    name: str
    before: Any
    after: Any

    def text(self, new: bool) -> str:
        if new:
            return f"{self.name} = {_show(self.after)}"
        return f"{self.name} {_show(self.before)} -> {_show(self.after)}"


@dataclass(frozen=True)
class Step:
    """One MGN write: what it touches, what it changes and what it sends."""

    call: Call
    target: str
    """What it changes, as the diff names it (``launch configuration web-01 (s-...)``)."""
    changes: tuple[FieldChange, ...] = ()
    fields: Mapping[str, Any] = field(default_factory=dict)
    """The write's parameters besides the id: the changed fields, every field to create."""
    resource_id: str = ""
    """The template id (update), the source server id (launch configuration) or the EC2
    launch template id (instance type and network)."""

    def lines(self) -> list[str]:
        """``+`` lines for what is created, ``~`` lines for each field that changes."""
        if self.call is Call.INITIALIZE:
            return [f"+ {self.target}: {self.call}"]
        new = self.call is Call.CREATE_TEMPLATE
        mark = "+" if new else "~"
        return [f"{mark} {self.target}: {change.text(new)}" for change in self.changes]


@dataclass
class SetupPlan:
    """What ``servers init`` would change in one region, and what it cannot touch yet."""

    region: str
    steps: list[Step] = field(default_factory=list)
    unregistered: list[str] = field(default_factory=list)
    """Planned ``mgn`` servers MGN does not know yet (no agent installed)."""

    @property
    def empty(self) -> bool:
        return not self.steps

    def lines(self) -> list[str]:
        return [line for step in self.steps for line in step.lines()]


def staging_tags(environment_suffix: str) -> dict[str, str]:
    """The tags of the staging area's resources: the stack's own."""
    return {"Environment": environment_suffix, **PROJECT_TAGS}


def desired_template(
    network: ServerMigrationSettings, replication: ReplicationSpec, environment_suffix: str
) -> dict[str, Any]:
    """The replication configuration template, every required member of
    ``CreateReplicationConfigurationTemplate`` given."""
    return {
        "stagingAreaSubnetId": network.staging_subnet_id,
        # The stack's security group only: the default one may allow more than replication.
        "associateDefaultSecurityGroup": False,
        "replicationServersSecurityGroupsIDs": [network.replication_security_group_id],
        "replicationServerInstanceType": replication.replication_server_instance_type,
        "useDedicatedReplicationServer": replication.dedicated_replication_server,
        "defaultLargeStagingDiskType": replication.staging_disk_type,
        "ebsEncryption": "CUSTOM",
        "ebsEncryptionKeyArn": network.kms_key_arn,
        "bandwidthThrottling": replication.bandwidth_throttling_mbps,
        # Replication goes over the VPN to private addresses; nothing gets a public IP.
        "dataPlaneRouting": "PRIVATE_IP",
        "createPublicIP": False,
        "stagingAreaTags": staging_tags(environment_suffix),
        "useFipsEndpoint": False,
    }


def post_launch_actions(current: Mapping[str, Any] | None, document: str) -> dict[str, Any]:
    """A server's post-launch actions with the project's validation ``document`` among them,
    required for cutover, on test and cutover launches. The stack's launch configuration
    template gives them to servers registered after it; a server registered before (or
    changed in the console) gets them here. Its other actions are kept as they are."""
    documents = [dict(d) for d in (current or {}).get("ssmDocuments", [])]
    if any(d.get("ssmDocumentName") == document for d in documents):
        documents = [
            {**d, "mustSucceedForCutover": True} if d.get("ssmDocumentName") == document else d
            for d in documents
        ]
    else:
        documents.append(validation_action(document))
    return {"deployment": POST_LAUNCH_DEPLOYMENT, "ssmDocuments": documents}


def field_changes(current: Mapping[str, Any], wanted: Mapping[str, Any]) -> list[FieldChange]:
    """The fields of ``wanted`` that ``current`` lacks or holds otherwise. A structure or
    map is compared member by member (members ``current`` has beyond ``wanted``, such as
    tags added by hand, are no difference); a list regardless of its order."""
    found: list[FieldChange] = []
    for name, value in wanted.items():
        have = current.get(name)
        if isinstance(value, Mapping):
            members = have if isinstance(have, Mapping) else {}
            found += [
                FieldChange(f"{name}.{key}", members.get(key), member)
                for key, member in value.items()
                if members.get(key) != member
            ]
        elif _normal(have) != _normal(value):
            found.append(FieldChange(name, have, value))
    return found


def fields_to_send(
    current: Mapping[str, Any], wanted: Mapping[str, Any], changes: Sequence[FieldChange]
) -> dict[str, Any]:
    """The top-level fields the changes touch, a structure merged over what MGN has (an
    update replaces a structure or map as a whole)."""
    names = {change.name.split(".", 1)[0] for change in changes}
    sent: dict[str, Any] = {}
    for name in wanted:
        if name not in names:
            continue
        value = wanted[name]
        have = current.get(name)
        if isinstance(value, Mapping) and isinstance(have, Mapping):
            value = {**have, **value}
        sent[name] = value
    return sent


class MgnSetup:
    """Plans and applies ``servers init`` over an injected :class:`Mgn` and boto3 ``ec2``
    client (MGN's EC2 launch templates). Without ``ec2``, a registered server whose plan
    fixes an instance type is an error (its type could not be checked); right-sized ones
    need no EC2 call."""

    def __init__(self, service: Mgn, region: str, ec2: Any | None = None) -> None:
        self._mgn = service
        self._region = region
        self._templates = LaunchTemplates(ec2) if ec2 is not None else None

    def plan(
        self,
        network: ServerMigrationSettings,
        replication: ReplicationSpec,
        environment_suffix: str,
        servers: Sequence[tuple[ServerSpec, str]],
    ) -> SetupPlan:
        """What to change (reads only). ``servers``: each planned ``mgn`` server with the
        source server id the tracking store recorded for it ("" when none)."""
        result = SetupPlan(self._region)
        wanted = desired_template(network, replication, environment_suffix)
        templates = self._mgn.replication_templates_if_initialized()
        if templates is None:
            # Nothing is registered where MGN is not initialised: no server to look up.
            result.steps.append(Step(Call.INITIALIZE, f"MGN in {self._region}"))
            result.steps.append(self._create(wanted))
            result.unregistered = [spec.id for spec, _ in servers]
            return result
        template = self._template_step(templates, wanted)
        if template is not None:
            result.steps.append(template)
        for spec, found in self._locate(servers):
            if found is None:
                result.unregistered.append(spec.id)
                continue
            result.steps += self._server_steps(spec, found, network)
        return result

    def apply(self, plan: SetupPlan) -> list[str]:
        """Make the plan's writes in order; one line per write done."""
        done: list[str] = []
        for step in plan.steps:
            if step.call is Call.INITIALIZE:
                self._mgn.initialize_service()
                done.append(f"{step.target}: initialised")
            elif step.call is Call.CREATE_TEMPLATE:
                created = self._mgn.create_replication_template(step.fields)
                done.append(f"{step.target} {created}: created")
            elif step.call is Call.UPDATE_TEMPLATE:
                self._mgn.update_replication_template(step.resource_id, step.fields)
                done.append(f"{step.target}: {_plural(len(step.changes), 'field')} updated")
            elif step.call is Call.UPDATE_LAUNCH_TEMPLATE:
                done.append(self._update_launch_template(step))
            else:
                self._mgn.update_launch_configuration(step.resource_id, step.fields)
                done.append(f"{step.target}: {_plural(len(step.changes), 'field')} updated")
        return done

    # -- steps -------------------------------------------------------------------------

    @staticmethod
    def _create(wanted: Mapping[str, Any]) -> Step:
        changes = tuple(field_changes({}, wanted))
        return Step(Call.CREATE_TEMPLATE, "replication template", changes, dict(wanted))

    def _template_step(
        self, templates: Sequence[Mapping[str, Any]], wanted: Mapping[str, Any]
    ) -> Step | None:
        if not templates:
            return self._create(wanted)
        if len(templates) > 1:
            ids = ", ".join(str(t.get("replicationConfigurationTemplateID")) for t in templates)
            raise MgnError(
                f"{len(templates)} replication configuration templates in {self._region} ({ids});"
                " servers init manages a single one: delete the others in MGN"
            )
        current = templates[0]
        template_id = str(current["replicationConfigurationTemplateID"])
        changes = field_changes(current, wanted)
        if not changes:
            return None
        return Step(
            Call.UPDATE_TEMPLATE,
            f"replication template {template_id}",
            tuple(changes),
            fields_to_send(current, wanted, changes),
            template_id,
        )

    def _locate(
        self, servers: Sequence[tuple[ServerSpec, str]]
    ) -> list[tuple[ServerSpec, SourceServer | None]]:
        """Each server's source server: by its recorded id, else by hostname (MGN's source
        servers listed once)."""
        if not servers:
            return []
        listed = list(self._mgn.source_servers())
        by_id = {s.source_server_id: s for s in listed}
        unknown = [spec.hostname for spec, recorded in servers if recorded not in by_id]
        by_host = self._mgn.find_each(unknown, among=listed)
        return [
            (spec, by_id.get(recorded) or by_host.get(spec.hostname)) for spec, recorded in servers
        ]

    def _server_steps(
        self, spec: ServerSpec, server: SourceServer, network: ServerMigrationSettings
    ) -> list[Step]:
        """The launch configuration's update (the plan's settings, the validation post-launch
        action), then the launch template's instance type and network (right-sizing NONE
        first: with BASIC, MGN sets the type itself)."""
        document = network.validation_document_name
        sid = server.source_server_id
        current = self._mgn.launch_configuration(sid)
        wanted = {
            **spec.launch_settings(),
            "postLaunchActions": post_launch_actions(current.get("postLaunchActions"), document),
        }
        changes = field_changes(current, wanted)
        steps = []
        if changes:
            steps.append(
                Step(
                    Call.UPDATE_LAUNCH,
                    f"launch configuration {spec.id} ({sid})",
                    tuple(changes),
                    fields_to_send(current, wanted, changes),
                    sid,
                )
            )
        template = self._launch_template_step(spec, sid, current, network)
        if template is not None:
            steps.append(template)
        return steps

    def _launch_template_step(
        self,
        spec: ServerSpec,
        sid: str,
        configuration: Mapping[str, Any],
        network: ServerMigrationSettings,
    ) -> Step | None:
        """The plan's fixed type and the launch network (:func:`launch_network`) where the
        launch template's default version has others: one step, one new version."""
        template_id = configuration.get("ec2LaunchTemplateID")
        if not template_id:
            raise MgnError(
                f"MGN's launch configuration of {spec.id} ({sid}) names no EC2 launch template"
                " (ec2LaunchTemplateID): its instance type and network cannot be set"
            )
        if self._templates is None:
            raise MgnError(
                f"server {spec.id}: its instance type and network are set in MGN's EC2 launch"
                f" template {template_id}, and servers init was given no ec2 client to read it"
            )
        target = f"launch template {spec.id} ({template_id})"
        current = self._templates.default_version(str(template_id))
        _refuse_instance_level_groups(target, current)
        wanted = launch_network(spec, network)
        changes = [
            FieldChange(f"{INTERFACE}.{name}", have, want)
            for name, have, want in current.network_changes(wanted)
        ]
        fields: dict[str, Any] = {NETWORK_INTERFACES: [wanted.interface()]} if changes else {}
        instance_type = spec.fixed_instance_type
        if instance_type is not None and current.instance_type != instance_type:
            changes.insert(0, FieldChange("InstanceType", current.instance_type, instance_type))
            fields = {"InstanceType": instance_type, **fields}
        if not changes:
            return None
        return Step(Call.UPDATE_LAUNCH_TEMPLATE, target, tuple(changes), fields, str(template_id))

    def _update_launch_template(self, step: Step) -> str:
        """A new default version with what still differs from the default version as it is
        now (MGN may have made one since the plan was read); none when nothing does."""
        if self._templates is None:  # plan() made no such step without an ec2 client
            raise MgnError(f"{step.target}: no ec2 client to change it")
        current = self._templates.default_version(step.resource_id)
        _refuse_instance_level_groups(step.target, current)
        data: dict[str, Any] = {}
        done: list[str] = []
        already: list[str] = []
        instance_type = step.fields.get("InstanceType")
        if instance_type is not None:
            if current.instance_type == instance_type:
                already.append(f"InstanceType already {instance_type}")
            else:
                data["InstanceType"] = instance_type
                done.append(f"InstanceType {instance_type}")
        if NETWORK_INTERFACES in step.fields:
            (interface,) = step.fields[NETWORK_INTERFACES]
            wanted = LaunchNetwork(interface["SubnetId"], tuple(interface["Groups"]))
            shown = f"{wanted.subnet_id} ({', '.join(wanted.groups)})"
            if current.network_changes(wanted):
                data[NETWORK_INTERFACES] = [wanted.interface()]
                done.append(f"{INTERFACE} {shown}")
            else:
                already.append(f"{INTERFACE} already {shown}")
        if not data:
            return f"{step.target}: {'; '.join(already)}"
        number = self._templates.update(current, data)
        return (
            f"{step.target}: {', '.join(done)} in version {number} (from {current.number}),"
            " now the default"
        )


def launch_network(spec: ServerSpec, network: ServerMigrationSettings) -> LaunchNetwork:
    """Where ``spec``'s launched instances go: its planned subnet, else the first of the
    stack's private subnets; the stack's launch security group and the plan's groups."""
    if network.launch_security_group_id is None:
        raise MgnError(
            f"the stack output {SERVER_SETTINGS_OUTPUT} has no {LAUNCH_SECURITY_GROUP_KEY}:"
            " deploy the current stack, then write the outputs again"
        )
    return LaunchNetwork(
        spec.subnet or network.staging_subnet_id,
        (network.launch_security_group_id, *spec.security_groups),
    )


def launch_network_problem(
    network: ServerMigrationSettings, servers: Sequence[ServerSpec]
) -> str | None:
    """Why ``init`` cannot set the launch network (checked before any call): an output of an
    older stack without the launch security group, or a planned subnet that is not one of the
    stack's private subnets. None when it can."""
    if network.launch_security_group_id is None:
        return (
            f"the stack output {SERVER_SETTINGS_OUTPUT} has no {LAUNCH_SECURITY_GROUP_KEY}"
            " (the launched instances' security group): deploy the current stack, then write"
            " the outputs again"
        )
    outside = [s for s in servers if s.subnet and s.subnet not in network.staging_subnet_ids]
    if not outside:
        return None
    named = ", ".join(f"{s.id} ({s.subnet})" for s in outside)
    return (
        f"subnet of {named} is not one of the stack's private subnets"
        f" ({', '.join(network.staging_subnet_ids)}): launched instances must be in the project VPC"
    )


def _refuse_instance_level_groups(target: str, current: TemplateVersion) -> None:
    if current.instance_level_groups:
        raise MgnError(
            f"{target}: its default version {current.number} sets"
            f" {' and '.join(current.instance_level_groups)}, which EC2 refuses beside a network"
            " interface's groups: make a version without them the default, then run init again"
        )


def _normal(value: Any) -> Any:
    if isinstance(value, list | tuple):
        return sorted(value, key=str)
    return value


def _show(value: Any) -> str:
    if value is None:
        return UNSET
    return value if isinstance(value, str) else json.dumps(value)


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"
