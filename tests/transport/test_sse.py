"""A v2 job's server-sent events, read as the socket's events (transport/sse.py)."""

from __future__ import annotations

import json

import httpx
import pytest

from comfycine.errors import SocketRefused
from comfycine.transport import events as ev
from comfycine.transport.eventstream import StreamDropped
from comfycine.transport.sse import JobEventStream, StreamNotServed, parse_sse, to_events

JOB = "job-1"


def frame(kind: str, data: object) -> str:
    """One SSE message."""
    return f"event: {kind}\ndata: {json.dumps(data)}\n\n"


def test_parse_sse_joins_data_lines_and_skips_comments() -> None:
    """Comments are skipped, several data lines join with a newline, no data is None."""
    assert parse_sse([": keepalive", "event: status", "data: {", "data: }"]) == ("status", "{\n}")
    assert parse_sse([": only a comment"]) is None


def test_progress_becomes_start_node_and_steps() -> None:
    """The first progress starts the job; a new current node and its steps follow."""
    state: dict[str, object] = {}
    data = {"value": 0.4, "current_node": "3", "step": 4, "steps": 20}
    events = to_events(JOB, "progress", data, state)
    assert events == [ev.ExecutionStart(JOB), ev.Executing(JOB, "3"), ev.Progress(JOB, "3", 4, 20)]
    again = to_events(JOB, "progress", {**data, "step": 5}, state)
    assert again == [ev.Progress(JOB, "3", 5, 20)]


@pytest.mark.parametrize("status", ["succeeded", "failed", "canceled", "expired"])
def test_terminal_status_is_the_end_marker(status: str) -> None:
    """A terminal status ends the job for the runner, which then reads the job itself."""
    events = to_events(JOB, "status", {"status": status}, {"started": True})
    assert events == [ev.Executing(JOB, None)] and ev.ends_prompt(events[0], JOB)


def test_output_and_preview_events() -> None:
    """An output marks its node done; a preview carries its decoded bytes."""
    assert to_events(JOB, "output", {"node_id": "9"}, {}) == [ev.Executed(JOB, "9")]
    preview = to_events(
        JOB, "preview", {"node_id": "3", "content_type": "image/jpeg", "data_base64": "AAE="}, {}
    )
    assert preview == [ev.PreviewImage("image/jpeg", b"\x00\x01", JOB, "3")]


def stream(handler: httpx.MockTransport) -> JobEventStream:
    """A stream over a mock server."""
    http = httpx.AsyncClient(base_url="http://v2.test", transport=handler)
    return JobEventStream(http, f"/api/v2/jobs/{JOB}/events", JOB, "box")


async def test_stream_reads_events_then_drops_at_its_end() -> None:
    """Frames come out as events in order; the end of the stream is a StreamDropped."""
    body = frame("status", {"status": "running"}) + frame("status", {"status": "succeeded"})
    transport = httpx.MockTransport(
        lambda r: httpx.Response(200, text=body, headers={"content-type": "text/event-stream"})
    )
    events = stream(transport)
    await events.connect()
    assert await events.recv() == ev.ExecutionStart(JOB)
    assert await events.recv() == ev.Executing(JOB, None)
    with pytest.raises(StreamDropped):
        await events.recv()
    await events.close()


async def test_501_is_not_served_for_good() -> None:
    """501 not_implemented: a permanent refusal (poll, and do not ask every minute)."""
    body = {"error": {"code": "not_implemented", "message": "no SSE"}}
    events = stream(httpx.MockTransport(lambda r: httpx.Response(501, json=body)))
    with pytest.raises(StreamNotServed) as info:
        await events.connect()
    assert info.value.details["permanent"] is True


async def test_a_page_instead_of_a_stream_is_refused() -> None:
    """A 200 that is not text/event-stream (a buffering proxy's page) is a refusal."""
    events = stream(httpx.MockTransport(lambda r: httpx.Response(200, text="<html>")))
    with pytest.raises(SocketRefused) as info:
        await events.connect()
    assert not isinstance(info.value, StreamNotServed)
