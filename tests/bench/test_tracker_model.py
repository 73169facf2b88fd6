"""The benchmark's model of the landing-page tracker (``bench.tracker``): its batching constants are
the ones in ``api/static/tracker.js``, and it groups a visit the way the tracker's queue does (the
browser side: tests/browser/test_tracker_batching.py)."""

from __future__ import annotations

import random
import re
from datetime import UTC, datetime

from bench.tracker import PREVIOUS_TRACKER, TRACKER, TRACKER_JS, Batching, group, tracker_batches, tracker_batching


def test_the_constants_are_read_from_tracker_js(tmp_path):
    text = TRACKER_JS.read_text()
    declared = {
        name: int(value) for name, value in re.findall(r"var (FLUSH_AT|FLUSH_INTERVAL_MS|MAX_BATCH) = (\d+);", text)
    }
    assert Batching(declared["FLUSH_AT"], declared["FLUSH_INTERVAL_MS"] / 1000, declared["MAX_BATCH"]) == TRACKER
    assert TRACKER.flush_at <= TRACKER.max_batch <= 100  # the server's batch limit
    edited = tmp_path / "tracker.js"
    edited.write_text(text.replace(f"var FLUSH_AT = {declared['FLUSH_AT']};", "var FLUSH_AT = 7;"))
    assert tracker_batching(edited).flush_at == 7  # follows the file


def test_group_flushes_on_the_timer_on_size_and_on_pagehide():
    batching = Batching(flush_at=3, interval=5.0)
    times = [0.0, 0.3, 4.9, 5.0, 6.0, 7.0, 8.0, 30.0]
    # 0.0 starts the timer (due 5.0): 0.0, 0.3, 4.9 are three -> sent at once; 5.0 starts the next timer,
    # 6.0 and 7.0 fill it; 8.0 waits, 30.0 comes after its timer (13.0) fired; 30.0 goes on pagehide
    assert group(times, ["ping"] * len(times), batching) == [[0, 1, 2], [3, 4, 5], [6], [7]]
    assert group([0.0, 1.0, 9.0], ["page_view", "ready", "play"], Batching(20, 5.0)) == [[0, 1], [2]]
    assert group([0.0, 0.5, 0.7], ["play", "end", "ping"], PREVIOUS_TRACKER) == [[0, 1], [2]]  # the old end beacon
    assert group([0.0] * 7, ["ping"] * 7, Batching(flush_at=20, interval=5.0, max_batch=3)) == [
        [0, 1, 2],
        [3, 4, 5],
        [6],
    ]


def test_a_visit_is_sent_whole_in_order_and_batched():
    rng = random.Random(1)
    now = datetime.now(UTC)
    per_request = {}
    for batching in (TRACKER, PREVIOUS_TRACKER):
        sizes = []
        for _ in range(300):
            requests = tracker_batches(rng, now, batching=batching)
            seqs = [e["seq"] for r in requests for e in r]
            assert seqs == list(range(1, len(seqs) + 1))  # every event once, in order
            assert len({e["session_id"] for r in requests for e in r}) == 1
            sizes += [len(r) for r in requests]
        per_request[batching] = sum(sizes) / len(sizes)
    assert 1.1 < per_request[PREVIOUS_TRACKER] < 1.25  # the shape measured before (1.16)
    assert per_request[TRACKER] > 1.5 * per_request[PREVIOUS_TRACKER]
