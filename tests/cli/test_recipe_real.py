"""Every rendered file carries its recipe (real CPU ComfyUI): take reads it from the file."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import httpx
import pytest
from PIL import Image

from tests.cli_support import Isolation, invoke
from tests.real_server import RealComfyUI

pytestmark = pytest.mark.real


def test_a_png_carries_its_recipe_and_comfyui_takes_its_graph(
    real: RealComfyUI, isolation: Isolation, tmp_path: Path
) -> None:
    """generate → the PNG holds the recipe (and a sidecar); take reads it with no ledger."""
    made = invoke("generate", "testimage", "--set", "color=1193046", "--json")
    assert made.exit_code == 0, made
    data = made.envelope()["data"]
    output = Path(data["outputs"][0])
    assert Path(f"{output}.json").is_file()
    moved = tmp_path / "elsewhere" / output.name  # another Mac: the file alone
    moved.parent.mkdir()
    shutil.copy(output, moved)
    shutil.rmtree(isolation.data_dir)
    took = invoke("take", str(moved), "--json")
    assert took.exit_code == 0, took
    recipe = took.envelope()["data"]
    assert recipe["job"] == data["job"] and recipe["template"] == "testimage"
    assert recipe["params"]["color"] == 1193046
    graph = Image.open(moved).text["prompt"]  # what ComfyUI reads when the PNG is dropped
    answer = httpx.post(f"{real.url}/prompt", json={"prompt": json.loads(graph)})
    assert answer.status_code == 200, answer.text


def test_a_video_carries_its_recipe_in_its_tags(real: RealComfyUI, isolation: Isolation) -> None:
    """generate testpattern → the MP4's own tags hold the recipe, read back by take."""
    made = invoke("generate", "testpattern", "--json")
    assert made.exit_code == 0, made
    output = Path(made.envelope()["data"]["outputs"][0])
    Path(f"{output}.json").unlink()  # from the file's tags alone
    took = invoke("take", str(output), "--json")
    assert took.exit_code == 0, took
    assert took.envelope()["data"]["template"] == "testpattern"


def test_sidecars_can_be_turned_off(
    real: RealComfyUI, isolation: Isolation, monkeypatch: pytest.MonkeyPatch
) -> None:
    """COMFYCINE_SIDECARS=0: no .json beside the PNG, the recipe still inside it."""
    monkeypatch.setenv("COMFYCINE_SIDECARS", "0")
    made = invoke("generate", "testimage", "--set", "color=42", "--json")
    output = Path(made.envelope()["data"]["outputs"][0])
    assert not Path(f"{output}.json").exists()
    assert invoke("take", str(output), "--json").envelope()["data"]["params"]["color"] == 42


def test_take_on_a_file_without_a_recipe_is_one_line(isolation: Isolation, tmp_path: Path) -> None:
    """A PNG comfycine did not make: exit 2 no_recipe, nothing written."""
    folder = tmp_path / "plain"
    folder.mkdir()
    plain = folder / "plain.png"
    Image.new("RGB", (4, 4)).save(plain)
    result = invoke("take", str(plain), "--json")
    assert result.exit_code == 2, result
    assert result.envelope()["error"]["code"] == "no_recipe"
    assert sorted(p.name for p in folder.iterdir()) == ["plain.png"]
