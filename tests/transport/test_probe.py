"""The target probe: each failure told apart, within its time budget, with a useful hint.

Canned answers go through httpx.MockTransport; "refused" and "timeout" use real sockets
on 127.0.0.1. No test sends traffic to another address or asks a DNS server.
"""

from __future__ import annotations

import socket
from collections.abc import Callable

import httpx
import pytest

from comfycine.errors import ExitCode
from comfycine.transport.probe import ProbeResult, is_tailscale_host, probe, unreachable_from

Handler = Callable[[httpx.Request], httpx.Response]

STATS = {
    "system": {"os": "nt", "comfyui_version": "0.3.64", "python_version": "3.12.9"},
    "devices": [{"name": "cuda:0 NVIDIA GeForce RTX 4090 : cudaMallocAsync", "type": "cuda"}],
}
KEY = "comfyui-secret-key-1234"


def mock(handler: Handler) -> httpx.MockTransport:
    """A transport whose requests go to ``handler``."""
    return httpx.MockTransport(handler)


def raising(exc: Exception) -> httpx.MockTransport:
    """A transport that fails every request with ``exc``."""

    def handler(request: httpx.Request) -> httpx.Response:
        raise exc

    return httpx.MockTransport(handler)


def dns_failure() -> httpx.ConnectError:
    """The error httpx raises when getaddrinfo fails (gaierror as its cause)."""
    error = httpx.ConnectError("[Errno -2] Name or service not known")
    error.__cause__ = socket.gaierror(socket.EAI_NONAME, "Name or service not known")
    return error


async def test_ok_reads_version_and_device() -> None:
    """A ComfyUI answering /system_stats is ok, with its version and first device."""
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.url.path)
        return httpx.Response(200, json=STATS)

    result = await probe("http://comfy.test:8188/", transport=mock(handler))
    assert (result.state, result.ok) == ("ok", True)
    assert result.version == "0.3.64"
    assert result.device is not None and "RTX 4090" in result.device
    assert seen == ["/system_stats"]
    assert result.url == "http://comfy.test:8188"
    assert result.to_dict()["ok"] is True


async def test_http_error_keeps_status() -> None:
    """An HTTP error status is http_error, with the status."""
    result = await probe(
        "http://comfy.test:8188", transport=mock(lambda r: httpx.Response(502, text="Bad gateway"))
    )
    assert (result.state, result.status, result.ok) == ("http_error", 502, False)
    assert "502" in result.detail


@pytest.mark.parametrize(
    "response",
    [
        httpx.Response(200, html="<html><body>Router login</body></html>"),
        httpx.Response(200, json={"status": "ok"}),
        httpx.Response(200, json={"system": {}}),
        httpx.Response(200, json=[1, 2]),
        httpx.Response(302, headers={"Location": "/login"}),
    ],
    ids=["html", "json-other", "no-devices", "list", "redirect"],
)
async def test_not_comfyui(response: httpx.Response) -> None:
    """Something that answers but is not ComfyUI is not_comfyui."""
    result = await probe("http://comfy.test:8188", transport=mock(lambda r: response))
    assert result.state == "not_comfyui"
    assert "port" in result.hint


async def test_cloud_ok_sends_key_to_user_only() -> None:
    """With a key, /api/system_stats then /api/user with X-API-Key make a cloud ok."""
    keys: dict[str, str | None] = {}

    def handler(request: httpx.Request) -> httpx.Response:
        keys[request.url.path] = request.headers.get("X-API-Key")
        if request.url.path == "/api/user":
            return httpx.Response(200, json={"status": "active"})
        return httpx.Response(200, json={"system": {"comfyui_version": "0.3.66"}})

    result = await probe("https://cloud.test", api_key=KEY, transport=mock(handler))
    assert result.state == "ok"
    assert keys == {"/api/system_stats": None, "/api/user": KEY}
    assert "active" in result.detail


@pytest.mark.parametrize("status", [401, 403])
async def test_cloud_auth(status: int) -> None:
    """A cloud refusing the key on /api/user is auth, and the key is not shown."""

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/api/user":
            return httpx.Response(status, json={"message": f"bad key {KEY}"})
        return httpx.Response(200, json=STATS)

    result = await probe("https://cloud.test", api_key=KEY, transport=mock(handler))
    assert (result.state, result.ok) == ("auth", False)
    assert KEY not in str(result.to_dict())


async def test_refused_on_free_port(free_port: int) -> None:
    """A port nothing listens on is refused, with a hint to start ComfyUI."""
    result = await probe(f"http://127.0.0.1:{free_port}", timeout=3.0)
    assert result.state == "refused"
    assert "Start ComfyUI" in result.hint


async def test_timeout_on_silent_port(silent_port: int) -> None:
    """A port that accepts connections but never answers is timeout."""
    result = await probe(f"http://127.0.0.1:{silent_port}", timeout=0.5)
    assert result.state == "timeout"
    assert "restart ComfyUI" in result.hint


async def test_dns_failure() -> None:
    """A name that does not resolve is dns."""
    result = await probe("http://no-such-pc.lan:8188", transport=raising(dns_failure()))
    assert result.state == "dns"
    assert "host name" in result.hint
    assert "tailscale" not in result.hint.lower()


@pytest.mark.parametrize("host", ["100.101.102.103", "pc.tail1234.ts.net"])
@pytest.mark.parametrize(
    ("error", "state"),
    [
        (httpx.ConnectTimeout("timed out"), "timeout"),
        (httpx.ConnectError("[Errno 111] Connection refused"), "refused"),
        (dns_failure(), "dns"),
    ],
    ids=["timeout", "refused", "dns"],
)
async def test_tailscale_hint(host: str, error: Exception, state: str) -> None:
    """Unreachable Tailscale hosts get a hint naming `tailscale status` and an awake PC."""
    result = await probe(f"http://{host}:8188", transport=raising(error))
    assert result.state == state
    assert "tailscale status" in result.hint
    assert "awake" in result.hint


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("100.64.0.1", True),
        ("100.127.255.254", True),
        ("100.63.255.255", False),
        ("100.128.0.1", False),
        ("fd7a:115c:a1e0::1", True),
        ("pc.tail1234.ts.net", True),
        ("PC.tail1234.ts.net.", True),
        ("ts.net.example.com", False),
        ("192.168.1.10", False),
        ("localhost", False),
    ],
)
def test_is_tailscale_host(host: str, expected: bool) -> None:
    """Tailscale addresses and MagicDNS names are recognised, neighbours are not."""
    assert is_tailscale_host(host) is expected


def test_unreachable_from_builds_exit_3() -> None:
    """A failed probe becomes TargetUnreachable with the cloud fallback in details."""
    result = ProbeResult(
        url="http://100.101.102.103:8188",
        state="timeout",
        seconds=3.0,
        detail="no answer within 3 s",
        hint="Check Tailscale.",
    )
    error = unreachable_from(result)
    assert error.exit_code == ExitCode.UNREACHABLE
    assert error.details == {
        "url": "http://100.101.102.103:8188",
        "reason": "timeout",
        "fallback": "cloud",
    }
    assert error.hint == "Check Tailscale."


def test_unreachable_from_refuses_ok() -> None:
    """An ok probe is not an error."""
    result = ProbeResult(url="http://x", state="ok", seconds=0.01, detail="ComfyUI")
    with pytest.raises(ValueError):
        unreachable_from(result)
