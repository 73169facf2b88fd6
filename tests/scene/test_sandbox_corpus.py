"""Every entry of tests/corpora/jinja_escapes.txt is refused or stopped, within 2 s and 1 MB."""

from __future__ import annotations

import time
import tracemalloc
from pathlib import Path

import pytest

from pvideo.errors import DataError, SceneError
from pvideo.scene.sandbox import MAX_OUTPUT_CHARS, render_text

CORPUS = Path(__file__).parents[1] / "corpora" / "jinja_escapes.txt"
ENTRIES = [line for line in CORPUS.read_text().splitlines() if line and not line.startswith("#")]
ROW = {"x": "Ana", "first_name": "Ana"}


@pytest.mark.parametrize("source", ENTRIES)
def test_escape_is_refused_or_stopped(source):
    tracemalloc.start()
    started = time.perf_counter()
    try:
        try:
            out = render_text(source, ROW, field="layer 1 text")
        except (SceneError, DataError) as exc:
            out, error = None, str(exc)
        else:
            error = None
        elapsed = time.perf_counter() - started
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert elapsed < 2.0, f"{elapsed:.2f} s"
    assert peak < 1_000_000, f"{peak} bytes"
    if error is not None:
        assert "layer 1 text" in error
        assert "<class" not in error and "<function" not in error and " at 0x" not in error
        return
    # allowed through: only harmless, bounded text (no object internals)
    assert len(out) <= MAX_OUTPUT_CHARS
    assert "<class" not in out and "<function" not in out and "<built-in" not in out and "globals" not in out
