"""Lambda layers locally: the database step function's drivers layer.

moto's CloudFormation creates ``AWS::Lambda::LayerVersion`` but gives it no usable ``Ref`` (not
the version ARN, so the function that lists the layer fails to create) and drops
``CompatibleArchitectures``. The layer is published through ``lambda:PublishLayerVersion``
with the published asset as content (filler) and read back with its runtimes, architectures,
description and content hash, compared with the asset's zip in the assets bucket (checker;
``GetLayerVersion`` by name and version: moto has no ``GetLayerVersionByArn``).
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable, Mapping
from typing import Any

from migration.local.filling import FillContext, Filled, generated_name

Check = tuple[str, Any, Any]
Client = Callable[[str], Any]
_KEYS = ("Description", "CompatibleRuntimes", "CompatibleArchitectures", "LicenseInfo")


def layer_version(ctx: FillContext, props: Mapping[str, Any]) -> Filled:
    name = props.get("LayerName") or generated_name(ctx.stack_name, ctx.logical_id, limit=64)
    content = props["Content"]
    published = ctx.client("lambda").publish_layer_version(
        LayerName=name,
        Content={"S3Bucket": content["S3Bucket"], "S3Key": content["S3Key"]},
        **{key: props[key] for key in _KEYS if key in props},
    )
    arn = published["LayerVersionArn"]
    return Filled(arn, {"LayerVersionArn": arn})


def check_layer_version(client: Client, arn: str, props: Mapping[str, Any]) -> list[Check]:
    # moto has no GetLayerVersionByArn (found): by name and version, from the ARN.
    name, version = arn.split(":")[-2:]
    layer = client("lambda").get_layer_version(LayerName=name, VersionNumber=int(version))
    content = props["Content"]
    body = client("s3").get_object(Bucket=content["S3Bucket"], Key=content["S3Key"])["Body"]
    expected_sha = base64.b64encode(hashlib.sha256(body.read()).digest()).decode()
    return [
        ("description", props.get("Description"), layer.get("Description")),
        ("runtimes", props.get("CompatibleRuntimes"), layer.get("CompatibleRuntimes")),
        (
            "architectures",
            props.get("CompatibleArchitectures"),
            layer.get("CompatibleArchitectures"),
        ),
        ("content (SHA-256 of the published asset)", expected_sha, layer["Content"]["CodeSha256"]),
    ]


_REASON = "moto's CloudFormation gives it no version ARN and drops CompatibleArchitectures"
FILLERS = {"AWS::Lambda::LayerVersion": (layer_version, _REASON)}
CHECKERS = {"AWS::Lambda::LayerVersion": check_layer_version}
