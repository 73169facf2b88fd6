"""A campaign's webhooks in the studio: subscribe a URL or HubSpot, read the delivery log, replay.

Marketing and admins only (``SubmitterUser``): a subscription's URL and log are integration
details. Plain forms, each POST with the CSRF token; the new secret is in the answer to the
create form only (never in a URL), masked afterwards. Checks are the API's
(``SubscriptionCreate``), shown beside the field they name.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError
from sqlalchemy.orm import Session
from starlette.datastructures import FormData

from api.deps import StateDep
from api.routes.studio.signed_in import CsrfChecked, SubmitterUser, page
from pvideo.access import audit
from pvideo.db.models import User
from pvideo.errors import DataError
from pvideo.jobs import delivery_log, subscriptions
from pvideo.jobs.campaigns import get_campaign
from pvideo.jobs.deliveries import WEBHOOK_EVENTS
from pvideo.jobs.subscriptions import SubscriptionCreate, SubscriptionUpdate

router = APIRouter()

LOG_ROWS = 25
NOTICES = {
    "replayed": "Delivery queued again: it goes out now, with the same webhook-id.",
    "deleted": "Subscription deleted with its delivery log.",
    "paused": "Subscription paused: new events are not sent to it.",
    "resumed": "Subscription active again.",
}


def _text(form: FormData, name: str, limit: int = 2100) -> str:
    value = form.get(name)
    return value.strip()[:limit] if isinstance(value, str) else ""


def _hubspot_fields(text: str) -> dict[str, str] | str:
    """``property = field`` lines as a mapping, or the complaint about the first bad line."""
    mapping: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        name, sep, field = line.partition("=")
        if not sep or not name.strip() or not field.strip():
            return f"Line {number}: write it as HubSpot property = form field, e.g. email = email."
        mapping[name.strip()] = field.strip()
    return mapping


def _errors(exc: ValidationError) -> dict[str, str]:
    """Each error under the form field it belongs to (nested preset settings by their own name)."""
    found: dict[str, str] = {}
    for error in exc.errors(include_url=False, include_input=False, include_context=False):
        loc = [str(part) for part in error["loc"]]
        key = loc[1] if loc[:1] == ["preset_config"] and len(loc) > 1 else (loc[0] if loc else "form")
        found.setdefault(key, error["msg"].removeprefix("Value error, "))
    return found


def _spec(form: FormData) -> tuple[dict[str, Any], dict[str, str]]:
    """The form as the API's body, with the errors only the form can make."""
    kind = _text(form, "kind")
    events = [e for e in form.getlist("event") if isinstance(e, str)][: len(WEBHOOK_EVENTS) + 1]
    if kind != "hubspot":
        return {"url": _text(form, "url"), "events": events}, {}
    fields = _hubspot_fields(_text(form, "hubspot_fields", 20_000))
    config = {
        "portal_id": _text(form, "portal_id", 40),
        "form_guid": _text(form, "form_guid", 60),
        "fields": fields if isinstance(fields, dict) else {},
        "consent_text": _text(form, "consent_text", 2000) or None,
    }
    return {"preset": "hubspot", "preset_config": config}, ({"fields": fields} if isinstance(fields, str) else {})


def _webhooks_page(
    request: Request,
    session: Session,
    user: User,
    campaign_id: str,
    context: dict[str, Any] | None = None,
    status_code: int = 200,
) -> Response:
    campaign = get_campaign(session, campaign_id)
    subs = []
    for sub in subscriptions.for_campaign(session, campaign_id):
        counts = delivery_log.status_counts(session, sub.id)
        log = delivery_log.delivery_log(session, sub.id, limit=LOG_ROWS).deliveries
        subs.append({"row": sub, "secret": subscriptions.masked(sub.secret), "counts": counts, "log": log})
    context = {
        "nav": "campaigns",
        "campaign": campaign,
        "subs": subs,
        "events": WEBHOOK_EVENTS,
        "form": {"kind": "url", "events": []},
        "errors": {},
        **(context or {}),
    }
    return page(request, "studio/webhooks.html", context, user=user, status_code=status_code)


def _audit(
    session: Session, user: User, action: audit.Action, target: audit.Target, target_id: str, campaign: str
) -> None:
    """One change to a campaign's webhooks, recorded in the same transaction as the change."""
    audit.record(
        session, actor=user.email, role=user.role, action=action, target_type=target, target_id=target_id,
        detail={"campaign": campaign},
    )  # fmt: skip


def _back(campaign_id: str, notice: str, anchor: str = "") -> Response:
    target = f"/studio/campaigns/{campaign_id}/webhooks?notice={notice}{anchor}"
    return RedirectResponse(target, status_code=303, headers={"Cache-Control": "no-store"})


@router.get("/campaigns/{campaign_id}/webhooks")
def webhooks(
    campaign_id: str,
    request: Request,
    state: StateDep,
    user: SubmitterUser,
    notice: Annotated[str | None, Query(max_length=20)] = None,
) -> Response:
    with state.runtime.db.session() as session:
        return _webhooks_page(request, session, user, campaign_id, {"flash": NOTICES.get(notice or "")})


@router.post("/campaigns/{campaign_id}/webhooks", dependencies=[CsrfChecked])
async def webhooks_create(campaign_id: str, request: Request, state: StateDep, user: SubmitterUser) -> Response:
    form = await request.form(max_files=0, max_fields=40)
    body, errors = _spec(form)
    shown = {
        "kind": "hubspot" if body.get("preset") else "url",
        "events": body.get("events", []),
        **{k: _text(form, k) for k in ("url", "portal_id", "form_guid", "consent_text")},
        "hubspot_fields": _text(form, "hubspot_fields", 20_000),
    }
    with state.runtime.db.session() as session:
        if not errors:
            try:
                spec = SubscriptionCreate.model_validate(body)
                row, secret = subscriptions.create(
                    session, campaign_id, spec, settings=state.runtime.settings, created_by=user.email
                )
                _audit(session, user, audit.Action.WEBHOOK_CREATE, audit.Target.WEBHOOK, row.id, campaign_id)
                session.commit()
                created = {"id": row.id, "url": row.url, "secret": secret}
                return _webhooks_page(request, session, user, campaign_id, {"created": created}, 201)
            except ValidationError as exc:
                errors = _errors(exc)
            except DataError as exc:
                errors = {exc.field or "form": exc.reason}
        return _webhooks_page(request, session, user, campaign_id, {"form": shown, "errors": errors}, 400)


@router.post("/campaigns/{campaign_id}/webhooks/{subscription_id}/delete", dependencies=[CsrfChecked])
def webhooks_delete(
    campaign_id: str, subscription_id: str, request: Request, state: StateDep, user: SubmitterUser
) -> Response:
    with state.runtime.db.session() as session:
        subscriptions.delete(session, campaign_id, subscription_id)
        _audit(session, user, audit.Action.WEBHOOK_DELETE, audit.Target.WEBHOOK, subscription_id, campaign_id)
    return _back(campaign_id, "deleted")


@router.post("/campaigns/{campaign_id}/webhooks/{subscription_id}/active", dependencies=[CsrfChecked])
async def webhooks_active(
    campaign_id: str, subscription_id: str, request: Request, state: StateDep, user: SubmitterUser
) -> Response:
    active = _text(await request.form(max_files=0, max_fields=5), "active") == "true"
    with state.runtime.db.session() as session:
        change = SubscriptionUpdate(active=active)
        subscriptions.update(session, campaign_id, subscription_id, change, settings=state.runtime.settings)
        _audit(session, user, audit.Action.WEBHOOK_CHANGE, audit.Target.WEBHOOK, subscription_id, campaign_id)
    return _back(campaign_id, "resumed" if active else "paused", f"#sub-{subscription_id}")


@router.post("/campaigns/{campaign_id}/webhook-deliveries/{delivery_id}/replay", dependencies=[CsrfChecked])
def webhooks_replay(
    campaign_id: str, delivery_id: str, request: Request, state: StateDep, user: SubmitterUser
) -> Response:
    with state.runtime.db.session() as session:
        row = delivery_log.replay(session, campaign_id, delivery_id)
        _audit(session, user, audit.Action.WEBHOOK_REPLAY, audit.Target.DELIVERY, delivery_id, campaign_id)
        anchor = f"#sub-{row.subscription_id}"
    return _back(campaign_id, "replayed", anchor)
