"""On-demand rendering: the first view of a customer's page renders their video.

The playlist is published before anything is encoded (every segment's
duration is known from the template version), the row gets its geometry and
CTA hotspots at once, and each personal part is stored the moment it is
encoded; shared template segments play immediately. A database claim makes
concurrent first views, in any number of processes, render once.
"""

from __future__ import annotations

import logging
import threading

from pvideo.db.models import Render
from pvideo.errors import NotFound, RenderBusy
from pvideo.jobs import pipeline
from pvideo.plan.model import RenderPlan
from pvideo.render import hls
from pvideo.render.ingest import TemplateVersion
from pvideo.render.parts import PersonalPart, output_duration, planned_parts, skipped_segments
from pvideo.runtime import Runtime

log = logging.getLogger(__name__)


class OnDemand:
    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
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
        rt = self.runtime
        prefix: list[str] = []

        def on_plan(plan: RenderPlan, version: TemplateVersion, digest: str) -> None:
            prefix.append(f"outputs/{digest}")
            skip = skipped_segments(plan, version)
            text = hls.media_playlist(hls.entries(version, planned_parts(plan, version), prefix[0], skip))
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

        try:
            pipeline.render_customer(
                rt.db, rt.storage, rt.settings, render_id, hooks=pipeline.RenderHooks(on_plan=on_plan, on_part=on_part)
            )
        except RenderBusy:
            log.info("render %s is being rendered elsewhere", render_id)
        except Exception as exc:  # the pipeline has recorded it on the row; the next view tries again
            log.warning("on-demand render %s: %s", render_id, exc)
        finally:
            with self._lock:
                self._threads.pop(render_id, None)
