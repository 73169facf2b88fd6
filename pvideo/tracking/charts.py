"""Chart geometry for the studio's server-rendered SVG (pure; templates draw it).

Numbers only: labels are escaped by the template, and colours are SVG
presentation attributes there, so a strict CSP (no inline style) holds.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Bar:
    label: str
    value: int
    share: float  # of the first bar's value
    x: float
    y: float
    width: float
    height: float


def funnel_bars(
    funnel: list[dict[str, Any]], *, width: float = 600, row: float = 34, label_width: float = 110
) -> list[Bar]:
    """Horizontal bars, one per funnel step, widths relative to the first step."""
    top = max((step["viewers"] or 0) for step in funnel) if funnel else 0
    span = width - label_width - 70
    bars = []
    for i, step in enumerate(funnel):
        value = step["viewers"] or 0
        share = value / top if top else 0.0
        bars.append(
            Bar(
                step["step"].replace("_", " "),
                value,
                round(share, 4),
                label_width,
                i * row + 4,
                round(max(share * span, 1 if value else 0), 2),
                row - 10,
            )
        )
    return bars


def retention_points(
    drop_off: list[dict[str, Any]], *, width: float = 600, height: float = 200, pad: float = 40
) -> dict[str, Any]:
    """The drop-off curve: a polyline (bucket midpoints x share) and its filled area."""
    n = len(drop_off)
    if not n:
        return {"line": "", "area": "", "points": []}
    plot_w, plot_h = width - 2 * pad, height - 2 * pad
    points = []
    for i, bucket in enumerate(drop_off):
        x = pad + (i + 0.5) / n * plot_w
        y = pad + (1 - float(bucket["share"])) * plot_h
        points.append((round(x, 2), round(y, 2), bucket))
    line = " ".join(f"{x},{y}" for x, y, _ in points)
    base = pad + plot_h
    area = f"M{points[0][0]},{base} " + " ".join(f"L{x},{y}" for x, y, _ in points) + f" L{points[-1][0]},{base} Z"
    return {
        "line": line,
        "area": area,
        "points": points,
        "left": pad,
        "right": pad + plot_w,
        "top": pad,
        "bottom": base,
    }
