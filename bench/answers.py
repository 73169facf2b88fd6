"""Viewer answers under load: ``python -m bench.answers [--rate 500] [--seconds 20] [--senders workers,api]``.

The real server (``pvideo serve --workers N``) on a fresh PostgreSQL schema, one campaign whose
scene asks an NPS question, a poll and a form, and a webhook subscription to a receiver in this
process. One asyncio process offers ``rate`` answers/s (``POST /api/responses``, each from a new
viewer session, on a fixed schedule so a slow server is not excused by the requests it delayed)
for ``seconds``, first on a quiet machine, then with a campaign rendering beside it at the
workers' niceness (``PVIDEO_RENDER_NICE``, default 10: the child of ``bench.preview`` that renders
customers of ``scenes/welcome.yaml`` one after another).

Reported per run (with the CPU the load generator and receiver took from the same 2 cores): answers/s acknowledged, the acknowledgement's p50/p95/p99 (target: p99 ≤ 100 ms
at 500/s on 2 cores), and from each acknowledged answer's send to its signed webhook's arrival
p50/p95/p99 (target: p95 ≤ 2 s while rendering), how many answers were delivered, and how many
deliveries arrived twice. ``--json`` prints one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from bench.events import SECRET, _cpu_seconds, _drop, _env, _port, _schema, _server, wait_healthy
from bench.preview import campaign as rendering_campaign
from pvideo.access.tokens import ViewerTokens
from pvideo.db.engine import Database
from pvideo.db.models import Campaign, Render, RenderStatus, new_id

SCENE: dict[str, Any] = {
    "name": "bench-answers",
    "video": "templates/welcome.mp4",
    "fields": {"customer_id": {"type": "str"}, "first_name": {"type": "str"}, "email": {"type": "str"}},
    "interactions": [
        {
            "type": "nps",
            "id": "recommend",
            "start": 2,
            "pause": True,
            "question": "Would you recommend us, {{ first_name }}?",
        },
        {
            "type": "poll",
            "id": "topic",
            "start": 5,
            "question": "What matters most?",
            "choices": [{"id": "price", "label": "Price"}, {"id": "service", "label": "Service"}],
        },
        {
            "type": "form",
            "id": "contact",
            "start": 8,
            "pause": True,
            "title": "Stay in touch",
            "fields": [
                {"name": "email", "type": "email", "label": "Email", "required": True, "prefill": "{{ email }}"}
            ],
            "consent": {"text": "You may email me about my plan."},
        },
    ],
}


def _campaign(db: Database, renders: int) -> tuple[str, list[str]]:
    tokens = ViewerTokens(SECRET)
    links = []
    with db.session() as session:
        campaign = Campaign(id=new_id(), name="bench", scene_name="bench-answers", scene=SCENE)
        session.add(campaign)
        session.flush()
        for n in range(renders):
            rid = new_id()
            token = tokens.issue(rid)
            data = {"customer_id": f"c{n}", "first_name": f"Ann {n}", "email": f"c{n}@example.com"}
            session.add(
                Render(
                    id=rid,
                    campaign_id=campaign.id,
                    row_number=n + 1,
                    customer_id=f"c{n}",
                    data=data,
                    status=RenderStatus.DONE,
                    duration=30.0,
                    width=1280,
                    height=720,
                    hotspots=[],
                    viewer_token=token,
                )
            )
            links.append(token)
        return campaign.id, links


class Receiver:
    """A webhook receiver: records when each delivery arrived, by the answer's event id."""

    def __init__(self) -> None:
        self.arrived: dict[str, float] = {}
        self.repeats = 0
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as a production receiver behind a proxy answers

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length") or 0))
                at = time.time()
                event_id = str((json.loads(body).get("data") or {}).get("event_id"))
                with receiver.lock:
                    if event_id in receiver.arrived:
                        receiver.repeats += 1
                    else:
                        receiver.arrived[event_id] = at
                self.send_response(204)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


def _answer(token: str, rng: random.Random) -> dict[str, Any]:
    kind = rng.random()
    if kind < 0.6:
        interaction, answer = "recommend", {"score": rng.randrange(11)}
    elif kind < 0.9:
        interaction, answer = "topic", {"choices": [rng.choice(("price", "service"))]}
    else:
        interaction, answer = "contact", {"fields": {"email": f"v{rng.randrange(10**6)}@example.com"}, "consent": True}
    return {
        "token": token,
        "event_id": uuid.uuid4().hex,
        "session_id": uuid.uuid4().hex[:16],
        "interaction_id": interaction,
        "answer": answer,
        "position": 2.0,
    }


async def _offer(base: str, answers: list[dict[str, Any]], rate: float, clients: int) -> dict[str, Any]:
    import aiohttp

    latencies: list[float] = []
    sent: dict[str, float] = {}
    statuses: dict[int, int] = {}
    began = time.perf_counter()

    async def client(n: int, mine: list[dict[str, Any]], http: aiohttp.ClientSession) -> None:
        for k, answer in enumerate(mine):
            due = began + (n + k * clients) / rate
            await asyncio.sleep(max(0.0, due - time.perf_counter()))
            wall = time.time() - (time.perf_counter() - due)  # the scheduled time on the wall clock
            try:
                async with http.post(f"{base}/api/responses", json=answer) as r:
                    code = r.status
                    await r.read()
            except aiohttp.ClientError:
                code = 0
            latencies.append(time.perf_counter() - due)
            statuses[code] = statuses.get(code, 0) + 1
            if code == 201:
                sent[answer["event_id"]] = wall

    connector = aiohttp.TCPConnector(limit=clients)
    async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=30)) as http:
        await asyncio.gather(*(client(n, answers[n::clients], http) for n in range(clients)))
    return {"latencies": latencies, "sent": sent, "statuses": statuses, "elapsed": time.perf_counter() - began}


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return round(1000 * ordered[min(len(ordered) - 1, int(q * len(ordered)))], 1) if ordered else 0.0


def _run(
    base: str,
    links: list[str],
    receiver: Receiver,
    *,
    rate: float,
    seconds: float,
    clients: int,
    seed: int,
    expect_deliveries: bool = True,
) -> dict:
    rng = random.Random(seed)
    answers = [_answer(rng.choice(links), rng) for _ in range(int(rate * seconds))]
    own = resource.getrusage(resource.RUSAGE_SELF)
    run = asyncio.run(_offer(base, answers, rate, clients))
    after = resource.getrusage(resource.RUSAGE_SELF)
    settle = time.time() + (10 if expect_deliveries else 0)
    while time.time() < settle and any(e not in receiver.arrived for e in run["sent"]):
        time.sleep(0.1)
    delays = [receiver.arrived[e] - at for e, at in run["sent"].items() if e in receiver.arrived]
    return {
        "answers_offered": len(answers),
        "answers_per_second": round(len(run["sent"]) / run["elapsed"]),
        "statuses": run["statuses"],
        "ack_p50_ms": _pct(run["latencies"], 0.50),
        "ack_p95_ms": _pct(run["latencies"], 0.95),
        "ack_p99_ms": _pct(run["latencies"], 0.99),
        "delivered": f"{len(delays)} of {len(run['sent'])}",
        "delivery_p50_ms": _pct(delays, 0.50),
        "delivery_p95_ms": _pct(delays, 0.95),
        "delivery_p99_ms": _pct(delays, 0.99),
        "repeated_deliveries": receiver.repeats,
        "load_generator_and_receiver_cpu_seconds": round(
            after.ru_utime + after.ru_stime - own.ru_utime - own.ru_stime, 1
        ),
    }


SENDERS = ("workers", "api")
"""Who sends the webhooks: a ``pvideo worker`` process beside the server, woken by PostgreSQL's
``NOTIFY`` (production, with a Redis queue), or the server processes themselves (embedded mode)."""


def _sender(schema_url: str, redis_url: str) -> subprocess.Popen:
    """``pvideo worker``, one process, as deployed: it lowers its own priority like a render worker."""
    env = _env(schema_url, {"PVIDEO_REDIS_URL": redis_url, "PVIDEO_WEBHOOK_ALLOW_PRIVATE": "true"})
    command = [sys.executable, "-c", "from pvideo.cli import app; app()", "worker", "--processes", "1"]
    return subprocess.Popen([*command, "--threads", "1", "--queues", "webhooks"], env=env, stdout=subprocess.DEVNULL)


def bench_answers(
    url: str,
    *,
    rate: float,
    seconds: float,
    workers: int,
    clients: int,
    quiet_only: bool,
    webhooks: bool = True,
    senders: str = "workers",
    redis_url: str = "redis://127.0.0.1:6379/14",
) -> dict:
    import httpx

    schema, schema_url = _schema(url)
    db = Database(schema_url)
    db.create_schema()
    campaign_id, links = _campaign(db, renders=2000)
    receiver = Receiver()
    port = _port()
    extra = {"PVIDEO_WEBHOOK_ALLOW_PRIVATE": "true"}
    if senders == "workers":
        extra["PVIDEO_REDIS_URL"] = redis_url
    server = _server(schema_url, port, workers, False, extra)
    sender = _sender(schema_url, redis_url) if senders == "workers" and webhooks else None
    base = f"http://127.0.0.1:{port}"
    report: dict[str, Any] = {
        "rate": rate,
        "seconds": seconds,
        "server_workers": workers,
        "webhooks": webhooks,
        "senders": senders,
    }
    background = None
    try:
        wait_healthy(base)
        subscribed = (
            httpx.post(
                f"{base}/api/campaigns/{campaign_id}/webhooks",
                json={"url": receiver.url, "events": ["form_submitted", "poll_answered"]},
                headers={"X-API-Key": "bench"},
            )
            if webhooks
            else None
        )
        if subscribed is not None:
            subscribed.raise_for_status()
        _run(
            base, links, receiver, rate=rate, seconds=2, clients=clients, seed=1, expect_deliveries=webhooks
        )  # warm-up
        cpu = _cpu_seconds(server.pid)
        report["quiet"] = _run(
            base, links, receiver, rate=rate, seconds=seconds, clients=clients, seed=2, expect_deliveries=webhooks
        )
        report["quiet"]["server_cpu_seconds"] = round(_cpu_seconds(server.pid) - cpu, 1)  # its sender's apart
        if not quiet_only:
            workdir = Path(tempfile.mkdtemp(prefix="pvideo-bench-answers-"))
            background = rendering_campaign(workdir, "welcome", int(os.environ.get("PVIDEO_RENDER_NICE", "10")))
            time.sleep(3)  # its first render is under way
            report["rendering"] = _run(
                base, links, receiver, rate=rate, seconds=seconds, clients=clients, seed=3, expect_deliveries=webhooks
            )
            report["rendering"]["campaign_running"] = background.poll() is None
    finally:
        if background is not None:
            os.killpg(background.pid, 9)
        if sender is not None:
            sender.terminate()
            sender.wait(timeout=30)
        server.terminate()
        server.wait(timeout=30)
        receiver.server.shutdown()
        db.dispose()
        _drop(url, schema)
    report["load_average_1m"] = round(os.getloadavg()[0], 1)
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.answers", description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--database-url", default=os.environ.get("PVIDEO_BENCH_DATABASE_URL", "postgresql://localhost/test")
    )
    parser.add_argument("--rate", type=float, default=500, help="answers offered per second")
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--workers", type=int, default=2, help="server processes")
    parser.add_argument("--clients", type=int, default=64, help="concurrent connections")
    parser.add_argument("--quiet-only", action="store_true", help="no campaign rendering beside it")
    parser.add_argument("--no-webhooks", action="store_true", help="no subscription: the answers' cost alone")
    parser.add_argument(
        "--senders",
        default="workers",
        help="who sends the webhooks: workers (a pvideo worker, production), api (the server, embedded mode), "
        "or workers,api: both layouts in one run, side by side",
    )
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/14", help="the queue of --senders workers")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    layouts = [name.strip() for name in args.senders.split(",") if name.strip()]
    if not layouts or set(layouts) - set(SENDERS):
        parser.error(f"--senders: one or more of {', '.join(SENDERS)}")
    reports = [
        bench_answers(
            args.database_url,
            rate=args.rate,
            seconds=args.seconds,
            workers=args.workers,
            clients=args.clients,
            quiet_only=args.quiet_only,
            webhooks=not args.no_webhooks,
            senders=layout,
            redis_url=args.redis_url,
        )
        for layout in layouts
    ]
    if args.json:
        print(json.dumps(reports if len(reports) > 1 else reports[0]))
        return 0
    print(f"{args.rate:g} answers/s offered for {args.seconds:g} s, {args.workers} server processes")
    columns = [(r["senders"], run, r[run]) for r in reports for run in ("quiet", "rendering") if run in r]
    print(f"{'webhooks sent by':24}" + "".join(f"{f'{who}, {run}':>24}" for who, run, _ in columns))
    for key in columns[0][2]:
        print(f"{key:24}" + "".join(f"{values.get(key, '')!s:>24}" for _, _, values in columns))
    if len(reports) > 1:
        for run in ("quiet", "rendering"):
            p99 = [r[run]["ack_p99_ms"] for r in reports if run in r]
            if len(p99) == len(reports) and p99[0]:
                print(f"ack p99, {run}: {layouts[1]} / {layouts[0]} = {p99[1] / p99[0]:.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
