"""The scene's personal windows: where a customer's video may differ from the template.

Ingest places an IDR frame (and cuts a segment) at the first frame of every
personal layer's window and just after its last, so a render re-encodes the
personalized frames and nothing around them. The cuts must be the same for
every customer of a scene (they decide the shared template version), so they
come from the scene's layers, not from one row: every layer whose pixels may
depend on the row (templated text, image source or CTA label, a video clip, or
a ``when`` that reads data), whether this row shows it or not. Static layers
are baked into the version and need no cut; animations stay inside their
layer's window (``pvideo.scene.layers``), so they need no cut of their own.
"""

from __future__ import annotations

from pvideo.scene.conditions import condition_uses_data
from pvideo.scene.layers import AudioLayer, CtaLayer, ImageLayer, TextLayer, VideoLayer
from pvideo.scene.spec import SceneSpec


def templated(source: str) -> bool:
    """Whether a scene string uses the row (Jinja2 markup)."""
    return "{{" in source or "{%" in source


def personal_windows(spec: SceneSpec) -> tuple[tuple[float, float | None], ...]:
    """``(start, end)`` in template seconds of every layer that may be personalized (``end``
    ``None``: until the video's end), in scene order."""
    windows: list[tuple[float, float | None]] = []
    for layer in spec.layers:
        if isinstance(layer, AudioLayer):
            continue  # audio is mixed into a shared variant, never re-encoded per customer
        personal = (
            isinstance(layer, VideoLayer)
            or (isinstance(layer, TextLayer) and templated(layer.text))
            or (isinstance(layer, ImageLayer) and templated(layer.src))
            or (isinstance(layer, CtaLayer) and templated(layer.label))
            or (layer.when is not None and condition_uses_data(layer.when))
        )
        if personal:
            windows.append((layer.start, layer.end))
    return tuple(windows)


def keyframe_times(spec: SceneSpec) -> tuple[float, ...]:
    """Template seconds where ingest cuts for the personal windows: each window's start and
    end (the frame just after its last), sorted, without duplicates."""
    bounds = {t for start, end in personal_windows(spec) for t in (start, end) if t is not None}
    return tuple(sorted(t for t in bounds if t > 0))
