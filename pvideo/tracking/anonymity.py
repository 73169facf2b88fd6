"""What a viewer's event or answer keeps when its campaign may not record the viewer personally.

A campaign's ``tracking`` (``TrackingMode``) says how far its landing pages record a viewer:
``full``, everything; ``anonymous``, only what the campaign's counts need; ``consent``, anonymous
until the viewer agrees, then everything. Whether a request carries an agreement the server
honours (the tracker's ``consent: true``, never with ``Sec-GPC: 1`` or ``DNT: 1``) is decided at
the edge, from the request (``pvideo.privacy.consent``); this module applies the campaign's mode
to it where the rows are made, the only place the mode is known (it is read with the render).

An anonymous event keeps what the rollups count plays, opens, completions, watched seconds and
CTA clicks from: its type, position, percent, media duration, CTA or interaction id, detail,
the device class (one of five, ``pvideo.tracking.devices``), its event id (random per event: it
deduplicates a retried batch and links nothing) and our receipt time. It loses the session id,
the sequence number and the device's clock (``occurred_at`` is the receipt time). Its render id
stays: a personal link's video is what the counts are counted per (an erasure removes it with
the rest). The anonymous events of one render thus form one session (``""``) in the rollups.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from pvideo.db.models import Campaign, TrackingMode

PERSONAL_FIELDS = ("session_id", "seq", "client_ts")
"""What an event or an answer from the page carries that ties it to one viewer's visit."""


def records_personal(mode: str | None, consented: bool) -> bool:
    """Whether a viewer's event or answer is kept whole: in ``full`` mode always, in ``consent``
    mode once the viewer agreed (as the server honours it), in ``anonymous`` mode never. An
    unknown mode records as ``anonymous`` does."""
    if mode == TrackingMode.FULL:
        return True
    return mode == TrackingMode.CONSENT and consented


def anonymous_event(row: dict[str, Any]) -> dict[str, Any]:
    """An ``events`` row without the personal fields, its time our receipt time."""
    return {**row, "session_id": None, "seq": None, "client_ts": None, "occurred_at": row["received_at"]}


def anonymous_payload(raw: Any) -> Any:
    """A refused event as ``failed_events`` keeps it: without the personal fields."""
    if isinstance(raw, dict):
        return {k: v for k, v in raw.items() if k not in PERSONAL_FIELDS}
    return raw


def campaign_modes(session: Session, renders: Iterable[Any]) -> dict[str, str]:
    """The tracking mode of each render's campaign (campaign id -> mode): from the render row
    where its reader selected ``tracking`` (the group commit does), else read here."""
    modes: dict[str, str] = {}
    missing: set[str] = set()
    for render in renders:
        mode = getattr(render, "tracking", None)
        if mode is None:
            missing.add(render.campaign_id)
        else:
            modes[render.campaign_id] = mode
    missing -= modes.keys()
    if missing:
        query = select(Campaign.id, Campaign.tracking).where(Campaign.id.in_(sorted(missing)))
        modes.update((campaign_id, mode) for campaign_id, mode in session.execute(query))
    return modes
