"""The operators' SNS message about one rollback event: subject and body text."""

from __future__ import annotations

from migration.rollback_result import RollbackResult, RolledBackApplication

__all__ = ["summarise"]


def _recovery_text(result: RollbackResult, entry: RolledBackApplication) -> str:
    if entry.dns_in_sync_at is None:
        return ""
    since = "alarm" if result.alarm_changed_at else "request"
    return f"; INSYNC {entry.dns_in_sync_at}, {entry.recovery_seconds:g} s after the {since}"


def summarise(result: RollbackResult) -> tuple[str, str]:
    """Subject and body of the operators' SNS message for ``result``."""
    source = f" (alarm {result.alarm_name})" if result.alarm_name else ""
    count = len(result.rolled_back)
    if result.incomplete_pairs:
        subject = (
            f"Rollback INCOMPLETE: {len(result.incomplete_pairs)} name(s) NOT rolled back, "
            f"{count} rolled back{source}"
        )
    elif count:
        subject = f"Rollback: {count} application(s) back to 100% on-premises{source}"
    elif result.unknown_applications:
        subject = f"Rollback: unknown application(s), nothing rolled back{source}"
    elif result.dns_reapplied:
        subject = f"Rollback: DNS rolled back again{source}"
    else:
        subject = f"Rollback: nothing was on AWS{source}"
    lines = [
        f"Rollback {result.event_key}",
        f"Trigger: {'alarm ' + result.alarm_name if result.alarm_name else 'direct request'}",
        f"Reason: {result.reason}",
    ]
    if result.alarm_changed_at:
        lines.append(f"Alarm changed state at: {result.alarm_changed_at}")
    lines += ["", f"Rolled back to aws=0 / on-premises=100 ({count}):"]
    for r in result.rolled_back:
        if r.dns_changed:
            lines.append(
                f"  {r.application}: was aws={r.previous.aws} on-premises={r.previous.on_premises}"
                f" (change {r.change_id or 'applied by an earlier attempt'}"
                f"{_recovery_text(result, r)})"
            )
        else:
            lines.append(
                f"  {r.application}: already aws={r.previous.aws} "
                f"on-premises={r.previous.on_premises}; cutover under way, recorded "
                f"ROLLED_BACK (no DNS change)"
            )
    if result.already_rolled_back:
        lines += [
            "",
            f"Already rolled back by an earlier rollback ({len(result.already_rolled_back)}): "
            + ", ".join(result.already_rolled_back),
        ]
    if result.already_on_premises:
        lines += [
            "",
            f"Already on-premises ({len(result.already_on_premises)}): "
            + ", ".join(result.already_on_premises),
        ]
    if result.unknown_applications:
        lines += [
            "",
            "NOT rolled back, no weighted record pair in the zone: "
            + ", ".join(result.unknown_applications),
        ]
    if result.incomplete_pairs:
        lines += [
            "",
            f"NOT rolled back, incomplete 'on-premises'/'aws' record pair "
            f"({len(result.incomplete_pairs)}); fix the records, then roll these back:",
        ]
        lines += [f"  {app}: has {what}" for app, what in result.incomplete_pairs.items()]
    if result.dns_reapplied:
        lines += [
            "",
            "Back on AWS after being recorded ROLLED_BACK, rolled back again: "
            + ", ".join(result.dns_reapplied),
        ]
    if result.in_sync is False:
        lines += ["", "Route 53 had not reported INSYNC yet when this was sent."]
    return subject, "\n".join(lines)
