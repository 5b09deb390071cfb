"""``comfycine doctor`` and ``scripts/test-connection.sh``: the real ComfyUI all green, a
closed port, a port that never answers, and the cloud key refused.

Every URL is on 127.0.0.1; on a loopback URL the Tailscale rung is skipped.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from comfycine.doctor import LADDER
from tests.cli_support import Isolation, invoke, outputs_under
from tests.fakecloud.server import FakeCloud
from tests.fakecomfy.server import FakeComfy
from tests.real_server import RealComfyUI

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "test-connection.sh"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture
def cache(isolation: Isolation, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private cache dir: the templates rung saves the server's node list there."""
    path = isolation.root / "cache"
    monkeypatch.setenv("COMFYCINE_CACHE_DIR", str(path))
    return path


def checks_of(checks: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """``{name: check}`` after asserting the ladder's order and shape."""
    assert [c["name"] for c in checks] == list(LADDER)
    assert all(set(c) >= {"name", "status", "value", "fix"} for c in checks)
    return {c["name"]: c for c in checks}


@pytest.mark.real
def test_real_comfyui_all_green(real: RealComfyUI, cache: Path) -> None:
    """Against the real ComfyUI nothing fails: exit 0, every server rung measured."""
    result = invoke("doctor", "--json")
    assert result.exit_code == 0, result
    data = result.envelope()["data"]
    checks = checks_of(data["checks"])
    assert not [c for c in checks.values() if c["status"] == "fail"], checks
    for name in ("config", "dns", "tcp", "http", "websocket", "security"):
        assert checks[name]["status"] == "ok", checks[name]
    assert checks["tailscale"] == {
        "name": "tailscale",
        "status": "skip",
        "value": "not a Tailscale address",
        "fix": "",
    }
    assert "ComfyUI 0.3" in checks["http"]["value"]
    assert "GB free of" in checks["gpu"]["value"]
    assert "testimage" not in {
        t["name"] for t in checks["templates"]["details"]["templates"] if not t["ready"]
    }
    assert checks["job"]["status"] == "skip" and data["url"] == real.url


@pytest.mark.real
def test_real_comfyui_deep_renders_the_test_image(
    real: RealComfyUI, cache: Path, isolation: Isolation
) -> None:
    """--deep renders testimage end to end: the job rung passes and the PNG is on disk."""
    result = invoke("doctor", "--deep", "--json")
    assert result.exit_code == 0, result
    checks = checks_of(result.envelope()["data"]["checks"])
    assert checks["job"]["status"] == "ok", checks["job"]
    outputs = outputs_under(isolation.output_dir)
    assert len(outputs) == 1 and outputs[0].read_bytes()[:8] == PNG_MAGIC
    assert str(outputs[0]) in checks["job"]["value"]


def test_closed_port_is_exit_3_with_every_check(isolation: Isolation, free_port: int) -> None:
    """Refused: exit 3, tcp fails as refused, the server rungs are skipped, all in details."""
    result = invoke("doctor", "--url", f"http://127.0.0.1:{free_port}", "--json")
    assert result.exit_code == 3, result
    envelope = result.envelope()
    assert envelope["ok"] is False and envelope["error"]["code"] == "target_unreachable"
    checks = checks_of(envelope["error"]["details"]["checks"])
    assert checks["tcp"]["status"] == "fail" and checks["tcp"]["value"].startswith("refused")
    assert {checks[n]["status"] for n in ("http", "websocket", "gpu", "job", "templates")} == {
        "skip"
    }
    assert envelope["error"]["hint"] == checks["tcp"]["fix"]


def test_silent_port_is_exit_3_timeout(isolation: Isolation, silent_port: int) -> None:
    """A port that accepts and never answers: exit 3, http fails as timeout."""
    result = invoke("doctor", "--url", f"http://127.0.0.1:{silent_port}", "--json")
    assert result.exit_code == 3, result
    checks = checks_of(result.envelope()["error"]["details"]["checks"])
    assert checks["tcp"]["status"] == "ok"
    assert checks["http"]["status"] == "fail" and checks["http"]["value"].startswith("timeout")


def test_person_sees_the_ladder_and_one_error_line(isolation: Isolation, free_port: int) -> None:
    """Without --json: one line per rung with its mark on stdout, the error on stderr."""
    result = invoke("doctor", "--url", f"http://127.0.0.1:{free_port}")
    assert result.exit_code == 3, result
    lines = result.stdout.splitlines()
    assert any(line.startswith("✗ tcp") and "refused" in line for line in lines), result
    assert any(line.startswith("- http") for line in lines)
    assert any("fix: Start ComfyUI" in line for line in lines)
    assert result.stderr.startswith("error: The tcp check failed: refused")


def test_cloud_key_refused_is_exit_7_without_the_key(
    isolation: Isolation,
    cache: Path,
    fake_comfy: FakeComfy,
    fake_cloud: FakeCloud,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A working ComfyUI and a refused cloud key: exit 7, cloud_auth, the key never shown."""
    wrong = "comfyui-wrong-key-sentinel-1234"
    monkeypatch.setenv("COMFYUI_URL", fake_comfy.url)
    monkeypatch.setenv("COMFY_CLOUD_URL", fake_cloud.url)
    monkeypatch.setenv("COMFY_CLOUD_API_KEY", wrong)
    result = invoke("doctor", "--json")
    assert result.exit_code == 7, result
    assert result.envelope()["error"]["code"] == "cloud_auth"
    assert wrong not in result.stdout + result.stderr


def test_fake_comfyui_passes_in_person_mode(
    isolation: Isolation, cache: Path, fake_comfy: FakeComfy
) -> None:
    """A working server: exit 0, the ladder on stdout, the summary on stderr."""
    result = invoke("doctor", "--url", fake_comfy.url)
    assert result.exit_code == 0, result
    assert result.stdout.splitlines()[0] == f"doctor: target local {fake_comfy.url}"
    assert "✓ websocket" in result.stdout and "every required check passes" in result.stderr


def run_script(args: list[str], path: str) -> subprocess.CompletedProcess[str]:
    """Run scripts/test-connection.sh with ``args`` under the isolated environment."""
    env = {**os.environ, "PATH": path}
    return subprocess.run(
        ["/bin/sh", str(SCRIPT), *args], env=env, capture_output=True, text=True, timeout=60
    )


def test_script_passes_the_exit_code_through(isolation: Isolation, free_port: int) -> None:
    """test-connection.sh runs doctor with its arguments and keeps its exit code (3)."""
    # The interpreter's own bin folder first: the comfycine of this environment (a venv
    # that is not activated, as when pytest is run by its full path).
    path = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
    result = run_script(["--url", f"http://127.0.0.1:{free_port}", "--json"], path)
    assert result.returncode == 3, result
    assert '"command": "doctor"' in result.stdout


def test_script_falls_back_to_python_m(isolation: Isolation, free_port: int) -> None:
    """Without a comfycine command on PATH the script runs python3 -m comfycine."""
    bin_dir = isolation.root / "bin"
    bin_dir.mkdir()
    # A wrapper, not a symlink: a symlinked venv interpreter outside its venv finds no
    # pyvenv.cfg beside it and loses the venv's packages.
    wrapper = bin_dir / "python3"
    wrapper.write_text(f'#!/bin/sh\nexec "{sys.executable}" "$@"\n')
    wrapper.chmod(0o755)
    result = run_script(
        ["--url", f"http://127.0.0.1:{free_port}", "--json"], f"{bin_dir}:/usr/bin:/bin"
    )
    assert result.returncode == 3, result
    assert '"command": "doctor"' in result.stdout


def test_doctor_on_the_cloud_target(
    isolation: Isolation, fake_cloud: FakeCloud, monkeypatch: pytest.MonkeyPatch
) -> None:
    """--target cloud: key accepted, the socket answers, the GPU is the cloud's; exit 0."""
    monkeypatch.setenv("COMFY_CLOUD_URL", fake_cloud.url)
    monkeypatch.setenv("COMFY_CLOUD_API_KEY", fake_cloud.api_key)
    result = invoke("doctor", "--target", "cloud", "--json")
    assert result.exit_code == 0, result
    checks = {c["name"]: c for c in result.envelope()["data"]["checks"]}
    assert checks["cloud"]["status"] == "ok" and checks["websocket"]["status"] == "ok"
    assert checks["gpu"]["status"] == "ok" and "Comfy Cloud" in checks["gpu"]["value"]
    assert fake_cloud.api_key not in result.stdout + result.stderr
