"""Test helpers: ``pvideo serve`` as a real server process, raw HTTP over a socket, processes in /proc.

What a test client cannot show needs the real server: a client that stalls
half-way through its headers or body, one that goes away, a proxy's headers.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
from fastapi.testclient import TestClient

from api.main import create_app
from pvideo.runtime import Runtime
from pvideo.settings import PROJECT_ROOT
from tests.conftest import API_KEY, SECRET


@dataclass
class Served:
    url: str
    port: int
    pid: int
    log: Path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def served(
    tmp_path: Path, assets_dir: Path, scenes_dir: Path, *, env: dict[str, str] | None = None, **settings: object
) -> Iterator[Served]:
    """``pvideo serve`` on a free port with these ``PVIDEO_*`` settings (and ``env``); stopped at the end."""
    port = free_port()
    env = {
        **os.environ,
        **(env or {}),
        "PVIDEO_DATA_DIR": str(tmp_path / "served-data"),
        "PVIDEO_SECRET_KEY": SECRET,
        "PVIDEO_API_KEYS": API_KEY,
        "PVIDEO_ASSETS_DIR": str(assets_dir),
        "PVIDEO_SCENES_DIR": str(scenes_dir),
        "PVIDEO_LOG_FORMAT": "text",
        **{f"PVIDEO_{name.upper()}": str(value) for name, value in settings.items()},
    }
    log = tmp_path / f"serve-{port}.log"
    args = [sys.executable, "-c", "from pvideo.cli import app; app()", "serve", "--port", str(port), "--no-access-log"]
    with open(log, "wb") as out:
        process = subprocess.Popen(args, env=env, cwd=PROJECT_ROOT, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, f"pvideo serve exited:\n{log.read_text()[-3000:]}"
            try:
                if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, f"pvideo serve did not answer:\n{log.read_text()[-3000:]}"
            time.sleep(0.2)
        yield Served(url, port, process.pid, log)
    finally:
        process.terminate()
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def raw(port: int, head: bytes) -> socket.socket:
    """A connection that has sent ``head`` (a request, or part of one) and nothing else."""
    sock = socket.create_connection(("127.0.0.1", port))
    sock.sendall(head)
    return sock


@dataclass
class Answer:
    """A server's whole answer to a raw request: what is checked instead of how long it took."""

    status: str  # "" when the connection closed without an answer
    detail: str  # the JSON body's "detail", or the body as text
    closed: bool  # the server closed the connection after answering
    took: float  # seconds until the answer began


def whole_answer(
    sock: socket.socket, *, drip: float | None = None, within: float = 60, start: float | None = None
) -> Answer:
    """The server's whole answer on ``sock`` (with ``drip``, one more body byte every ``drip`` seconds
    until the answer begins), and whether it then closed the connection; ``took`` counts from
    ``start`` (default: now). ``within`` bounds nothing a test checks: it only ends the wait for a
    server that never answers or never closes."""
    start = time.monotonic() if start is None else start
    last = time.monotonic()
    took, data, closed = None, b"", False
    sock.settimeout(0.05)
    while time.monotonic() - start < within:
        if drip and not data and time.monotonic() - last >= drip:
            try:
                sock.send(b"x")
            except OSError:
                closed = True
                break
            last = time.monotonic()
        try:
            chunk = sock.recv(65536)
        except TimeoutError:
            continue
        except OSError:  # reset: closed as well
            closed = True
            break
        if not chunk:
            closed = True
            break
        took = took if took is not None else time.monotonic() - start
        data += chunk
    sock.close()
    top, _, body = data.partition(b"\r\n\r\n")
    try:
        detail = str(json.loads(body)["detail"])
    except (ValueError, KeyError, TypeError):
        detail = body.decode(errors="replace")
    status = top.split(b"\r\n", 1)[0].decode(errors="replace")
    return Answer(status, detail, closed, took if took is not None else time.monotonic() - start)


def refusal(port: int, head: bytes, *, drip: float | None = None, within: float = 60) -> Answer:
    """``whole_answer`` to a new connection that sends ``head``. The clock starts before the
    connection, so ``took`` is never less than a server timeout that fired."""
    start = time.monotonic()
    return whole_answer(raw(port, head), drip=drip, within=within, start=start)


def post_head(path: str, length: int, *, key: str | None = API_KEY, content_type: str = "application/json") -> bytes:
    key_line = f"X-API-Key: {key}\r\n" if key else ""
    return (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{key_line}Content-Type: {content_type}\r\n"
        f"Content-Length: {length}\r\n\r\n"
    ).encode()


def children(parent: int, marker: str) -> set[int]:
    """Live (not zombie) child processes of ``parent`` whose command line holds ``marker``."""
    found = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        if int(fields[1]) == parent and fields[0] != "Z" and marker in cmdline:
            found.add(int(entry.name))
    return found


def alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def wait_until(condition, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return condition()


class FrozenListener:
    """A TCP listener that accepts connections and never answers: a hung S3 endpoint."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.accepted: list[socket.socket] = []
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.accepted.append(conn)

    def close(self) -> None:
        self.sock.close()
        for conn in self.accepted:
            conn.close()


def rss_mb(pid: int | str = "self") -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) // 1024
    raise AssertionError("no VmRSS")


class PeakRss:
    """The highest resident set size of this process while the block runs, sampled every 10 ms."""

    def __init__(self) -> None:
        self.before = self.peak = rss_mb()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, rss_mb())
            time.sleep(0.01)

    def __enter__(self) -> PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()

    @property
    def growth(self) -> int:
        return self.peak - self.before


def close_previews(app) -> None:
    """End the app's warm preview child now (else it waits until the app is garbage)."""
    sandbox = getattr(app.state, "preview_sandbox", None)
    if sandbox is not None:
        sandbox.close()


@contextmanager
def app_client(settings, **update):
    """The real app in-process on ``settings`` (with ``update``), lifespan included; its warm
    preview child and its database pool are closed on the way out."""
    runtime = Runtime.from_settings(settings.model_copy(update=update))
    try:
        with TestClient(create_app(runtime=runtime)) as client:
            yield client
    finally:
        close_previews(client.app)
        runtime.db.dispose()
