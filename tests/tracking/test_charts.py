"""Chart geometry for the studio's analytics panel (pure: numbers in, coordinates out)."""

from __future__ import annotations

from pvideo.tracking.charts import funnel_bars, retention_points


def test_chart_geometry():
    bars = funnel_bars(
        [{"step": "rendered", "viewers": 4}, {"step": "watched_50", "viewers": 1}, {"step": "completed", "viewers": 0}],
        width=600,
    )
    assert [(b.label, b.width, b.share) for b in bars] == [
        ("rendered", 420.0, 1.0),
        ("watched 50", 105.0, 0.25),
        ("completed", 0, 0.0),
    ]
    curve = retention_points([{"share": 1.0}, {"share": 0.5}], width=200, height=100, pad=0)
    assert curve["line"] == "50.0,0.0 150.0,50.0"
    assert curve["area"] == "M50.0,100 L50.0,0.0 L150.0,50.0 L150.0,100 Z"
