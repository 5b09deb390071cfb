"""Polling a job over HTTP: the adaptive interval, and where one look finds the job."""

from __future__ import annotations

import json
from typing import Any

import httpx

from comfycine.transport import ComfyClient
from comfycine.transport.polling import MAX_INTERVAL, PollSchedule, locate_job

JOB = "11111111-2222-3333-4444-555555555555"


def test_interval_grows_to_a_ceiling_and_resets_on_change() -> None:
    """Quick at first, slower while nothing moves, quick again after a change."""
    schedule = PollSchedule()
    first = schedule.next_interval()
    intervals = [schedule.next_interval() for _ in range(20)]
    assert intervals[0] > first and max(intervals) == MAX_INTERVAL
    schedule.changed()
    assert schedule.next_interval() == first


def client_for(history: dict[str, Any], running: list[str], pending: list[str]) -> ComfyClient:
    """A client whose server answers /history and /queue as given (shapes of the captures)."""

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.startswith("/history/"):
            return httpx.Response(200, json=history)
        if request.url.path == "/queue":
            body = {
                "queue_running": [[0, pid, {}, {}, []] for pid in running],
                "queue_pending": [[i + 1, pid, {}, {}, []] for i, pid in enumerate(pending)],
            }
            return httpx.Response(200, content=json.dumps(body))
        return httpx.Response(404)

    return ComfyClient("http://comfy.test", transport=httpx.MockTransport(handler))


async def test_locate_finds_a_finished_job_with_its_history() -> None:
    """History first: a finished job comes back with its entry."""
    entry = {JOB: {"status": {"status_str": "success", "completed": True}, "outputs": {}}}
    async with client_for(entry, [], []) as client:
        sighting = await locate_job(client, JOB)
    assert sighting.state == "finished" and sighting.history is not None


async def test_locate_tells_running_from_queued_with_the_position() -> None:
    """Running is position 0; queued behind one running and one pending is position 2."""
    async with client_for({}, [JOB], []) as client:
        assert (await locate_job(client, JOB)).state == "running"
    async with client_for({}, ["other"], ["another", JOB]) as client:
        sighting = await locate_job(client, JOB)
    assert sighting.state == "queued" and sighting.position == 2


async def test_locate_reports_an_unknown_job_as_absent() -> None:
    """Neither in history nor in the queue: absent (the caller decides if it is lost)."""
    async with client_for({}, ["other"], []) as client:
        assert (await locate_job(client, JOB)).state == "absent"
