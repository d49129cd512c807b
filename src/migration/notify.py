"""Operator notifications through an SNS topic."""

from __future__ import annotations

import re
from typing import Any

MAX_SUBJECT_CHARS = 100
# SNS rejects messages above 256 KiB; leave room for the envelope.
MAX_MESSAGE_BYTES = 250_000

_NOT_PRINTABLE_ASCII = re.compile(r"[^\x20-\x7e]+")


def sanitise_subject(subject: str) -> str:
    """An SNS-safe subject: printable ASCII, one line, at most 100 characters."""
    text = _NOT_PRINTABLE_ASCII.sub(" ", subject).strip() or "Migration notification"
    if len(text) > MAX_SUBJECT_CHARS:
        text = text[: MAX_SUBJECT_CHARS - 3].rstrip() + "..."
    return text


def truncate_message(message: str) -> str:
    """``message`` cut to fit an SNS publish, marking the cut."""
    encoded = message.encode("utf-8")
    if len(encoded) <= MAX_MESSAGE_BYTES:
        return message
    marker = "\n... (truncated; see the tracking table for the full record)"
    keep = encoded[: MAX_MESSAGE_BYTES - len(marker.encode("utf-8"))]
    return keep.decode("utf-8", errors="ignore") + marker


class Notifier:
    """Publishes one message to the operators' SNS topic."""

    def __init__(self, sns_client: Any, topic_arn: str) -> None:
        self._client = sns_client
        self._topic_arn = topic_arn

    def publish(self, subject: str, message: str) -> str:
        """Publish and return the SNS MessageId."""
        response = self._client.publish(
            TopicArn=self._topic_arn,
            Subject=sanitise_subject(subject),
            Message=truncate_message(message),
        )
        return str(response["MessageId"])
