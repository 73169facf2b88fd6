"""One test's pvideo, run as production runs it, on the suite's own services.

A ``Deployment`` has its own database (a copy of a migrated template database), an empty Redis,
its own bucket behind its own ``S3Proxy``, and starts ``pvideo serve --workers 2`` and
``pvideo worker`` processes with ``PVIDEO_*`` settings in their environment. Tests talk to it
over HTTP, read its rows straight from PostgreSQL and its outputs straight from S3 (not through
the proxy, so reading works during an outage and is not counted).
"""

from __future__ import annotations

import io
import json
import os
import sys
import time
import uuid
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import av
import httpx
import redis
import sqlalchemy as sa

from pvideo.settings import PROJECT_ROOT, Settings
from tests.faults.gate import FfmpegGate
from tests.faults.procs import ROLE_VAR, RUN_VAR, Proc, kill_all, tagged, wait_until
from tests.faults.proxy import S3Proxy
from tests.faults.services import MotoServer, PgCluster, RedisServer, free_port

API_KEY = "faults-api-key-0123456789"
SECRET = "f" * 48
FINISHED = ("done", "failed", "cancelled")
ATTEMPT_BUDGET = Settings.model_fields["render_max_retries"].default + 1  # production's, never overridden here
# A full disk under "$1", in the mount namespace of the command that follows it (see test_disk_full)
PRIVATE_MOUNTS = ["unshare", "--mount", "--propagation", "private", "--"]
MOUNT_FULL_TMPFS = (
    'mount -t tmpfs -o size=256k,mode=0755 pvfaults-full "$1" && '
    '{ cat /dev/zero > "$1/filler" 2>/dev/null; shift; exec "$@"; }'
)
_CONSOLE_SCRIPT = Path(sys.executable).with_name("pvideo")
PVIDEO = [str(_CONSOLE_SCRIPT)] if _CONSOLE_SCRIPT.exists() else [sys.executable, "-m", "pvideo.cli"]


@dataclass
class Services:
    pg: PgCluster
    redis: RedisServer
    moto: MotoServer
    run: str
    template_db: str
    base_env: dict[str, str]


class RenderRow(NamedTuple):
    id: str
    row_number: int
    status: str
    error: str | None
    attempts: int
    video_key: str | None
    duration: float | None


def customer_rows(count: int, start: int = 1) -> list[dict[str, Any]]:
    """Rows that differ in what they show, so every row has its own output."""
    return [{"customer_id": f"c{i}", "first_name": f"N{i}", "price": i} for i in range(start, start + count)]


class Deployment:
    """One test's database, Redis, bucket, proxies, ffmpeg gate and pvideo processes."""

    def __init__(self, services: Services, workdir: Path, assets_dir: Path, scenes_dir: Path) -> None:
        self.services, self.dir = services, workdir
        self.id = uuid.uuid4().hex[:8]
        self.db_name = f"pvf_{self.id}"
        self.database_url = services.pg.create_database(self.db_name, template=services.template_db)
        self.engine = sa.create_engine(
            self.database_url.replace("postgresql://", "postgresql+psycopg://"), pool_pre_ping=True
        )
        services.redis.ensure_running()
        services.redis.flush()
        self.bucket = services.moto.new_bucket()
        self.proxy = S3Proxy(services.moto.port)
        self.proxies = [self.proxy]
        self.gate = FfmpegGate(workdir / "gate", Settings().ffmpeg_exe)
        self.assets_dir, self.scenes_dir = assets_dir, scenes_dir
        self.procs: dict[str, Proc] = {}
        self.api_url: str | None = None

    # processes --------------------------------------------------------------------------------

    def role(self, name: str) -> str:
        return f"{self.id}:{name}"

    def new_proxy(self) -> S3Proxy:
        """Another way in to the same S3, for a machine whose path to S3 fails differently."""
        proxy = S3Proxy(self.services.moto.port)
        self.proxies.append(proxy)
        return proxy

    def env(self, name: str, *, data_dir: Path, gated: bool = False, proxy: S3Proxy | None = None) -> dict[str, str]:
        """Production's settings but for where things are: no timing or budget is changed."""
        env = dict(self.services.base_env)
        env.update(
            {
                RUN_VAR: self.services.run,
                ROLE_VAR: self.role(name),
                "PYTHONPATH": str(PROJECT_ROOT),  # the code under test, also when it is not the installed tree
                "PVIDEO_DATABASE_URL": self.database_url,
                "PVIDEO_REDIS_URL": self.services.redis.url,
                "PVIDEO_STORAGE_URL": f"s3://{self.bucket}/pv",
                "PVIDEO_S3_ENDPOINT_URL": (proxy or self.proxy).url,
                "PVIDEO_SECRET_KEY": SECRET,
                "PVIDEO_API_KEYS": API_KEY,
                "PVIDEO_ASSETS_DIR": str(self.assets_dir),
                "PVIDEO_SCENES_DIR": str(self.scenes_dir),
                "PVIDEO_DATA_DIR": str(data_dir),
                "PVIDEO_X264_PRESET": "ultrafast",
                "PVIDEO_PUBLIC_BASE_URL": "http://127.0.0.1",
            }
        )
        if gated:
            env["PVIDEO_FFMPEG"] = str(self.gate.path)
        return env

    def start_api(self, *, wait: bool = True) -> Proc:
        """``pvideo serve --workers 2``, as production runs the API."""
        port = free_port()
        args = [*PVIDEO, "serve", "--host", "127.0.0.1", "--port", str(port), "--workers", "2", "--no-access-log"]
        env = self.env("api", data_dir=self.dir / "api-data")
        self.procs["api"] = proc = Proc("api", args, env, self.dir / "api.log", cwd=PROJECT_ROOT)
        self.api_url = f"http://127.0.0.1:{port}"
        if wait:
            self.wait_ready(proc)
        return proc

    def up(self, *workers: str) -> None:
        """The API and plain ``workers``, started side by side."""
        self.wait_ready(self.start_api(wait=False), *(self.start_worker(w, wait=False) for w in workers))

    def start_worker(
        self,
        name: str,
        *,
        threads: int = 2,
        gated: bool = False,
        full_disk: bool = False,
        proxy: S3Proxy | None = None,
        wait: bool = True,
    ) -> Proc:
        """``pvideo worker`` with a data folder of its own (a "machine"); ``full_disk``: that folder
        is a full tmpfs mounted in the worker's own mount namespace (gone when the worker is)."""
        data_dir = self.dir / f"{name}-data"
        data_dir.mkdir(parents=True, exist_ok=True)
        args = [*PVIDEO, "worker", "--processes", "1", "--threads", str(threads)]
        if full_disk:
            args = [*PRIVATE_MOUNTS, "sh", "-c", MOUNT_FULL_TMPFS, "sh", str(data_dir), *args]
        env = self.env(name, data_dir=data_dir, gated=gated, proxy=proxy)
        self.procs[name] = proc = Proc(name, args, env, self.dir / f"{name}.log", cwd=PROJECT_ROOT)
        if wait:
            self.wait_ready(proc)
        return proc

    def wait_ready(self, *procs: Proc) -> None:
        """Until the API answers ``/healthz`` and each worker says it is ready for action."""
        for proc in procs:

            def ready(proc: Proc = proc) -> bool:
                if not proc.alive():
                    raise AssertionError(f"{proc.name} exited\n{proc.tail()}")
                if proc.name != "api":
                    return "ready for action" in proc.text()
                try:
                    return httpx.get(f"{self.api_url}/healthz", timeout=2).status_code == 200
                except httpx.HTTPError:
                    return False

            wait_until(f"{proc.name} ready", ready, 90, 0.2, proc.tail)

    def logs(self) -> str:
        return "\n".join(p.tail() for p in self.procs.values())

    def close(self) -> None:
        for proc in self.procs.values():
            if proc.alive():
                proc.kill9()
        kill_all(tagged(self.services.run, f"{self.id}:", prefix=True))  # ffmpeg children that outlived a killed worker
        for proxy in self.proxies:
            proxy.close()
        self.engine.dispose()
        self.services.pg.ensure_running()
        self.services.redis.ensure_running()
        self.services.pg.drop_database(self.db_name)

    # HTTP -------------------------------------------------------------------------------------

    def post(self, path: str, timeout: float = 60, **kwargs: Any) -> httpx.Response:
        assert self.api_url is not None, "start_api() first"
        return httpx.post(f"{self.api_url}{path}", headers={"X-API-Key": API_KEY}, timeout=timeout, **kwargs)

    def submit(self, rows: list[dict[str, Any]], timeout: float = 60) -> httpx.Response:
        return self.post("/api/campaigns", json={"scene": "card", "rows": rows}, timeout=timeout)

    def campaign(self, rows: list[dict[str, Any]]) -> str:
        response = self.submit(rows)
        assert response.status_code in (201, 202), f"submit answered {response.status_code}: {response.text[:500]}"
        return response.json()["id"]

    # the database -----------------------------------------------------------------------------

    def renders(self, campaign_id: str) -> list[RenderRow]:
        with self.engine.connect() as conn:
            result = conn.execute(
                sa.text(
                    "SELECT id, row_number, status, error, attempts, video_key, duration FROM renders "
                    "WHERE campaign_id = :c ORDER BY row_number"
                ),
                {"c": campaign_id},
            )
            return [RenderRow(*r) for r in result]

    def counts(self, campaign_id: str) -> Counter[str]:
        return Counter(r.status for r in self.renders(campaign_id))

    def wait_finished(self, campaign_id: str, timeout: float, what: str = "every row done or failed") -> float:
        """Seconds until no row of the campaign is open; AssertionError with the stuck rows after ``timeout``."""
        started = time.monotonic()

        def finished() -> bool:
            rows = self.renders(campaign_id)
            return bool(rows) and all(r.status in FINISHED for r in rows)

        wait_until(what, finished, timeout, 0.5, lambda: self.describe(campaign_id))
        return time.monotonic() - started

    def describe(self, campaign_id: str) -> str:
        rows = self.renders(campaign_id)
        stuck = [r for r in rows if r.status not in FINISHED][:8]
        lines = [f"rows by status: {dict(Counter(r.status for r in rows))}"]
        lines += [f"  row {r.row_number}: {r.status}, attempts {r.attempts}, error {r.error!r}" for r in stuck]
        return "\n".join(lines) + "\n" + self.logs()

    def redis_render_ids(self) -> set[str]:
        """Render ids of the render messages waiting in Redis (queued or delayed)."""
        client = redis.Redis.from_url(self.services.redis.url)
        ids = set()
        for key in ("dramatiq:renders.msgs", "dramatiq:renders.DQ.msgs"):
            for raw in client.hvals(key):
                ids.add(json.loads(raw)["args"][0])
        return ids

    # S3 ---------------------------------------------------------------------------------------

    def object_key(self, key: str) -> str:
        return f"pv/{key}"

    def stored(self) -> Counter[str]:
        """Keys of the bucket and how many times each was stored: the bucket keeps every version,
        so a key written twice shows twice, even when S3's answer to a write was lost on the way."""
        versions = Counter[str]()
        pages = self.services.moto.client().get_paginator("list_object_versions").paginate(Bucket=self.bucket)
        for page in pages:
            versions.update(v["Key"] for v in page.get("Versions", []))
        return versions

    def puts(self) -> Counter[str]:
        """Keys of the bucket and how many ``PUT``s of each the workers sent, through any proxy."""
        sent = Counter[str]()
        for proxy in self.proxies:
            sent.update(proxy.log.puts(self.bucket))
        return sent

    def problems(self, rows: list[RenderRow]) -> list[str]:
        """Rows not ``done`` (none of these faults is a reason to fail a row: a failed row is a lost
        one), and ``output_problems``."""
        problems = [
            f"row {r.row_number}: {r.status} (attempts {r.attempts}, error {r.error!r})"
            for r in rows
            if r.status != "done"
        ]
        return problems + self.output_problems(rows)

    def output_problems(self, rows: list[RenderRow]) -> list[str]:
        """What is wrong with the stored outputs: every ``done`` row's video decodes to its duration,
        and each video and each template object was stored exactly once."""
        problems = []
        stored, sent = self.stored(), self.puts()
        client = self.services.moto.client()
        for row in rows:
            if row.status != "done":
                continue
            if not row.video_key:
                problems.append(f"row {row.row_number}: done without a video")
                continue
            key = self.object_key(row.video_key)
            if stored[key] != 1:
                problems.append(f"row {row.row_number}: {key} stored {stored[key]} times ({sent[key]} PUTs sent)")
            try:
                body = client.get_object(Bucket=self.bucket, Key=key)["Body"].read()
                frames, seconds = decode(body)
            except Exception as exc:
                problems.append(f"row {row.row_number}: {key} does not decode: {exc}")
                continue
            if frames == 0 or (row.duration and abs(seconds - row.duration) > 0.25):
                problems.append(f"row {row.row_number}: {frames} frames, {seconds:.2f} s (row says {row.duration})")
        templates = {k: n for k, n in stored.items() if k.startswith(self.object_key("templates/"))}
        twice = sorted(k for k, n in templates.items() if n > 1)
        if twice:
            problems.append(
                f"{len(twice)} of {len(templates)} template objects stored more than once: "
                + ", ".join(f"{k} ({templates[k]} times, {sent[k]} PUTs sent)" for k in twice[:4])
            )
        return problems


def decode(data: bytes) -> tuple[int, float]:
    """Frames decoded and the span of their timestamps (seconds)."""
    with av.open(io.BytesIO(data)) as container:
        stream = container.streams.video[0]
        frames, last = 0, 0.0
        for frame in container.decode(stream):
            frames += 1
            if frame.time is not None:
                last = max(last, frame.time + float(1 / stream.average_rate))
        return frames, last


def clean_base_env() -> dict[str, str]:
    """The test process's environment without any PVIDEO_ or AWS_ setting or proxy of the caller's."""
    drop = ("PVIDEO_", "AWS_", "HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy", "ALL_PROXY", "all_proxy")
    env = {k: v for k, v in os.environ.items() if not k.startswith(drop) and k not in (RUN_VAR, ROLE_VAR)}
    env.update(
        {
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": "us-east-1",
            "NO_PROXY": "127.0.0.1,localhost",
            "no_proxy": "127.0.0.1,localhost",
        }
    )
    return env
