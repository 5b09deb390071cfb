"""Tailscale status: the pure parser on recorded states, the CLI lookup, and a fake CLI.

No test runs the real ``tailscale`` or talks to a tailnet address: the fake executable
in ``tests/faketailscale.py`` prints the recorded JSON.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from comfycine.tailscale import find_cli, parse_status, tailscale_status
from tests.faketailscale import put_first_on_path, state_text, write_fake_tailscale

PC_IP = "100.101.102.103"


def test_healthy_state_parses_self_and_peers() -> None:
    """A running client: logged in, connected, its own node and every peer read."""
    status = parse_status(state_text("healthy"))
    assert (status.backend_state, status.logged_in, status.connected) == ("Running", True, True)
    assert status.tailnet == "filmmaker@example.com"
    assert status.self_node is not None and status.self_node.host_name == "Mac-mini"
    assert len(status.peers) == 2
    pc = status.peer_for(PC_IP)
    assert pc is not None and pc.online and pc.direct == "192.168.1.30:41641"
    assert pc.dns_name == "studio-pc.tail1a2b3.ts.net"  # the trailing dot is dropped


@pytest.mark.parametrize(
    "host",
    [
        PC_IP,
        "studio-pc.tail1a2b3.ts.net",
        "studio-pc.tail1a2b3.ts.net.",
        "STUDIO-PC",
        "desktop-rtx5090",
        "[fd7a:115c:a1e0::b901:6667]",
    ],
)
def test_peer_for_matches_ip_magicdns_and_host_name(host: str) -> None:
    """The PC is found by its IP (v4 or v6), MagicDNS name (dot or not), short or host name."""
    peer = parse_status(state_text("healthy")).peer_for(host)
    assert peer is not None and peer.host_name == "DESKTOP-RTX5090"


@pytest.mark.parametrize("host", ["100.101.102.104", "other-pc.tail1a2b3.ts.net", "", "studio"])
def test_peer_for_unknown_host_is_none(host: str) -> None:
    """A host no peer has gives None (no prefix or partial matching)."""
    assert parse_status(state_text("healthy")).peer_for(host) is None


def test_peer_offline_keeps_last_seen() -> None:
    """An offline peer is reported offline with its last-seen time."""
    pc = parse_status(state_text("peer-offline")).peer_for(PC_IP)
    assert pc is not None and not pc.online
    assert pc.last_seen == "2025-11-20T23:14:05Z"


def test_stopped_is_logged_in_but_not_connected() -> None:
    """Stopped: logged in, not connected, no peers listed."""
    status = parse_status(state_text("stopped"))
    assert (status.backend_state, status.logged_in, status.connected) == ("Stopped", True, False)
    assert status.peers == ()


def test_logged_out_keeps_the_login_url() -> None:
    """NeedsLogin: not logged in; the login link is kept for the fix, not for to_dict."""
    status = parse_status(state_text("logged-out"))
    assert status.backend_state == "NeedsLogin" and not status.logged_in
    assert status.auth_url.startswith("https://login.tailscale.com/")
    assert "login.tailscale.com" not in str(status.to_dict())


@pytest.mark.parametrize(
    ("stdout", "stderr"),
    [
        ("", "failed to connect to local Tailscale daemon; not running?\n"),
        ("Tailscale is stopped.\n", ""),
        ('{"Version": "1.76"}', ""),
        ("[1, 2]", ""),
    ],
)
def test_output_without_a_status_means_daemon_down(stdout: str, stderr: str) -> None:
    """No JSON object with BackendState: no state, and the CLI's message as the error."""
    status = parse_status(stdout, stderr)
    assert status.backend_state is None and not status.daemon_running
    assert status.error


def test_find_cli_order(tmp_path: Path) -> None:
    """The override first, then tailscale on PATH, then the app bundle's binary."""
    on_path = write_fake_tailscale(tmp_path / "bin", state="healthy")
    app = write_fake_tailscale(tmp_path / "app", state="healthy")
    empty = tmp_path / "empty"
    empty.mkdir()
    assert find_cli(path=str(on_path.parent), app_paths=[str(app)]) == str(on_path)
    assert find_cli(path=str(empty), app_paths=[str(app)]) == str(app)
    assert find_cli(path=str(empty), app_paths=[str(tmp_path / "missing")]) is None
    assert find_cli(str(app), path=str(empty)) == str(app)
    assert find_cli(str(tmp_path / "missing"), path=str(on_path.parent)) is None


async def test_status_ignores_a_non_zero_exit_code(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A complete healthy status printed with exit 1 is still a healthy status."""
    put_first_on_path(
        monkeypatch, write_fake_tailscale(tmp_path, state="healthy", exit_code=1).parent
    )
    status = await tailscale_status(timeout=10.0)
    assert status.cli == str(tmp_path / "tailscale")
    assert status.connected and status.peer_for(PC_IP) is not None


async def test_status_logged_out_with_exit_zero(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Logged out exits 0: the JSON, not the exit code, says the client needs a login."""
    put_first_on_path(monkeypatch, write_fake_tailscale(tmp_path, state="logged-out").parent)
    status = await tailscale_status(timeout=10.0)
    assert status.backend_state == "NeedsLogin"


async def test_status_daemon_down(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No JSON and exit 1: the daemon is down, with the CLI's message."""
    message = "failed to connect to local Tailscale daemon; it doesn't appear to be running\n"
    script = write_fake_tailscale(tmp_path, state=None, exit_code=1, stderr=message)
    status = await tailscale_status(timeout=10.0, cli=str(script))
    assert not status.daemon_running
    assert "failed to connect" in status.error


async def test_status_cli_that_hangs_is_cut_short(tmp_path: Path) -> None:
    """A CLI that never answers gives an error after the timeout, not a hang."""
    script = write_fake_tailscale(tmp_path, state="healthy", sleep=60.0)
    status = await tailscale_status(timeout=0.5, cli=str(script))
    assert status.backend_state is None and status.error.startswith("no answer")


async def test_status_without_cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A configured CLI that does not exist is not replaced by another: cli is None."""
    monkeypatch.setenv("PATH", str(tmp_path))
    status = await tailscale_status(timeout=1.0, cli=str(tmp_path / "nope"))
    assert not status.cli_found and "not found" in status.error
