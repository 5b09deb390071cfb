"""The loopback fault proxy (tests/faultproxy.py) does what each fault promises."""

from __future__ import annotations

import socket
import socketserver
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import connect as ws_connect

from tests.fakecomfy.server import FakeComfy
from tests.faulthttp import RequestHead, RequestScanner
from tests.faultproxy import FaultProxy

QUIET = 0.3  # how long "nothing arrives" is watched: no amount of load makes bytes appear
WAIT = 10.0  # bound on anything expected to happen


class _Echo(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        self.request.settimeout(WAIT * 3)
        try:
            while data := self.request.recv(65536):
                self.request.sendall(data)
        except OSError:
            pass


@pytest.fixture
def echo_url() -> Iterator[str]:
    """A TCP echo server on 127.0.0.1, as ``tcp://127.0.0.1:PORT``."""
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), _Echo)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    yield f"tcp://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()
    thread.join(WAIT)


def _connect(proxy: FaultProxy, timeout: float = WAIT) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", proxy.port), timeout=timeout)
    sock.settimeout(WAIT)
    return sock


def _recv_exactly(sock: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            break
        data += chunk
    return data


def _silent(sock: socket.socket) -> bool:
    """True when nothing arrives on ``sock`` for QUIET seconds."""
    sock.settimeout(QUIET)
    try:
        sock.recv(1)
    except TimeoutError:
        return True
    finally:
        sock.settimeout(WAIT)
    return False


def test_pass_forwards_both_ways_and_counts(
    fault_proxy: Callable[[str], FaultProxy], echo_url: str
) -> None:
    """In pass mode bytes come back unchanged; connections and bytes are counted."""
    proxy = fault_proxy(echo_url)
    payload = bytes(range(256)) * 1000
    with _connect(proxy) as sock:
        sock.sendall(payload)
        assert _recv_exactly(sock, len(payload)) == payload
    assert proxy.connections_accepted == 1
    assert proxy.bytes_up == proxy.bytes_down == len(payload)
    assert proxy.requests == []  # not HTTP: nothing parsed


def test_requests_are_counted_per_path(fault_proxy: Callable[[str], FaultProxy]) -> None:
    """Each HTTP request on a keep-alive connection is counted by method and path."""
    with FakeComfy() as fake:
        proxy = fault_proxy(fake.url)
        with httpx.Client(base_url=proxy.url, timeout=WAIT) as client:
            client.get("/history/abc")
            client.get("/history/abc?x=1")
            client.get("/view", params={"filename": "nothing.png"})
            client.post("/prompt", json={"prompt": {}})
            client.get("/queue")
        assert proxy.connections_accepted == 1
        assert proxy.count("GET", "/history/") == 2
        assert proxy.count("GET", "/view") == 1
        assert proxy.count("POST", "/prompt") == 1
        assert proxy.count() == 5
        assert proxy.requests[0] == ("GET", "/history/abc")


def test_blackhole_holds_open_connections_and_restore_delivers(
    fault_proxy: Callable[[str], FaultProxy], echo_url: str
) -> None:
    """Blackholed, an open connection stays open and silent; on restore its bytes flow."""
    proxy = fault_proxy(echo_url)
    with _connect(proxy) as sock:
        sock.sendall(b"before")
        assert _recv_exactly(sock, 6) == b"before"
        proxy.blackhole()
        sock.sendall(b"during")
        assert _silent(sock)
        proxy.restore()
        assert _recv_exactly(sock, 6) == b"during"


def test_blackhole_new_connections_are_accepted_then_silent(
    fault_proxy: Callable[[str], FaultProxy], echo_url: str
) -> None:
    """Blackholed, a new connection is accepted but gets no byte until restore."""
    proxy = fault_proxy(echo_url)
    proxy.blackhole()
    with _connect(proxy) as sock:
        sock.sendall(b"hello")
        assert _silent(sock)
        proxy.restore()
        assert _recv_exactly(sock, 5) == b"hello"


def test_blackhole_connect_timeout_drops_new_connections(
    fault_proxy: Callable[[str], FaultProxy], echo_url: str
) -> None:
    """With connect="timeout" a new connection is never accepted; restore accepts again."""
    proxy = fault_proxy(echo_url)
    proxy.blackhole(connect="timeout")
    with pytest.raises(TimeoutError):
        _connect(proxy, timeout=QUIET)
    proxy.restore()
    with _connect(proxy) as sock:
        sock.sendall(b"back")
        assert _recv_exactly(sock, 4) == b"back"


def test_restore_cut_existing_resets_held_connections(
    fault_proxy: Callable[[str], FaultProxy], echo_url: str
) -> None:
    """restore(cut_existing=True) resets what was open during the blackhole."""
    proxy = fault_proxy(echo_url)
    with _connect(proxy) as sock:
        proxy.blackhole()
        proxy.restore(cut_existing=True)
        with pytest.raises(ConnectionResetError):
            sock.recv(1)
    with _connect(proxy) as sock:
        sock.sendall(b"x")
        assert _recv_exactly(sock, 1) == b"x"


def test_refuse_closes_listener_and_resets_connections(
    fault_proxy: Callable[[str], FaultProxy], echo_url: str
) -> None:
    """refuse: open connections are reset, new ones refused; restore listens again."""
    proxy = fault_proxy(echo_url)
    port = proxy.port
    with _connect(proxy) as sock:
        sock.sendall(b"a")
        assert _recv_exactly(sock, 1) == b"a"
        proxy.refuse()
        with pytest.raises(ConnectionResetError):
            sock.recv(1)
    with pytest.raises(ConnectionRefusedError):
        _connect(proxy)
    proxy.restore()
    assert proxy.port == port
    with _connect(proxy) as sock:
        sock.sendall(b"b")
        assert _recv_exactly(sock, 1) == b"b"


def test_cut_resets_open_connections_and_new_ones_pass(
    fault_proxy: Callable[[str], FaultProxy], echo_url: str
) -> None:
    """cut resets every open connection now; the next connection works."""
    proxy = fault_proxy(echo_url)
    with _connect(proxy) as first, _connect(proxy) as second:
        first.sendall(b"1")
        assert _recv_exactly(first, 1) == b"1"
        second.sendall(b"2")
        assert _recv_exactly(second, 1) == b"2"
        assert proxy.cut() == 2
        for sock in (first, second):
            with pytest.raises(ConnectionResetError):
                sock.recv(1)
    with _connect(proxy) as sock:
        sock.sendall(b"3")
        assert _recv_exactly(sock, 1) == b"3"


def test_refuse_upgrades_answers_403_and_passes_plain_http(
    fault_proxy: Callable[[str], FaultProxy],
) -> None:
    """With refuse_upgrades a WebSocket gets 403 while plain HTTP still passes."""
    with FakeComfy() as fake:
        proxy = fault_proxy(fake.url)
        ws_url = proxy.url.replace("http://", "ws://") + "/ws?clientId=c1"
        with ws_connect(ws_url, open_timeout=WAIT) as ws:
            assert '"status"' in str(ws.recv(timeout=WAIT))
        proxy.refuse_upgrades()
        with pytest.raises(InvalidStatus) as refused:
            ws_connect(ws_url, open_timeout=WAIT)
        assert refused.value.response.status_code == 403
        answer = httpx.get(f"{proxy.url}/queue", timeout=WAIT)
        assert answer.status_code == 200
        assert proxy.upgrades_refused == 1
        assert ("GET", "/ws") not in fake.requests[1:]  # the refused one never got there


def test_refuse_upgrades_cut_open_drops_an_open_websocket(
    fault_proxy: Callable[[str], FaultProxy],
) -> None:
    """refuse_upgrades(cut_open=True) resets the WebSocket already open, not plain HTTP."""
    with FakeComfy() as fake:
        proxy = fault_proxy(fake.url)
        ws_url = proxy.url.replace("http://", "ws://") + "/ws?clientId=c1"
        with httpx.Client(base_url=proxy.url, timeout=WAIT) as client:
            client.get("/queue")
            with ws_connect(ws_url, open_timeout=WAIT) as ws:
                ws.recv(timeout=WAIT)
                proxy.refuse_upgrades(cut_open=True)
                with pytest.raises(ConnectionClosed):
                    ws.recv(timeout=WAIT)
            assert client.get("/queue").status_code == 200
        assert proxy.count("GET", "/queue") == 2


def test_slow_delays_each_piece(fault_proxy: Callable[[str], FaultProxy], echo_url: str) -> None:
    """slow(delay_ms, chunk) delivers the bytes intact, no sooner than the delays allow."""
    proxy = fault_proxy(echo_url)
    proxy.slow(delay_ms=20, chunk=2)
    start = time.monotonic()
    with _connect(proxy) as sock:
        sock.sendall(b"abcdefgh")
        assert _recv_exactly(sock, 8) == b"abcdefgh"
    # 4 pieces of 20 ms one way (the directions overlap): a lower bound load only raises.
    assert time.monotonic() - start >= 4 * 0.020
    proxy.restore()
    assert proxy.delay == 0 and proxy.piece is None


def test_slow_bandwidth_cap(fault_proxy: Callable[[str], FaultProxy], echo_url: str) -> None:
    """slow(mbit=) caps each direction: 25 kB at 1 Mbit/s takes at least 0.2 s one way."""
    proxy = fault_proxy(echo_url)
    proxy.set_mode("slow", mbit=1.0)
    start = time.monotonic()
    with _connect(proxy) as sock:
        sock.sendall(b"z" * 25_000)
        assert _recv_exactly(sock, 25_000) == b"z" * 25_000
    assert time.monotonic() - start >= 0.2


def test_stop_resets_connections(echo_url: str) -> None:
    """Stopping the proxy resets the connections still open."""
    proxy = FaultProxy(echo_url).start()
    sock = _connect(proxy)
    try:
        sock.sendall(b"x")
        assert _recv_exactly(sock, 1) == b"x"
        proxy.blackhole()
        proxy.stop()
        with pytest.raises(ConnectionResetError):
            sock.recv(1)
    finally:
        sock.close()


def test_unknown_mode_is_rejected(fault_proxy: Callable[[str], FaultProxy], echo_url: str) -> None:
    """set_mode with an unknown name raises instead of silently passing."""
    proxy = fault_proxy(echo_url)
    with pytest.raises(ValueError, match="unknown mode"):
        proxy.set_mode("flaky")


def test_scanner_finds_heads_split_across_reads_and_skips_bodies() -> None:
    """A head split over reads is one request; a body that looks like a request is not."""
    scanner = RequestScanner(1024)
    body = b"GET /fake HTTP/1.1\r\n\r\n"
    stream = (
        b"POST /prompt HTTP/1.1\r\nContent-Length: %d\r\n\r\n" % len(body)
        + body
        + b"GET /view?filename=a.png HTTP/1.1\r\nHost: x\r\n\r\n"
    )
    heads: list[RequestHead] = []
    passed = b""
    for start in range(0, len(stream), 7):
        for segment, head in scanner.feed(stream[start : start + 7]):
            passed += segment
            if head is not None:
                heads.append(head)
    assert passed == stream
    assert [(h.method, h.path) for h in heads] == [("POST", "/prompt"), ("GET", "/view")]


def test_scanner_goes_opaque_on_upgrade_and_on_non_http() -> None:
    """After an upgrade request, or bytes that are not HTTP, nothing more is parsed."""
    scanner = RequestScanner(1024)
    segments = scanner.feed(
        b"GET /ws HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n"
        b"GET / HTTP/1.1\r\n\r\n"
    )
    assert [head for _, head in segments if head] == [RequestHead("GET", "/ws", True)]
    assert scanner.opaque
    binary = RequestScanner(1024)
    assert binary.feed(b"\x00\x01hello") == [(b"\x00\x01hello", None)]
    assert binary.opaque


@pytest.mark.real
def test_real_comfyui_through_the_proxy(
    fault_proxy: Callable[[str], FaultProxy], real_comfyui: Any
) -> None:
    """The real ComfyUI answers through the proxy, recovers from a blackhole, and its
    WebSocket is refused with 403 while plain HTTP still passes."""
    proxy = fault_proxy(real_comfyui.url)
    with httpx.Client(base_url=proxy.url, timeout=WAIT) as client:
        assert client.get("/system_stats").status_code == 200
        proxy.blackhole()
        with pytest.raises(httpx.ReadTimeout):
            client.get("/queue", timeout=QUIET)
        proxy.restore(cut_existing=True)
        assert client.get("/queue").status_code == 200
    proxy.refuse_upgrades()
    with pytest.raises(InvalidStatus) as refused:
        ws_connect(proxy.url.replace("http://", "ws://") + "/ws", open_timeout=WAIT)
    assert refused.value.response.status_code == 403
    assert proxy.count("GET", "/queue") >= 2
