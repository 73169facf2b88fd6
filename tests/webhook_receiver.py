"""A real webhook receiver on 127.0.0.1 for the campaign webhook tests.

It records every request (path, headers, body) and answers what the test says: a status per
path (default 204). ``hold(path)`` makes requests to that path wait until ``release()`` (a slow
receiver, or one a worker is killed in front of: a held request whose client closes its end is
marked ``gone`` and never answered). ``stop()``/``start()`` take it down and bring it
back on the same port. Like a careful receiver, it counts a ``webhook-id`` as delivered once,
whatever the repeats (``delivered``).
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from standardwebhooks import Webhook


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    answered: int | None = None  # None: held, or the client went away first
    gone: bool = False  # the client closed the connection while the request was held

    @property
    def webhook_id(self) -> str:
        return self.headers["webhook-id"]

    def verified(self, secret: str) -> Any:
        """The JSON body, once ``standardwebhooks`` has checked its signature (raises if it is wrong)."""
        return Webhook(secret).verify(self.body, self.headers)

    def json(self) -> Any:
        return json.loads(self.body)


def _gone(connection: socket.socket) -> bool:
    """Whether the client closed its end (a killed process's sockets are closed by its kernel)."""
    try:
        return connection.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT) == b""
    except BlockingIOError:
        return False
    except OSError:
        return True


class Receiver:
    def __init__(self) -> None:
        self.requests: list[Received] = []
        self.answers: dict[str, int] = {}
        self.delivered: dict[str, int] = {}  # webhook-id -> how many 2xx answers it got
        self._held: set[str] = set()
        self._release = threading.Event()
        self._changed = threading.Condition()
        self.port = 0
        self._server: ThreadingHTTPServer | None = None
        self.start()

    def url(self, path: str = "/hooks") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def start(self) -> None:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                got = Received(self.path, {k.lower(): v for k, v in self.headers.items()}, body)
                receiver._note(got)
                while self.path in receiver._held and not receiver._release.wait(0.05):
                    if _gone(self.connection):  # the sender died while it waited: nothing to answer
                        receiver._note_gone(got)
                        return
                status = receiver.answers.get(self.path, 204)
                try:
                    self.send_response(status)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                except OSError:
                    return  # the sender is gone (killed): not an answer it saw
                receiver._answered(got, status)

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        threading.Thread(target=self._server.serve_forever, name="webhook-receiver", daemon=True).start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def hold(self, path: str) -> None:
        self._release.clear()
        self._held.add(path)

    def release(self) -> None:
        self._held.clear()
        self._release.set()

    def _note(self, got: Received) -> None:
        with self._changed:
            self.requests.append(got)
            self._changed.notify_all()

    def _note_gone(self, got: Received) -> None:
        with self._changed:
            got.gone = True
            self._changed.notify_all()

    def _answered(self, got: Received, status: int) -> None:
        with self._changed:
            got.answered = status
            if 200 <= status < 300:
                self.delivered[got.webhook_id] = self.delivered.get(got.webhook_id, 0) + 1
            self._changed.notify_all()

    def to(self, path: str) -> list[Received]:
        return [r for r in self.requests if r.path == path]

    def wait_for(self, done: Callable[[Receiver], bool], what: str, timeout: float = 60) -> None:
        """Wait until ``done(self)``; fail naming ``what`` if it never is."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while not done(self):
                left = deadline - time.monotonic()
                assert left > 0, (
                    f"the receiver never saw {what}; it got {[(r.path, r.answered) for r in self.requests]}"
                )
                self._changed.wait(min(left, 0.5))


def wait_until(check: Callable[[], Any], what: str, timeout: float = 60, every: float = 0.02) -> Any:
    """Poll ``check`` until it returns something true; that value (fail naming ``what`` at the deadline)."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        assert time.monotonic() < deadline, f"gave up waiting for {what}"
        time.sleep(every)


@pytest.fixture()
def receiver():
    """A receiver for the test (a plugin of tests/conftest.py), taken down after it."""
    r = Receiver()
    yield r
    r.release()
    r.stop()
