"""Test helpers: a campaign of finished renders stored directly (no ffmpeg), and event builders."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from pvideo.access.tokens import ViewerTokens
from pvideo.db.models import Campaign, Render, RenderStatus, new_id
from tests.conftest import CARD_SCENE

BUY = {
    "id": "buy",
    "label": "Get Pro",
    "href": "https://shop.example/buy?c=c1",
    "x": 40,
    "y": 260,
    "w": 240,
    "h": 60,
    "start": 2.5,
    "end": 4.0,
}
MORE = {
    "id": "more",
    "label": "Learn <more>",
    "href": "https://shop.example/more",
    "x": 360,
    "y": 260,
    "w": 240,
    "h": 60,
    "start": 20.0,
    "end": 30.0,
}


@dataclass
class Viewer:
    render_id: str
    token: str


def done_campaign(
    db,
    tokens: ViewerTokens,
    *,
    viewers: int = 2,
    duration: float = 40.0,
    hotspots: tuple[dict, ...] = (BUY, MORE),
    scene: dict | None = None,
    name: str = "Autumn",
    row=lambda n: {},
) -> tuple[str, list[Viewer]]:
    """A campaign whose renders are all done: ``duration`` seconds, 640x360, ``hotspots``; the
    scene (default: the card scene with those CTAs) and each row's data (``row(n)``, n from 1)."""
    if scene is None:
        scene = dict(
            CARD_SCENE,
            layers=[{"type": "cta", **{k: h[k] for k in ("id", "label", "href", "start", "end")}} for h in hotspots],
        )
    out = []
    with db.session() as session:
        campaign = Campaign(id=new_id(), name=name, scene_name=scene.get("name", "card"), scene=scene)
        session.add(campaign)
        session.flush()
        for n in range(viewers):
            render_id = new_id()
            token = tokens.issue(render_id)
            session.add(
                Render(
                    id=render_id,
                    campaign_id=campaign.id,
                    row_number=n + 1,
                    customer_id=f"c{n + 1}",
                    data=row(n + 1),
                    status=RenderStatus.DONE,
                    width=640,
                    height=360,
                    duration=duration,
                    hotspots=[dict(h) for h in hotspots],
                    viewer_token=token,
                    video_key=f"outputs/{render_id}/video.mp4",
                    poster_key=f"outputs/{render_id}/poster.jpg",
                )
            )
            out.append(Viewer(render_id, token))
        campaign_id = campaign.id
    return campaign_id, out


def event(
    kind: str,
    position: float | None = None,
    *,
    seq: int | None = None,
    session_id: str = "s1",
    cta: str | None = None,
    percent: int | None = None,
    client_ts: str = "2026-11-22T10:00:00Z",
    event_id: str | None = None,
) -> dict:
    ev = {"event_id": event_id or uuid.uuid4().hex, "type": kind, "session_id": session_id, "client_ts": client_ts}
    for key, value in (("position", position), ("seq", seq), ("cta_id", cta), ("percent", percent)):
        if value is not None:
            ev[key] = value
    return ev
