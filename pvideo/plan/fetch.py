"""Fetching a customer's image from the web without becoming a proxy into our network (SSRF).

``fetch_image(url)`` accepts only http(s) URLs without credentials; resolves the
host once and refuses any address that is not public (loopback, private,
link-local such as 169.254.169.254, multicast, reserved, unspecified, and
IPv6 forms that embed one: ``::ffff:127.0.0.1``, 6to4, Teredo, NAT64).
Numeric host spellings (``2130706433``, ``0x7f000001``, ``0177.0.0.1``) are
resolved by the system like any name and so meet the same check. The
connection goes to the checked address (the Host header and TLS name stay the
URL's), so DNS cannot change its answer between check and connect. Redirects
are followed by hand, at most ``MAX_REDIRECTS``, each checked again. The body
is streamed with a byte cap and connect/read/total time limits, and must be a
PNG, JPEG, WebP or GIF whose header declares at most ``MAX_PIXELS`` pixels;
nothing is decoded before that check.

``cached_image(url)`` is what renders call: a picture used on every row (a
logo at a fixed URL) is fetched once per process, not once per customer. Images
are kept ``CACHE_SECONDS`` (least recently used first out past ``CACHE_BYTES``),
refusals (404, not an image, not public) ``REFUSAL_SECONDS``; timeouts are not
kept, so the next row tries again.
"""

from __future__ import annotations

import http.client
import io
import ipaddress
import socket
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

from PIL import Image

from pvideo.errors import DataError, TransientError

MAX_BYTES = 10 * 1024 * 1024
MAX_REDIRECTS = 3
MAX_PIXELS = 40_000_000
CONNECT_TIMEOUT = 5.0
READ_TIMEOUT = 10.0
TOTAL_TIMEOUT = 20.0
IMAGE_FORMATS = {"PNG": "image/png", "JPEG": "image/jpeg", "WEBP": "image/webp", "GIF": "image/gif"}
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
CACHE_BYTES = 64 * 1024 * 1024
CACHE_SECONDS = 300.0
REFUSAL_SECONDS = 60.0


class FetchRefused(DataError):
    """The URL, its address, the answer or the content is not allowed; retrying will not help."""


class Unresolvable(FetchRefused):
    """The host has no address (now): permanent for an image, worth retrying for a webhook."""


class FetchTimeout(TransientError):
    """The remote server was too slow or unreachable."""


@dataclass(frozen=True)
class FetchedImage:
    url: str
    data: bytes
    format: str
    content_type: str
    width: int
    height: int


def check_address(ip: str, *, allow_private: bool = False) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    """The address if a fetch may connect to it; ``FetchRefused`` otherwise.

    ``allow_private`` (tests, trusted intranets) admits loopback and private
    ranges, never link-local (cloud metadata), multicast, reserved or unspecified ones.
    """
    addr = ipaddress.ip_address(ip.split("%", 1)[0])
    for inner in _embedded(addr):
        check_address(str(inner), allow_private=allow_private)
    if addr.is_link_local or addr.is_multicast or addr.is_unspecified or addr.is_reserved:
        raise FetchRefused(f"address {addr} is not a public address")
    if addr.is_global:
        return addr
    if allow_private and (addr.is_loopback or addr.is_private):
        return addr
    raise FetchRefused(f"address {addr} is not a public address")


def _embedded(addr: ipaddress.IPv4Address | ipaddress.IPv6Address) -> list[ipaddress.IPv4Address]:
    if not isinstance(addr, ipaddress.IPv6Address):
        return []
    found = [a for a in (addr.ipv4_mapped, addr.sixtofour, addr.teredo and addr.teredo[1]) if a]
    if addr in _NAT64:
        found.append(ipaddress.IPv4Address(int(addr) & 0xFFFFFFFF))
    return found


def resolve(url: str, *, allow_private: bool = False, what: str = "image") -> tuple[str, str, int, str]:
    """Scheme, host, port and the checked IP the request will connect to; ``what`` names the URL in errors."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise FetchRefused(f"only http and https {what} URLs are allowed, not {parts.scheme or '(none)'!r}")
    if parts.username is not None or parts.password is not None:
        raise FetchRefused(f"{what} URLs may not carry credentials")
    if any(ord(c) <= 0x20 or ord(c) == 0x7F for c in url):
        raise FetchRefused(f"{what} URL contains whitespace or control characters")
    host = parts.hostname
    if not host:
        raise FetchRefused(f"{what} URL has no host")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise FetchRefused(f"{what} URL has an invalid port") from None
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError):
        raise Unresolvable(f"{what} host {host!r} does not resolve") from None
    addresses = {str(info[4][0]) for info in infos}
    for ip in addresses:  # every answer must be allowed: a mixed answer is refused
        check_address(ip, allow_private=allow_private)
    return parts.scheme, host, port, sorted(addresses)[0]


def connection(scheme: str, host: str, port: int, ip: str, timeout: float) -> http.client.HTTPConnection:
    """An HTTP(S) connection to ``host`` that can only ever reach ``ip`` (checked by ``resolve``)."""
    cls = http.client.HTTPSConnection if scheme == "https" else http.client.HTTPConnection
    conn = cls(host, port, timeout=timeout)

    def pinned(
        _address: object, timeout: float | None = timeout, source_address: tuple[str, int] | None = None
    ) -> socket.socket:
        """Connect to the checked IP only, whatever address the connection asks for."""
        return socket.create_connection((ip, port), timeout, source_address)

    conn._create_connection = pinned  # type: ignore[attr-defined]  # http.client's private hook, not in typeshed
    return conn


def request_target(url: str) -> str:
    """The path and query sent in the request line."""
    return urlsplit(url)._replace(scheme="", netloc="", fragment="").geturl() or "/"


def fetch_image(
    url: str,
    *,
    max_bytes: int = MAX_BYTES,
    connect_timeout: float = CONNECT_TIMEOUT,
    read_timeout: float = READ_TIMEOUT,
    total_timeout: float = TOTAL_TIMEOUT,
    allow_private: bool = False,
) -> FetchedImage:
    """Download ``url`` (following at most ``MAX_REDIRECTS`` checked redirects) as an image."""
    deadline = time.monotonic() + total_timeout
    for _ in range(MAX_REDIRECTS + 1):
        scheme, host, port, ip = resolve(url, allow_private=allow_private)
        conn = connection(scheme, host, port, ip, connect_timeout)
        try:
            conn.request(
                "GET",
                request_target(url),
                headers={
                    "Accept": "image/png,image/jpeg,image/webp,image/gif",
                    "User-Agent": "pvideo-fetch/1",
                    "Accept-Encoding": "identity",
                },
            )
            conn.sock.settimeout(min(read_timeout, max(0.01, deadline - time.monotonic())))
            response = conn.getresponse()
            if response.status in (301, 302, 303, 307, 308):
                location = response.getheader("Location")
                if not location:
                    raise FetchRefused(f"redirect from {url} without a Location")
                url = urljoin(url, location)
                continue
            if response.status != 200:
                raise FetchRefused(f"image URL answered HTTP {response.status}")
            data = _read_capped(response, conn, max_bytes, read_timeout, deadline)
        except TimeoutError:
            raise FetchTimeout(f"fetching {url} timed out") from None
        except (OSError, http.client.HTTPException) as exc:
            raise FetchTimeout(f"fetching {url} failed: {type(exc).__name__}") from None
        finally:
            conn.close()
        return _sniff(url, data)
    raise FetchRefused(f"more than {MAX_REDIRECTS} redirects")


def _read_capped(
    response: http.client.HTTPResponse,
    conn: http.client.HTTPConnection,
    max_bytes: int,
    read_timeout: float,
    deadline: float,
) -> bytes:
    declared = response.getheader("Content-Length")
    if declared and declared.isdigit() and int(declared) > max_bytes:
        raise FetchRefused(f"image larger than {max_bytes} bytes (Content-Length {declared})")
    body = bytearray()
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise FetchTimeout("image download took longer than the total time limit")
        if conn.sock is not None:
            conn.sock.settimeout(min(read_timeout, remaining))
        chunk = response.read1(64 * 1024)
        if not chunk:
            return bytes(body)
        body.extend(chunk)
        if len(body) > max_bytes:
            raise FetchRefused(f"image larger than {max_bytes} bytes")


def _sniff(url: str, data: bytes) -> FetchedImage:
    """Identify the format from the bytes (never the Content-Type) and check the declared size."""
    try:
        with Image.open(io.BytesIO(data), formats=list(IMAGE_FORMATS)) as image:
            width, height, fmt = image.width, image.height, image.format
    except Image.DecompressionBombError:
        raise FetchRefused("image declares too many pixels (decompression bomb)") from None
    except Exception:
        raise FetchRefused(f"{url} is not a PNG, JPEG, WebP or GIF image") from None
    if width * height > MAX_PIXELS:
        raise FetchRefused(f"image of {width}x{height} pixels is larger than {MAX_PIXELS} pixels")
    return FetchedImage(url=url, data=data, format=fmt, content_type=IMAGE_FORMATS[fmt], width=width, height=height)


class ImageCache:
    """Fetched images (and refusals) by URL, for a while; thread-safe. Two threads missing the
    same URL at once both fetch it (the later answer replaces the earlier). Refusals count
    against ``max_bytes`` by the length of their URL and reason, so many bad URLs stay bounded."""

    def __init__(
        self,
        max_bytes: int = CACHE_BYTES,
        seconds: float = CACHE_SECONDS,
        refusal_seconds: float = REFUSAL_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.max_bytes, self.seconds, self.refusal_seconds, self.clock = max_bytes, seconds, refusal_seconds, clock
        # key -> (expires, image or refusal, bytes counted)
        self._entries: OrderedDict[tuple[str, bool], tuple[float, FetchedImage | FetchRefused, int]] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def get(self, url: str, *, allow_private: bool = False) -> FetchedImage:
        key = (url, allow_private)
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None and entry[0] > self.clock():
                self._entries.move_to_end(key)
                if isinstance(entry[1], FetchRefused):  # a fresh one: each row's error is its own
                    raise type(entry[1])(entry[1].reason)
                return entry[1]
        try:
            image = fetch_image(url, allow_private=allow_private)
        except FetchRefused as exc:
            # a copy without the traceback, whose frames may hold a cut-off download
            self._keep(key, type(exc)(exc.reason), self.refusal_seconds, len(url) + len(exc.reason))
            raise
        self._keep(key, image, self.seconds, len(image.data))
        return image

    def _keep(self, key: tuple[str, bool], value: FetchedImage | FetchRefused, seconds: float, size: int) -> None:
        if size > self.max_bytes:
            return
        with self._lock:
            self._drop(key)
            self._entries[key] = (self.clock() + seconds, value, size)
            self._bytes += size
            while self._bytes > self.max_bytes:
                self._drop(next(iter(self._entries)))

    def _drop(self, key: tuple[str, bool]) -> None:
        entry = self._entries.pop(key, None)
        if entry is not None:
            self._bytes -= entry[2]


_CACHE = ImageCache()


def cached_image(url: str, *, allow_private: bool = False) -> FetchedImage:
    """``fetch_image`` through the process's ``ImageCache``."""
    return _CACHE.get(url, allow_private=allow_private)
