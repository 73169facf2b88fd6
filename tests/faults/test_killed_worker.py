"""kill -9 of a worker with a backlog: its rows render again within 30 s, its ffmpeg children die with it.

Worker ``a`` holds two renders inside ffmpeg (the gate keeps its calls waiting) and two more
messages prefetched; worker ``b`` works through a backlog at about 4 s a render. Before the
fix, ``a``'s messages went to the back of the queue once its heartbeat lapsed (its rows
finished 88-94 s after the kill), and its ffmpeg children lived on for seconds.
"""

from __future__ import annotations

import json
import time

import pytest
import redis

from tests.faults.deployment import Deployment, customer_rows
from tests.faults.procs import running, tagged, wait_until

pytestmark = pytest.mark.faults

ROWS = 32  # b's backlog when a's messages come back: ~16 rows, ~35 s, longer than the bound
BOUND = 30.0
ORPHAN_GRACE = 2.0
RENDER_DELAY = 0.5  # per ffmpeg call of b: ~4 s a render


def unacked_render_ids(url: str) -> set[str]:
    """Render ids of the messages fetched and not yet acknowledged by every worker connected now."""
    client = redis.Redis.from_url(url)
    ids = set()
    for key in client.scan_iter("dramatiq:__acks__.*.renders"):
        for message_id in client.smembers(key):
            raw = client.hget("dramatiq:renders.msgs", message_id)
            if raw is not None:
                ids.add(json.loads(raw)["args"][0])
    return ids


def test_killed_worker_rows_render_again_within_30s_and_its_ffmpeg_dies(deployment: Deployment) -> None:
    d = deployment
    a = d.start_worker("a", gated=True, wait=False)
    d.wait_ready(d.start_api(wait=False), a)
    warm = d.campaign(customer_rows(1, start=100))  # the template is ingested before the kill
    d.wait_finished(warm, 60)

    d.gate.hold(d.role("a"))
    campaign = d.campaign(customer_rows(ROWS))
    wait_until("a's two threads inside ffmpeg", lambda: len(d.gate.held(d.role("a"))) >= 2, 60, 0.1, d.logs)
    ids = {r.row_number: r.id for r in d.renders(campaign)}
    in_flight = {r.id for r in d.renders(campaign) if r.status == "rendering"}
    held_by_a = (unacked_render_ids(d.services.redis.url) & set(ids.values())) | in_flight  # + prefetched
    assert len(in_flight) == 2, d.describe(campaign)

    d.gate.delay(RENDER_DELAY, role=d.role("b"))
    d.start_worker("b", gated=True)
    wait_until("b rendering too", lambda: d.counts(campaign)["rendering"] >= 4, 60, 0.2, d.logs)
    children = [p for p in tagged(d.services.run, d.role("a")) if p.pid not in {g.pid for g in a.group()}]
    assert len(children) >= 2, f"a's ffmpeg children before the kill: {children}"

    a.kill9()
    killed = time.monotonic()
    time.sleep(ORPHAN_GRACE)
    orphans = [p for p in children if running(p.pid, p.start)]
    d.gate.release(d.role("a"))  # orphans, if any, go on into the real ffmpeg and end by themselves

    def back() -> bool:
        rows = {r.id: r for r in d.renders(campaign)}
        return all(
            rows[i].status in ("done", "failed") or (rows[i].status == "rendering" and rows[i].attempts >= 2)
            if i in in_flight
            else rows[i].status != "queued"
            for i in held_by_a
        )

    deadline = killed + BOUND
    while not back() and time.monotonic() < deadline:
        time.sleep(0.25)
    recovered_in = time.monotonic() - killed if back() else None
    state = {r.row_number: (r.status, r.attempts) for r in d.renders(campaign) if r.id in held_by_a}

    d.gate.delay(0, role=d.role("b"))  # drain the backlog at full speed
    d.wait_finished(campaign, 120)
    problems = d.problems(d.renders(campaign))
    if orphans:
        problems.append(
            f"{len(orphans)} of a's {len(children)} ffmpeg children alive {ORPHAN_GRACE:.0f} s after the kill"
        )
    if recovered_in is None:
        problems.append(f"a's rows (row: status, attempts) not rendering again {BOUND:.0f} s after the kill: {state}")
    assert not problems, "\n".join(problems)
    print(
        f"a held rows {sorted(n for n, i in ids.items() if i in held_by_a)}; rendering again {recovered_in:.1f} s after the kill"
    )
