"""``workflow convert`` on the fake ComfyUI: the dynamic prompts drawn, and their seed."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from tests.cli_support import Isolation, invoke
from tests.fakecomfy.server import FakeComfy


def ui_workflow(text: str, prefix: str) -> dict[str, Any]:
    """A UI workflow: a prompt with choices, and a save node whose prefix has a token."""
    return {
        "nodes": [
            {
                "id": 6, "type": "CLIPTextEncode", "mode": 0,
                "inputs": [{"name": "clip", "type": "CLIP", "link": None}],
                "outputs": [], "widgets_values": [text],
            },
            {
                "id": 9, "type": "SaveImage", "mode": 0,
                "inputs": [{"name": "images", "type": "IMAGE", "link": None}],
                "outputs": [], "widgets_values": [prefix],
            },
            {"id": 5, "type": "EmptyImage", "mode": 0, "inputs": [], "outputs": [],
             "widgets_values": [640, 360, 1, 0]},
        ],
        "links": [],
        "version": 0.4,
    }  # fmt: skip


@pytest.fixture
def fake(isolation: Isolation, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeComfy]:
    """The fake ComfyUI, the CLI pointed at it."""
    with FakeComfy() as server:
        monkeypatch.setenv("COMFYUI_URL", server.url)
        yield server


def test_convert_json_lists_the_prompts_drawn_and_their_seed(
    fake: FakeComfy, isolation: Isolation
) -> None:
    """--json gives each dynamic prompt (node, template, text, draws) and the seed."""
    path = isolation.root / "ui.json"
    path.write_text(json.dumps(ui_workflow("a {red|blue|green} fox // note", "%EmptyImage.width%")))
    result = invoke("workflow", "convert", str(path), "--json")
    assert result.exit_code == 0, result
    data = result.envelope()["data"]
    [prompt] = data["prompts"]
    assert prompt["node"] == "6" and prompt["input"] == "text"
    assert prompt["template"] == "a {red|blue|green} fox // note"
    assert data["graph"]["6"]["inputs"]["text"] == prompt["text"]
    assert len(prompt["choices"]) == 1 and isinstance(data["seed"], int)
    assert data["graph"]["9"]["inputs"]["filename_prefix"] == "640"


def test_convert_with_the_seed_makes_the_same_texts(fake: FakeComfy, isolation: Isolation) -> None:
    """--seed SEED draws the same choices again; another seed may not."""
    path = isolation.root / "ui.json"
    path.write_text(json.dumps(ui_workflow("{a|b|c|d|e|f|g|h} {1|2|3|4|5|6|7|8}", "x")))
    texts = []
    for _ in range(2):
        result = invoke("workflow", "convert", str(path), "--seed", "42", "--json")
        assert result.exit_code == 0, result
        texts.append(result.envelope()["data"]["graph"]["6"]["inputs"]["text"])
        assert result.envelope()["data"]["seed"] == 42
    assert texts[0] == texts[1]
    others = {
        invoke("workflow", "convert", str(path), "--seed", str(seed), "--json").envelope()["data"][
            "graph"
        ]["6"]["inputs"]["text"]
        for seed in range(5)
    }
    assert len(others) > 1


def test_convert_says_how_to_draw_again_for_people(fake: FakeComfy, isolation: Isolation) -> None:
    """Without --json the drawn text and the --seed to repeat it go to stderr."""
    path = isolation.root / "ui.json"
    path.write_text(json.dumps(ui_workflow("{only}", "x")))
    result = invoke("workflow", "convert", str(path), "--seed", "7")
    assert result.exit_code == 0, result
    assert "drew 'only'" in result.stderr and "--seed 7" in result.stderr
    assert json.loads(result.stdout)["6"]["inputs"]["text"] == "only"
