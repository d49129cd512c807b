"""Shared test set-up: no test may reach real AWS, and jsii uses the project's pinned Node.js."""

from __future__ import annotations

import os
from pathlib import Path

import hypothesis
import pytest

ROOT = Path(__file__).resolve().parent.parent

# Dummy credentials and a fixed region: a test that forgets to mock AWS fails instead of
# reaching an account. Real-account integration runs set their own profile explicitly.
if not os.environ.get("MIGRATION_USE_REAL_AWS"):
    for _name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN"):
        os.environ.pop(_name, None)
    os.environ["AWS_ACCESS_KEY_ID"] = "testing"
    os.environ["AWS_SECRET_ACCESS_KEY"] = "testing"
    os.environ["AWS_DEFAULT_REGION"] = "us-east-1"
    os.environ["AWS_CONFIG_FILE"] = os.devnull
    os.environ["AWS_SHARED_CREDENTIALS_FILE"] = os.devnull

_node = ROOT / "node_modules" / ".bin" / "node"
if _node.exists():
    os.environ.setdefault("JSII_NODE", str(_node))

# moto's EC2 backend loads ~2,600 default AMIs (and a volume each) whenever it is created, i.e.
# in every test that starts a fresh mock; nothing here uses an AMI.
os.environ.setdefault("MOTO_EC2_LOAD_DEFAULT_AMIS", "false")


def _share_botocore_model_cache() -> None:
    """Parse each botocore data file and build each client class once per test process.

    moto gives every ``mock_aws()`` a fresh default boto3 session, whose loader re-reads every
    service model from JSON (seconds per test), and each client creation builds its class anew
    (a method per operation: EC2 has hundreds). Loaders with the same search paths share one
    cache here, exactly as clients of one session already share their loader's cache, and a
    client class is reused for the same service description (clients keep their own state).
    """
    import botocore.client
    import botocore.loaders

    shared: dict[tuple[str, ...], dict[object, object]] = {}
    original_init = botocore.loaders.Loader.__init__

    def __init__(self: botocore.loaders.Loader, *args: object, **kwargs: object) -> None:
        original_init(self, *args, **kwargs)
        self._cache = shared.setdefault(tuple(self.search_paths), {})

    botocore.loaders.Loader.__init__ = __init__  # type: ignore[method-assign]

    classes: dict[tuple[str, int], type] = {}
    original_create_class = botocore.client.ClientCreator._create_client_class

    def _create_client_class(
        self: botocore.client.ClientCreator, service_name: str, service_model: object
    ) -> type:
        # The description dict comes from the shared cache above: alive, so its id is stable.
        key = (service_name, id(service_model._service_description))  # type: ignore[attr-defined]
        if key not in classes:
            classes[key] = original_create_class(self, service_name, service_model)
        return classes[key]

    botocore.client.ClientCreator._create_client_class = _create_client_class  # type: ignore[method-assign]


_share_botocore_model_cache()

# No per-example time limit: on a loaded 2-core CI machine a plan validation can take longer
# than hypothesis's default 200 ms, which is a slow machine, not a failure (speed is measured
# in the benchmarks, never asserted in tests).
hypothesis.settings.register_profile("project", deadline=None)
hypothesis.settings.load_profile("project")


# ``make check`` leaves out the tests marked slow here; ``make test`` runs them all: the tests that
# need a moto server (the operator commands against a deployed-looking stack, the local
# emulator, the local deployment), the demo, and single tests that take seconds of their own
# (a synth in a fresh process, 600- and 5,000-application rollbacks).
SLOW_FIXTURES = frozenset({"moto_server", "emulator", "target"})
SLOW_PATHS = ("tests/integration/", "tests/demo/")
SLOW_TESTS = frozenset(
    {
        "tests/runtime/test_rollback.py::test_alarm_rolls_back_every_application_on_aws[600-apps]",
        "tests/runtime/test_rollback_scale.py::"
        "test_5000_applications_roll_back_in_the_route53_minimum_with_bounded_items",
        "tests/unit/test_tap_app.py::test_tap_py_synthesizes_what_cdk_synth_would",
        "tests/unit/test_tap_app.py::test_cdk_synth_prints_the_line_and_exits_1_for_a_bad_context",
        "tests/unit/test_quality_gates.py::test_synth_is_byte_identical_across_processes",
        "tests/database/test_crash_recovery.py::"
        "test_crash_at_every_step_then_rerun_reaches_the_same_end_state",
    }
)
# One xdist worker per group (``--dist loadgroup``): a module's tests stay together so that its
# module-scoped fixtures are built once; the infrastructure unit tests share one jsii runtime and
# one synth per context (tests/unit/conftest.py), the integration package one deployment.
PACKAGE_GROUPS = ("tests/unit/", "tests/integration/", "tests/database/")
# The coverage gate measures lib/ (the CDK app). The runtime and CLI tests exercise src/migration,
# which never imports lib/ (the rollback function's asset is src/ alone): pytest-cov's no_cover
# pauses the tracer during their test calls, which otherwise costs them half again their time.
# A test there that did reach lib/ would only lower the measured coverage, never raise it.
NO_LIB_PATHS = ("tests/runtime/", "tests/cli/", "tests/database/")


@pytest.hookimpl(tryfirst=True)  # before xdist reads the groups and ``-m`` reads the marks
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    xdist = config.pluginmanager.hasplugin("xdist")
    cov = config.pluginmanager.hasplugin("pytest_cov")
    for item in items:
        path = item.path.relative_to(ROOT).as_posix()
        fixtures = set(getattr(item, "fixturenames", ()))
        if path.startswith(SLOW_PATHS) or item.nodeid in SLOW_TESTS or fixtures & SLOW_FIXTURES:
            item.add_marker(pytest.mark.slow)
        if cov and path.startswith(NO_LIB_PATHS):
            item.add_marker(pytest.mark.no_cover)
        if xdist and item.get_closest_marker("xdist_group") is None:
            group = next((p for p in PACKAGE_GROUPS if path.startswith(p)), path)
            item.add_marker(pytest.mark.xdist_group(group))
