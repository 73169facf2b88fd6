"""Scene scripts that several test modules render."""

from __future__ import annotations

RED, GREEN, BLUE, MAGENTA = "#ff0000", "#00ff00", "#0000ff", "#ff00ff"

# The layer features: shapes, text stroke and shadow, wrapping, a ``when``.
FEATURES_SCENE = {
    "name": "features",
    "video": "templates/tiny.mp4",
    "fields": {
        "customer_id": {"type": "str"},
        "first_name": {"type": "str"},
        "plan": {"type": "str", "default": "Basic"},
    },
    "layers": [
        {
            "type": "shape",
            "id": "bar",
            "shape": "rectangle",
            "fill": RED,
            "start": 1.0,
            "end": 2.0,
            "box": {"x": 20, "y": 20, "w": 120, "h": 80},
        },
        {
            "type": "shape",
            "id": "dot",
            "shape": "circle",
            "fill": GREEN,
            "stroke": {"width": 6, "color": BLUE},
            "start": 0,
            "end": 4,
            "box": {"x": 180, "y": 20, "w": 80, "h": 80},
        },
        {
            "type": "text",
            "id": "styled",
            "text": "HELLO",
            "size": 56,
            "color": "#ffffff",
            "background": "#000000",
            "padding": 0,
            "radius": 0,
            "stroke": {"width": 4, "color": RED},
            "shadow": {"dx": 8, "dy": 8, "color": BLUE},
            "start": 0,
            "end": 4,
            "box": {"x": 20, "y": 120, "w": 280, "h": 100},
        },
        {
            "type": "text",
            "id": "wrapped",
            "text": "Dear {{ first_name }}, one two three four five six",
            "size": 32,
            "min_size": 32,
            "valign": "top",
            "align": "left",
            "background": "#000000",
            "padding": 0,
            "radius": 0,
            "start": 0,
            "end": 4,
            "box": {"x": 320, "y": 120, "w": 300, "h": 120},
        },
        {
            "type": "shape",
            "id": "pro_badge",
            "shape": "rounded_rectangle",
            "fill": MAGENTA,
            "radius": 12,
            "when": "plan == 'Pro'",
            "start": 0,
            "end": 4,
            "box": {"x": 400, "y": 260, "w": 200, "h": 80},
        },
    ],
}
