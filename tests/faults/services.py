"""The suite's own services: a PostgreSQL cluster, a redis-server and a moto S3 server.

They run on ports of their own, so the suite can stop and start them without touching the
services other tests use. The cluster is made with Debian's ``pg_createcluster`` (trust
authentication, durability off: it is thrown away at the end) and named after the pytest
process that made it; a session that finds clusters or processes of a session that died
(killed, or a machine crash) removes them before it starts.
"""

from __future__ import annotations

import contextlib
import os
import random
import re
import shutil
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from tests.faults.procs import (
    REGISTRY,
    RUN_VAR,
    Proc,
    ProcInfo,
    all_pids,
    environ_value,
    forget,
    kill_all,
    proc_info,
    registered,
    running,
    wait_until,
)

CLUSTER_PREFIX = "pvfaults"
_CLUSTER_NAME = re.compile(rf"^{CLUSTER_PREFIX}_(\d+)_(\d+)$")


def free_port() -> int:
    """A free port below the kernel's ephemeral range: a service stopped by a test gets its port
    back on restart, since no outgoing connection is handed it as a source port meanwhile."""
    for _ in range(200):
        port = random.randint(20_000, 30_000)
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port in 20000-30000")


def port_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def missing_tools(*names: str) -> list[str]:
    return [n for n in names if shutil.which(n) is None]


def run_id(pid: int, start: int) -> str:
    return f"{CLUSTER_PREFIX}_{pid}_{start}"


def owner_alive(name: str) -> bool:
    match = _CLUSTER_NAME.match(name)
    return match is None or running(int(match[1]), int(match[2]))


def sweep_dead_sessions() -> list[str]:
    """Remove what sessions that are no longer running left: their processes, then their clusters."""
    removed = []
    leftovers: dict[str, list[ProcInfo]] = {}
    for pid in all_pids():
        tag = environ_value(pid, RUN_VAR)
        if tag and not owner_alive(tag) and (info := proc_info(pid)) is not None:
            leftovers.setdefault(tag, []).append(info)
    for listing in REGISTRY.glob("*.pids") if REGISTRY.is_dir() else []:
        if not owner_alive(listing.stem):
            leftovers.setdefault(listing.stem, []).extend(registered(listing.stem))
    for tag, processes in leftovers.items():
        kill_all(processes)
        forget(tag)
        removed.append(f"{len(processes)} processes of {tag}")
    for version, name in clusters():
        if _CLUSTER_NAME.match(name) and not owner_alive(name):
            subprocess.run(["pg_dropcluster", "--stop", version, name], check=False, capture_output=True)
            removed.append(f"cluster {version}/{name}")
    return removed


def clusters() -> list[tuple[str, str]]:
    root = Path("/etc/postgresql")
    if not root.is_dir():
        return []
    return [(v.name, c.name) for v in sorted(root.iterdir()) if v.is_dir() for c in sorted(v.iterdir()) if c.is_dir()]


def _pg_env() -> dict[str, str]:
    """pg_* tools get a plain environment: the cluster's processes must not carry this run's tag."""
    return {k: v for k, v in os.environ.items() if k != RUN_VAR and not k.startswith("PG")}


class PgCluster:
    """``pg_createcluster <version> <name>`` on a free port, trust authentication on 127.0.0.1."""

    def __init__(self, name: str) -> None:
        versions = sorted((p.name for p in Path("/etc/postgresql").iterdir()), key=float)
        self.version, self.name, self.port = versions[-1], name, free_port()

    def create(self) -> None:
        self._run(
            "pg_createcluster",
            self.version,
            self.name,
            "--port",
            str(self.port),
            "--start-conf=manual",  # never started at boot
            *("-o", "fsync=off", "-o", "synchronous_commit=off", "-o", "full_page_writes=off"),
            *("-o", "max_connections=300"),
            "--start",
            "--",
            "--auth=trust",
        )
        self.wait_ready()

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def _run(self, *args: str) -> None:
        result = subprocess.run(list(args), env=_pg_env(), capture_output=True, text=True, timeout=120)
        if result.returncode != 0:
            raise RuntimeError(f"{' '.join(args)} failed ({result.returncode}): {result.stderr[-2000:]}")

    def _ctl(self, action: str, *extra: str) -> None:
        self._run("pg_ctlcluster", "--skip-systemctl-redirect", self.version, self.name, action, *extra)

    def stop(self) -> None:
        """Fast shutdown: connected clients are disconnected, new ones refused."""
        self._ctl("stop", "-m", "fast")

    def start(self) -> None:
        self._ctl("start")
        self.wait_ready()

    def running(self) -> bool:
        return port_open(self.port)

    def ensure_running(self) -> None:
        if not self.running():
            self.start()

    def wait_ready(self) -> None:
        def ready() -> bool:
            try:
                engine = sa.create_engine(self.url().replace("postgresql://", "postgresql+psycopg://"))
                with engine.connect() as conn:
                    conn.execute(sa.text("SELECT 1"))
                engine.dispose()
                return True
            except sa.exc.OperationalError:
                return False

        wait_until(f"PostgreSQL cluster {self.name} on port {self.port} accepting connections", ready, 60, 0.2)

    def drop(self) -> None:
        subprocess.run(
            ["pg_dropcluster", "--stop", self.version, self.name], env=_pg_env(), capture_output=True, timeout=120
        )

    def admin(self) -> sa.Engine:
        return sa.create_engine(
            self.url().replace("postgresql://", "postgresql+psycopg://"), isolation_level="AUTOCOMMIT"
        )

    def create_database(self, name: str, template: str | None = None) -> str:
        engine = self.admin()
        with engine.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else "")))
        engine.dispose()
        return self.url(name)

    def drop_database(self, name: str) -> None:
        engine = self.admin()
        with contextlib.suppress(sa.exc.SQLAlchemyError), engine.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        engine.dispose()


class RedisServer:
    """A ``redis-server`` without persistence on a port of its own: a restart empties it."""

    def __init__(self, workdir: Path, env: dict[str, str]) -> None:
        self.dir, self.env, self.port = workdir, env, free_port()
        self.dir.mkdir(parents=True, exist_ok=True)
        self.proc: Proc | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        args = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
        self.proc = Proc("redis", [*args, "--dir", str(self.dir)], self.env, self.dir / "redis.log")
        wait_until(
            f"redis-server on port {self.port}", self.ping, 20, 0.1, lambda: self.proc.tail() if self.proc else ""
        )

    def ping(self) -> bool:
        import redis

        try:
            return bool(redis.Redis(port=self.port, socket_connect_timeout=0.5).ping())
        except redis.RedisError:
            return False

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.stop(grace=10)
            self.proc = None

    def ensure_running(self) -> None:
        if self.proc is None or not self.proc.alive() or not self.ping():
            self.stop()
            self.start()

    def flush(self) -> None:
        import redis

        redis.Redis(port=self.port).flushall()


class MotoServer:
    """moto's S3 server as a process of its own (``python -m moto.server``)."""

    def __init__(self, workdir: Path, env: dict[str, str]) -> None:
        self.dir, self.env, self.port = workdir, env, free_port()
        self.proc: Proc | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        args = [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.port)]
        self.proc = Proc("moto", args, self.env, self.dir / "moto.log")

        def answers() -> bool:
            if self.proc is not None and not self.proc.alive():
                raise AssertionError(f"moto server exited\n{self.proc.tail()}")
            try:
                self.client().list_buckets()
                return True
            except Exception:
                return False

        wait_until(f"moto S3 server on port {self.port}", answers, 30, 0.2)

    def client(self) -> Any:
        import boto3
        from botocore.config import Config

        return boto3.session.Session().client(
            "s3",
            endpoint_url=self.url,
            region_name="us-east-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
            config=Config(
                connect_timeout=2, read_timeout=30, retries={"max_attempts": 2}, s3={"addressing_style": "path"}
            ),
        )

    def new_bucket(self) -> str:
        """A bucket that keeps every version of a key, so the suite can count how often each was stored."""
        bucket = f"pvfaults-{uuid.uuid4().hex[:12]}"
        client = self.client()
        client.create_bucket(Bucket=bucket)
        client.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
        return bucket

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.stop(grace=5)
            self.proc = None


def wait_port_closed(port: int, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while port_open(port) and time.monotonic() < deadline:
        time.sleep(0.1)
