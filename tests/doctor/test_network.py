"""The network rungs, each on its own: Tailscale (fake CLI), DNS, TCP, HTTP, WebSocket, GPU.

The Tailscale rung only runs the fake CLI; it never connects to the 100.x address it
is given. Connections go to 127.0.0.1 only.
"""

from __future__ import annotations

import asyncio
import socket
import threading
from pathlib import Path
from typing import Any

import pytest

from comfycine.doctor.network import (
    check_dns,
    check_gpu,
    check_http,
    check_tailscale,
    check_tcp,
    check_websocket,
    judge_tailscale,
    tailscale_applies,
)
from comfycine.tailscale import TailscaleStatus, parse_status
from comfycine.targets import Target
from comfycine.transport import ComfyClient
from tests.fakecomfy.server import FakeComfy
from tests.faketailscale import put_first_on_path, state_text, write_fake_tailscale

PC_IP = "100.101.102.103"
SHORT = 0.5  # seconds: the budget given to rungs expected to time out


@pytest.mark.parametrize(
    ("state", "status", "words"),
    [
        ("logged-out", "fail", "logged out"),
        ("stopped", "fail", "stopped"),
        ("peer-offline", "fail", "offline, last seen 2025-11-20T23:14:05Z"),
        ("healthy", "ok", "studio-pc (100.101.102.103) online, direct"),
    ],
)
def test_judge_recorded_states(state: str, status: str, words: str) -> None:
    """Each recorded state gives its verdict on the PC's address, with a fix when broken."""
    check = judge_tailscale(PC_IP, parse_status(state_text(state)))
    assert (check.status, check.name) == (status, "tailscale")
    assert words in check.value
    if status == "fail":
        assert check.exit_code == 3 and check.fix


def test_logged_out_fix_names_the_login_link() -> None:
    """Logged out: the fix says how to log in, with the link the client printed."""
    check = judge_tailscale(PC_IP, parse_status(state_text("logged-out")))
    assert check.code == "tailscale_down"
    assert "tailscale login" in check.fix and "login.tailscale.com/a/" in check.fix


def test_daemon_down_fails_and_missing_cli_warns() -> None:
    """No daemon is a failure (open the app); no CLI at all is only a warning."""
    down = judge_tailscale(PC_IP, parse_status("", "failed to connect to local Tailscale daemon"))
    assert down.status == "fail" and "open -a Tailscale" in down.fix
    missing = judge_tailscale(PC_IP, TailscaleStatus(cli=None, error="Tailscale CLI not found"))
    assert missing.status == "warn" and "COMFYCINE_TAILSCALE" in missing.fix


def test_unknown_peer_and_self() -> None:
    """An address no peer has fails (wrong address or tailnet); the machine's own passes."""
    status = parse_status(state_text("healthy"))
    unknown = judge_tailscale("100.101.102.104", status)
    assert unknown.status == "fail" and "no peer is 100.101.102.104" in unknown.value
    assert judge_tailscale("100.71.12.34", status).status == "ok"


def test_bare_name_counts_only_when_a_peer_has_it() -> None:
    """A bare host name is judged when it is a peer's, skipped otherwise."""
    status = parse_status(state_text("peer-offline"))
    assert judge_tailscale("studio-pc", status, maybe=True).status == "fail"
    assert judge_tailscale("nas", status, maybe=True).status == "skip"
    stopped = parse_status(state_text("stopped"))
    assert judge_tailscale("nas", stopped, maybe=True).status == "skip"


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        (PC_IP, True),
        ("studio-pc.tail1a2b3.ts.net", True),
        ("studio-pc", None),
        ("127.0.0.1", False),
        ("localhost", False),
        ("192.168.1.30", False),
        ("pc.lan", False),
    ],
)
def test_tailscale_applies(host: str, expected: bool | None) -> None:
    """Tailscale addresses and names are checked, bare names maybe, the rest skipped."""
    assert tailscale_applies(host) is expected


async def test_rung_with_fake_cli_ignores_exit_code(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The rung runs the CLI on PATH; a healthy status printed with exit 1 passes."""
    put_first_on_path(
        monkeypatch, write_fake_tailscale(tmp_path, state="healthy", exit_code=1).parent
    )
    check = await check_tailscale(PC_IP, timeout=10.0)
    assert check.status == "ok", check


@pytest.mark.parametrize("state", ["stopped", "logged-out", "peer-offline"])
async def test_rung_with_fake_cli_fails_on_broken_states(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, state: str
) -> None:
    """The CLI on PATH printing a broken state fails the rung with exit 3."""
    put_first_on_path(monkeypatch, write_fake_tailscale(tmp_path, state=state).parent)
    check = await check_tailscale(PC_IP, timeout=10.0)
    assert check.status == "fail" and check.exit_code == 3


async def test_rung_skips_loopback_without_running_the_cli(tmp_path: Path) -> None:
    """A loopback URL is not a Tailscale address: skipped, whatever the CLI would say."""
    script = write_fake_tailscale(tmp_path, state="stopped")
    check = await check_tailscale("127.0.0.1", cli=str(script))
    assert (check.status, check.value) == ("skip", "not a Tailscale address")


async def test_dns_address_needs_no_lookup(monkeypatch: pytest.MonkeyPatch) -> None:
    """An IP address passes without asking the resolver."""

    def no_lookup(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("the resolver was asked")

    monkeypatch.setattr(socket, "getaddrinfo", no_lookup)
    check, addresses = await check_dns("127.0.0.1", 8188, SHORT)
    assert check.status == "ok" and addresses == ["127.0.0.1"]


async def test_dns_failure_and_magicdns_fix(monkeypatch: pytest.MonkeyPatch) -> None:
    """A name that does not resolve fails; for *.ts.net the fix is about MagicDNS."""

    def no_such_name(*args: Any, **kwargs: Any) -> Any:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", no_such_name)
    check, addresses = await check_dns("studio-pc.tail1a2b3.ts.net", 8188, SHORT)
    assert check.status == "fail" and addresses == []
    assert "does not resolve" in check.value and "MagicDNS" in check.fix


async def test_dns_that_hangs_is_cut_short(monkeypatch: pytest.MonkeyPatch) -> None:
    """A resolver that never answers fails the rung after its budget."""
    release = threading.Event()

    def hanging(*args: Any, **kwargs: Any) -> Any:
        release.wait(60)
        raise socket.gaierror(socket.EAI_AGAIN, "too late")

    monkeypatch.setattr(socket, "getaddrinfo", hanging)
    check, _ = await check_dns("slow.example", 8188, SHORT)
    release.set()
    assert check.status == "fail" and "no DNS answer" in check.value


async def test_tcp_refused(free_port: int) -> None:
    """Nothing listening: fail, refused, with the hint to start ComfyUI."""
    check = await check_tcp(f"http://127.0.0.1:{free_port}", ["127.0.0.1"], free_port, 3.0)
    assert check.status == "fail" and check.value.startswith("refused")
    assert "Start ComfyUI" in check.fix


async def test_tcp_timeout(monkeypatch: pytest.MonkeyPatch, free_port: int) -> None:
    """A connection that never completes (packets dropped) fails as timeout."""

    async def never(*args: Any, **kwargs: Any) -> Any:
        await asyncio.Event().wait()

    monkeypatch.setattr(asyncio, "open_connection", never)
    probe = check_tcp(f"http://127.0.0.1:{free_port}", ["127.0.0.1"], free_port, SHORT)
    check = await asyncio.wait_for(probe, 30)  # the check's own timeout is under test
    assert check.status == "fail" and check.value.startswith("timeout")


async def test_silent_port_passes_tcp_and_fails_http(silent_port: int) -> None:
    """A port that accepts but never answers: TCP ok, HTTP fails as timeout."""
    url = f"http://127.0.0.1:{silent_port}"
    assert (await check_tcp(url, ["127.0.0.1"], silent_port, 3.0)).status == "ok"
    check, result = await check_http(Target("local", url, "comfyui"), SHORT)
    assert check.status == "fail" and result.state == "timeout" and check.exit_code == 3


async def test_server_rungs_on_fake_comfyui(fake_comfy: FakeComfy) -> None:
    """HTTP reads the version, the socket round trip passes, the CPU device is a warning."""
    http, _ = await check_http(Target("local", fake_comfy.url, "comfyui"), 3.0)
    assert http.status == "ok" and "ComfyUI" in http.value
    async with ComfyClient(fake_comfy.url) as client:
        websocket = await check_websocket(client, 3.0)
        gpu = await check_gpu(client)
    assert websocket.status == "ok" and "round trip" in websocket.value
    assert gpu.status == "warn" and "GB free of" in gpu.value and "CPU only" in gpu.fix
