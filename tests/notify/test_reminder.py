"""The still-rendering reminder: one notice, once a job passes the threshold."""

from __future__ import annotations

import time
from typing import Any

from comfycine.notify import Notice, Notifier, remind_when_long
from comfycine.progress import JobProgress
from comfycine.transport.events import Event


class Recorder(Notifier):
    """A notifier that keeps what it was asked to send."""

    def __init__(self, fail: bool = False) -> None:
        super().__init__(command="recorder")
        self.sent: list[Notice] = []
        self.fail = fail

    async def send(self, notice: Notice) -> list[dict[str, Any]]:
        self.sent.append(notice)
        if self.fail:
            raise RuntimeError("channel exploded")
        return [{"channel": "command", "ok": True, "detail": "ran"}]


def progress(elapsed: float, phase: str = "running", job: str = "abcdef1234") -> JobProgress:
    """A snapshot of a job that started ``elapsed`` seconds ago."""
    return JobProgress(job_id=job, phase=phase, started=time.monotonic() - elapsed)


async def test_one_notice_once_past_the_threshold() -> None:
    """Nothing before ``after``; one notice at the first update past it; none after."""
    notifier = Recorder()
    seen: list[tuple[JobProgress, Event | None]] = []
    observer = remind_when_long(notifier, after=600, inner=lambda p, e: seen.append((p, e)))
    observer(progress(599), None)
    await observer.drain()
    assert notifier.sent == []
    observer(progress(601), None)
    observer(progress(700), None)
    outcomes = await observer.drain()
    assert len(notifier.sent) == 1
    assert notifier.sent[0].text.startswith("⏳ abcdef12 still rendering after 10 min")
    assert outcomes == [{"channel": "command", "ok": True, "detail": "ran"}]
    assert len(seen) == 3  # the inner observer saw every update


async def test_label_and_phases() -> None:
    """Only a queued or running job counts; the label names it."""
    notifier = Recorder()
    observer = remind_when_long(notifier, after=1, label="wan22-t2v")
    observer(progress(5, phase="downloading"), None)
    observer(progress(5, job=""), None)
    await observer.drain()
    assert notifier.sent == []
    observer(progress(5, phase="queued"), None)
    await observer.drain()
    assert notifier.sent[0].text.startswith("⏳ wan22-t2v abcdef12 still rendering")


async def test_failing_send_is_swallowed() -> None:
    """A reminder whose sending blows up does not reach the job."""
    notifier = Recorder(fail=True)
    observer = remind_when_long(notifier, after=0)
    observer(progress(1), None)
    assert observer.pending
    assert await observer.drain() == []
    assert not observer.pending


def test_no_loop_no_reminder_and_no_error() -> None:
    """Called outside an event loop, the observer passes updates on and sends nothing."""
    notifier = Recorder()
    observer = remind_when_long(notifier, after=0)
    observer(progress(10), None)
    assert notifier.sent == [] and not observer.fired


async def test_disabled_notifier_sends_nothing() -> None:
    """With no channel configured there is nothing to schedule."""
    observer = remind_when_long(Notifier(), after=0)
    observer(progress(10), None)
    assert not observer.pending and not observer.fired


async def test_a_stall_is_sent_to_the_phone_once_per_job() -> None:
    """A stalled notice goes out once per job; ordinary notices send nothing."""
    notifier = Recorder()
    observer = remind_when_long(notifier, after=600, label="wan22-t2v")
    line = "Job abcdef12 shows no progress for 20 min: it may be stuck."
    observer(JobProgress(job_id="abcdef1234", phase="notice", detail="link back"), None)
    observer(JobProgress(job_id="abcdef1234", phase="notice", detail=line, stalled=1200), None)
    observer(JobProgress(job_id="abcdef1234", phase="notice", detail=line, stalled=1300), None)
    await observer.drain()
    assert len(notifier.sent) == 1
    assert "wan22-t2v abcdef12 may be stuck" in notifier.sent[0].text
    assert line in notifier.sent[0].text
