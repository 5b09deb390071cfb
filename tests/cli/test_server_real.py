"""comfycine server up / status / down on the real CPU ComfyUI install."""

from __future__ import annotations

from pathlib import Path

import pytest

from comfycine.localserver import server_status
from tests.cli_support import Isolation, invoke
from tests.real_server import RealComfyUI

pytestmark = pytest.mark.real


def use_real_cache(real: RealComfyUI, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point the CLI at the tests' install; skip if the user's own server runs from it."""
    cache = real.cache_dir  # read before the isolation changed HOME
    if server_status(cache) is not None:
        pytest.skip("a server started by `comfycine server up` is already running here")
    monkeypatch.setenv("COMFYCINE_CACHE_DIR", str(cache))
    return cache


def test_up_generate_down(
    isolation: Isolation, real_comfyui: RealComfyUI, monkeypatch: pytest.MonkeyPatch
) -> None:
    """up starts a labelled CPU server that generate can use; down stops it; status says so."""
    cache = use_real_cache(real_comfyui, monkeypatch)
    up = invoke("server", "up", "--port", "0", "--json")
    try:
        assert up.exit_code == 0, up
        data = up.envelope()["data"]
        assert data["running"] and data["url"].startswith("http://127.0.0.1:")
        assert "CPU-only" in data["note"]
        status = invoke("server", "status", "--json").envelope()["data"]
        assert status["running"] and status["pid"] == data["pid"]
        again = invoke("server", "up", "--port", "0", "--json").envelope()["data"]
        assert again["pid"] == data["pid"], "a second up must reuse the running server"
        result = invoke("generate", "testimage", "--url", data["url"], "--json")
        assert result.exit_code == 0, result
        assert Path(result.envelope()["data"]["outputs"][0]).is_file()
    finally:
        down = invoke("server", "down", "--json")
    assert down.envelope()["data"]["stopped"] is True
    assert invoke("server", "status", "--json").envelope()["data"]["running"] is False
    assert server_status(cache) is None


def test_port_in_use_is_refused(
    isolation: Isolation, real_comfyui: RealComfyUI, monkeypatch: pytest.MonkeyPatch
) -> None:
    """server up on a busy port is a usage error naming the port, not a hang."""
    use_real_cache(real_comfyui, monkeypatch)
    result = invoke("server", "up", "--port", str(real_comfyui.port), "--json")
    assert result.exit_code == 2, result
    assert result.envelope()["error"]["code"] == "port_in_use"
