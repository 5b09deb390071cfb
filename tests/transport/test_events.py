"""The pure WebSocket frame parser, fed with frames recorded from real servers."""

from __future__ import annotations

import json
import struct

import pytest

from comfycine.transport import events as ev
from tests.captures import load, scenarios_with, ws_frames


@pytest.mark.parametrize("scenario", scenarios_with("ws_messages.json"))
def test_every_recorded_text_frame_parses(scenario: str) -> None:
    """Every text frame of every capture parses to a known event (nothing unknown there)."""
    for frame in ws_frames(scenario):
        kind = json.loads(frame)["type"]
        assert ev.parse_text(frame) is not None, kind


def test_success_sequence_ends_with_executing_null() -> None:
    """The recorded txt2img run ends with execution_success then executing node=None."""
    parsed = [ev.parse_text(f) for f in ws_frames("15_txt2img_tiny_sd15")]
    prompt_id = load("15_txt2img_tiny_sd15", "post_response.json")["body"]["prompt_id"]
    ends = [e for e in parsed if e is not None and ev.ends_prompt(e, prompt_id)]
    assert isinstance(ends[0], ev.ExecutionSuccess)
    assert isinstance(ends[-1], ev.Executing) and ends[-1].node is None


def test_sampler_progress_steps() -> None:
    """The tiny SD1.5 capture yields progress 1..5 of 5 on the KSampler node."""
    steps = [
        e
        for e in map(ev.parse_text, ws_frames("15_txt2img_tiny_sd15"))
        if isinstance(e, ev.Progress)
    ]
    assert [(s.value, s.max) for s in steps] == [(i, 5) for i in range(1, 6)]
    assert {s.node for s in steps} == {"3"}


def test_first_status_carries_sid() -> None:
    """The first status message after connecting carries the socket id."""
    first = ev.parse_text(ws_frames("01_empty_save")[0])
    assert isinstance(first, ev.Status) and first.sid == "cap-83ae927e"


def test_execution_error_keeps_payload() -> None:
    """A runtime error keeps node, type, message and traceback."""
    parsed = [ev.parse_text(f) for f in ws_frames("12_runtime_error_blur_pad")]
    error = next(e for e in parsed if isinstance(e, ev.ExecutionError))
    assert error.node_id == "2" and error.node_type == "ImageBlur"
    assert error.exception_type == "RuntimeError"
    assert "Padding size" in error.exception_message
    assert error.traceback and "traceback" in error.data


def test_reconnect_executing_has_no_prompt_id() -> None:
    """After reconnecting mid-run the server says which node runs, without a prompt id."""
    frames = ws_frames("18b_reconnect_same_clientid_midrun", "reconnected_ws.json")
    event = ev.parse_text(frames[1])
    assert isinstance(event, ev.Executing)
    assert event.prompt_id is None and event.node == "11"


def test_progress_state_nodes() -> None:
    """progress_state lists each started node with its state."""
    frame = next(f for f in ws_frames("15_txt2img_tiny_sd15") if '"progress_state"' in f)
    event = ev.parse_text(frame)
    assert isinstance(event, ev.ProgressState)
    assert event.nodes[0].node_id == "4" and event.nodes[0].state == "running"


def test_unknown_and_malformed_frames_are_ignored() -> None:
    """Unknown types, bad JSON and known types with wrong shapes parse to None."""
    assert ev.parse_text('{"type": "crystools.monitor", "data": {}}') is None
    assert ev.parse_text("not json") is None
    assert ev.parse_text("[1, 2]") is None
    assert ev.parse_text('{"type": "progress", "data": {"value": "x"}}') is None


def test_binary_preview_type_1() -> None:
    """A legacy preview (type 1) decodes its format and image bytes, with no prompt id."""
    frame = struct.pack(">II", 1, 1) + b"\xff\xd8jpegbytes"
    event = ev.parse_binary(frame)
    assert isinstance(event, ev.PreviewImage)
    assert event.mime_type == "image/jpeg" and event.image == b"\xff\xd8jpegbytes"
    assert event.prompt_id is None


def test_binary_preview_type_4_uses_recorded_head() -> None:
    """A type-4 preview's recorded header decodes to its prompt and node ids."""
    record = next(
        m["raw_binary"]
        for m in load("22_previews_feature_flag_client_8189", "ws_messages.json")
        if "raw_binary" in m
    )
    meta = json.dumps(record["metadata"]).encode()
    frame = struct.pack(">II", 4, len(meta)) + meta + b"\x89PNGdata"
    event = ev.parse_binary(frame)
    assert isinstance(event, ev.PreviewImage)
    assert event.prompt_id == record["metadata"]["prompt_id"]
    assert event.node_id == "3" and event.image == b"\x89PNGdata"
    assert bytes.fromhex(record["head_hex"])[:4] == struct.pack(">I", 4)


def test_binary_text_type_3() -> None:
    """A progress-text frame (type 3) gives the node id and the text."""
    frame = struct.pack(">II", 3, 2) + b"12" + "caf\u00e9".encode()
    assert ev.parse_binary(frame) == ev.ProgressText("12", "caf\u00e9")


def test_binary_garbage_is_ignored() -> None:
    """Short or unknown binary frames parse to None."""
    assert ev.parse_binary(b"\x00\x01") is None
    assert ev.parse_binary(struct.pack(">I", 9) + b"xx") is None
    assert ev.parse_frame(struct.pack(">II", 4, 50) + b"{") is None


def test_ends_prompt_only_for_matching_id() -> None:
    """Terminal events of other prompts do not end ours."""
    assert ev.ends_prompt(ev.ExecutionSuccess("a"), "a")
    assert not ev.ends_prompt(ev.ExecutionSuccess("b"), "a")
    assert not ev.ends_prompt(ev.Executing("a", "3"), "a")
    assert ev.ends_prompt(ev.Executing("a", None), "a")
    assert not ev.ends_prompt(ev.Executing(None, None), "a")
