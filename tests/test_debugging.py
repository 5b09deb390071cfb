"""debug's Tailscale look at an unreachable PC (fake tailscale CLI; nothing is contacted)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from comfycine.debugging import tailscale_problem
from tests.faketailscale import write_fake_tailscale

PC_URL = "http://100.101.102.103:8188"  # the PC peer of the recorded states; never dialled


def _problem(tmp_path: Path, state: str, url: str = PC_URL) -> tuple[str, str] | None:
    cli = write_fake_tailscale(tmp_path / "bin", state=state)
    return asyncio.run(tailscale_problem(url, str(cli)))


@pytest.mark.parametrize("state", ["stopped", "logged-out"])
def test_tailscale_down_on_this_mac_is_the_problem(tmp_path: Path, state: str) -> None:
    """Stopped or logged out: a problem with its fix (tailscale up / login)."""
    problem = _problem(tmp_path, state)
    assert problem is not None
    assert "tailscale" in problem[1].lower()


def test_offline_pc_is_the_problem(tmp_path: Path) -> None:
    """The PC's peer offline: the problem says offline."""
    problem = _problem(tmp_path, "peer-offline")
    assert problem is not None and "offline" in problem[0].lower()


def test_healthy_tailnet_is_no_problem(tmp_path: Path) -> None:
    """Everything up: None (the probe's own reason stands)."""
    assert _problem(tmp_path, "healthy") is None


def test_not_a_tailscale_address_skips_the_cli(tmp_path: Path) -> None:
    """A LAN or loopback URL: None without running the CLI."""
    cli = write_fake_tailscale(tmp_path / "bin", state="stopped")
    assert asyncio.run(tailscale_problem("http://127.0.0.1:8188", str(cli))) is None
