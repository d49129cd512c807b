"""The database step function's asset and layer: the runtime with its database package, and the
pure-Python drivers, importable with nothing but what the Lambda runtime and the layer provide."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import boto3
import pytest

from lib.database_step import DRIVER_PACKAGES, HANDLER
from tests.unit.conftest import Synthesized


def _asset(default_synth: Synthesized, display_name: str) -> Path:
    assets = json.loads((default_synth.outdir / "TapStackdev.assets.json").read_text())
    (entry,) = [a for a in assets["files"].values() if a["displayName"] == display_name]
    return default_synth.outdir / entry["source"]["path"]


@pytest.fixture(scope="module")
def asset_dir(default_synth: Synthesized) -> Path:
    return _asset(default_synth, "DatabaseStep/Function/Code")


@pytest.fixture(scope="module")
def layer_dir(default_synth: Synthesized) -> Path:
    return _asset(default_synth, "DatabaseStep/DriversLayer/Code") / "python"


def test_asset_ships_the_database_package_and_not_the_operator_tools(asset_dir: Path) -> None:
    package = asset_dir / "migration"
    for module in ("database/cutover.py", "database/postgres.py", "database/dms.py"):
        assert (package / module).is_file(), module
    for module in ("controller.py", "gates.py", "tracking.py", "handlers/controller.py"):
        assert (package / module).is_file(), module
    for name in ("cli", "plan.py", "local", "operations.py", "engine.py"):
        assert not (package / name).exists(), name
    assert not list(asset_dir.rglob("__pycache__"))


def test_layer_holds_exactly_the_drivers_with_their_metadata(layer_dir: Path) -> None:
    top = sorted(p.name for p in layer_dir.iterdir())
    assert [name.split("-")[0] for name in top] == sorted([*DRIVER_PACKAGES, *DRIVER_PACKAGES])
    for package in DRIVER_PACKAGES:
        assert (layer_dir / package / "__init__.py").is_file(), package
        (dist_info,) = layer_dir.glob(f"{package}-*.dist-info")
        # pg8000 and scramp read their version from METADATA at import.
        assert (dist_info / "METADATA").is_file()
        # Nothing that names the installer, the machine or files left out.
        for name in ("RECORD", "INSTALLER", "REQUESTED", "direct_url.json"):
            assert not (dist_info / name).exists(), (package, name)
    assert not list(layer_dir.rglob("__pycache__"))
    assert not list(layer_dir.rglob("*.pyc"))


def _import_script(asset_dir: Path, layer_dir: Path, modules: list[str]) -> str:
    """A fresh interpreter's script: the Lambda path (function code, then /opt/python, then the
    runtime's boto3), every import outside stdlib, boto3's closure, the asset's package and the
    three drivers refused."""
    boto3_home = str(Path(boto3.__file__).resolve().parent.parent)
    return textwrap.dedent(
        f"""
        import importlib, importlib.abc, sys
        sys.path[:] = [p for p in sys.path if "site-packages" not in p]
        sys.path[0:0] = [{str(asset_dir)!r}, {str(layer_dir)!r}, {boto3_home!r}]
        ALLOWED = {{"boto3", "botocore", "s3transfer", "jmespath", "dateutil", "urllib3",
                   "six", "migration", "pg8000", "scramp", "asn1crypto"}}
        class Block(importlib.abc.MetaPathFinder):
            def find_spec(self, name, path=None, target=None):
                top = name.split(".")[0]
                if top in sys.stdlib_module_names or top in ALLOWED or top.startswith("_"):
                    return None
                raise ImportError(f"blocked import {{name}}")
        sys.meta_path.insert(0, Block())
        for module in {modules!r}:
            importlib.import_module(module)
        import migration, pg8000, scramp, asn1crypto
        assert migration.__file__.startswith({str(asset_dir)!r}), migration.__file__
        for driver in (pg8000, scramp, asn1crypto):
            assert driver.__file__.startswith({str(layer_dir)!r}), driver.__file__
        print(pg8000.__version__)
        """
    )


def _run(script: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-S", "-c", script],
        cwd=cwd,
        env={"PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_database_modules_import_with_the_layer_alone(asset_dir: Path, layer_dir: Path) -> None:
    package = asset_dir / "migration"
    modules = [
        f"migration.{folder}.{path.stem}"
        for folder in ("database", "handlers")
        for path in sorted((package / folder).glob("*.py"))
        if path.stem != "__init__"
    ]
    assert "migration.database.postgres" in modules
    completed = _run(_import_script(asset_dir, layer_dir, modules), asset_dir)
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.strip()  # pg8000's version, read from the layer's METADATA


def test_handler_imports_with_the_layer_alone(asset_dir: Path, layer_dir: Path) -> None:
    module, function = HANDLER.rsplit(".", 1)
    assert (asset_dir / (module.replace(".", "/") + ".py")).is_file()
    script = _import_script(asset_dir, layer_dir, [module]) + textwrap.dedent(
        f"""
        handler_module = sys.modules[{module!r}]
        assert callable(getattr(handler_module, {function!r}))
        """
    )
    completed = _run(script, asset_dir)
    assert completed.returncode == 0, completed.stderr
