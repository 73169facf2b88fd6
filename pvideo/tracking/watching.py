"""Watched content as intervals of the video: credited from a session's position
events, merged, clipped to the video, and read at the drop-off buckets'
midpoints. Rewatching adds nothing: lengths are of the union.

Within a session, position events are taken in the tracker's sequence order
(then arrival), never by client time. The segment between two consecutive
ones is watched when the first opens playback (``OPENS``), the second
continues or closes it (``CLOSES``), and the position moved forward by at
most ``MAX_GAP`` seconds (a longer jump is one nobody watched).
"""

from __future__ import annotations

import math
from collections.abc import Iterable

Interval = tuple[float, float]

BUCKETS = 20  # the drop-off curve's 5 % buckets
MAX_GAP = 25.0
OPENS = frozenset({"play", "ping", "percent_progress", "progress", "seek_end"})
CLOSES = frozenset({"ping", "percent_progress", "progress", "pause", "end", "ended", "seek_start"})
POSITION_EVENTS = OPENS | CLOSES


def credit(
    events: Iterable[tuple[str, float | None]], previous: tuple[str, float] | None = None
) -> tuple[list[Interval], tuple[str, float] | None]:
    """The segments ``events`` credit as watched, continuing after the position event ``previous``;
    also the last position event, from which a later part of the stream continues."""
    credited: list[Interval] = []
    for kind, position in events:
        if position is None or kind not in POSITION_EVENTS:
            continue
        if previous and previous[0] in OPENS and kind in CLOSES and 0 < position - previous[1] <= MAX_GAP:
            credited.append((previous[1], position))
        previous = (kind, position)
    return credited, previous


def merge(intervals: Iterable[Interval]) -> list[Interval]:
    """The union of ``intervals`` as sorted, disjoint intervals (touching ones joined)."""
    merged: list[list[float]] = []
    for start, end in sorted(i for i in intervals if i[1] > i[0]):
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    return [(s, e) for s, e in merged]


def clip(intervals: Iterable[Interval], duration: float) -> list[Interval]:
    return merge((max(0.0, s), min(duration, e)) for s, e in intervals)


def buckets_covered(intervals: list[Interval], duration: float) -> list[bool]:
    """For each 5 % bucket of the video: is its midpoint inside a watched interval?

    Bucket b's midpoint is (b + 0.5) / 20 of the duration, so an interval
    [s, e] covers buckets ceil(20 s / d - 0.5) .. floor(20 e / d - 0.5).
    """
    covered = [False] * BUCKETS
    if duration <= 0:
        return covered
    for start, end in intervals:
        first = max(0, math.ceil(start / duration * BUCKETS - 0.5 - 1e-9))
        last = min(BUCKETS - 1, math.floor(end / duration * BUCKETS - 0.5 + 1e-9))
        for b in range(first, last + 1):
            covered[b] = True
    return covered


def bucket_mask(intervals: list[Interval], duration: float) -> int:
    """``buckets_covered`` as an int: bit b set when bucket b is covered."""
    return sum(1 << b for b, hit in enumerate(buckets_covered(intervals, duration)) if hit)
