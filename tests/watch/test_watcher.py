"""The long-running watcher loop (not --once) against the fake ComfyUI: wake-ups and stops."""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path
from typing import Any

import pytest

from comfycine.errors import Interrupted
from comfycine.settings import resolve
from comfycine.watch import WatchOptions, watch_exchange
from comfycine.watch.completeness import Probes
from tests.cli_support import Isolation
from tests.fakecomfy.server import FakeComfy
from tests.watch.support import TICK, png_bytes

# Far longer than any test: only watchdog's wake-up can make the loop look again soon.
SLOW_RESCAN = 3600.0


@pytest.fixture
def settings(isolation: Isolation, fake_comfy: FakeComfy, monkeypatch: pytest.MonkeyPatch) -> Any:
    """Isolated settings pointed at the fake server."""
    monkeypatch.setenv("COMFYUI_URL", fake_comfy.url)
    return resolve()


def options(exchange: Path) -> WatchOptions:
    """A watcher that rescans only when watchdog wakes it (or a file is pending)."""
    return WatchOptions(
        exchange,
        poll_interval=TICK,
        polls=2,
        rescan_interval=SLOW_RESCAN,
        probes=Probes(lambda p: None, lambda p: None),
    )


async def until(events: list[dict[str, Any]], kind: str, count: int = 1) -> None:
    """Wait until ``count`` events of ``kind`` arrived."""
    async with asyncio.timeout(30):
        while sum(e["event"] == kind for e in events) < count:
            await asyncio.sleep(TICK)


async def test_new_file_is_noticed_and_cancel_stops_cleanly(
    settings: Any, isolation: Isolation
) -> None:
    """A file dropped after start is rendered (watchdog wake-up); cancel returns normally."""
    exchange = isolation.root / "exchange"
    seen: list[dict[str, Any]] = []
    task = asyncio.create_task(watch_exchange(settings, options(exchange), on_event=seen.append))
    await until(seen, "watch_started")
    (exchange / "input" / "testblur").mkdir()
    (exchange / "input" / "testblur" / "late.png").write_bytes(png_bytes())
    await until(seen, "item_succeeded")
    task.cancel()
    summary = await task
    assert (summary.succeeded, summary.stopped, summary.mode) == (1, "signal", "watch")
    assert (exchange / "output" / "late.testblur.png").is_file()


async def test_cancel_while_following_a_job_says_it_goes_on(
    settings: Any, isolation: Isolation, fake_comfy: FakeComfy
) -> None:
    """Stopped mid-job: Interrupted naming the input and job; the input stays in input/."""
    exchange = isolation.root / "exchange"
    (exchange / "input" / "testblur").mkdir(parents=True)
    (exchange / "input" / "testblur" / "a.png").write_bytes(png_bytes())
    fake_comfy.pause()
    seen: list[dict[str, Any]] = []
    task = asyncio.create_task(watch_exchange(settings, options(exchange), on_event=seen.append))
    await until(seen, "item_started")
    async with asyncio.timeout(30):
        while not fake_comfy.prompts_received:
            await asyncio.sleep(TICK)
    await asyncio.sleep(5 * TICK)
    task.cancel()
    with pytest.raises(Interrupted) as caught:
        await task
    assert caught.value.details["input"] == "testblur/a.png"
    assert caught.value.details["job"]
    assert "keeps running" in caught.value.message
    assert (exchange / "input" / "testblur" / "a.png").is_file()


async def test_unreadable_video_waits_unless_long_unchanged(
    settings: Any, isolation: Isolation
) -> None:
    """ffprobe failing keeps a fresh video waiting; one unchanged for an hour is taken."""
    exchange = isolation.root / "exchange"
    folder = exchange / "input" / "testblur"
    folder.mkdir(parents=True)
    (folder / "fresh.mov").write_bytes(b"\0" * 32)
    (folder / "old.mov").write_bytes(b"\0" * 32)
    hour_ago = time.time() - 3600
    os.utime(folder / "old.mov", (hour_ago, hour_ago))
    seen: list[dict[str, Any]] = []
    opts = options(exchange)
    opts.once, opts.once_wait = True, 5 * TICK
    opts.probes = Probes(lambda p: None, lambda p: False)
    summary = await watch_exchange(settings, opts, on_event=seen.append)
    assert summary.pending == ["testblur/fresh.mov"]
    waiting = [e for e in seen if e["event"] == "item_waiting"]
    assert [(e["input"], e["reason"]) for e in waiting] == [
        ("testblur/fresh.mov", "unreadable_container")
    ]
    assert (exchange / "failed" / "testblur" / "old.mov").is_file()
    assert (folder / "fresh.mov").is_file()


async def test_file_open_for_writing_is_left_alone(settings: Any, isolation: Isolation) -> None:
    """A stable file some process still writes is not taken (item_waiting open_for_writing)."""
    exchange = isolation.root / "exchange"
    (exchange / "input" / "testblur").mkdir(parents=True)
    (exchange / "input" / "testblur" / "a.png").write_bytes(png_bytes())
    seen: list[dict[str, Any]] = []
    opts = options(exchange)
    opts.once, opts.once_wait = True, 5 * TICK
    opts.probes = Probes(lambda p: True, lambda p: None)
    summary = await watch_exchange(settings, opts, on_event=seen.append)
    assert summary.pending == ["testblur/a.png"] and summary.succeeded == 0
    assert any(e.get("reason") == "open_for_writing" for e in seen)
    assert (exchange / "input" / "testblur" / "a.png").is_file()
