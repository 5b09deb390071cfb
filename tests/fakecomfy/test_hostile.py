"""The fake server's hostile switches (tests/fakecomfy/hostile.py) send what they promise."""

from __future__ import annotations

import json
import socket
import time
from pathlib import Path

import httpx
import pytest

from tests.fakecomfy.hostile import HTML_502_BODY, TRACEBACK_BODY
from tests.fakecomfy.server import FakeComfy

WAIT = 10.0
SIZE = 10_000


def _output(fake: FakeComfy, name: str = "clip.bin") -> tuple[dict[str, str], bytes]:
    """Put a file in the fake's output folder; return its /view query and content."""
    content = bytes(index % 251 for index in range(SIZE))
    Path(fake.base_dir, "output", name).write_bytes(content)
    return {"filename": name, "type": "output"}, content


def _raw_get(fake: FakeComfy, target: str) -> tuple[bytes, bytes]:
    """GET ``target`` on a plain socket with ``Connection: close``; return head and body."""
    host, port = fake.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=WAIT) as sock:
        sock.sendall(f"GET {target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    return head, body


def test_dribble_sends_a_json_answer_byte_by_byte(fake_comfy: FakeComfy) -> None:
    """A dribbled route sends its exact JSON in many small pieces, slower than any read."""
    fake_comfy.dribble("/queue", byte_ms=20)
    start = time.monotonic()
    pieces = []
    with httpx.stream("GET", f"{fake_comfy.url}/api/queue", timeout=WAIT) as response:
        pieces = list(response.iter_raw())
    elapsed = time.monotonic() - start
    body = b"".join(pieces)
    assert json.loads(body) == {"queue_running": [], "queue_pending": []}
    assert int(response.headers["content-length"]) == len(body)
    assert response.headers["content-type"] == "application/json; charset=utf-8"
    assert len(pieces) > 1
    assert elapsed >= len(body) * 0.020  # a lower bound: load only makes it slower
    fake_comfy.dribble("/queue", None)
    with httpx.stream("GET", f"{fake_comfy.url}/queue", timeout=WAIT) as response:
        assert len(list(response.iter_raw())) == 1


def test_dribble_defaults_to_history_items(fake_comfy: FakeComfy) -> None:
    """dribble() with no path slows ``/history/{id}`` and leaves other routes alone."""
    fake_comfy.dribble(byte_ms=30)
    start = time.monotonic()
    answer = httpx.get(f"{fake_comfy.url}/history/nope", timeout=WAIT)
    assert (answer.status_code, answer.json()) == (200, {})
    assert time.monotonic() - start >= 2 * 0.030
    assert httpx.get(f"{fake_comfy.url}/queue", timeout=WAIT).status_code == 200


def test_view_endless_never_ends_and_announces_no_length(fake_comfy: FakeComfy) -> None:
    """An endless /view is chunked, has no Content-Length and outlasts what is read."""
    query, _ = _output(fake_comfy)
    fake_comfy.view_endless()
    received = 0
    url = f"{fake_comfy.url}/view"
    with httpx.stream("GET", url, params=query, timeout=WAIT) as response:
        assert "content-length" not in response.headers
        assert response.headers["transfer-encoding"] == "chunked"
        for chunk in response.iter_bytes():
            received += len(chunk)
            if received > 20 * SIZE:
                break
    assert received > 20 * SIZE  # far past the file's own size, and still going
    fake_comfy.view_normal()
    assert httpx.get(url, params=query, timeout=WAIT).content == _output(fake_comfy)[1]


def test_view_overlong_sends_more_than_announced(fake_comfy: FakeComfy) -> None:
    """An overlong /view announces the file's size and sends more bytes after it."""
    query, content = _output(fake_comfy)
    fake_comfy.view_overlong(extra_bytes=500)
    head, body = _raw_get(fake_comfy, f"/view?filename={query['filename']}&type=output")
    assert f"Content-Length: {SIZE}".encode() in head
    assert len(body) == SIZE + 500
    assert body[:SIZE] == content


def test_cut_view_after_then_resume_with_range(fake_comfy: FakeComfy) -> None:
    """A cut /view stops after K bytes of a full-length 200; a Range request resumes it."""
    query, content = _output(fake_comfy)
    fake_comfy.cut_view_after(3000)
    received = b""
    url = f"{fake_comfy.url}/view"
    with (
        pytest.raises(httpx.RemoteProtocolError),
        httpx.stream("GET", url, params=query, timeout=WAIT) as response,
    ):
        assert int(response.headers["content-length"]) == SIZE
        for chunk in response.iter_bytes():
            received += chunk
    assert received == content[:3000]
    rest = httpx.get(url, params=query, headers={"Range": "bytes=3000-"}, timeout=WAIT)
    assert rest.status_code == 206
    assert rest.headers["content-range"] == f"bytes 3000-{SIZE - 1}/{SIZE}"
    assert received + rest.content == content
    assert fake_comfy.count("GET", "/view") == 2


def test_view_can_ignore_range(fake_comfy: FakeComfy) -> None:
    """view_ignores_range answers a Range request with 200 and the whole file."""
    query, content = _output(fake_comfy)
    url = f"{fake_comfy.url}/view"
    fake_comfy.view_ignores_range()
    whole = httpx.get(url, params=query, headers={"Range": "bytes=100-"}, timeout=WAIT)
    assert (whole.status_code, whole.content) == (200, content)
    assert "content-range" not in whole.headers
    assert whole.headers["content-disposition"] == 'filename="clip.bin"'
    fake_comfy.view_normal()
    part = httpx.get(url, params=query, headers={"Range": "bytes=100-"}, timeout=WAIT)
    assert (part.status_code, part.content) == (206, content[100:])


def test_answer_error_with_multiline_bodies(fake_comfy: FakeComfy) -> None:
    """answer_error sends a traceback or an HTML page, the given number of times."""
    fake_comfy.answer_error("/history/abc")
    fake_comfy.answer_error("/api/queue", 502, HTML_502_BODY, "text/html", times=2)
    traceback = httpx.get(f"{fake_comfy.url}/api/history/abc", timeout=WAIT)
    assert (traceback.status_code, traceback.text) == (500, TRACEBACK_BODY)
    assert traceback.headers["content-type"].startswith("text/plain")
    assert traceback.text.count("\n") > 3
    for _ in range(2):
        page = httpx.get(f"{fake_comfy.url}/queue", timeout=WAIT)
        assert (page.status_code, page.text) == (502, HTML_502_BODY)
        assert page.headers["content-type"].startswith("text/html")
    assert httpx.get(f"{fake_comfy.url}/queue", timeout=WAIT).status_code == 200
    assert httpx.get(f"{fake_comfy.url}/history/abc", timeout=WAIT).json() == {}


def test_count_matches_both_path_forms(fake_comfy: FakeComfy) -> None:
    """count() adds up requests by method and path prefix, with or without /api."""
    httpx.get(f"{fake_comfy.url}/history/a", timeout=WAIT)
    httpx.get(f"{fake_comfy.url}/api/history/b", timeout=WAIT)
    httpx.get(f"{fake_comfy.url}/queue", timeout=WAIT)
    assert fake_comfy.count("GET", "/history/") == 2
    assert fake_comfy.count("GET", "/api/history/") == 2
    assert fake_comfy.count(None, "/queue") == 1
    assert fake_comfy.count("POST") == 0
