"""The landing-page tracker's batching, replayed: what ``api/static/tracker.js`` sends for a visit.

``tracker_batching`` reads the batching constants from tracker.js itself (``FLUSH_AT``,
``FLUSH_INTERVAL_MS``, ``MAX_BATCH``), so the benchmark replays what the file in this checkout
does; ``visit_timeline`` is a viewer's visit (the events a 60 s video yields, with their times)
and ``group`` cuts it into requests the way the tracker's queue does.
"""

from __future__ import annotations

import random
import re
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

CTA = {
    "id": "buy",
    "label": "Buy",
    "href": "https://shop.example/buy",
    "x": 10,
    "y": 10,
    "w": 100,
    "h": 40,
    "start": 5.0,
    "end": 15.0,
}


TRACKER_JS = Path(__file__).resolve().parents[1] / "api" / "static" / "tracker.js"


@dataclass(frozen=True)
class Batching:
    """How a tracker groups a visit's events into requests: at ``flush_at`` waiting events, or
    ``interval`` seconds after the first of them was queued; ``on_end``: at once when the video ends.
    Whatever waits when the visit ends goes then (the beacon on ``pagehide``)."""

    flush_at: int
    interval: float
    max_batch: int = 50
    on_end: bool = False


def tracker_batching(source: Path = TRACKER_JS) -> Batching:
    """The batching ``api/static/tracker.js`` declares (``var FLUSH_AT = 20;`` and its kin), read from the file."""
    text = source.read_text()

    def constant(name: str) -> int:
        found = re.search(rf"^\s*var {name} = (\d+);", text, re.MULTILINE)
        if not found:
            raise ValueError(f"{source}: no `var {name} = <number>;`")
        return int(found.group(1))

    return Batching(constant("FLUSH_AT"), constant("FLUSH_INTERVAL_MS") / 1000, constant("MAX_BATCH"))


TRACKER = tracker_batching()
# the tracker before it batched like analytics.js (1.16 events per request): 1 s after the first event,
# at 10, and by beacon at the end of the video
PREVIOUS_TRACKER = Batching(flush_at=10, interval=1.0, max_batch=50, on_end=True)


def visit_timeline(rng: random.Random, duration: float = 60.0) -> list[tuple[float, str, dict]]:
    """One viewer's visit as the tracker records it: page_view, ready, and (four in five) play, the CTA
    impression, percent_progress every 10 %, a ping every 10 s of playing, then end or pause; as
    (seconds since the page opened, type, fields)."""
    timeline: list[tuple[float, str, dict]] = [(0.0, "page_view", {}), (0.3, "ready", {"position": 0.0})]
    if rng.random() >= 0.2:  # a fifth leave without playing
        start = 0.3 + rng.uniform(0.5, 5)
        stop = duration if rng.random() < 0.5 else rng.uniform(3, duration)
        timeline.append((start, "play", {"position": 0.0}))
        marks = [(CTA["start"], "cta_impression", {"cta_id": CTA["id"]})]
        marks += [(duration * p / 100, "percent_progress", {"percent": p}) for p in range(10, 100, 10)]
        marks += [(float(s), "ping", {}) for s in range(10, int(duration), 10)]
        for at, kind, extra in sorted(marks, key=lambda m: m[0]):
            if at <= stop:
                timeline.append((start + at, kind, {"position": at, **extra}))
        timeline.append((start + stop, "end" if stop >= duration else "pause", {"position": stop}))
    return timeline


def group(times: list[float], kinds: list[str], batching: Batching) -> list[list[int]]:
    """The requests a tracker sends for events queued at ``times``: lists of event indexes."""
    batches: list[list[int]] = []
    waiting: list[int] = []
    due = None
    for n, (t, kind) in enumerate(zip(times, kinds, strict=True)):
        if due is not None and t >= due:  # the timer set by the first waiting event fired
            batches.append(waiting)
            waiting, due = [], None
        waiting.append(n)
        due = t + batching.interval if due is None else due
        if len(waiting) >= batching.flush_at or (batching.on_end and kind == "end"):
            batches.append(waiting)
            waiting, due = [], None
    if waiting:
        batches.append(waiting)  # the beacon on pagehide
    return [b[i : i + batching.max_batch] for b in batches for i in range(0, len(b), batching.max_batch)]


def tracker_batches(
    rng: random.Random, now: datetime, duration: float = 60.0, batching: Batching = TRACKER
) -> list[list[dict]]:
    """One viewer's visit (``visit_timeline``) as the tracker sends it (``batching``: by default what
    ``api/static/tracker.js`` declares)."""
    sid = uuid.uuid4().hex
    timeline = visit_timeline(rng, duration)
    events = [
        {
            "event_id": uuid.uuid4().hex,
            "type": kind,
            "session_id": sid,
            "seq": seq,
            "duration": duration,
            "client_ts": (now + timedelta(seconds=t)).isoformat(),
            **extra,
        }
        for seq, (t, kind, extra) in enumerate(timeline, start=1)
    ]
    requests = group([t for t, _, _ in timeline], [k for _, k, _ in timeline], batching)
    return [[events[i] for i in request] for request in requests]
