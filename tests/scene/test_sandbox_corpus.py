"""Every entry of tests/corpora/jinja_escapes.txt is refused or stopped, within a budget of
Python lines and 1 MB."""

from __future__ import annotations

import tracemalloc
from pathlib import Path

import pytest

from pvideo.errors import DataError, SceneError
from pvideo.scene.sandbox import MAX_OUTPUT_CHARS, MAX_STEPS, render_text
from tests.steps import counted_lines

CORPUS = Path(__file__).parents[1] / "corpora" / "jinja_escapes.txt"
ENTRIES = [line for line in CORPUS.read_text().splitlines() if line and not line.startswith("#")]
ROW = {"x": "Ana", "first_name": "Ana"}
# The sandbox stops a render after MAX_STEPS loop iterations and calls. One of them runs at most
# 38 Python lines (a macro calling its caller; a bare loop 12), the template's code, the sandbox's
# checks and Jinja's runtime together: past MAX_STEPS * LINES_PER_STEP lines a render was not
# stopped, and the budget ends it there rather than after 10**10 loops. (The sandbox's own
# 1 s deadline often stops these loops sooner; that is not counted on here.)
LINES_PER_STEP = 50


@pytest.mark.timeout(60)  # only an end to the wait, should one C-level operation (10**10**10) run on
@pytest.mark.parametrize("source", ENTRIES)
def test_escape_is_refused_or_stopped(source):
    tracemalloc.start()
    try:
        with counted_lines(MAX_STEPS * LINES_PER_STEP):
            try:
                out = render_text(source, ROW, field="layer 1 text")
            except (SceneError, DataError) as exc:
                out, error = None, str(exc)
            else:
                error = None
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 1_000_000, f"{peak} bytes"
    if error is not None:
        assert "layer 1 text" in error
        assert "<class" not in error and "<function" not in error and " at 0x" not in error
        return
    # allowed through: only harmless, bounded text (no object internals)
    assert len(out) <= MAX_OUTPUT_CHARS
    assert "<class" not in out and "<function" not in out and "<built-in" not in out and "globals" not in out
