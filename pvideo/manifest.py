"""The manifest of personal links that marketing merges into its email tool."""

from __future__ import annotations

import csv
import io

from pvideo.models import Render, RenderStatus

COLUMNS = ("row", "customer_id", "status", "landing_url", "video_url", "poster_url", "error")


def manifest_rows(renders: list[Render], base_url: str) -> list[dict[str, str]]:
    rows = []
    for r in renders:
        done = r.status == RenderStatus.DONE
        link = f"{base_url}/v/{r.viewer_token}"
        rows.append({
            "row": str(r.row_number), "customer_id": r.customer_id, "status": r.status,
            "landing_url": link if r.viewer_token and r.status != RenderStatus.FAILED else "",
            "video_url": f"{link}/video.mp4" if done else "",
            "poster_url": f"{link}/poster.jpg" if done else "",
            "error": r.error or "",
        })
    return rows


def manifest_csv(rows: list[dict[str, str]]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=COLUMNS)
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()
