#!/usr/bin/env python3
"""Flatten ``cdk deploy --outputs-file`` output into ``cfn-outputs/flat-outputs.json``'s shape.

Usage: flatten_outputs.py OUTPUTS_FILE STACK_NAME > cfn-outputs/flat-outputs.json
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print("usage: flatten_outputs.py OUTPUTS_FILE STACK_NAME", file=sys.stderr)
        return 2
    path, stack = Path(argv[0]), argv[1]
    try:
        outputs = json.loads(path.read_text())[stack]
    except FileNotFoundError:
        print(f"error: {path}: not found; run `make deploy` first", file=sys.stderr)
        return 2
    except (json.JSONDecodeError, KeyError, TypeError):
        print(f"error: {path}: no outputs for stack {stack}", file=sys.stderr)
        return 2
    json.dump(outputs, sys.stdout, indent=2, sort_keys=True)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
