"""A fork server: one warm process that forks a fresh child for every job.

A sandboxed preview must start in a process of its own (its limits, its
session, nothing left behind by the previous job), but a new interpreter pays
1.5-3 CPU s importing pvideo before it can start: more than a whole preview,
and on two cores a person editing a scene outruns it. So one process
(``serve``) imports and warms everything once and never runs a job; each job
is a ``fork`` of it (~10 ms), which runs that one job and exits.

The protocol, all on one Unix socket pair per job (the server sends the
child's end to the fork server over the control socket, ``SCM_RIGHTS``): the
server writes the job's bytes and shuts its side for writing; the child sends
a ``P`` frame (its pid, so the server can kill its process group), runs the
job, sends an ``O`` frame (its output) and exits; the fork server, which reaps
it, sends an ``X`` frame with its return code (negative: the signal that ended
it), as ``subprocess.Popen.returncode`` reads. A frame is a kind byte, a 4-byte
big-endian length and that many bytes.
"""

from __future__ import annotations

import contextlib
import os
import selectors
import signal
import socket
import struct
import sys
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field

_HEADER = struct.Struct(">cI")


def send_frame(sock: socket.socket, kind: bytes, payload: bytes) -> None:
    sock.sendall(_HEADER.pack(kind, len(payload)) + payload)


@dataclass
class Frames:
    """What a job's socket brought: the child's pid, its output, its return code (``None``: not sent)."""

    pid: int | None = None
    output: bytes = b""
    returncode: int | None = None
    _buffer: bytearray = field(default_factory=bytearray)

    def feed(self, data: bytes) -> list[bytes]:
        """Take ``data``; return the kinds of the frames it completed."""
        self._buffer += data
        kinds = []
        while len(self._buffer) >= _HEADER.size:
            kind, size = _HEADER.unpack_from(self._buffer)
            if len(self._buffer) < _HEADER.size + size:
                break
            payload = bytes(self._buffer[_HEADER.size : _HEADER.size + size])
            del self._buffer[: _HEADER.size + size]
            if kind == b"P":
                self.pid = int(payload)
            elif kind == b"O":
                self.output = payload
            elif kind == b"X":
                self.returncode = int(payload)
            kinds.append(kind)
        return kinds


def serve(control: socket.socket, run: Callable[[bytes], tuple[int, bytes]]) -> int:
    """Fork a child per job fd received on ``control`` until it closes; the child calls ``run(job)``
    and exits with its code after sending its output. Returns once the last child is reaped."""
    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_r, False)
    os.set_blocking(wake_w, False)
    signal.signal(signal.SIGCHLD, lambda *_: None)
    signal.set_wakeup_fd(wake_w)
    selector = selectors.DefaultSelector()
    selector.register(control, selectors.EVENT_READ)
    selector.register(wake_r, selectors.EVENT_READ)
    jobs: dict[int, socket.socket] = {}
    open_ = True
    while open_ or jobs:
        for key, _ in selector.select():
            if key.fileobj is control:
                _, fds, _, _ = socket.recv_fds(control, 1, 1)
                if not fds:
                    open_ = False
                    selector.unregister(control)
                    continue
                conn = socket.socket(fileno=fds[0])
                pid = os.fork()
                if pid == 0:
                    os._exit(
                        _child(conn, run, [control.fileno(), wake_r, wake_w, *(c.fileno() for c in jobs.values())])
                    )
                jobs[pid] = conn
            else:
                with contextlib.suppress(BlockingIOError):
                    os.read(wake_r, 512)
        _reap(jobs)
    return 0


def _reap(jobs: dict[int, socket.socket]) -> None:
    for pid in list(jobs):
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            conn = jobs.pop(pid)
            with contextlib.suppress(OSError):
                send_frame(conn, b"X", str(os.waitstatus_to_exitcode(status)).encode())
            conn.close()


def _child(conn: socket.socket, run: Callable[[bytes], tuple[int, bytes]], inherited: list[int]) -> int:
    """One job in a forked child: its own session, nothing of the fork server's but the code (the
    other jobs' sockets closed too, or their servers would wait for this child's exit)."""
    try:
        signal.set_wakeup_fd(-1)
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        for fd in inherited:
            os.close(fd)
        os.setsid()
        send_frame(conn, b"P", str(os.getpid()).encode())
        chunks = []
        while chunk := conn.recv(1 << 16):
            chunks.append(chunk)
        code, output = run(b"".join(chunks))
        send_frame(conn, b"O", output)
        return code
    except BaseException:  # the child must exit, never return into the fork server's loop
        traceback.print_exc()
        return 1
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
