"""The HubSpot preset: a viewer's form submission as HubSpot's Forms API v3 submission.

A subscription with ``preset: hubspot`` posts ``form_submitted`` events (and only those) to
``{hubspot_forms_url}/submissions/v3/integration/submit/{portal_id}/{form_guid}``, the
unauthenticated "submit data to a form" endpoint, with the body HubSpot documents::

    {"submittedAt": "<unix ms>", "fields": [{"objectTypeId": "0-1", "name": ..., "value": ...}],
     "context": {"pageUri": ..., "pageName": ...},
     "legalConsentOptions": {"consent": {"consentToProcess": true, "text": ...}}}

``fields`` maps HubSpot property names (``email``, ``firstname``) to the form's field names;
``0-1`` is HubSpot's contact object. The consent block is sent only when the viewer ticked
the form's consent box (the answer's ``consent``, or the field named ``consent_field``), with
the configured text or, failing that, the text the viewer saw (the event's
``consent.text``). Values are sent as strings, as HubSpot's schema types them; a field the
viewer left empty is left out.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from pvideo.scene.limits import text_problem

PRESET = "hubspot"
EVENTS = ("form_submitted",)
CONTACT = "0-1"  # HubSpot's objectTypeId of contacts
MAX_FIELDS = 100
_PROPERTY = re.compile(r"^[A-Za-z0-9_.\-]{1,100}$")


def _property_names(fields: dict[str, str]) -> dict[str, str]:
    for hubspot_name, answer_field in fields.items():
        if not _PROPERTY.match(hubspot_name):
            raise ValueError(f"{hubspot_name[:40]!r}: a HubSpot property name is letters, digits, _ . - (at most 100)")
        if not _PROPERTY.match(answer_field):
            raise ValueError(f"{hubspot_name}: the form field id {answer_field[:40]!r} is letters, digits, _ . -")
    return fields


def _storable(text: str) -> str:
    problem = text_problem(text)
    if problem:
        raise ValueError(problem)
    return text


class HubSpotConfig(BaseModel):
    """What a HubSpot subscription needs: which form of which portal, and which answer goes where."""

    model_config = ConfigDict(extra="forbid")

    portal_id: str = Field(pattern=r"^[0-9]{1,20}$", description="the HubSpot account (portal) id")
    form_guid: str = Field(
        pattern=r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$",
        description="the form's GUID, from its URL in HubSpot",
    )
    fields: Annotated[dict[str, str], AfterValidator(_property_names)] = Field(
        min_length=1, max_length=MAX_FIELDS, description="HubSpot property name -> the form's field id"
    )
    consent_field: str = Field(default="consent", pattern=r"^[A-Za-z0-9_.\-]{1,100}$")
    consent_text: Annotated[str, AfterValidator(_storable)] | None = Field(default=None, max_length=2000)


def submit_url(base: str, config: HubSpotConfig) -> str:
    return f"{base.rstrip('/')}/submissions/v3/integration/submit/{config.portal_id}/{config.form_guid}"


def answer_value(data: dict[str, Any], name: str) -> Any:
    """A form field's value: the answer's ``fields`` (``{"fields": {...}, "consent": bool}``, what
    ``pvideo.scene.answers`` stores for a form), else the answer's own key, else the event's."""
    answer = data.get("answer")
    if isinstance(answer, dict):
        fields = answer.get("fields")
        if isinstance(fields, dict) and name in fields:
            return fields[name]
        if name in answer:
            return answer[name]
    return data.get(name)


def _consent(config: HubSpotConfig, data: dict[str, Any]) -> str | None:
    """The consent text to send, or None when the viewer did not tick the box (or saw no text)."""
    given = data.get("consent")
    beside: dict[str, Any] = given if isinstance(given, dict) else {}  # {"given", "text"} beside a form's answer
    ticked = _ticked(answer_value(data, config.consent_field))
    if config.consent_field == "consent" and beside.get("given") is True:
        ticked = True
    text = config.consent_text or beside.get("text") or data.get("consent_text")
    return text if ticked and isinstance(text, str) and text else None


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return ";".join(_text(v) for v in value)  # HubSpot's separator for multiple checkboxes
    return str(value)


def _ticked(value: Any) -> bool:
    return value is True or (isinstance(value, str) and value.lower() in ("true", "yes", "on"))


def submission(
    config: HubSpotConfig, data: dict[str, Any], *, submitted_at: datetime, page_uri: str, page_name: str
) -> dict[str, Any]:
    """The Forms API body for one ``form_submitted`` event's ``data``."""
    fields = [
        {"objectTypeId": CONTACT, "name": name, "value": _text(value)}
        for name, field in config.fields.items()
        if (value := answer_value(data, field)) not in (None, "", [])
    ]
    body: dict[str, Any] = {
        "submittedAt": str(int(submitted_at.timestamp() * 1000)),
        "fields": fields,
        "context": {"pageUri": page_uri, "pageName": page_name},
    }
    consent_text = _consent(config, data)
    if consent_text:
        body["legalConsentOptions"] = {"consent": {"consentToProcess": True, "text": consent_text}}
    return body
