"""A campaign's webhook subscriptions: who hears which viewer events, checked once at the edge.

A subscription is a URL, the event types it wants (``deliveries.WEBHOOK_EVENTS``) and a
Standard Webhooks secret (``whsec_`` + base64 of 24 to 64 random bytes), generated when none is
given and shown to the caller once: lists show it masked. With ``preset: hubspot`` there is no
URL to give: the HubSpot form's address is made from ``preset_config`` (``pvideo.jobs.hubspot``)
and only ``form_submitted`` events go there.

The URL is checked here for what is wrong whatever DNS says (scheme, credentials, a literal
private address); the host is resolved and checked again at every delivery
(``pvideo.jobs.signed_post``), where an answer that changed would matter.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import secrets
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator
from sqlalchemy import select
from sqlalchemy.orm import Session

from pvideo.db.models import Campaign, WebhookSubscription
from pvideo.errors import DataError, NotFound
from pvideo.jobs import hubspot
from pvideo.jobs.deliveries import WEBHOOK_EVENTS
from pvideo.plan import fetch
from pvideo.settings import Settings

SECRET_PREFIX = "whsec_"
SECRET_BYTES = 32
MIN_SECRET_BYTES, MAX_SECRET_BYTES = 24, 64
MAX_URL_LENGTH = 2048
MAX_PER_CAMPAIGN = 20


def generate_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def masked(secret: str) -> str:
    """What lists show of a secret: enough to tell two apart, not enough to sign."""
    return f"{SECRET_PREFIX}…{secret[-4:]}"


def check_url(url: str) -> str:
    """``url`` if it is an http(s) URL a delivery could be sent to; ``ValueError`` saying why not."""
    if len(url) > MAX_URL_LENGTH:
        raise ValueError(f"longer than {MAX_URL_LENGTH} characters")
    if not url.isprintable() or any(ord(c) <= 0x20 for c in url):
        raise ValueError("contains whitespace or control characters")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise ValueError(f"only http and https URLs are allowed, not {parts.scheme or '(none)'!r}")
    if parts.username is not None or parts.password is not None:
        raise ValueError("may not carry credentials (user:password@)")
    if not parts.hostname:
        raise ValueError("has no host")
    try:
        parts.port  # noqa: B018  # raises for a port out of range
    except ValueError:
        raise ValueError("has an invalid port") from None
    return url


def check_secret(secret: str) -> str:
    if not secret.startswith(SECRET_PREFIX):
        raise ValueError(f"a Standard Webhooks secret starts with {SECRET_PREFIX}")
    try:
        key = base64.b64decode(secret.removeprefix(SECRET_PREFIX), validate=True)
    except (binascii.Error, ValueError):
        raise ValueError(f"after {SECRET_PREFIX} comes base64") from None
    if not MIN_SECRET_BYTES <= len(key) <= MAX_SECRET_BYTES:
        raise ValueError(f"the key is {MIN_SECRET_BYTES} to {MAX_SECRET_BYTES} bytes (base64 encoded)")
    return secret


class SubscriptionCreate(BaseModel):
    """A new subscription. Fields are checked in this order, so each check may rely on those above."""

    model_config = ConfigDict(extra="forbid")

    preset: Literal["hubspot"] | None = Field(default=None, description="hubspot: post HubSpot's Forms API payload")
    preset_config: hubspot.HubSpotConfig | None = Field(
        default=None, validate_default=True, description="for the hubspot preset"
    )
    url: str | None = Field(
        default=None, validate_default=True, max_length=MAX_URL_LENGTH, description="http(s) receiver (no preset)"
    )
    events: list[str] | None = Field(
        default=None, validate_default=True, max_length=len(WEBHOOK_EVENTS), description=", ".join(WEBHOOK_EVENTS)
    )
    secret: str | None = Field(default=None, max_length=100, description="whsec_...; generated when left out")

    @field_validator("preset_config")
    @classmethod
    def _config_for_preset(cls, value: hubspot.HubSpotConfig | None, info: ValidationInfo) -> Any:
        if info.data.get("preset") == hubspot.PRESET and value is None:
            raise ValueError("the hubspot preset needs portal_id, form_guid and fields")
        if info.data.get("preset") is None and value is not None:
            raise ValueError("only with a preset")
        return value

    @field_validator("url")
    @classmethod
    def _url(cls, value: str | None, info: ValidationInfo) -> str | None:
        if info.data.get("preset") == hubspot.PRESET:
            if value is not None:
                raise ValueError("leave it out with the hubspot preset: the form's address is used")
            return None
        if value is None:
            raise ValueError("required: the http(s) URL that receives the events")
        return check_url(value)

    @field_validator("events")
    @classmethod
    def _events(cls, value: list[str] | None, info: ValidationInfo) -> list[str]:
        preset = info.data.get("preset")
        allowed = hubspot.EVENTS if preset == hubspot.PRESET else WEBHOOK_EVENTS
        if value is None:
            if preset == hubspot.PRESET:
                return list(hubspot.EVENTS)
            raise ValueError(f"required: one or more of {', '.join(WEBHOOK_EVENTS)}")
        if not value:
            raise ValueError(f"name at least one of {', '.join(allowed)}")
        for name in value:
            if name not in allowed:
                shown = name[:40] if name.isprintable() else "(unprintable)"
                what = "the hubspot preset takes only" if preset and name in WEBHOOK_EVENTS else "allowed:"
                raise ValueError(f"unknown event type {shown!r}; {what} {', '.join(allowed)}")
        return list(dict.fromkeys(value))

    @field_validator("secret")
    @classmethod
    def _secret(cls, value: str | None) -> str | None:
        return None if value is None else check_secret(value)


class SubscriptionUpdate(BaseModel):
    """A change to a subscription; what is left out stays as it is."""

    model_config = ConfigDict(extra="forbid")

    url: str | None = Field(default=None, max_length=MAX_URL_LENGTH)
    events: list[str] | None = Field(default=None, max_length=len(WEBHOOK_EVENTS))
    preset_config: hubspot.HubSpotConfig | None = None
    active: bool | None = Field(default=None, description="false: no new deliveries; pending ones still go")


def _target(spec: SubscriptionCreate, settings: Settings) -> str:
    if spec.preset == hubspot.PRESET and spec.preset_config is not None:
        return hubspot.submit_url(settings.hubspot_forms_url, spec.preset_config)
    if spec.url is None:  # the model refuses this; kept for the type checker
        raise DataError("required", field="url")
    host = urlsplit(spec.url).hostname or ""
    try:
        literal = ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return spec.url  # a name: resolved and checked at every delivery
    try:
        fetch.check_address(str(literal), allow_private=settings.webhook_allow_private)
    except fetch.FetchRefused as exc:
        raise DataError(str(exc), field="url") from None
    return spec.url


def create(
    session: Session, campaign_id: str, spec: SubscriptionCreate, *, settings: Settings, created_by: str | None
) -> tuple[WebhookSubscription, str]:
    """Store a subscription; returns it with its secret (the only time the caller sees it whole)."""
    if session.get(Campaign, campaign_id) is None:
        raise NotFound(f"campaign {campaign_id!r} not found")
    if len(for_campaign(session, campaign_id)) >= MAX_PER_CAMPAIGN:
        raise DataError(f"a campaign has at most {MAX_PER_CAMPAIGN} webhook subscriptions", field="url")
    secret = spec.secret or generate_secret()
    row = WebhookSubscription(
        campaign_id=campaign_id,
        url=_target(spec, settings),
        events=spec.events or [],
        secret=secret,
        preset=spec.preset,
        preset_config=spec.preset_config.model_dump() if spec.preset_config else None,
        active=True,
        created_by=created_by,
    )
    session.add(row)
    session.flush()
    return row, secret


def for_campaign(session: Session, campaign_id: str) -> list[WebhookSubscription]:
    query = select(WebhookSubscription).where(WebhookSubscription.campaign_id == campaign_id)
    return list(session.scalars(query.order_by(WebhookSubscription.created_at, WebhookSubscription.id)))


def get(session: Session, campaign_id: str, subscription_id: str) -> WebhookSubscription:
    row = session.get(WebhookSubscription, subscription_id)
    if row is None or row.campaign_id != campaign_id:
        raise NotFound(f"webhook subscription {subscription_id[:40]!r} not found in this campaign")
    return row


def update(
    session: Session, campaign_id: str, subscription_id: str, change: SubscriptionUpdate, *, settings: Settings
) -> WebhookSubscription:
    """Apply ``change``, checked as a whole subscription again (a ``ValidationError`` names the field)."""
    row = get(session, campaign_id, subscription_id)
    merged = SubscriptionCreate.model_validate(
        {
            "preset": row.preset,
            "preset_config": change.preset_config or row.preset_config,
            "url": change.url if change.url is not None else (None if row.preset else row.url),
            "events": change.events if change.events is not None else row.events,
        }
    )
    row.url = _target(merged, settings)
    row.events = merged.events or []
    row.preset_config = merged.preset_config.model_dump() if merged.preset_config else None
    if change.active is not None:
        row.active = change.active
    session.flush()
    return row


def delete(session: Session, campaign_id: str, subscription_id: str) -> None:
    """Remove a subscription with its delivery log (pending deliveries are not sent)."""
    session.delete(get(session, campaign_id, subscription_id))
    session.flush()
