"""Local deployment target: the synthesized stack on moto's server at 127.0.0.1.

Test and developer tooling only (excluded from the Lambda asset). See docs/local-deployment.md.
"""

from migration.local.deploy import LocalDeployError, LocalDeployment, deploy_local
from migration.local.emulator import Emulator
from migration.local.invoke import (
    LocalInvokeError,
    invoke_controller_locally,
    invoke_rollback_locally,
)
from migration.local.mgn_stand_in import MgnStandIn

__all__ = [
    "Emulator",
    "LocalDeployError",
    "LocalDeployment",
    "LocalInvokeError",
    "MgnStandIn",
    "deploy_local",
    "invoke_controller_locally",
    "invoke_rollback_locally",
]
