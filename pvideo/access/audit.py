"""The audit log: who (a studio user, an API key, the CLI or the system) did what, and when.

``record`` adds the entry to the caller's session, so it commits with the action it describes
or not at all. Entries are only ever added: nothing in pvideo updates or deletes one. They never
hold row data or a customer id: ``target_id`` is a campaign, user, key or job id, and
``detail`` carries counts and choices, not values from a customer file.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from sqlalchemy.orm import Session

from pvideo.db.models import AuditEntry


class Action(StrEnum):
    """Every action the log knows; the studio's filter offers these."""

    CAMPAIGN_SUBMIT = "campaign.submit"
    CAMPAIGN_CANCEL = "campaign.cancel"
    CAMPAIGN_RETRY = "campaign.retry"
    MANIFEST_DOWNLOAD = "manifest.download"
    EVENTS_EXPORT = "events.export"
    ANSWERS_EXPORT = "answers.export"
    CUSTOMER_ERASE = "customer.erase"
    CUSTOMER_EXPORT = "customer.export"
    LINK_REVOKE = "link.revoke"
    USER_CREATE = "user.create"
    USER_DISABLE = "user.disable"
    USER_ROLE = "user.role"
    APIKEY_CREATE = "apikey.create"
    APIKEY_REVOKE = "apikey.revoke"
    SETTINGS_CHANGE = "settings.change"
    WEBHOOK_CHANGE = "webhook.change"
    RETENTION_RUN = "retention.run"


def record(
    session: Session,
    *,
    actor: str,
    action: Action,
    role: str | None = None,
    target_type: str | None = None,
    target_id: str | None = None,
    detail: dict[str, Any] | None = None,
) -> AuditEntry:
    """Add one entry to ``session`` (committed by the caller, with the action itself)."""
    entry = AuditEntry(
        actor=actor[:320],
        role=role,
        action=str(action),
        target_type=target_type,
        target_id=None if target_id is None else target_id[:64],
        detail=detail or None,
    )
    session.add(entry)
    return entry
