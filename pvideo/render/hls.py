"""HLS playlists for a customer: shared template segments plus their own parts.

A customer's media playlist lists, in order, the template version's shared
MPEG-TS segments and the customer's personal parts (re-encoded runs of
segments). The stored playlist names *storage keys*; the API rewrites each
into a URL the viewer may fetch (a presigned S3 URL, or a token-scoped route).
Where a skipped section leaves out segments, the next entry carries
``EXT-X-DISCONTINUITY``: its timestamps jump by the section's length.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from pvideo.render.ingest import TemplateVersion
from pvideo.render.parts import layout, part_name

PLAYLIST = "index.m3u8"


@dataclass(frozen=True)
class Entry:
    key: str
    duration: float
    discontinuity: bool = False


def entries(
    version: TemplateVersion, parts: Sequence[tuple[int, int]], prefix: str, skip: frozenset[int] = frozenset()
) -> list[Entry]:
    """Playlist entries in time order; each part ``(first, count)``, stored under ``prefix``,
    replaces the segments it spans; ``skip`` segments (skipped sections) are left out."""
    out: list[Entry] = []
    expected = 0
    for first, count, is_part in layout(version, parts, skip):
        duration = sum(version.segment_duration(s) for s in version.segments[first : first + count])
        out.append(
            Entry(
                f"{prefix}/{part_name(first)}" if is_part else version.segments[first].key,
                duration,
                discontinuity=bool(out) and first != expected,
            )
        )
        expected = first + count
    return out


def media_playlist(items: Sequence[Entry], uri: Callable[[str], str] = lambda key: key) -> str:
    """A VOD media playlist; ``uri`` maps each storage key to what the player fetches."""
    target = max(1, max(math.ceil(e.duration - 1e-3) for e in items))
    lines = [
        "#EXTM3U",
        "#EXT-X-VERSION:3",
        f"#EXT-X-TARGETDURATION:{target}",
        "#EXT-X-MEDIA-SEQUENCE:0",
        "#EXT-X-PLAYLIST-TYPE:VOD",
        "#EXT-X-INDEPENDENT-SEGMENTS",
    ]
    for item in items:
        if item.discontinuity:
            lines.append("#EXT-X-DISCONTINUITY")
        lines += [f"#EXTINF:{item.duration:.6f},", uri(item.key)]
    lines.append("#EXT-X-ENDLIST")
    return "\n".join(lines) + "\n"


def playlist_keys(text: str) -> list[str]:
    """The segment URIs (storage keys) of a stored media playlist, in order."""
    return [line for line in text.splitlines() if line and not line.startswith("#")]


def rewrite(text: str, uri: Callable[[str], str]) -> str:
    return "\n".join(uri(line) if line and not line.startswith("#") else line for line in text.splitlines()) + "\n"


def playlist_key(digest: str) -> str:
    return f"outputs/{digest}/{PLAYLIST}"
