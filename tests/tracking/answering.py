"""Test helpers: a campaign whose scene asks every kind of interaction, stored directly (no ffmpeg),
and answer builders."""

from __future__ import annotations

import uuid
from typing import Any

from pvideo.access.tokens import ViewerTokens
from tests.conftest import CARD_SCENE
from tests.viewers import BUY, Viewer, done_campaign

INTERACTIONS: list[dict[str, Any]] = [
    {
        "type": "nps",
        "id": "recommend",
        "start": 2,
        "pause": True,
        "question": "Would you recommend us, {{ first_name }}?",
    },
    {
        "type": "poll",
        "id": "topic",
        "start": 3,
        "question": "What matters most?",
        "choices": [{"id": "price", "label": "Price"}, {"id": "service", "label": "Service"}],
    },
    {
        "type": "poll",
        "id": "channels",
        "start": 4,
        "multiple": True,
        "question": "Where do you hear from us?",
        "choices": [{"id": "email", "label": "Email"}, {"id": "sms", "label": "SMS"}, {"id": "post", "label": "Post"}],
    },
    {"type": "rating", "id": "stars", "start": 5, "question": "How was this video?", "stars": 5},
    {
        "type": "form",
        "id": "contact",
        "start": 6,
        "pause": True,
        "title": "Stay in touch",
        "fields": [
            {"name": "email", "type": "email", "label": "Email", "required": True, "prefill": "{{ email }}"},
            {"name": "phone", "type": "phone", "label": "Phone"},
            {"name": "note", "type": "text", "label": "Anything else?", "max_length": 200},
            {"name": "seats", "type": "number", "label": "Seats", "min": 1, "max": 50},
            {
                "name": "size",
                "type": "choice",
                "label": "Company size",
                "choices": [{"id": "small", "label": "1-10"}, {"id": "large", "label": "11+"}],
            },
            {"name": "start", "type": "date", "label": "Start date"},
        ],
        "consent": {"text": "You may email me about my plan."},
    },
    {
        "type": "choice",
        "id": "path",
        "start": 8,
        "question": "Tell me about",
        "options": [{"section": "billing", "label": "Billing"}, {"section": "savings", "label": "Savings"}],
        "default": "billing",
    },
    {
        "type": "calendar",
        "id": "meet",
        "start": 35,
        "label": "Book a call",
        "slot": "Tuesday 3 pm",
        "href": "https://cal.example/{{ customer_id }}",
    },
    {
        "type": "poll",
        "id": "vip_only",
        "start": 36,
        "when": "plan == 'VIP'",
        "question": "VIP?",
        "choices": [{"id": "yes", "label": "Yes"}, {"id": "no", "label": "No"}],
    },
]
SECTIONS = [
    {"name": "billing", "start": 10, "end": 20, "then": "end"},
    {"name": "savings", "start": 20, "end": 30, "then": "end"},
]
SCENE = dict(
    CARD_SCENE,
    fields={**CARD_SCENE["fields"], "email": {"type": "str", "default": ""}},
    sections=SECTIONS,
    interactions=INTERACTIONS,
)


def interactive_campaign(
    db, tokens: ViewerTokens, *, viewers: int = 2, duration: float = 40.0, scene: dict | None = None
) -> tuple[str, list[Viewer]]:
    """A campaign of done renders whose scene asks ``INTERACTIONS`` (row n: customer cN, Ann N)."""

    def row(n: int) -> dict:
        return {
            "customer_id": f"c{n}",
            "first_name": f"Ann {n}",
            "email": f"c{n}@example.com",
            "price": 9.0,
            "plan": "Basic",
        }

    return done_campaign(
        db, tokens, viewers=viewers, duration=duration, hotspots=(BUY,), scene=scene or SCENE, name="Check-in", row=row
    )


def answer(
    token: str, interaction_id: str, value: Any, *, session_id: str | None = "s1", event_id: str | None = None
) -> dict[str, Any]:
    """A ``POST /api/responses`` body."""
    body: dict[str, Any] = {
        "token": token,
        "event_id": event_id or uuid.uuid4().hex,
        "interaction_id": interaction_id,
        "answer": value,
        "position": 2.0,
        "client_ts": "2026-11-22T10:00:00Z",
    }
    if session_id is not None:
        body["session_id"] = session_id
    return body
