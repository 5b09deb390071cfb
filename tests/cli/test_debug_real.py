"""Diagnoses of real failures on the real CPU ComfyUI 0.3.75."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from PIL import Image

from comfycine.ledger import Ledger
from tests.cli.test_generate_real import tiny_sd_graph, write_template
from tests.cli_support import Isolation, invoke
from tests.real_server import RealComfyUI

pytestmark = pytest.mark.real


def _tiny_png(path: Path) -> Path:
    colour = tuple(random.randrange(256) for _ in range(3))
    Image.new("RGB", (4, 4), colour).save(path)
    return path


def test_runtime_error_on_the_real_server_is_diagnosed(real: RealComfyUI, tmp_path: Path) -> None:
    """A blur wider than the image fails in ImageBlur; generate and debug name the node."""
    image = _tiny_png(tmp_path / "tiny.png")
    result = invoke("generate", "testblur", "--image", str(image), "--set", "radius=31", "--json")
    assert result.exit_code == 5, result
    diagnosis = result.envelope()["error"]["details"]["diagnosis"]
    assert diagnosis["code"] == "node_exception"
    again = invoke("debug", "last", "--json").envelope()["data"]
    assert again["diagnosis"]["code"] == "node_exception"
    assert "node 2" in again["diagnosis"]["cause"]
    assert any("debug" in (fix["command"] or "") for fix in again["diagnosis"]["fixes"])


def test_missing_cinema_models_are_diagnosed_before_running(real: RealComfyUI) -> None:
    """wan22-t2v on a server without its models: exit 4, each file with folder and URL."""
    result = invoke("generate", "wan22-t2v", "--prompt", "a rainy street", "--json")
    assert result.exit_code == 4, result
    diagnosis = result.envelope()["error"]["details"]["diagnosis"]
    assert diagnosis["code"] == "missing_model"
    texts = " ".join(fix["text"] for fix in diagnosis["fixes"])
    assert "models/diffusion_models" in texts and "https://huggingface.co/" in texts
    assert result.envelope()["error"]["hint"].startswith("Download ")


def test_free_on_the_real_server(real: RealComfyUI) -> None:
    """free → the real server accepts POST /free."""
    assert invoke("free").exit_code == 0


def test_tiled_vae_decode_runs_on_the_real_server(real: RealComfyUI, isolation: Isolation) -> None:
    """--tiled-vae (the OOM fix) swaps VAEDecode for VAEDecodeTiled and the job runs."""
    write_template(isolation.workflow_dir, "tinysd", tiny_sd_graph(real.checkpoint))
    result = invoke(
        "generate", "tinysd", "--prompt", "a lamp", "--set", "steps=1", "--tiled-vae", "--json"
    )
    assert result.exit_code == 0, result
    job = invoke("status", "last", "--json").envelope()["data"]["job"]["job"]
    with Ledger.open(isolation.data_dir / "ledger.sqlite3") as ledger:
        graph = ledger.find(job).graph
    assert graph["8"]["class_type"] == "VAEDecodeTiled"
