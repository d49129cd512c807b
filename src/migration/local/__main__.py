"""``python -m migration.local TEMPLATE``: deploy a synthesized template to a local emulator.

Prints the summary and writes the flat outputs file; with ``--serve`` the emulator keeps
running (Ctrl-C stops it) so that tools can use the endpoint printed.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from migration.local.deploy import LocalDeployError, deploy_local
from migration.local.emulator import Emulator
from migration.outputs import LOCAL_OUTPUTS_PATH


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m migration.local")
    parser.add_argument("template", type=Path, help="cdk.out/TapStack<env>.template.json")
    parser.add_argument("--outputs", type=Path, default=LOCAL_OUTPUTS_PATH)
    parser.add_argument("--stack", help="stack name (default: from the template file name)")
    parser.add_argument("--region", default="us-east-1")
    parser.add_argument("--serve", action="store_true", help="keep the emulator running")
    args = parser.parse_args(argv)
    stack = args.stack or args.template.name.removesuffix(".template.json")
    with Emulator(region=args.region) as emulator:
        try:
            deployment = deploy_local(
                args.template,
                endpoint_url=emulator.endpoint_url,
                stack_name=stack,
                region=args.region,
                outputs_path=args.outputs,
            )
        except LocalDeployError as error:
            print(f"error: local deployment failed: {error}", file=sys.stderr)
            return 1
        print(deployment.summary())
        if args.serve:
            print(f"emulator at {emulator.endpoint_url}; Ctrl-C stops it")
            print(
                "point migrate at it from another shell:\n"
                f"  AWS_ENDPOINT_URL={emulator.endpoint_url} AWS_ACCESS_KEY_ID=testing "
                f"AWS_SECRET_ACCESS_KEY=testing AWS_REGION={args.region} "
                f"migrate status --outputs {args.outputs}",
                flush=True,
            )
            try:
                while True:
                    time.sleep(3600)
            except KeyboardInterrupt:
                pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
