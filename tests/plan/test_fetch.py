"""Remote image fetches: refused addresses (on URLs), and a local server for the success path,
size, time, redirect and content checks (loopback admitted only through ``allow_private``)."""

from __future__ import annotations

import io
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

import pytest
from PIL import Image

from pvideo.errors import DataError, TransientError
from pvideo.plan.fetch import FetchRefused, FetchTimeout, ImageCache, check_address, fetch_image
from tests.synthetic import bomb_png

REFUSED = [
    "http://127.0.0.1/x.png",
    "http://localhost/x.png",
    "http://127.1/",
    "http://0.0.0.0/",
    "http://2130706433/",
    "http://0x7f000001/",
    "http://0177.0.0.1/",
    "http://017700000001/",
    "http://10.0.0.1/",
    "http://172.16.0.1/",
    "http://192.168.1.1/",
    "http://100.64.0.1/",
    "http://169.254.169.254/latest/meta-data/",
    "http://224.0.0.1/",
    "http://240.0.0.1/",
    "http://255.255.255.255/",
    "http://[::1]/",
    "http://[::]/",
    "http://[fe80::1]/",
    "http://[fc00::1]/",
    "http://[fd12:3456::1]/",
    "http://[ff02::1]/",
    "http://[::ffff:127.0.0.1]/",
    "http://[::ffff:7f00:1]/",
    "http://[::ffff:169.254.169.254]/",
    "http://[64:ff9b::a9fe:a9fe]/",
    "http://[2002:7f00:1::]/",
    "ftp://example.com/x.png",
    "file:///etc/passwd",
    "gopher://example.com/",
    "data:image/png;base64,AAAA",
    "javascript:alert(1)",
    "http://user:pass@example.com/x.png",
    "http:///x.png",
    "http://exa mple.com/",
    "http://example.com:99999/",
    "http://no-such-host.invalid/x.png",
]


def _png(width: int = 8, height: int = 8) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), (200, 10, 10)).save(out, "PNG")
    return out.getvalue()


class _Handler(BaseHTTPRequestHandler):
    hosts: ClassVar[list[str]] = []
    big_chunks: ClassVar[list[int]] = []  # the megabytes /big managed to send, one entry each
    big_ended = threading.Event()  # /big stopped sending: at its end, or when the client left

    def log_message(self, *args) -> None:
        pass

    def _send(self, status: int, body: bytes = b"", headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        if "Content-Length" not in (headers or {}):
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        _Handler.hosts.append(self.headers.get("Host", ""))
        path = self.path
        if path == "/image.png":
            self._send(200, _png(), {"Content-Type": "image/png"})
        elif path == "/lying.png":  # says PNG, is HTML
            self._send(200, b"<html>not an image</html>", {"Content-Type": "image/png"})
        elif path == "/page.html":
            self._send(200, b"<html></html>", {"Content-Type": "text/html"})
        elif path == "/svg":
            self._send(200, b'<svg xmlns="http://www.w3.org/2000/svg"/>', {"Content-Type": "image/svg+xml"})
        elif path == "/bomb.png":
            self._send(200, bomb_png(), {"Content-Type": "image/png"})
        elif path == "/declared-big":
            self._send(200, b"", {"Content-Length": str(50 * 1024 * 1024)})
        elif path == "/big":  # no Content-Length: the cap applies while streaming
            self.send_response(200)
            self.send_header("Connection", "close")
            self.end_headers()
            try:
                for n in range(40):
                    self.wfile.write(b"\0" * (1024 * 1024))
                    _Handler.big_chunks.append(n)
            except (BrokenPipeError, ConnectionResetError):
                pass
            finally:
                _Handler.big_ended.set()
        elif path == "/slow":  # a byte at a time: each read is quick, the whole is too slow
            self.send_response(200)
            self.send_header("Connection", "close")
            self.end_headers()
            try:
                for _ in range(100):
                    self.wfile.write(b"\0")
                    self.wfile.flush()
                    time.sleep(0.1)
            except (BrokenPipeError, ConnectionResetError):
                pass
        elif path == "/stall":
            time.sleep(3)
            self._send(200, _png())
        elif path == "/to-metadata":
            self._send(302, headers={"Location": "http://169.254.169.254/latest/meta-data/"})
        elif path == "/to-decimal-loopback":
            self._send(302, headers={"Location": "http://2130706433/image.png"})
        elif path == "/to-file":
            self._send(302, headers={"Location": "file:///etc/passwd"})
        elif path == "/to-image":
            self._send(301, headers={"Location": "/image.png"})
        elif path.startswith("/loop"):
            n = int(path[5:] or 0)
            self._send(302, headers={"Location": f"/loop{n + 1}"})
        else:
            self._send(404)


@pytest.fixture(scope="module")
def server():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


@pytest.mark.parametrize("url", REFUSED)
def test_refused_urls(url):
    with pytest.raises(FetchRefused):
        fetch_image(url)


@pytest.mark.parametrize("ip", ["8.8.8.8", "1.1.1.1", "2606:4700:4700::1111", "93.184.216.34"])
def test_public_addresses_are_allowed(ip):
    check_address(ip)


def test_even_allow_private_never_admits_metadata_or_multicast():
    check_address("127.0.0.1", allow_private=True)
    check_address("10.1.2.3", allow_private=True)
    for ip in ("169.254.169.254", "fe80::1", "224.0.0.1", "0.0.0.0", "::ffff:169.254.169.254"):
        with pytest.raises(FetchRefused):
            check_address(ip, allow_private=True)


def test_loopback_server_refused_without_allow_private(server):
    with pytest.raises(FetchRefused, match="not a public address"):
        fetch_image(f"{server}/image.png")


def test_image_is_fetched(server):
    image = fetch_image(f"{server}/image.png", allow_private=True)
    assert (image.format, image.content_type, image.width, image.height) == ("PNG", "image/png", 8, 8)
    assert image.data == _png()


def test_redirect_to_image_is_followed(server):
    assert fetch_image(f"{server}/to-image", allow_private=True).url == f"{server}/image.png"


@pytest.mark.parametrize("path", ["/to-metadata", "/to-decimal-loopback", "/to-file"])
def test_redirects_are_checked_again(server, path):
    # /to-decimal-loopback goes to port 80 of 127.0.0.1: refused or unreachable, never fetched from us
    with pytest.raises((FetchRefused, FetchTimeout)):
        fetch_image(f"{server}{path}", allow_private=path != "/to-decimal-loopback")
    with pytest.raises(FetchRefused):
        fetch_image(f"{server}{path}")


def test_redirect_to_metadata_refused_even_with_allow_private(server):
    with pytest.raises(FetchRefused, match="169.254.169.254"):
        fetch_image(f"{server}/to-metadata", allow_private=True)


def test_too_many_redirects(server):
    with pytest.raises(FetchRefused, match="redirects"):
        fetch_image(f"{server}/loop0", allow_private=True)


def test_oversized_body_is_cut_off(server):
    with pytest.raises(FetchRefused, match=r"larger than 1048576 bytes \(Content-Length 52428800\)"):
        fetch_image(f"{server}/declared-big", allow_private=True, max_bytes=1024 * 1024)  # refused unread
    _Handler.big_chunks.clear()
    _Handler.big_ended.clear()
    with pytest.raises(FetchRefused, match="larger than 1048576 bytes$"):
        fetch_image(f"{server}/big", allow_private=True, max_bytes=1024 * 1024)
    # cut off past its first megabyte: the server's writes fail once the socket buffers are full,
    # long before the 40 MB a download to the end takes (the wait only ends a server that never stops)
    assert _Handler.big_ended.wait(60), "/big is still sending"
    assert len(_Handler.big_chunks) < 40, f"the server sent all {len(_Handler.big_chunks)} MB"


def test_slow_body_hits_the_total_limit(server):
    """A byte every 0.1 s for 10 s: each read is quick, only the total limit (1 s) ends it; a download
    to the end would be refused as not an image instead."""
    with pytest.raises(FetchTimeout, match="longer than the total time limit"):
        fetch_image(f"{server}/slow", allow_private=True, total_timeout=1.0)


def test_stalled_server_hits_the_read_limit(server):
    """The server answers after 3 s: only the 0.5 s read limit makes that a timeout (the default is 10 s)."""
    with pytest.raises(FetchTimeout, match="timed out"):
        fetch_image(f"{server}/stall", allow_private=True, read_timeout=0.5)


@pytest.mark.parametrize("path", ["/lying.png", "/page.html", "/svg", "/bomb.png", "/missing"])
def test_only_real_bounded_images(server, path):
    with pytest.raises(FetchRefused):
        fetch_image(f"{server}{path}", allow_private=True)


def test_connects_to_the_checked_address_only(server, monkeypatch):
    """DNS answers once; the connection goes to that answer, with the URL's own Host header."""
    port = int(server.rsplit(":", 1)[1])
    answers = iter([[(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", port))]])
    real = socket.getaddrinfo

    def rebinding(host, *args, **kwargs):
        if host == "images.test":
            return next(answers, [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("169.254.169.254", port))])
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", rebinding)
    _Handler.hosts.clear()
    image = fetch_image(f"http://images.test:{port}/image.png", allow_private=True)
    assert image.width == 8 and _Handler.hosts == [f"images.test:{port}"]
    with pytest.raises(FetchRefused):  # the second answer (rebinding to metadata) is refused
        fetch_image(f"http://images.test:{port}/image.png", allow_private=True)


def test_errors_fit_the_error_tree():
    assert issubclass(FetchRefused, DataError) and issubclass(FetchTimeout, TransientError)


def test_a_url_every_row_uses_is_fetched_once_and_refusals_are_kept_briefly(server):
    now = [1000.0]
    cache = ImageCache(seconds=300, refusal_seconds=60, clock=lambda: now[0])
    hits = len(_Handler.hosts)
    for _ in range(5):
        assert cache.get(f"{server}/image.png", allow_private=True).format == "PNG"
    assert len(_Handler.hosts) == hits + 1
    with pytest.raises(FetchRefused, match="not public|is not a public address"):
        cache.get(f"{server}/image.png")  # allow_private is part of the key: no cached way around the check
    for _ in range(3):
        with pytest.raises(FetchRefused, match="HTTP 404"):
            cache.get(f"{server}/missing.png", allow_private=True)
    assert len(_Handler.hosts) == hits + 2
    now[0] += 61  # refusals expire first
    with pytest.raises(FetchRefused, match="HTTP 404"):
        cache.get(f"{server}/missing.png", allow_private=True)
    cache.get(f"{server}/image.png", allow_private=True)
    assert len(_Handler.hosts) == hits + 3
    now[0] += 300
    cache.get(f"{server}/image.png", allow_private=True)
    assert len(_Handler.hosts) == hits + 4


def test_the_image_cache_keeps_to_its_size_least_recently_used_out(server):
    cache = ImageCache(max_bytes=len(_png()) * 2)
    hits = len(_Handler.hosts)
    for path in ("/image.png", "/to-image", "/image.png", "/image.png#b", "/to-image", "/image.png"):
        cache.get(f"{server}{path}", allow_private=True)
    # image (1 request), to-image (2: a redirect), image again (cached, now most recent), image#b
    # (1; the server sees /image.png) evicts to-image, to-image (2) evicts image, image (1)
    assert len(_Handler.hosts) == hits + 1 + 2 + 0 + 1 + 2 + 1
