"""Device class of a viewer, from the User-Agent header: the only device data kept."""

from __future__ import annotations

import re
from functools import lru_cache

DEVICES = ("mobile", "tablet", "desktop", "bot", "unknown")

_BOT = re.compile(r"bot|crawl|spider|slurp|facebookexternalhit|preview|headlesschrome", re.I)
_TABLET = re.compile(r"ipad|tablet|kindle|silk|playbook|(android(?!.*mobile))", re.I)
_MOBILE = re.compile(r"mobi|iphone|ipod|android.*mobile|windows phone|blackberry|opera mini", re.I)


@lru_cache(maxsize=4096)  # a few browsers' strings make most of the traffic
def device_class(user_agent: str | None) -> str:
    """``mobile``, ``tablet``, ``desktop``, ``bot`` (crawlers, link previewers, headless
    browsers) or ``unknown`` (no header, or not a browser: every browser's starts "Mozilla/")."""
    if not user_agent:
        return "unknown"
    if _BOT.search(user_agent):
        return "bot"
    if _TABLET.search(user_agent):
        return "tablet"
    if _MOBILE.search(user_agent):
        return "mobile"
    return "desktop" if user_agent.startswith("Mozilla/") else "unknown"
