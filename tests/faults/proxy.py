"""A TCP proxy in front of the S3 server that a test can switch off, freeze, and switch back on.

* ``off()``: connections are refused (the port stays bound but is not listening, so nothing else
  can take it) and open ones are reset, as when S3 or the network path to it is down.
* ``freeze()``: connections are accepted, but no byte goes through either way until ``on()``:
  a hung S3 (or a partition that heals), where clients wait for their own timeouts. Bytes held
  during the freeze are delivered on ``on()``, like TCP retransmissions after a partition.
* ``on()``: bytes flow again.

The proxy forwards bytes untouched and watches them (``httpsniff``) to log every request with
S3's answer, so a test can count how often each key was stored.
"""

from __future__ import annotations

import contextlib
import random
import socket
import struct
import threading
import time

from tests.faults.httpsniff import ExchangeLog, Framer

_CHUNK = 256 * 1024


def _reserve_port() -> socket.socket:
    """A socket bound (not listening) to a free port below the kernel's ephemeral range.

    While the proxy is off it keeps this socket bound and not listening: connecting clients get
    a reset at once, and no outgoing connection can be handed the port as its source port.
    """
    for _ in range(200):
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", random.randint(20_000, 30_000)))
            return sock
        except OSError:
            sock.close()
    raise RuntimeError("no free port for the S3 proxy")


class _Connection:
    def __init__(self, proxy: S3Proxy, client: socket.socket) -> None:
        self.proxy, self.client = proxy, client
        self.upstream: socket.socket | None = None
        self.requests, self.responses, self.on_close = proxy.log.connection()
        self.closed = threading.Event()
        self._lock = threading.Lock()

    def run(self) -> None:
        if not self.proxy.flowing.is_set():
            self.proxy.held += 1
        if not self._until_flowing():
            return
        try:
            self.upstream = socket.create_connection(self.proxy.upstream, timeout=10)
            self.upstream.settimeout(None)
        except OSError:
            self.close(reset=True)
            return
        threading.Thread(target=self._pump, args=(self.upstream, self.client, self.responses), daemon=True).start()
        self._pump(self.client, self.upstream, self.requests)

    def _until_flowing(self) -> bool:
        while not self.proxy.flowing.wait(0.1):
            if self.closed.is_set():
                return False
        return not self.closed.is_set()

    def _pump(self, source: socket.socket, target: socket.socket, framer: Framer) -> None:
        while not self.closed.is_set():
            try:
                data = source.recv(_CHUNK)
            except OSError:
                break
            if not data:
                break
            framer.feed(data)
            if not self.proxy.flowing.is_set():
                self.proxy.held += 1
            if not self._until_flowing():
                return
            try:
                target.sendall(data)
            except OSError:
                break
        self.close()

    def close(self, *, reset: bool = False) -> None:
        with self._lock:
            if self.closed.is_set():
                return
            self.closed.set()
        for sock in (self.client, self.upstream):
            if sock is None:
                continue
            with contextlib.suppress(OSError):
                if reset:  # RST instead of FIN: the client sees "connection reset", as when S3 drops
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                sock.shutdown(socket.SHUT_RDWR)
            with contextlib.suppress(OSError):
                sock.close()
        self.on_close()
        self.proxy._forget(self)


class S3Proxy:
    def __init__(self, upstream_port: int) -> None:
        self.upstream = ("127.0.0.1", upstream_port)
        self.log = ExchangeLog()
        self.flowing = threading.Event()
        self.flowing.set()
        self.mode = "on"
        self.accepted = self.accepted_frozen = self.reset_by_off = 0
        self.held = 0  # connections and reads a freeze held back
        self._lock = threading.Lock()
        self._connections: set[_Connection] = set()
        self._socket = _reserve_port()
        self.port = self._socket.getsockname()[1]
        self._stop = threading.Event()
        self._listening = threading.Event()
        self._socket.listen(128)
        self._listening.set()
        self._socket.settimeout(0.1)
        self._acceptor = threading.Thread(target=self._accept_loop, name="s3-proxy", daemon=True)
        self._acceptor.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _accept_loop(self) -> None:
        while not self._stop.is_set():
            if not self._listening.wait(0.1):
                continue
            with self._lock:
                sock = self._socket
            try:
                client, _ = sock.accept()
            except (TimeoutError, OSError):
                continue
            client.settimeout(None)
            connection = _Connection(self, client)
            with self._lock:
                self._connections.add(connection)
                self.accepted += 1
                self.accepted_frozen += not self.flowing.is_set()
            threading.Thread(target=connection.run, daemon=True).start()

    def _forget(self, connection: _Connection) -> None:
        with self._lock:
            self._connections.discard(connection)

    def off(self) -> None:
        """Refuse new connections and reset the open ones."""
        with self._lock:
            self.mode = "off"
            self._listening.clear()
            old, self._socket = self._socket, None
            connections = list(self._connections)
        assert old is not None
        with contextlib.suppress(OSError):
            old.shutdown(socket.SHUT_RDWR)  # out of LISTEN now, even while the acceptor is in accept()
        old.close()  # connections still in the accept backlog are reset
        self.reset_by_off += len(connections)
        for connection in connections:
            connection.close(reset=True)
        holder = self._hold_port()
        with self._lock:
            self._socket = holder
        with self._lock:
            stragglers = list(self._connections)  # accepted just before the listener closed
        for connection in stragglers:
            connection.close(reset=True)
        self.flowing.set()

    def _hold_port(self) -> socket.socket:
        """The port, bound and not listening: connects are refused."""
        for _ in range(50):
            holder = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                holder.bind(("127.0.0.1", self.port))
            except OSError:
                holder.close()
                time.sleep(0.02)
                continue
            holder.settimeout(0.1)
            return holder
        raise RuntimeError(f"the S3 proxy could not keep its port {self.port} while off")

    def freeze(self) -> None:
        """Accept connections but forward nothing, either way, until ``on()``."""
        self.flowing.clear()
        self._listen()
        self.mode = "frozen"

    def on(self) -> None:
        self._listen()
        self.flowing.set()
        self.mode = "on"

    def _listen(self) -> None:
        with self._lock:
            if not self._listening.is_set():
                assert self._socket is not None
                self._socket.listen(128)
                self._listening.set()

    def close(self) -> None:
        self._stop.set()
        self.flowing.set()
        with self._lock:
            connections = list(self._connections)
            sock = self._socket
        for connection in connections:
            connection.close(reset=True)
        if sock is not None:
            sock.close()
        self._acceptor.join(timeout=5)
