"""What a landing page shows: its template context and its Content-Security-Policy."""

from __future__ import annotations

import logging
from functools import lru_cache
from typing import Any

from api.security import CSP
from pvideo.db.models import Render, TrackingMode
from pvideo.errors import PvideoError
from pvideo.plan.interactive import Interactive, render_interactive
from pvideo.privacy.consent import shows_banner
from pvideo.render.captions import read_track
from pvideo.render.chapters import chapters_from_ctas
from pvideo.storage import Storage

log = logging.getLogger(__name__)

HLS_JS = "/static/vendor/hls.min.js"
PING_SECONDS = 10
RESPONSES_URL = "/api/responses"
LANDING_CSP = CSP.replace("form-action 'none'", "form-action 'self'")
"""The strict CSP, except that forms may post to the page's own origin: without JavaScript a
viewer answers a poll or a form through a plain HTML form (``/v/{token}/answers/{id}``)."""


def landing_csp(*, hls: bool) -> str:
    """The strict page CSP; with HLS, hls.js also fetches playlists and segments from storage."""
    return LANDING_CSP.replace("connect-src 'self'", "connect-src 'self' https:") if hls else LANDING_CSP


def page_interactive(render: Render) -> Interactive:
    """The render's interactions and branch sections for its page; none (logged) when its stored
    scene no longer reads: the video still plays, the questions are left out."""
    try:
        return render_interactive(render)
    except (PvideoError, ValueError) as exc:
        log.warning("render %s: interactions left out of its page: %s", render.id, exc)
        return {"sections": [], "interactions": []}


def stored_chapters(render: Render, storage: Storage) -> list[dict[str, Any]] | None:
    """The chapters of the render's stored track (``None`` when it has no track to read)."""
    key = (render.outputs or {}).get("track.vtt")
    if not key:
        return None
    try:
        return [dict(chapter) for chapter in _track_chapters(storage, key)]
    except (PvideoError, UnicodeDecodeError):
        return None


@lru_cache(maxsize=4096)
def _track_chapters(storage: Storage, key: str) -> tuple[dict[str, Any], ...]:
    """Stored tracks are named by the hash of their text, so a key's chapters never change:
    a landing page view reads storage only the first time (failures are not cached)."""
    chapters, _ = read_track(storage.get_bytes(key).decode("utf-8"))
    return tuple(c.to_json() for c in chapters)


def landing_context(
    render: Render,
    token: str,
    base_url: str,
    *,
    hls_url: str | None = None,
    captions_url: str | None = None,
    chapters: list[dict[str, Any]] | None = None,
    heading: str = "A video made just for you",
) -> dict[str, Any]:
    """Everything ``landing.html`` needs. CTA links go through the click redirect
    (``/v/{token}/cta/{id}``); no URL carries anything but the signed token. Interactions go to
    ``interactive.js`` in ``config.interactive`` and, for pages read without JavaScript, to the
    template as plain forms posting to ``/v/{token}/answers/{id}``."""
    page = f"/v/{token}"
    interactive = page_interactive(render)
    interactions = [dict(i, action=f"{page}/answers/{i['id']}") for i in interactive["interactions"]]
    duration = render.duration or 0.0
    hotspots = [dict(h, click_url=f"{page}/cta/{h['id']}") for h in render.hotspots or []]
    if chapters is None:
        chapters = [c.to_json() for c in chapters_from_ctas(hotspots, duration)]
    poster = f"{page}/poster.jpg" if render.poster_key else None
    outputs = render.outputs or {}
    if captions_url is None and "captions.vtt" in outputs:
        captions_url = f"{page}/captions.vtt"
    title = f"Your {render.campaign.name} video"
    tracking = render.campaign.tracking or TrackingMode.FULL
    return {
        "title": title,
        "heading": heading,
        "description": "A personal video, made just for you.",
        "page_url": f"{base_url}{page}",
        "video_url": f"{page}/video.mp4",
        "video_abs_url": f"{base_url}{page}/video.mp4",
        "poster_url": poster,
        "poster_abs_url": f"{base_url}{poster}" if poster else None,
        "hls_url": hls_url,
        "captions_url": captions_url,
        "chapters": chapters,
        "chapters_url": f"{page}/chapters.vtt" if chapters else None,
        "track_url": f"{page}/track.vtt" if "track.vtt" in outputs else None,
        "captions_language": ((render.campaign.scene or {}).get("captions") or {}).get("language") or "en",
        "width": render.width or 1280,
        "height": render.height or 720,
        "duration": duration,
        "hotspots": hotspots,
        "static_url": "/static",
        "interactions": interactions,
        "consent_banner": shows_banner(tracking),
        "config": {
            "tracking": tracking,
            "token": token,
            "events_url": "/api/events",
            "duration": duration,
            "hls_url": hls_url,
            "hls_js": HLS_JS,
            "ping_seconds": PING_SECONDS,
            "hotspots": [{k: h[k] for k in ("id", "start", "end", "click_url")} for h in hotspots],
            "interactive": interactive,
            "responses_url": RESPONSES_URL,
        },
    }
