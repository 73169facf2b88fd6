"""The manifest of personal links that marketing merges into its email tool."""

from __future__ import annotations

import csv
import io

from pvideo.models import Render, RenderStatus

COLUMNS = ("row", "customer_id", "status", "landing_url", "video_url", "poster_url", "error")


def render_links(render: Render, base_url: str) -> dict[str, str | None]:
    """Landing page (unless failed), video and poster (once done) URLs of one render."""
    landing = f"{base_url}/v/{render.viewer_token}"
    usable = bool(render.viewer_token) and render.status != RenderStatus.FAILED
    done = usable and render.status == RenderStatus.DONE
    return {"landing_url": landing if usable else None,
            "video_url": f"{landing}/video.mp4" if done else None,
            "poster_url": f"{landing}/poster.jpg" if done else None}


def manifest_rows(renders: list[Render], base_url: str) -> list[dict[str, str]]:
    rows = []
    for r in renders:
        links = {k: v or "" for k, v in render_links(r, base_url).items()}
        rows.append({"row": str(r.row_number), "customer_id": r.customer_id, "status": r.status,
                     **links, "error": r.error or ""})
    return rows


def manifest_csv(rows: list[dict[str, str]]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=COLUMNS)
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()
