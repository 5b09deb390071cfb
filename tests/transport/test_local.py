"""The HTTP client against canned answers (httpx.MockTransport) shaped like the captures."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from comfycine.errors import ServerError, TargetUnreachable, ValidationFailed
from comfycine.transport import ComfyClient, OutputRef, parse_outputs
from tests.captures import load

Handler = Callable[[httpx.Request], httpx.Response]


def make_client(handler: Handler) -> ComfyClient:
    """A client whose requests go to ``handler``."""
    return ComfyClient("http://comfy.test:8188", transport=httpx.MockTransport(handler))


def recorded(scenario: str) -> httpx.Response:
    """The recorded answer to POST /prompt of a scenario."""
    post = load(scenario, "post_response.json")
    body = post["body"]
    if isinstance(body, str):
        return httpx.Response(post["status"], text=body, headers={"Content-Type": "text/plain"})
    return httpx.Response(post["status"], json=body)


async def test_submit_sends_our_ids() -> None:
    """POST /prompt carries the graph, our prompt_id and client_id."""
    seen: dict[str, object] = {}

    def handler(request: httpx.Request) -> httpx.Response:
        seen.update(json.loads(request.content))
        return recorded("01_empty_save")

    async with make_client(handler) as client:
        answer = await client.submit({"1": {}}, prompt_id="p-1", client_id="c-1")
    assert seen["prompt_id"] == "p-1" and seen["client_id"] == "c-1"
    assert answer["node_errors"] == {}


async def test_unknown_node_is_a_validation_failure() -> None:
    """The recorded 400 for an unknown class becomes unknown_node with the server's reason."""
    async with make_client(lambda r: recorded("10a_unknown_class_type")) as client:
        with pytest.raises(ValidationFailed) as info:
            await client.submit({}, prompt_id="p", client_id="c")
    assert info.value.code == "unknown_node"
    assert "NoSuchNode does not exist" in info.value.message


async def test_unknown_model_is_missing_model_with_node_details() -> None:
    """value_not_in_list on ckpt_name becomes missing_model naming the node and input."""
    async with make_client(lambda r: recorded("10c_bad_combo_value")) as client:
        with pytest.raises(ValidationFailed) as info:
            await client.submit({}, prompt_id="p", client_id="c")
    problem = info.value.details["problems"][0]
    assert info.value.code == "missing_model"
    assert problem["node"] == "1" and problem["input"] == "ckpt_name"
    assert "nope.safetensors" in info.value.message


async def test_500_text_plain_is_a_server_error() -> None:
    """A 500 text/plain answer (malformed body) is a clear server_error, exit 4."""
    async with make_client(lambda r: recorded("10d_malformed_json")) as client:
        with pytest.raises(ServerError) as info:
            await client.submit({}, prompt_id="p", client_id="c")
    assert "HTTP 500" in info.value.message and "text/plain" in info.value.message
    assert info.value.exit_code == 4


async def test_history_empty_dict_means_not_finished() -> None:
    """/history/{id} answering {} gives None."""
    async with make_client(lambda r: httpx.Response(200, json={})) as client:
        assert await client.history("x") is None


async def test_history_entry_outputs() -> None:
    """A recorded history entry yields its output files with subfolder and type."""
    history = load("01_empty_save", "history.json")
    prompt_id = next(iter(history))
    async with make_client(lambda r: httpx.Response(200, json=history)) as client:
        entry = await client.history(prompt_id)
    assert entry is not None and entry.status == "success"
    assert entry.outputs == (OutputRef("2", "images", "empty_00001_.png", "cli_test", "output"),)
    assert entry.last_message("execution_success") is not None


def test_video_outputs_are_animated_images() -> None:
    """SaveVideo lists its mp4 under images with animated=[true]."""
    history = load("06_createvideo_savevideo", "history.json")
    refs = parse_outputs(next(iter(history.values()))["outputs"])
    assert refs[0].filename.endswith(".mp4") and refs[0].animated


def test_every_output_kind_is_collected() -> None:
    """gifs, videos and audio keys are collected too; non-file entries are skipped."""
    outputs = {
        "5": {"gifs": [{"filename": "a.mp4", "subfolder": "", "type": "output"}]},
        "6": {"videos": [{"filename": "b.webm", "type": "output"}]},
        "7": {"audio": [{"filename": "c.flac", "subfolder": "audio", "type": "output"}]},
        "8": {"text": ["hello"], "images": [{"filename": "p.png", "type": "temp"}]},
    }
    kinds = {(r.kind, r.filename, r.type) for r in parse_outputs(outputs)}
    assert kinds == {
        ("gifs", "a.mp4", "output"),
        ("videos", "b.webm", "output"),
        ("audio", "c.flac", "output"),
        ("images", "p.png", "temp"),
    }


async def test_queue_positions() -> None:
    """/queue gives running first, then pending in number order."""
    body = {
        "queue_running": [[5, "run", {}, {}, []]],
        "queue_pending": [[9, "late", {}, {}, []], [7, "early", {}, {}, []]],
    }
    async with make_client(lambda r: httpx.Response(200, json=body)) as client:
        queue = await client.queue()
    assert queue.position("run") == 0
    assert queue.position("early") == 1 and queue.position("late") == 2
    assert queue.position("gone") is None


async def test_upload_uses_returned_name(tmp_path: Path) -> None:
    """The upload returns the server's name (which may differ from ours)."""
    picture = tmp_path / "plate.png"
    picture.write_bytes(b"\x89PNG")

    def handler(request: httpx.Request) -> httpx.Response:
        assert b'name="image"; filename="plate.png"' in request.content
        return httpx.Response(200, json={"name": "plate (1).png", "subfolder": "", "type": "input"})

    async with make_client(handler) as client:
        answer = await client.upload_image(picture)
    assert answer["name"] == "plate (1).png"


async def test_refused_connection_is_unreachable() -> None:
    """A refused connection becomes target_unreachable with the reason and a fallback."""

    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("[Errno 111] Connection refused")

    async with make_client(handler) as client:
        with pytest.raises(TargetUnreachable) as info:
            await client.queue()
    assert info.value.details["reason"] == "refused"
    assert info.value.details["fallback"] == "cloud"
    assert info.value.exit_code == 3


async def test_tailscale_host_hint() -> None:
    """An unreachable Tailscale address suggests checking Tailscale on both machines."""

    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectTimeout("timed out")

    client = ComfyClient("http://100.101.102.103:8188", transport=httpx.MockTransport(handler))
    async with client:
        with pytest.raises(TargetUnreachable) as info:
            await client.system_stats()
    assert "Tailscale" in info.value.hint and info.value.details["reason"] == "timeout"


async def test_not_comfyui_answer() -> None:
    """A server answering HTML to /system_stats is reported as not ComfyUI."""
    handler: Handler = lambda r: httpx.Response(200, text="<html>router</html>")  # noqa: E731
    async with make_client(handler) as client:
        with pytest.raises(ServerError, match="ComfyUI"):
            await client.system_stats()
