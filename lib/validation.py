"""Validation: the SSM Command document run on each migrated server after cutover."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from aws_cdk import aws_ssm as ssm
from constructs import Construct

DOCUMENT_PATH = Path(__file__).parent / "documents" / "post_migration_validation.yaml"


def load_document(path: Path = DOCUMENT_PATH) -> dict[str, Any]:
    """Load the validation document from YAML (kept in the repository, reviewed like code)."""
    content = yaml.safe_load(path.read_text(encoding="utf-8"))
    if not isinstance(content, dict) or content.get("schemaVersion") != "2.2":
        raise ValueError(f"{path}: expected an SSM Command document with schemaVersion 2.2")
    return content


class Validation(Construct):
    """The post-migration validation document: port, HTTP health, disk and time-sync checks."""

    def __init__(self, scope: Construct, construct_id: str) -> None:
        super().__init__(scope, construct_id)
        self.document = ssm.CfnDocument(
            self,
            "PostMigrationValidation",
            document_type="Command",
            content=load_document(),
            update_method="NewVersion",
        )
