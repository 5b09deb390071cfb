"""The ladder as a whole: order, skips below a failed rung, and the report's exit code.

Servers are on 127.0.0.1. The Tailscale test replaces the DNS → TCP chain so that the
100.x address it names is never contacted.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from comfycine.doctor import LADDER, run_ladder
from comfycine.doctor.runner import host_port
from comfycine.settings import Settings, resolve
from tests.fakecloud.server import FakeCloud
from tests.fakecomfy.server import FakeComfy
from tests.faketailscale import write_fake_tailscale

SHORT = 0.5  # seconds: the budget of rungs expected to time out
GUARD = 30.0  # seconds: turns a hang into a failure


def settings_for(tmp_path: Path, **flags: Any) -> Settings:
    """Settings from ``flags`` only (no environment, no .env), writing under ``tmp_path``."""
    base = {
        "data_dir": tmp_path / "data",
        "cache_dir": tmp_path / "cache",
        "output_dir": tmp_path / "out",
        "exchange_dir": tmp_path / "exchange",
        "workflow_dir": tmp_path,
        "cloud_url": "http://127.0.0.1:9",
    }
    return resolve({**base, **flags}, env={"HOME": str(tmp_path)}, read_dotenv_file=False)


def statuses(report: Any) -> dict[str, str]:
    """``{rung: status}`` of a report."""
    return {c.name: c.status for c in report.checks}


def test_host_port() -> None:
    """Ports default from the scheme; IPv6 brackets are removed."""
    assert host_port("http://100.1.2.3:8188") == ("100.1.2.3", 8188)
    assert host_port("https://cloud.example") == ("cloud.example", 443)
    assert host_port("http://[::1]:81") == ("::1", 81)


async def test_closed_port_fails_tcp_and_skips_the_server_rungs(
    tmp_path: Path, free_port: int
) -> None:
    """Refused: exit 3 from tcp; http, websocket, gpu, job and templates are skipped."""
    settings = settings_for(tmp_path, comfyui_url=f"http://127.0.0.1:{free_port}")
    report = await run_ladder(settings, timeout=SHORT)
    assert [c.name for c in report.checks] == list(LADDER)
    found = statuses(report)
    assert found["tcp"] == "fail" and report.check("tcp").value.startswith("refused")  # type: ignore[union-attr]
    assert {found[n] for n in ("http", "websocket", "gpu", "job", "templates")} == {"skip"}
    assert found["tailscale"] == "skip" and found["security"] == "ok"
    assert report.exit_code == 3 and report.first_failure.name == "tcp"  # type: ignore[union-attr]


async def test_silent_port_fails_http_with_timeout(tmp_path: Path, silent_port: int) -> None:
    """Accepts and never answers: tcp passes, http fails as timeout, exit 3."""
    settings = settings_for(tmp_path, comfyui_url=f"http://127.0.0.1:{silent_port}")
    report = await run_ladder(settings, timeout=SHORT)
    found = statuses(report)
    assert (found["tcp"], found["http"], found["websocket"]) == ("ok", "fail", "skip")
    assert report.check("http").value.startswith("timeout")  # type: ignore[union-attr]
    assert report.exit_code == 3


async def test_fake_comfyui_passes(tmp_path: Path, fake_comfy: FakeComfy) -> None:
    """A working (fake) ComfyUI: nothing fails, exit 0; its CPU device is a warning."""
    settings = settings_for(tmp_path, comfyui_url=fake_comfy.url)
    report = await run_ladder(settings)
    found = statuses(report)
    assert report.ok and report.exit_code == 0, report.to_dict()
    assert [found[n] for n in ("tcp", "http", "websocket", "gpu")] == ["ok", "ok", "ok", "warn"]
    assert found["job"] == "skip" and found["templates"] in {"ok", "warn"}


async def test_cloud_key_refused_is_exit_7(
    tmp_path: Path, fake_comfy: FakeComfy, fake_cloud: FakeCloud
) -> None:
    """Everything local works but the cloud refuses the key: exit 7 from the cloud rung."""
    settings = settings_for(
        tmp_path,
        comfyui_url=fake_comfy.url,
        cloud_url=fake_cloud.url,
        cloud_api_key="comfyui-wrong-key-000",
    )
    report = await run_ladder(settings)
    assert report.exit_code == 7 and report.first_failure.name == "cloud"  # type: ignore[union-attr]


async def test_unknown_target_fails_config(tmp_path: Path) -> None:
    """An unknown --target: config fails with exit 2, every other rung skipped."""
    report = await run_ladder(settings_for(tmp_path), target="studio")
    assert report.exit_code == 2 and report.checks[0].status == "fail"
    assert {c.status for c in report.checks[1:]} == {"skip"}


async def test_tailscale_down_skips_the_network_rungs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Tailscale stopped: exit 3 from its rung, DNS to templates skipped, no connection tried."""

    async def never_reached(*args: Any) -> dict[str, Any]:
        await asyncio.Event().wait()
        raise AssertionError("unreachable")

    monkeypatch.setattr("comfycine.doctor.runner._reach", never_reached)
    script = write_fake_tailscale(tmp_path / "bin", state="stopped")
    settings = settings_for(
        tmp_path, comfyui_url="http://100.101.102.103:8188", tailscale_cli=str(script)
    )
    report = await asyncio.wait_for(run_ladder(settings, timeout=10.0), GUARD)
    found = statuses(report)
    assert found["tailscale"] == "fail" and report.exit_code == 3
    assert {found[n] for n in ("dns", "tcp", "http", "websocket", "templates")} == {"skip"}
    assert found["security"] == "ok"  # a Tailscale address, classified without a lookup
