"""The manifest of personal links that marketing merges into its email tool.

One row per customer: id, landing page, video, poster, thumbnails (JPEG, and
the animated GIF and WebP loops for email), captions, CTA/chapter track,
status, error. Exported as CSV or JSON and streamed page by page, so a 100k-row
campaign is never loaded at once, or as an XLSX workbook written row by row to a file.

An erased customer's row is left out, not shown as a numbered blank: the manifest is what an
email tool merges, and a row with no customer and no link would only be an empty recipient
(the campaign's counts still hold it). A row whose outputs expired keeps its status and has
no links: they answer 410.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from pathlib import Path

from openpyxl import Workbook
from sqlalchemy import select
from sqlalchemy.orm import Session

from pvideo.db.models import Render, RenderStatus

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
OUTPUT_COLUMNS = {
    "thumbnail.gif": "thumbnail_gif_url",
    "thumbnail.webp": "thumbnail_webp_url",
    "captions.vtt": "captions_url",
    "track.vtt": "track_url",
}
COLUMNS = (
    "row",
    "customer_id",
    "status",
    "landing_url",
    "video_url",
    "poster_url",
    "thumbnail_url",
    *OUTPUT_COLUMNS.values(),
    "error",
)
PAGE = 5000


def render_links(render: Render, base_url: str) -> dict[str, str | None]:
    """Landing page (unless failed), video, poster, thumbnails and tracks (once done) URLs of one
    render; none once its outputs expired."""
    landing = f"{base_url}/v/{render.viewer_token}"
    usable = (
        bool(render.viewer_token)
        and render.outputs_expired_at is None
        and render.status not in (RenderStatus.FAILED, RenderStatus.CANCELLED)
    )
    done = usable and render.status == RenderStatus.DONE
    return {
        "landing_url": landing if usable else None,
        "video_url": (f"{landing}/video.mp4" if render.video_key else f"{landing}/index.m3u8") if done else None,
        "poster_url": f"{landing}/poster.jpg" if done else None,
        "thumbnail_url": f"{landing}/thumbnail.jpg" if done and render.thumbnail_key else None,
        **{
            column: f"{landing}/{name}" if done and name in (render.outputs or {}) else None
            for name, column in OUTPUT_COLUMNS.items()
        },
    }


def manifest_row(render: Render, base_url: str) -> dict[str, str]:
    links = {k: v or "" for k, v in render_links(render, base_url).items()}
    return {
        "row": str(render.row_number),
        "customer_id": render.customer_id,
        "status": render.status,
        **links,
        "error": render.error or "",
    }


def manifest_rows(renders: list[Render], base_url: str) -> list[dict[str, str]]:
    return [manifest_row(r, base_url) for r in renders]


def iter_manifest(session: Session, campaign_id: str, base_url: str, *, page: int = PAGE) -> Iterator[dict[str, str]]:
    """Every row of the campaign but erased ones, in row order, ``page`` rows at a time (keyset paging)."""
    after = 0
    while True:
        renders = list(
            session.scalars(
                select(Render)
                .where(Render.campaign_id == campaign_id, Render.row_number > after, Render.erased_at.is_(None))
                .order_by(Render.row_number)
                .limit(page)
            )
        )
        for render in renders:
            yield manifest_row(render, base_url)
        if len(renders) < page:
            return
        after = renders[-1].row_number
        session.expunge_all()


def spreadsheet_safe(value: str) -> str:
    """A CSV cell a spreadsheet will not run as a formula: ``=``, ``+``, ``-``, ``@`` get a leading ``'``."""
    return "'" + value if value[:1] in FORMULA_STARTS else value


def csv_chunks(rows: Iterator[dict[str, str]], *, every: int = 1000) -> Iterator[str]:
    """The CSV text (header first) in chunks of ``every`` rows; customer text is spreadsheet-safe."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=COLUMNS)
    writer.writeheader()
    for i, row in enumerate(rows, start=1):
        writer.writerow({k: spreadsheet_safe(v) if k in ("customer_id", "error") else v for k, v in row.items()})
        if i % every == 0:
            yield out.getvalue()
            out.seek(0)
            out.truncate()
    yield out.getvalue()


def json_chunks(rows: Iterator[dict[str, str]]) -> Iterator[str]:
    """A JSON array of row objects, one element per chunk; empty strings become null."""
    yield "["
    for i, row in enumerate(rows):
        yield ("," if i else "") + json.dumps({k: (v or None) if k != "row" else int(v) for k, v in row.items()})
    yield "]"


def xlsx_file(rows: Iterator[dict[str, str]], path: Path) -> Path:
    """The rows as a one-sheet workbook at ``path``, written in openpyxl's write-only mode (one row
    in memory at a time). A text cell starting with ``=`` would be stored as a formula: every text
    is spreadsheet-safe, the row number a number."""
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("links")
    sheet.append(list(COLUMNS))
    for row in rows:
        sheet.append([int(row["row"]), *(spreadsheet_safe(row[c]) or None for c in COLUMNS[1:])])
    workbook.save(path)
    return path
