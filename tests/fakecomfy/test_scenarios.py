"""The fake ComfyUI's scenario knobs: failures and races a real server cannot stage on demand."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from websockets.exceptions import ConnectionClosed

from tests.captures import load
from tests.fakecomfy.server import FakeComfy
from tests.fakecomfy.wsutil import (
    COLLECT_TIMEOUT,
    SLOW,
    collect_until_done,
    kinds,
    open_socket,
    receive,
    run_capture_request,
)

OOM_TEXT = (
    "Allocation on device 0 would exceed allowed memory. (out of memory)\n"
    "This error means you ran out of memory on your GPU.\n\n"
    "TIPS: If the workflow worked before you might have accidentally set the batch_size "
    "to a large number."
)


def _graph(prefix: str, color: int = 0) -> dict[str, Any]:
    """EmptyImage → ImageInvert → SaveImage, unique per ``prefix``/``color``."""
    return {
        "1": {
            "class_type": "EmptyImage",
            "inputs": {"width": 8, "height": 8, "batch_size": 1, "color": color},
        },
        "2": {"class_type": "ImageInvert", "inputs": {"image": ["1", 0]}},
        "3": {"class_type": "SaveImage", "inputs": {"images": ["2", 0], "filename_prefix": prefix}},
    }


def _submit(fake: FakeComfy, prompt: dict[str, Any], **extra: Any) -> dict[str, Any]:
    response = httpx.post(f"{fake.url}/prompt", json={"prompt": prompt, **extra})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def _wait_for(ws: Any, kind: str, **data: Any) -> dict[str, Any]:
    """Receive until a ``kind`` message whose data contains ``data``."""
    async with asyncio.timeout(COLLECT_TIMEOUT):
        while True:
            frame = await receive(ws)
            if not isinstance(frame, dict) or frame["type"] != kind:
                continue
            if all(frame["data"].get(key) == value for key, value in data.items()):
                return frame


def test_queue_order_front_delete_and_numbers(fake_comfy: FakeComfy) -> None:
    """Numbers count every POST, ``front`` goes first, delete drops pending only (capture 13)."""
    fake_comfy.pause()
    rejected = httpx.post(f"{fake_comfy.url}/prompt", json={"client_id": "x"})
    first = _submit(fake_comfy, _graph("a"))
    second = _submit(fake_comfy, _graph("b"))
    front = _submit(fake_comfy, _graph("f"), front=True)
    queue = httpx.get(f"{fake_comfy.url}/queue").json()
    assert rejected.status_code == 400
    assert (first["number"], second["number"], front["number"]) == (1, 2, -3)
    assert queue["queue_pending"][0][1] == front["prompt_id"]
    assert all(len(item) == 5 for item in queue["queue_pending"])
    deleted = httpx.post(f"{fake_comfy.url}/queue", json={"delete": [second["prompt_id"], "nope"]})
    assert (deleted.status_code, deleted.content) == (200, b"")
    fake_comfy.resume()
    fake_comfy.wait_until_idle()
    history = fake_comfy.history
    assert list(history) == [front["prompt_id"], first["prompt_id"]]
    assert history[first["prompt_id"]]["prompt"][3]["create_time"] > 0


async def test_global_interrupt_stops_the_running_node(fake_comfy: FakeComfy) -> None:
    """``/interrupt`` cuts a slow node short: execution_interrupted, history status error."""
    fake_comfy.node_seconds = SLOW * 10
    ws, _ = await open_socket(fake_comfy, "int")
    prompt_id = _submit(fake_comfy, _graph("slow"), client_id="int")["prompt_id"]
    await _wait_for(ws, "executing", node="1")
    async with httpx.AsyncClient() as client:
        unrelated = await client.post(f"{fake_comfy.url}/interrupt", json={"prompt_id": "other"})
        await asyncio.sleep(SLOW)
        stopped = await client.post(f"{fake_comfy.url}/interrupt")
    frames = await collect_until_done(ws, prompt_id)
    await ws.close()
    assert (unrelated.status_code, stopped.status_code, stopped.content) == (200, 200, b"")
    assert kinds(frames) == ["execution_interrupted", "status", "executing"]
    assert frames[0]["data"] | {"timestamp": 0} == {
        "prompt_id": prompt_id,
        "node_id": "1",
        "node_type": "EmptyImage",
        "executed": [],
        "timestamp": 0,
    }
    status = fake_comfy.history[prompt_id]["status"]
    assert [message[0] for message in status["messages"]] == [
        "execution_start",
        "execution_cached",
        "execution_interrupted",
    ]


async def test_interrupt_with_prompt_id_targets_only_that_prompt(fake_comfy: FakeComfy) -> None:
    """An interrupt naming the running prompt stops it after the nodes already done."""
    fake_comfy.node_seconds = SLOW
    ws, _ = await open_socket(fake_comfy, "target")
    prompt_id = _submit(fake_comfy, _graph("t"), client_id="target")["prompt_id"]
    await _wait_for(ws, "executing", node="2")
    httpx.post(f"{fake_comfy.url}/interrupt", json={"prompt_id": prompt_id})
    frames = await collect_until_done(ws, prompt_id)
    await ws.close()
    interrupted = next(frame for frame in frames if frame["type"] == "execution_interrupted")
    assert (interrupted["data"]["node_id"], interrupted["data"]["executed"]) == ("2", ["1"])


async def test_history_race_holds_history_until_polled(fake_comfy: FakeComfy) -> None:
    """After execution_success, history answers ``{}`` N times; ``executing`` null comes after."""
    fake_comfy.history_delay_polls = 2
    ws, _ = await open_socket(fake_comfy, "race")
    prompt_id = _submit(fake_comfy, _graph("race"), client_id="race")["prompt_id"]
    await _wait_for(ws, "execution_success", prompt_id=prompt_id)
    url = f"{fake_comfy.url}/history/{prompt_id}"
    async with httpx.AsyncClient() as client:
        answers = [(await client.get(url)).json() for _ in range(3)]
    frames = await collect_until_done(ws, prompt_id)
    await ws.close()
    assert answers[:2] == [{}, {}]
    assert answers[2][prompt_id]["status"]["status_str"] == "success"
    assert kinds(frames) == ["status", "executing"]


async def test_history_race_gives_up_waiting_for_polls(fake_comfy: FakeComfy) -> None:
    """Without polls the held-back history is written after the time limit, then ``executing``."""
    fake_comfy.history_delay_polls = 5
    fake_comfy.history_delay_max_seconds = SLOW
    ws, _ = await open_socket(fake_comfy, "late")
    prompt_id = _submit(fake_comfy, _graph("late"), client_id="late")["prompt_id"]
    await collect_until_done(ws, prompt_id)
    await ws.close()
    assert prompt_id in httpx.get(f"{fake_comfy.url}/history/{prompt_id}").json()


async def test_dropped_sockets_do_not_stop_the_job(fake_comfy: FakeComfy) -> None:
    """``drop_sockets`` cuts the connection mid-job; the job still finishes into history."""
    fake_comfy.node_seconds = SLOW
    ws, _ = await open_socket(fake_comfy, "drop")
    prompt_id = _submit(fake_comfy, _graph("drop"), client_id="drop")["prompt_id"]
    await _wait_for(ws, "executing", node="1")
    fake_comfy.drop_sockets()
    with pytest.raises(ConnectionClosed):
        async with asyncio.timeout(COLLECT_TIMEOUT):
            while True:
                await receive(ws)
    assert fake_comfy.connected_clients == []
    fake_comfy.wait_until_idle()
    assert fake_comfy.history[prompt_id]["status"]["status_str"] == "success"


async def test_drop_after_counts_delivered_messages(fake_comfy: FakeComfy) -> None:
    """``drop_sockets_after(3)`` lets exactly three more messages through, then cuts."""
    ws, _ = await open_socket(fake_comfy, "count")
    fake_comfy.drop_sockets_after(3)
    prompt_id = _submit(fake_comfy, _graph("count"), client_id="count")["prompt_id"]
    received = []
    with pytest.raises(ConnectionClosed):
        async with asyncio.timeout(COLLECT_TIMEOUT):
            while True:
                received.append(await receive(ws))
    fake_comfy.wait_until_idle()
    assert kinds(received) == ["status", "status", "execution_start"]
    assert prompt_id in fake_comfy.history


async def test_reconnect_mid_run_gets_current_node(fake_comfy: FakeComfy) -> None:
    """Reconnecting with the same clientId yields ``executing {"node"}`` without prompt_id."""
    fake_comfy.node_seconds = SLOW * 3
    ws, _ = await open_socket(fake_comfy, "owner")
    prompt_id = _submit(fake_comfy, _graph("re"), client_id="owner")["prompt_id"]
    await _wait_for(ws, "executing", node="2")
    fake_comfy.drop_sockets()
    again, first = await open_socket(fake_comfy, "owner")
    current = await receive(again)
    rest = await collect_until_done(again, prompt_id)
    await again.close()
    recorded = load("18b_reconnect_same_clientid_midrun", "reconnected_ws.json")
    assert first[0]["data"]["sid"] == "owner"
    assert current == {"type": "executing", "data": {"node": "2"}}
    assert current.keys() == recorded[1]["raw"].keys()
    assert rest[-1]["data"] == {"node": None, "prompt_id": prompt_id}


def test_restart_loses_queue_running_job_and_history(fake_comfy: FakeComfy) -> None:
    """``restart`` forgets everything but the files; the job is in neither history nor queue."""
    done = _submit(fake_comfy, _graph("kept"))
    fake_comfy.wait_until_idle()
    fake_comfy.node_seconds = SLOW * 10
    lost = _submit(fake_comfy, _graph("lost"))
    url = fake_comfy.url
    fake_comfy.restart()
    fake_comfy.node_seconds = 0
    assert httpx.get(f"{url}/history/{lost['prompt_id']}").json() == {}
    assert httpx.get(f"{url}/history/{done['prompt_id']}").json() == {}
    assert httpx.get(f"{url}/queue").json() == {"queue_running": [], "queue_pending": []}
    again = _submit(fake_comfy, _graph("kept"))
    fake_comfy.wait_until_idle()
    image = fake_comfy.history[again["prompt_id"]]["outputs"]["3"]["images"][0]
    assert (again["number"], image["filename"]) == (0, "kept_00002_.png")


def test_restart_can_stay_down(fake_comfy: FakeComfy) -> None:
    """With ``down_seconds`` the port refuses connections until the server is back."""
    fake_comfy.restart(down_seconds=SLOW)
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{fake_comfy.url}/queue")
    fake_comfy.wait_until_up()
    assert httpx.get(f"{fake_comfy.url}/prompt").json() == {"exec_info": {"queue_remaining": 0}}


async def test_oom_next_reports_torch_out_of_memory(fake_comfy: FakeComfy) -> None:
    """``oom_next`` fails the next prompt with the exact real OOM type and message."""
    fake_comfy.oom_next(node_id="2")
    ws, _ = await open_socket(fake_comfy, "oom")
    prompt_id = _submit(fake_comfy, _graph("oom"), client_id="oom")["prompt_id"]
    frames = await collect_until_done(ws, prompt_id)
    await ws.close()
    error = next(frame for frame in frames if frame["type"] == "execution_error")["data"]
    assert (error["exception_type"], error["exception_message"]) == (
        "torch.OutOfMemoryError",
        OOM_TEXT,
    )
    assert (error["node_id"], error["node_type"], error["executed"]) == ("2", "ImageInvert", ["1"])
    real_entry = next(iter(load("12_runtime_error_blur_pad", "history.json").values()))
    assert error.keys() == real_entry["status"]["messages"][2][1].keys()
    status = fake_comfy.history[prompt_id]["status"]
    assert status["messages"][-1][1]["exception_message"] == OOM_TEXT


def test_fail_next_hits_the_first_executed_node_once(fake_comfy: FakeComfy) -> None:
    """``fail_next`` without a node fails the first node run, then the next prompt succeeds."""
    fake_comfy.fail_next("RuntimeError", "boom")
    failed = _submit(fake_comfy, _graph("f1"))
    fine = _submit(fake_comfy, _graph("f2"))
    fake_comfy.wait_until_idle()
    history = fake_comfy.history
    error = history[failed["prompt_id"]]["status"]["messages"][-1]
    assert error[0] == "execution_error"
    assert (error[1]["node_id"], error[1]["exception_message"]) == ("1", "boom\n")
    assert history[fine["prompt_id"]]["status"]["status_str"] == "success"


def test_answer_500_text_once_for_both_path_forms(fake_comfy: FakeComfy) -> None:
    """An injected failure answers aiohttp's plain-text 500 once, on /api or not."""
    expected = load("10d_malformed_json", "post_response.json")
    fake_comfy.answer_500_text("/queue")
    failed = httpx.get(f"{fake_comfy.url}/api/queue")
    after = httpx.get(f"{fake_comfy.url}/queue")
    assert (failed.status_code, failed.text) == (500, expected["body"])
    assert failed.headers["content-type"] == expected["headers"]["Content-Type"]
    assert after.status_code == 200


async def test_huge_output_is_served_with_length_and_ranges(fake_comfy: FakeComfy) -> None:
    """``huge_output_bytes`` makes the next SaveVideo that big; /view streams it and seeks."""
    size = 1 << 30
    fake_comfy.huge_output_bytes = size
    ws, _ = await open_socket(fake_comfy, "big")
    prompt_id, _ = await run_capture_request(fake_comfy, ws, "06_createvideo_savevideo", "big")
    await ws.close()
    video = fake_comfy.history[prompt_id]["outputs"]["3"]["images"][0]
    async with httpx.AsyncClient() as client:
        async with client.stream("GET", f"{fake_comfy.url}/view", params=video) as response:
            head = b""
            async for chunk in response.aiter_bytes():
                head += chunk
                if len(head) >= 8:
                    break
        tail = await client.get(
            f"{fake_comfy.url}/view", params=video, headers={"Range": f"bytes={size - 4}-"}
        )
    assert int(response.headers["content-length"]) == size
    assert response.headers["content-type"] == "video/mp4"
    assert head.startswith(bytes.fromhex("0000002066747970"))
    assert (tail.status_code, tail.content) == (206, b"\x00" * 4)
    assert fake_comfy.huge_output_bytes is None


def test_requests_and_prompts_are_recorded(fake_comfy: FakeComfy) -> None:
    """The request log and the received prompt bodies show what the client sent."""
    httpx.get(f"{fake_comfy.url}/api/system_stats")
    httpx.post(f"{fake_comfy.url}/api/prompt", json={"prompt": _graph("log"), "client_id": "c"})
    assert fake_comfy.requests == [("GET", "/api/system_stats"), ("POST", "/api/prompt")]
    assert fake_comfy.prompts_received == [{"prompt": _graph("log"), "client_id": "c"}]


def test_duplicate_prompt_id_overwrites_history(fake_comfy: FakeComfy) -> None:
    """Reusing a prompt_id is accepted and the history entry is replaced (capture 24)."""
    _submit(fake_comfy, _graph("dup", 1), prompt_id="same-id")
    fake_comfy.wait_until_idle()
    _submit(fake_comfy, _graph("dup", 2), prompt_id="same-id")
    fake_comfy.wait_until_idle()
    entry = fake_comfy.history["same-id"]
    assert entry["prompt"][0] == 1
    assert entry["outputs"]["3"]["images"][0]["filename"] == "dup_00002_.png"


async def test_sampler_steps_knob_and_json_system_stats(fake_comfy: FakeComfy) -> None:
    """``steps`` overrides KSampler's input; system_stats has the captured shape."""
    fake_comfy.steps = 2
    ws, _ = await open_socket(fake_comfy, "s")
    _, frames = await run_capture_request(fake_comfy, ws, "15_txt2img_tiny_sd15", "s")
    await ws.close()
    progress = [frame["data"]["value"] for frame in frames if frame["type"] == "progress"]
    stats = httpx.get(f"{fake_comfy.url}/system_stats").json()
    expected = load(".", "GET_system_stats.json")
    assert progress == [1, 2]
    assert stats.keys() == expected.keys()
    assert stats["system"].keys() == expected["system"].keys()
    assert stats["devices"][0].keys() == expected["devices"][0].keys()
