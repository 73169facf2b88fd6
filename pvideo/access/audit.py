"""The audit log: who (a studio user, an API key, the CLI or the system) did what, and when.

``record`` adds the entry to the caller's session, so it commits with the action it describes
or not at all. Entries are only ever added: nothing in pvideo updates or deletes one. They never
hold row data or a customer id: ``target_id`` is a campaign, user, key or job id, and
``detail`` carries counts and choices, not values from a customer file.
"""

from __future__ import annotations

import getpass
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
    USER_INVITE = "user.invite"
    """A new invite link for an existing user (also how a forgotten password is reset)."""
    USER_DISABLE = "user.disable"
    USER_ENABLE = "user.enable"
    USER_ROLE = "user.role"
    USER_SIGN_OUT = "user.sign_out"
    APIKEY_CREATE = "apikey.create"
    APIKEY_REVOKE = "apikey.revoke"
    SETTINGS_CHANGE = "settings.change"
    WEBHOOK_CREATE = "webhook.create"
    WEBHOOK_CHANGE = "webhook.change"
    WEBHOOK_DELETE = "webhook.delete"
    WEBHOOK_REPLAY = "webhook.replay"
    RETENTION_RUN = "retention.run"
    AUDIT_EXPORT = "audit.export"


class Target(StrEnum):
    """What an entry's ``target_id`` names."""

    CAMPAIGN = "campaign"
    RENDER = "render"
    USER = "user"
    API_KEY = "api_key"
    WEBHOOK = "webhook"
    DELIVERY = "webhook_delivery"


def key_actor(key: str) -> str:
    """An API key as the log names it: a stored key by its public prefix (``api key pvk_<prefix>``,
    as the studio's key list shows it); a key from the settings by no part of it."""
    parts = key.split("_")
    return f"api key pvk_{parts[1]}" if key.startswith("pvk_") and len(parts) > 2 else "api key (configured)"


def cli_actor() -> str:
    """The command line, with the operating-system account that ran it when it is known: ``cli alice``."""
    try:
        return f"cli {getpass.getuser()}"
    except (KeyError, OSError):  # no login name in the environment and none in the password database
        return "cli"


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
        role=None if role is None else role[:16],
        action=str(action),
        target_type=target_type,
        target_id=None if target_id is None else target_id[:64],
        detail=detail or None,
    )
    session.add(entry)
    return entry
