"""The fake ComfyUI against the recorded real exchanges (``tests/fixtures/comfyui-captures``)."""

from __future__ import annotations

import asyncio
import json
import struct
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import ClientConnection

from tests.captures import CAPTURES, load
from tests.fakecomfy.server import FakeComfy
from tests.fakecomfy.wsutil import (
    COLLECT_TIMEOUT,
    capture_frames,
    kinds,
    open_socket,
    post_prompt,
    receive,
    run_capture_request,
    skeleton,
)


async def _run(fake: FakeComfy, scenario: str, **changes: Any) -> tuple[str, list[Any]]:
    """Run a capture's request on a fresh socket; return prompt id and all frames."""
    ws, first = await open_socket(fake, "cap-fake")
    try:
        prompt_id, frames = await run_capture_request(fake, ws, scenario, "cap-fake", **changes)
    finally:
        await ws.close()
    return prompt_id, first + frames


@pytest.mark.parametrize("scenario", ["01_empty_save", "30_hordeengine_0.3.75_empty_save"])
async def test_image_graph_matches_capture_message_for_message(
    fake_comfy: FakeComfy, scenario: str
) -> None:
    """EmptyImage → SaveImage sends the captured messages, same fields, same value types."""
    _, frames = await _run(fake_comfy, scenario)
    assert skeleton(frames) == skeleton(capture_frames(scenario))
    assert frames[-1]["data"]["node"] is None


async def test_video_graph_matches_capture(fake_comfy: FakeComfy) -> None:
    """CreateVideo → SaveVideo reports its mp4 under ``images`` with ``animated: [true]``."""
    _, frames = await _run(fake_comfy, "06_createvideo_savevideo")
    assert skeleton(frames) == skeleton(capture_frames("06_createvideo_savevideo"))
    executed = next(frame for frame in frames if frame["type"] == "executed")
    assert executed["data"]["output"] == {
        "images": [{"filename": "clip_00001_.mp4", "subfolder": "video", "type": "output"}],
        "animated": [True],
    }


async def test_identical_rerun_is_cached_and_replays_filenames(fake_comfy: FakeComfy) -> None:
    """A re-run of the same graph is fully cached and replays ``executed`` with old filenames."""
    _, first = await _run(fake_comfy, "01_empty_save")
    prompt_id, second = await _run(fake_comfy, "01_empty_save")
    assert skeleton(second) == skeleton(capture_frames("02_empty_save_again_cached"))
    outputs = [
        frame["data"]["output"] for frame in (*first, *second) if frame["type"] == "executed"
    ]
    assert outputs[0] == outputs[1]
    assert fake_comfy.history[prompt_id]["status"]["messages"][1][1]["nodes"] == ["1", "2"]


async def test_sampler_graph_matches_capture_steps_and_order(fake_comfy: FakeComfy) -> None:
    """txt2img sends per-step progress and runs nodes in the real server's order."""
    _, frames = await _run(fake_comfy, "15_txt2img_tiny_sd15")
    expected = capture_frames("15_txt2img_tiny_sd15")
    assert skeleton(frames) == skeleton(expected)
    nodes = [frame["data"]["node"] for frame in frames if frame["type"] == "executing"]
    assert nodes == [frame["data"]["node"] for frame in expected if frame["type"] == "executing"]


async def test_seed_change_reruns_only_the_sampler_chain(fake_comfy: FakeComfy) -> None:
    """Changing the seed caches the loaders and encoders, as in capture 16."""
    await _run(fake_comfy, "15_txt2img_tiny_sd15")
    _, frames = await _run(fake_comfy, "16_txt2img_tiny_sd15_seed_change_partial_cache")
    expected = capture_frames("16_txt2img_tiny_sd15_seed_change_partial_cache")
    assert skeleton(frames) == skeleton(expected)


async def test_preview_goes_before_the_longer_branch(fake_comfy: FakeComfy) -> None:
    """An available output node runs first (PreviewImage before the blur), as captured."""
    _, frames = await _run(fake_comfy, "03_invert_blur_save_preview")
    nodes = [f["data"]["node"] for f in frames if f["type"] == "executing"]
    expected = capture_frames("03_invert_blur_save_preview")
    assert nodes == [f["data"]["node"] for f in expected if f["type"] == "executing"]
    preview = next(f for f in frames if f["type"] == "executed")["data"]["output"]["images"]
    assert [image["type"] for image in preview] == ["temp", "temp"]
    assert preview[0]["filename"].startswith("ComfyUI_temp_")


async def test_runtime_error_matches_capture_12(fake_comfy: FakeComfy) -> None:
    """A blur radius larger than the image fails like the real node, in the captured shape."""
    prompt_id, frames = await _run(fake_comfy, "12_runtime_error_blur_pad")
    expected = capture_frames("12_runtime_error_blur_pad")
    for message in (*frames, *expected):
        if message["type"] == "execution_error":
            message["data"]["traceback"] = ["frame"]
    assert skeleton(frames) == skeleton(expected)
    error = next(f for f in frames if f["type"] == "execution_error")["data"]
    real = next(f for f in expected if f["type"] == "execution_error")["data"]
    for key in ("node_id", "node_type", "executed", "exception_message", "exception_type"):
        assert error[key] == real[key]
    status = fake_comfy.history[prompt_id]["status"]
    assert (status["status_str"], status["completed"]) == ("error", False)
    assert status["messages"][-1][0] == "execution_error"


def _raw_request(scenario: str) -> bytes:
    folder = CAPTURES / scenario
    path = folder / "request.json" if (folder / "request.json").exists() else folder / "request.txt"
    return path.read_bytes()


REJECTED = [
    "10a2_unknown_class_type_only",
    "10a_unknown_class_type",
    "10b_missing_required_input",
    "10c2_bad_combo_simple",
    "10d2_empty_body",
    "10d_malformed_json",
    "10e_link_to_missing_node",
    "10f_value_out_of_range",
    "10g_wrong_type_value",
    "10h_no_output_node",
    "10i_type_mismatch_link",
    "10j_missing_class_type",
    "10k_bad_output_index",
    "10l_loadimage_missing_file",
    "10m_prompt_not_a_dict",
    "10n_no_prompt_key",
    "10o_body_is_list",
]


def _comparable(body: Any) -> Any:
    """Drop tracebacks (they name source files) and order errors (the real order is a set's)."""
    if isinstance(body, dict):
        for entry in body.get("node_errors", {}).values():
            entry["errors"].sort(key=lambda error: error["details"])
            for error in entry["errors"]:
                error["extra_info"].pop("traceback", None)
    return body


@pytest.mark.parametrize("scenario", REJECTED)
def test_rejected_prompt_answers_like_capture(fake_comfy: FakeComfy, scenario: str) -> None:
    """Invalid submissions get the captured status, content type and body."""
    expected = load(scenario, "post_response.json")
    response = httpx.post(
        f"{fake_comfy.url}/prompt",
        content=_raw_request(scenario),
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code == expected["status"]
    assert response.headers["content-type"] == expected["headers"]["Content-Type"]
    if isinstance(expected["body"], str):
        assert response.text == expected["body"]
    else:
        assert _comparable(response.json()) == _comparable(expected["body"])


def test_unknown_checkpoint_lists_the_server_models() -> None:
    """A checkpoint name not on the server gives ``value_not_in_list`` with the server's list."""
    expected = load("10c_bad_combo_value", "post_response.json")
    with FakeComfy(models={"checkpoints": []}) as fake:
        response = httpx.post(f"{fake.url}/prompt", content=_raw_request("10c_bad_combo_value"))
    assert (response.status_code, response.json()) == (400, expected["body"])


async def test_rejected_prompt_sends_no_websocket_message(fake_comfy: FakeComfy) -> None:
    """A 400 leaves the socket silent: the next message belongs to the next valid prompt."""
    ws, _ = await open_socket(fake_comfy, "quiet")
    try:
        rejected = await post_prompt(fake_comfy, load("10a_unknown_class_type", "request.json"))
        prompt_id, frames = await run_capture_request(fake_comfy, ws, "01_empty_save", "quiet")
    finally:
        await ws.close()
    assert rejected.status_code == 400
    assert frames[0] == {
        "type": "status",
        "data": {"status": {"exec_info": {"queue_remaining": 1}}},
    }
    assert frames[-1]["data"] == {"node": None, "prompt_id": prompt_id}


@pytest.mark.parametrize("scenario", ["01_empty_save", "06_createvideo_savevideo"])
async def test_view_headers_match_capture(fake_comfy: FakeComfy, scenario: str) -> None:
    """``/view`` serves outputs with the captured Content-Disposition and Content-Type."""
    await _run(fake_comfy, scenario)
    for expected in load(scenario, "view_headers.json"):
        response = httpx.get(f"{fake_comfy.url}/view", params=expected["query"])
        assert response.status_code == 200
        for header in ("Content-Disposition", "Content-Type"):
            assert response.headers[header] == expected["headers"][header]
        assert response.content.startswith(bytes.fromhex(expected["magic"])[:4])


def test_view_errors_match_capture(fake_comfy: FakeComfy) -> None:
    """Missing, malformed and escaping ``/view`` requests get the captured empty answers."""
    fake_comfy.base_dir.joinpath("output", "ComfyUI_00001_.png").write_bytes(b"\x89PNG")
    checked = []
    for record in load("20_misc_http", "requests.json"):
        method, path = record["req"].split(" ", 1)
        if method != "GET" or path.split("?")[0] != "/view":
            continue
        if any(skip in path for skip in ("preview=", "channel=", "cli_upload")):
            continue  # re-encoding and the uploaded file are outside this test
        response = httpx.get(fake_comfy.url + path)
        assert response.status_code == record["status"], path
        assert response.headers.get("content-type") == record["content_type"], path
        assert len(response.content) == (record["bytes"] if record["status"] != 200 else 4)
        checked.append(record["status"])
    assert sorted(checked) == [200, 400, 400, 403, 404, 404]


def test_upload_sequence_matches_capture(fake_comfy: FakeComfy) -> None:
    """Uploads keep, reuse or rename names exactly as in capture 04."""
    url = f"{fake_comfy.url}/upload/image"
    first, other = b"\x89PNG first", b"\x89PNG other"
    calls = [
        ({"type": "input", "overwrite": "true"}, first),
        ({"type": "input", "overwrite": "false"}, first),
        ({"subfolder": "clisub"}, other),
        ({}, other),
    ]
    bodies = [
        httpx.post(url, data=data, files={"image": ("cli_upload.png", content)}).json()
        for data, content in calls
    ]
    missing = httpx.post(url, data={"foo": "bar"}, files={"other": ("x.png", b"x")})
    expected = load("04_upload", "upload_responses.json")
    assert bodies == [entry["body"] for entry in expected[:4]]
    assert (missing.status_code, missing.text) == (400, "")


async def test_uploaded_image_feeds_loadimage(fake_comfy: FakeComfy) -> None:
    """An uploaded file, also in a subfolder, is accepted by ``LoadImage`` (captures 08, 09)."""
    url = f"{fake_comfy.url}/upload/image"
    httpx.post(url, files={"image": ("cli_upload.png", b"\x89PNG one")})
    httpx.post(url, data={"subfolder": "clisub"}, files={"image": ("cli_upload.png", b"two")})
    for scenario in ("08_loadimage_uploaded", "09_loadimage_subfolder"):
        _, frames = await _run(fake_comfy, scenario)
        assert kinds(frames) == kinds(capture_frames(scenario))


async def test_client_prompt_id_and_workflow_metadata(fake_comfy: FakeComfy) -> None:
    """A client-chosen prompt_id is used, and ``extra_pnginfo`` lands in the PNG."""
    prompt_id, frames = await _run(fake_comfy, "23_client_supplied_prompt_id")
    assert prompt_id == "my-own-id-0001"
    assert skeleton(frames) == skeleton(capture_frames("23_client_supplied_prompt_id"))
    image = fake_comfy.history[prompt_id]["outputs"]["2"]["images"][0]
    png = httpx.get(f"{fake_comfy.url}/view", params=image).content
    assert b'tEXtworkflow\x00{"note": "ui workflow here"}' in png
    assert b"tEXtprompt\x00" in png


async def _frames_of_one_run(ws: ClientConnection) -> list[Any]:
    """Frames up to the run's final ``status`` (queue_remaining 0)."""
    frames = []
    async with asyncio.timeout(COLLECT_TIMEOUT):
        while True:
            frames.append(await receive(ws))
            data = frames[-1]["data"]
            status = frames[-1]["type"] == "status"
            if status and data["status"]["exec_info"]["queue_remaining"] == 0:
                return frames


async def _assert_nothing_else(fake: FakeComfy, sockets: list[ClientConnection]) -> None:
    """Queue a held marker prompt: its status must be the next frame on every socket."""
    fake.pause()
    assert (await post_prompt(fake, load("01_empty_save", "request.json"))).status_code == 200
    marker = {"type": "status", "data": {"status": {"exec_info": {"queue_remaining": 1}}}}
    for ws in sockets:
        assert await receive(ws) == marker
        await ws.close()


async def test_observer_socket_only_sees_status(fake_comfy: FakeComfy) -> None:
    """Execution messages go to the owner's socket only (capture 17)."""
    observer, _ = await open_socket(fake_comfy, "observer")
    owner, _ = await open_socket(fake_comfy, "owner")
    await run_capture_request(fake_comfy, owner, "01_empty_save", "owner")
    seen = await _frames_of_one_run(observer)
    await _assert_nothing_else(fake_comfy, [observer, owner])
    expected = capture_frames("17_observer_vs_owner", "observer_ws.json")
    assert skeleton(seen) == skeleton(expected[1:])


async def test_prompt_without_client_id_broadcasts_progress_state(fake_comfy: FakeComfy) -> None:
    """Without client_id only status and progress_state reach sockets, to all (capture 18)."""
    sockets = [(await open_socket(fake_comfy, name))[0] for name in ("one", "two")]
    body = load("01_empty_save", "request.json")
    del body["client_id"]
    assert (await post_prompt(fake_comfy, body)).status_code == 200
    seen = [await _frames_of_one_run(ws) for ws in sockets]
    await _assert_nothing_else(fake_comfy, sockets)
    expected = capture_frames("18_no_client_id_broadcast", "owner_ws.json")
    assert [skeleton(frames) for frames in seen] == [skeleton(expected)] * 2


def test_misc_http_answers_match_capture(fake_comfy: FakeComfy) -> None:
    """Small routes answer as captured: empty history, unknown class, 404 folder, empty 200s."""
    by_request = {record["req"]: record for record in load("20_misc_http", "requests.json")}
    checks = [
        "GET /history/00000000-0000-0000-0000-000000000000",
        "GET /object_info/NoSuchNode",
        "GET /api/queue",
        "GET /models/nosuchfolder",
    ]
    for request in checks:
        method, path = request.split(" ", 1)
        response = httpx.request(method, fake_comfy.url + path)
        record = by_request[request]
        assert response.status_code == record["status"], request
        assert (response.json() if record["body"] != "" else response.text) == record["body"]
    for body in ({"unload_models": True, "free_memory": True}, {"clear": True}):
        path = "/free" if "free_memory" in body else "/queue"
        response = httpx.post(fake_comfy.url + path, json=body)
        assert (response.status_code, response.content) == (200, b"")
    broken = httpx.post(f"{fake_comfy.url}/history", content=b"not json")
    assert (broken.status_code, broken.text) == (500, by_request["POST /history"]["body"])
    assert httpx.get(f"{fake_comfy.url}/features").json() == load(".", "GET_features.json")
    assert httpx.get(f"{fake_comfy.url}/prompt").json() == load(".", "GET_prompt.json")


async def test_feature_flags_handshake_matches_capture(fake_comfy: FakeComfy) -> None:
    """The first-frame feature_flags get the captured reply and are recorded."""
    ws, frames = await open_socket(fake_comfy, "ff", {"supports_preview_metadata": True})
    await ws.close()
    assert skeleton(frames) == skeleton(capture_frames("19_feature_flags_handshake"))
    assert frames[1] == capture_frames("19_feature_flags_handshake")[1]
    assert fake_comfy.ws_feature_flags == {"ff": {"supports_preview_metadata": True}}


async def test_socket_without_client_id_gets_generated_sid(fake_comfy: FakeComfy) -> None:
    """Without ``clientId`` the first status carries a fresh 32-hex sid (capture 19b)."""
    ws, frames = await open_socket(fake_comfy)
    await ws.close()
    expected = load("19b_ws_without_clientid", "first_frame.json")
    assert skeleton(frames[0]) == skeleton(expected)
    assert len(frames[0]["data"]["sid"]) == len(expected["data"]["sid"]) == 32


@pytest.mark.parametrize(
    ("scenario", "flags", "event_type"),
    [
        ("21_previews_legacy_client_8189", None, 1),
        ("22_previews_feature_flag_client_8189", {"supports_preview_metadata": True}, 4),
    ],
)
async def test_previews_follow_the_negotiated_format(
    fake_comfy: FakeComfy, scenario: str, flags: dict[str, bool] | None, event_type: int
) -> None:
    """Sampler steps send type-4 previews to negotiating clients, type 1 to others."""
    fake_comfy.previews = True
    seeded = load(scenario, "request.json")
    seeded["prompt"]["3"]["inputs"]["seed"] += 1  # leaves 4-7 cached, as on the capture server
    ws, _ = await open_socket(fake_comfy, "pv", flags)
    try:
        await run_capture_request(fake_comfy, ws, scenario, "pv", prompt=seeded["prompt"])
        prompt_id, frames = await run_capture_request(fake_comfy, ws, scenario, "pv")
    finally:
        await ws.close()
    expected = capture_frames(scenario)
    assert kinds(frames) == kinds(expected)[1 + (flags is not None) :]
    binary = [frame for frame in frames if isinstance(frame, bytes)]
    assert {struct.unpack(">I", frame[:4])[0] for frame in binary} == {event_type}
    if event_type == 4:
        length = struct.unpack(">I", binary[0][4:8])[0]
        metadata = json.loads(binary[0][8 : 8 + length])
        real = next(frame for frame in expected if frame.get("binary"))["metadata"]
        assert metadata == {**real, "prompt_id": prompt_id}
        assert binary[0][8 + length :].startswith(b"\xff\xd8")
    else:
        assert struct.unpack(">I", binary[0][4:8])[0] == 1  # JPEG
