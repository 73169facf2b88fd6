"""A customer seeded through every store an export reads: two campaigns' rows, stored media
(MP4 larger than one read chunk, poster, thumbnails, captions, HLS playlist and a personal part
beside a shared template segment), events, an answer, a webhook delivery and a revoked link;
and a second customer beside them, whose data must never appear in the first one's export."""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass, field
from datetime import timedelta

from pvideo.access.revocation import revoke_viewer_token
from pvideo.db.models import Render, Response, WebhookDelivery, WebhookSubscription, utcnow
from pvideo.render import hls
from pvideo.tracking.events import ingest
from tests.viewers import done_campaign, event

CUSTOMER, NAME, EMAIL = "cust-zq-7731", "Zebulon Quixtaff", "zebulon.quixtaff@example.org"
OTHER, OTHER_NAME, OTHER_EMAIL = "cust-pw-4410", "Philippa Wendeborn", "philippa.wendeborn@example.net"
SHARED_SEGMENT = "templates/0123abcd/seg_00000.ts"


@dataclass
class Seeded:
    campaigns: list[str]
    customer_renders: list[str]
    other_render: str
    objects: dict[str, bytes] = field(default_factory=dict)  # key -> bytes of the customer's media
    event_ids: list[str] = field(default_factory=list)


def _row(n: int) -> dict:
    return {"first_name": NAME, "email": EMAIL} if n == 1 else {"first_name": OTHER_NAME, "email": OTHER_EMAIL}


def _store_media(runtime, render: Render, *, video_size: int) -> dict[str, bytes]:
    """Media at the render's keys; the HLS playlist lists a shared segment and a personal part."""
    folder = f"outputs/{render.id}"
    objects = {
        render.video_key: os.urandom(video_size),
        render.poster_key: b"\xff\xd8poster of " + render.id.encode(),
        f"{folder}/thumbnail.jpg": b"\xff\xd8thumb " + render.id.encode(),
        f"{folder}/thumbnail.gif": b"GIF89a" + os.urandom(2048),
        f"{folder}/captions-0123456789abcdef.vtt": f"WEBVTT\n\n00:00.000 --> 00:01.000\nHi {render.id}\n".encode(),
        f"{folder}/part_00001.ts": os.urandom(4096),
    }
    playlist = hls.media_playlist([hls.Entry(SHARED_SEGMENT, 1.0), hls.Entry(f"{folder}/part_00001.ts", 1.0)])
    objects[hls.playlist_key(render.id)] = playlist.encode()
    for key, data in objects.items():
        runtime.storage.put_bytes(key, data)
    runtime.storage.put_bytes(SHARED_SEGMENT, b"shared template segment")
    render.thumbnail_key = f"{folder}/thumbnail.jpg"
    render.outputs = {
        "thumbnail.gif": f"{folder}/thumbnail.gif",
        "captions.vtt": f"{folder}/captions-0123456789abcdef.vtt",
    }
    render.plan_digest = render.id
    return objects


def seed(runtime, tokens, *, video_size: int = 3 * 1024 * 1024 + 17) -> Seeded:
    first, (mine, other) = done_campaign(runtime.db, tokens, name="Autumn", row=_row)
    second, (again,) = done_campaign(runtime.db, tokens, viewers=1, name="Winter", row=_row)
    seeded = Seeded([first, second], [mine.render_id, again.render_id], other.render_id)
    now = utcnow()
    with runtime.db.session() as session:
        for render_id in (mine.render_id, again.render_id, other.render_id):
            render = session.get(Render, render_id)
            render.customer_id = OTHER if render_id == other.render_id else CUSTOMER
            stored = _store_media(runtime, render, video_size=video_size if render_id != other.render_id else 1000)
            if render_id != other.render_id:
                seeded.objects.update(stored)
            events = [event("page_view", event_id=f"ev-{render_id}-1"), event("play", 0.5, seq=1)]
            ingest(session, render, events, device="desktop")
            if render_id != other.render_id:
                seeded.event_ids.append(f"ev-{render_id}-1")
            email = EMAIL if render_id != other.render_id else OTHER_EMAIL
            session.add(
                Response(
                    campaign_id=render.campaign_id,
                    render_id=render_id,
                    session_id="s1",
                    event_id=f"answer-{render_id}",
                    interaction_id="contact",
                    interaction_type="form",
                    answer={"email": email},
                    pii=True,
                )
            )
            subscription = WebhookSubscription(
                campaign_id=render.campaign_id,
                url="https://crm.example/hook",
                events=["form_submitted"],
                secret="x" * 32,
            )
            session.add(subscription)
            session.flush()
            session.add(
                WebhookDelivery(
                    id=f"msg_{uuid.uuid4().hex[:26]}",
                    subscription_id=subscription.id,
                    campaign_id=render.campaign_id,
                    event_id=f"answer-{render_id}",
                    event_type="form_submitted",
                    payload={
                        "type": "form_submitted",
                        "timestamp": "2026-11-22T10:00:00Z",
                        "data": {"event_id": f"answer-{render_id}", "render_id": render_id, "answer": {"email": email}},
                    },
                    status="delivered",
                    attempts=1,
                    next_attempt_at=now,
                    delivered_at=now + timedelta(seconds=1),
                )
            )
        revoke_viewer_token(session, tokens, mine.render_id, reissue=True, reason="resent")
    return seeded
