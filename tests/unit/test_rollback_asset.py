"""The deployed functions run the runtime package's real handlers from their (shared) asset."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import boto3
import pytest

from lib.cutover_controller import HANDLER as CONTROLLER_HANDLER
from lib.rollback import HANDLER

HANDLERS = [HANDLER, CONTROLLER_HANDLER]


@pytest.fixture(scope="module")
def asset_dir(default_synth) -> Path:
    assets = json.loads((default_synth.outdir / "TapStackdev.assets.json").read_text())
    (asset_hash,) = [
        h for h, a in assets["files"].items() if a["displayName"] == "Rollback/Function/Code"
    ]
    functions = default_synth.template.find_resources("AWS::Lambda::Function")
    # Both functions' code is exactly this one asset (no inline ZipFile, no second copy); the
    # database step has its own (tests/unit/test_database_step_asset.py).
    functions = {k: f for k, f in functions.items() if f["Properties"]["Handler"] in HANDLERS}
    assert sorted(f["Properties"]["Handler"] for f in functions.values()) == sorted(HANDLERS)
    for function in functions.values():
        assert function["Properties"]["Code"]["S3Key"] == f"{asset_hash}.zip"
    return default_synth.outdir / assets["files"][asset_hash]["source"]["path"]


def test_asset_ships_the_handlers_and_not_the_operator_tools(asset_dir):
    package = asset_dir / "migration"
    for module in ("handlers/rollback.py", "rollback.py", "handlers/controller.py"):
        assert (package / module).is_file(), module
    # What the controller runs: the tick, the gates, the stored wave definition, the outputs'
    # CutoverSettings parser, the wave phases.
    for module in ("controller.py", "gates.py", "spec.py", "outputs.py", "waves.py"):
        assert (package / module).is_file(), module
    # Operator-side only: the CLI, the plan model (pydantic), the local emulator tooling, the
    # CLI's cutover engine and operations.
    for name in ("cli", "plan", "plan.py", "local", "operations.py", "engine.py"):
        assert not (package / name).exists(), name
    # Of the database package, only the names the controller derives per database (the
    # database step function has the rest: tests/unit/test_database_step_asset.py).
    assert sorted(p.name for p in (package / "database").iterdir()) == ["__init__.py", "names.py"]
    assert not list(asset_dir.rglob("__pycache__"))


@pytest.mark.parametrize("handler", HANDLERS)
def test_handler_imports_from_the_asset_folder_alone(asset_dir, handler):
    # A fresh interpreter without site-packages processing (-S: no editable install of the
    # project), whose path is the asset folder and then boto3's folder, where every import that
    # is not stdlib, boto3 and its dependencies, or the asset's package is refused, as in the
    # Lambda Python runtime.
    boto3_home = str(Path(boto3.__file__).resolve().parent.parent)
    module, function = handler.rsplit(".", 1)
    script = textwrap.dedent(
        f"""
        import importlib, importlib.abc, sys
        sys.path[:] = [p for p in sys.path if "site-packages" not in p]
        sys.path[0:0] = [{str(asset_dir)!r}, {boto3_home!r}]
        ALLOWED = {{"boto3", "botocore", "s3transfer", "jmespath", "dateutil", "urllib3",
                   "six", "migration"}}
        class Block(importlib.abc.MetaPathFinder):
            def find_spec(self, name, path=None, target=None):
                top = name.split(".")[0]
                if top in sys.stdlib_module_names or top in ALLOWED or top.startswith("_"):
                    return None
                raise ImportError(f"blocked import {{name}}")
        sys.meta_path.insert(0, Block())
        handler_module = importlib.import_module({module!r})
        assert callable(getattr(handler_module, {function!r}))
        import migration
        assert migration.__file__.startswith({str(asset_dir)!r}), migration.__file__
        print(handler_module.__file__)
        """
    )
    completed = subprocess.run(
        [sys.executable, "-S", "-c", script],
        cwd=asset_dir,
        env={"PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    expected = asset_dir / (module.replace(".", "/") + ".py")
    assert completed.stdout.strip() == str(expected)
