"""Synthesis fixtures for the infrastructure unit tests.

Synthesis costs seconds (jsii), so each distinct context is synthesized once per test session and
shared; every test module reads the same template instead of building its own.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk.assertions import Template

import tap
from lib.tap_stack import TapStack
from tests.conftest import ROOT

# The context ``cdk synth`` passes from cdk.json (feature flags): tests synthesize the same app.
CDK_JSON_CONTEXT: dict[str, Any] = json.loads((ROOT / "cdk.json").read_text())["context"]


class Synthesized:
    """One synthesized app: the stack, its assertions template and the raw template JSON."""

    def __init__(self, context: dict[str, Any], outdir: Path) -> None:
        self.app = tap.build_app(
            cdk.App(context={**CDK_JSON_CONTEXT, **context}, outdir=str(outdir))
        )
        self.assembly = self.app.synth()
        suffix = context.get("environmentSuffix", "dev")
        self.stack = next(child for child in self.app.node.children if isinstance(child, TapStack))
        self.template_path = outdir / f"TapStack{suffix}.template.json"
        self.template_json: dict[str, Any] = json.loads(self.template_path.read_text())
        self.template = Template.from_json(self.template_json)
        self.outdir = outdir
        # The wave stacks (lib/wave_stack.py), nested in the stack, by file name.
        self.nested_json: dict[str, dict[str, Any]] = {
            path.name: json.loads(path.read_text())
            for path in sorted(outdir.glob(f"TapStack{suffix}*.nested.template.json"))
        }

    def wave_template(self, wave: str, part: int = 1) -> Template:
        """The assertions template of a wave's nested stack."""
        stack = next(
            s for s in self.stack.wave_stacks if (s.part.wave, s.part.part) == (wave, part)
        )
        return Template.from_stack(stack)

    def all_resources(self) -> dict[str, dict[str, Any]]:
        """Every resource of the stack and its nested stacks (logical ids are unique enough
        for the tests: each nested template's ids are prefixed with its file name)."""
        resources = dict(self.template_json["Resources"])
        for name, body in self.nested_json.items():
            resources.update({f"{name}:{k}": v for k, v in body["Resources"].items()})
        return resources


@pytest.fixture(scope="session")
def synth(tmp_path_factory: pytest.TempPathFactory) -> Callable[..., Synthesized]:
    """Synthesize ``tap.build_app`` with the given context, once per distinct context."""

    @cache
    def _synth(**context: Any) -> Synthesized:
        frozen = {k: (list(v) if isinstance(v, tuple) else v) for k, v in context.items()}
        return Synthesized(frozen, tmp_path_factory.mktemp("cdk.out"))

    return _synth


@pytest.fixture(scope="session")
def default_synth(synth: Callable[..., Synthesized]) -> Synthesized:
    """The default deployment (suffix ``dev``), as ``cdk synth`` produces it."""
    return synth()


@pytest.fixture(scope="session")
def template(default_synth: Synthesized) -> Template:
    """Assertions template of the default deployment."""
    return default_synth.template


@pytest.fixture(scope="session")
def stack(default_synth: Synthesized) -> TapStack:
    """The default deployment's stack object (for attribute checks)."""
    return default_synth.stack


# The second deployment the quality gates also synthesize: same keywords in the same order, so the
# session cache serves both (``functools.cache`` keys on keyword order).
QA_CONTEXT: dict[str, Any] = {"environmentSuffix": "qa", "createDmsVpcRole": "false"}

# A data centre other than the default: every configuration key set through CDK context, lists in
# both the comma-separated (``-c``) and the list (``cdk.json``) form, numbers and booleans as
# strings. Tuples stand for lists (the cache needs hashable values; ``synth`` turns them back).
SITE_CONTEXT: dict[str, Any] = {
    "region": "eu-west-1",
    "availabilityZones": "eu-west-1b, eu-west-1c",
    "customerGatewayIp": "198.51.100.7",
    "onPremisesBgpAsn": "65010",
    "onPremisesCidrs": ("172.16.0.0/16", "192.168.10.0/24"),
    "databasePorts": "1521",
    "rollbackReservedConcurrency": "0",
    "createDmsVpcRole": "true",
    "logRetentionDays": "90",
    "zoneName": "cutover.example.internal",
    "planFile": str(ROOT / "tests" / "fixtures" / "plans" / "empty-wave.yaml"),
    "repository": "acme/migration-orchestration",
}


@pytest.fixture(scope="session")
def qa_synth(synth: Callable[..., Synthesized]) -> Synthesized:
    """Suffix ``qa`` in an account that already has ``dms-vpc-role`` (createDmsVpcRole=false)."""
    return synth(**QA_CONTEXT)


@pytest.fixture(scope="session")
def qa_template(qa_synth: Synthesized) -> Template:
    return qa_synth.template


@pytest.fixture(scope="session")
def site_synth(synth: Callable[..., Synthesized]) -> Synthesized:
    """Every context key overridden (``SITE_CONTEXT``): region eu-west-1, two AZs, another site."""
    return synth(**SITE_CONTEXT)


@pytest.fixture(scope="session")
def site_template(site_synth: Synthesized) -> Template:
    return site_synth.template
