"""check_link: only absolute http(s) URLs leave pvideo."""

from __future__ import annotations

import pytest

from pvideo.scene.urls import MAX_URL_LENGTH, check_link


@pytest.mark.parametrize(
    "url",
    [
        "http://x.example",
        "https://x.example/path?q=1#frag",
        "HTTPS://x.example",
        "HtTp://x.example",
        "https://shop.example/buy?c=c%201%22",
        "https://user@x.example:8443/",
        "http://127.0.0.1:8000/v/abc",
        "https://[::1]/",
        "https://xn--bcher-kva.example/",
    ],
)
def test_accepts_http_and_https(url):
    assert check_link(url) == url


@pytest.mark.parametrize(
    "url,reason",
    [
        ("javascript:alert(1)", "scheme 'javascript'"),
        ("JaVaScRiPt:alert(1)", "scheme 'javascript'"),
        (" javascript:x", "whitespace"),
        ("data:text/html,x", "scheme 'data'"),
        ("vbscript:x", "scheme 'vbscript'"),
        ("//evil.example", "scheme '(none)'"),
        ("https://", "no host"),
        ("http://a b", "whitespace"),
        ("ftp://x.example", "scheme 'ftp'"),
        ("file:///etc/passwd", "scheme 'file'"),
        ("/relative/path", "scheme '(none)'"),
        ("https:x.example", "no host"),
        ("", "empty"),
    ],
)
def test_rejects(url, reason):
    with pytest.raises(ValueError) as info:
        check_link(url)
    assert reason in str(info.value)


@pytest.mark.parametrize("char", ["\x00", "\t", "\n", "\r", "\x7f", "\x1b", " "])
@pytest.mark.parametrize("where", ["start", "scheme", "host", "end"])
def test_rejects_control_characters(char, where):
    url = {
        "start": char + "https://x.example/",
        "scheme": "java" + char + "script:alert(1)",
        "host": "https://x." + char + "example/",
        "end": "https://x.example/" + char,
    }[where]
    with pytest.raises(ValueError) as info:
        check_link(url)
    assert "whitespace or control" in str(info.value) or "scheme" in str(info.value)


@pytest.mark.parametrize("char", ["\x00", "\t", "\n", "\x7f"])
def test_control_characters_in_valid_https_url(char):
    with pytest.raises(ValueError, match="whitespace or control"):
        check_link("https://x.example/a" + char + "b")


def test_length_limit():
    base = "https://x.example/"
    ok = base + "a" * (MAX_URL_LENGTH - len(base))
    assert check_link(ok) == ok
    with pytest.raises(ValueError, match="longer than"):
        check_link(ok + "a")
