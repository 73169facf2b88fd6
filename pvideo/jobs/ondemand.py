"""On-demand rendering: the first view of a customer's page renders their video.

The playlist is published before anything is encoded (every segment's
duration is known from the template version), the row gets its geometry and
CTA hotspots at once, and each personal part is stored the moment it is
encoded; shared template segments play immediately. A database claim makes
concurrent first views, in any number of processes, render once.

Part encodes ask an ``EncodeScheduler`` (``pvideo.jobs.scheduling``) for a
slot: a viewer's first part as a first part, asked at the view; every later
part as needed when playback reaches it (view time + its start in the video).
"""

from __future__ import annotations

import logging
import threading
from contextlib import AbstractContextManager

from pvideo.db.models import Render
from pvideo.errors import NotFound, RenderBusy
from pvideo.jobs import pipeline
from pvideo.jobs.scheduling import EncodeScheduler, Kind
from pvideo.plan.model import RenderPlan
from pvideo.render import hls
from pvideo.render.ingest import TemplateVersion
from pvideo.render.parts import PersonalPart, layout, output_duration, planned_parts, skipped_segments
from pvideo.runtime import Runtime

log = logging.getLogger(__name__)


class OnDemand:
    def __init__(self, runtime: Runtime, scheduler: EncodeScheduler | None = None) -> None:
        self.runtime = runtime
        self.scheduler = scheduler or EncodeScheduler()
        self._threads: dict[str, threading.Thread] = {}
        self._lock = threading.Lock()

    def request(self, render_id: str) -> None:
        """Start rendering ``render_id`` unless this process already is (idempotent, returns at once)."""
        with self._lock:
            running = self._threads.get(render_id)
            if running is not None and running.is_alive():
                return
            thread = threading.Thread(
                target=self._render, args=(render_id,), name=f"ondemand-{render_id[:8]}", daemon=True
            )
            self._threads[render_id] = thread
            thread.start()

    def wait(self, render_id: str, timeout: float | None = None) -> None:
        thread = self._threads.get(render_id)
        if thread is not None:
            thread.join(timeout)

    def _render(self, render_id: str) -> None:
        rt, viewed_at = self.runtime, self.scheduler.clock()
        prefix: list[str] = []
        starts: dict[int, float] = {}  # each part's first segment -> its start in the customer's video (s)

        def on_plan(plan: RenderPlan, version: TemplateVersion, digest: str) -> None:
            prefix.append(f"outputs/{digest}")
            skip = skipped_segments(plan, version)
            parts = planned_parts(plan, version)
            starts.update(part_starts(version, parts, skip))
            text = hls.media_playlist(hls.entries(version, parts, prefix[0], skip))
            rt.storage.put_bytes(hls.playlist_key(digest), text.encode(), "application/vnd.apple.mpegurl")
            if pipeline.discard_if_erased(rt.db, rt.storage, render_id, digest):  # erased meanwhile
                raise NotFound(f"render {render_id!r} was erased")
            with rt.db.session() as session:  # after the playlist: the page can show the player from now on
                row = session.get(Render, render_id)
                if row is None:
                    raise NotFound(f"render {render_id!r} not found")
                row.plan_digest, row.hotspots = digest, [h.to_json() for h in plan.hotspots]
                row.width, row.height = version.width, version.height
                row.duration = output_duration(plan, version)

        def on_part(part: PersonalPart) -> None:
            rt.storage.put_file(f"{prefix[0]}/{part.path.name}", part.path, "video/mp2t")

        def encode_slot(first_segment: int) -> AbstractContextManager[None]:
            if first_segment == min(starts, default=first_segment):
                return self.scheduler.slot(Kind.FIRST, viewed_at)
            return self.scheduler.slot(Kind.LATER, viewed_at + starts.get(first_segment, 0.0))

        def finish_slot() -> AbstractContextManager[None]:  # thumbnails, MP4: nobody is watching them yet
            return self.scheduler.slot(Kind.EAGER)

        hooks = pipeline.RenderHooks(on_plan=on_plan, on_part=on_part, encode_slot=encode_slot, finish_slot=finish_slot)
        try:
            pipeline.render_customer(rt.db, rt.storage, rt.settings, render_id, hooks=hooks)
        except RenderBusy:
            log.info("render %s is being rendered elsewhere", render_id)
        except Exception as exc:  # the pipeline has recorded it on the row; the next view tries again
            log.warning("on-demand render %s: %s", render_id, exc)
        finally:
            with self._lock:
                self._threads.pop(render_id, None)


def part_starts(version: TemplateVersion, parts: list[tuple[int, int]], skip: frozenset[int]) -> dict[int, float]:
    """Each part's first template segment -> the second of the customer's video where it starts."""
    out, at = {}, 0.0
    for first, count, is_part in layout(version, parts, skip):
        if is_part:
            out[first] = at
        at += sum(version.segment_duration(s) for s in version.segments[first : first + count])
    return out
