"""Deploying a template dictionary into the local emulator, as the local-deploy tests do."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from migration.local.deploy import LocalDeployment, deploy_local
from migration.local.emulator import Emulator


def deploy_template(
    emulator: Emulator,
    tmp_path: Path,
    template: dict[str, Any],
    name: str,
    previous: LocalDeployment | None = None,
) -> LocalDeployment:
    """Write ``template`` as a new file under ``tmp_path`` and deploy it as stack ``name``
    (an update of ``previous`` when given); outputs go to ``tmp_path/out``."""
    path = tmp_path / f"{name}-{len(list(tmp_path.glob('*.template.json')))}.template.json"
    path.write_text(json.dumps(template))
    return deploy_local(
        path,
        endpoint_url=emulator.endpoint_url,
        stack_name=name,
        region=emulator.region,
        outputs_path=tmp_path / "out" / "flat-outputs.json",
        previous=previous,
    )
