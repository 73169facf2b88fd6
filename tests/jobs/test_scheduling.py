"""Part encodes are granted first parts first, then later parts by play time, then eager work."""

from __future__ import annotations

import random
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from fastapi.testclient import TestClient

from api.main import create_app
from pvideo.db.models import Render, RenderStatus
from pvideo.jobs.scheduling import EAGER_EVERY, EncodeScheduler, Kind, Work, next_work, order
from pvideo.render import hls
from tests.conftest import API_KEY, drain

AUTH = {"X-API-Key": API_KEY}


def _until(condition, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.02)


# a burst: eager rows asked at 0-9, three viewers at 3, 5 and 8 s (first parts asked then,
# later parts due at view + their start in the video), listed in the order they asked
EAGER = [Work(Kind.EAGER, float(t), seq) for seq, t in enumerate(range(10))]
FIRSTS = [Work(Kind.FIRST, 8.0, 10), Work(Kind.FIRST, 3.0, 11), Work(Kind.FIRST, 5.0, 12)]
LATERS = [
    Work(Kind.LATER, 3.0 + 12.0, 13),
    Work(Kind.LATER, 5.0 + 2.0, 14),
    Work(Kind.LATER, 8.0 + 2.0, 15),
    Work(Kind.LATER, 3.0 + 2.0, 16),
    Work(Kind.LATER, 5.0 + 2.0, 17),  # the same play time as seq 14: asked later, granted later
]


def test_order_is_first_parts_oldest_first_then_later_parts_by_play_time_then_eager():
    pending = EAGER + FIRSTS + LATERS
    for seed in range(20):
        random.Random(seed).shuffle(pending)
        assert order(pending) == [
            FIRSTS[1],  # viewed at 3
            FIRSTS[2],  # at 5
            FIRSTS[0],  # at 8
            LATERS[3],  # needed at 5
            LATERS[1],  # at 7 (asked first)
            LATERS[4],  # at 7
            LATERS[2],  # at 10
            LATERS[0],  # at 15
            *EAGER,  # in the order they were asked
        ]


def test_eager_work_gets_every_eighth_grant_while_viewers_wait():
    """A burst keeps viewers' work waiting for a long time: the eager campaign still moves, by a share."""
    pending = EAGER[:3] + [Work(Kind.LATER, float(due), 100 + due) for due in range(30)]
    granted, viewer_grants = [], 0
    while pending:
        work = next_work(pending, viewer_grants)
        eager_waits = any(w.kind == Kind.EAGER for w in pending)
        viewer_grants = viewer_grants + 1 if work.kind != Kind.EAGER and eager_waits else 0
        pending.remove(work)
        granted.append(work)
    assert [n for n, w in enumerate(granted, 1) if w.kind == Kind.EAGER] == [
        EAGER_EVERY,
        2 * EAGER_EVERY,
        3 * EAGER_EVERY,
    ]
    assert [w for w in granted if w.kind == Kind.EAGER] == EAGER[:3]  # oldest first
    assert [w for w in granted if w.kind != Kind.EAGER] == order(w for w in granted if w.kind != Kind.EAGER)
    assert next_work(EAGER[:2] + LATERS, viewer_grants=3) == LATERS[3]  # below the share: the strict order


def test_the_scheduler_grants_waiting_encodes_in_that_order():
    scheduler = EncodeScheduler(slots=1)
    entered: list[str] = []
    asks = [("eager-a", Kind.EAGER, 0.0), ("later-7", Kind.LATER, 7.0), ("first-5", Kind.FIRST, 5.0)]
    asks += [("eager-b", Kind.EAGER, 1.0), ("first-3", Kind.FIRST, 3.0), ("later-5", Kind.LATER, 5.0)]

    def encode(label: str, kind: Kind, due: float) -> None:
        with scheduler.slot(kind, due):
            entered.append(label)

    with ThreadPoolExecutor(max_workers=len(asks)) as pool:
        with scheduler.slot(Kind.EAGER):  # every slot busy: each ask waits
            futures = []
            for n, ask in enumerate(asks):
                futures.append(pool.submit(encode, *ask))
                _until(lambda n=n: len(scheduler.waiting()) == n + 1)
            assert [w.kind for w in scheduler.waiting()] == [Kind.FIRST] * 2 + [Kind.LATER] * 2 + [Kind.EAGER] * 2
        for future in futures:
            future.result(timeout=10)
    assert entered == ["first-3", "first-5", "later-5", "later-7", "eager-a", "eager-b"]


def test_slots_run_side_by_side_up_to_the_count():
    scheduler = EncodeScheduler(slots=2)
    inside, peak, lock = [0], [0], threading.Lock()

    def encode(_: int) -> None:
        with scheduler.slot(Kind.EAGER):
            with lock:
                inside[0] += 1
                peak[0] = max(peak[0], inside[0])
            time.sleep(0.02)
            with lock:
                inside[0] -= 1

    with ThreadPoolExecutor(max_workers=6) as pool:
        list(pool.map(encode, range(12)))
    assert peak[0] == 2 and not scheduler.waiting()


def _submit(client, mode: str, rows: int, tag: str) -> list[dict]:
    body = {
        "scene": "card",
        "render": mode,
        "rows": [{"customer_id": f"{tag}{i}", "first_name": f"N{i}", "price": i} for i in range(rows)],
    }
    response = client.post("/api/campaigns", headers=AUTH, json=body)
    assert response.status_code == 201, response.text
    return client.get(f"/api/campaigns/{response.json()['id']}/renders", headers=AUTH).json()


def _statuses(runtime, ids: list[str]) -> list[str]:
    with runtime.db.session() as session:
        return [session.get(Render, i).status for i in ids]


def test_a_first_view_after_20_eager_renders_gets_its_first_part_before_any_of_them(runtime):
    """Through the real embedded queue: 20 eager rows are rendering (their encodes wait for a slot)
    when a viewer opens an on-demand link; the first slot that frees goes to the viewer's first part,
    and the playlist is answered with that part stored while no eager row is done."""
    runtime.settings = runtime.settings.model_copy(update={"worker_threads": 1})
    with TestClient(create_app(runtime=runtime)) as client:
        scheduler: EncodeScheduler = client.app.state.pvideo.queue.scheduler
        held = [scheduler.slot(Kind.EAGER) for _ in range(scheduler.slots)]
        for slot in held:  # every slot busy: nothing encodes until the test lets it
            slot.__enter__()
        eager_ids = [r["id"] for r in _submit(client, "eager", 20, "e")]
        _until(lambda: any(w.kind == Kind.EAGER for w in scheduler.waiting()))
        viewer = _submit(client, "on_demand", 1, "v")[0]
        token = viewer["landing_url"].rsplit("/", 1)[1]
        with ThreadPoolExecutor(max_workers=1) as pool:
            playlist = pool.submit(client.get, f"/v/{token}/index.m3u8")
            _until(lambda: [w.kind for w in scheduler.waiting()][:2] == [Kind.FIRST, Kind.LATER])
            first, later = scheduler.waiting()[:2]
            assert later.due > first.due  # the later part is due when playback reaches it
            assert {w.kind for w in scheduler.waiting()[2:]} == {Kind.EAGER}
            held.pop().__exit__(None, None, None)  # one slot frees: it goes to the first part
            response = playlist.result(timeout=120)
        assert response.status_code == 200
        first_part = next(k for k in hls.playlist_keys(response.text) if "/part_" in k)
        assert client.get(first_part).status_code == 200
        assert RenderStatus.DONE not in _statuses(runtime, eager_ids)  # no eager row has encoded a part
        for slot in held:
            slot.__exit__(None, None, None)
        drain(client)
        client.app.state.pvideo.ondemand.wait(viewer["id"], timeout=120)
        assert _statuses(runtime, eager_ids) == [RenderStatus.DONE] * 20
        assert _statuses(runtime, [viewer["id"]]) == [RenderStatus.DONE]
