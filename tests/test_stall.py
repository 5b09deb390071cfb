"""The stall watchdog: reported once, only while running, reset by any sign of life."""

from __future__ import annotations

from comfycine.stall import StallWatch, stall_text


class Clock:
    """A settable monotonic clock."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_silent_running_job_is_reported_once() -> None:
    """Past the threshold a running job is reported, and only once."""
    clock = Clock()
    watch = StallWatch(after=60, clock=clock)
    clock.now += 59
    assert not watch.check(running=True)
    clock.now += 2
    assert watch.check(running=True)
    assert not watch.check(running=True)
    assert watch.to_dict()["seconds"] == 61


def test_a_queued_job_is_never_stalled() -> None:
    """Waiting in the queue behind others is not a stall."""
    clock = Clock()
    watch = StallWatch(after=60, clock=clock)
    clock.now += 600
    assert not watch.check(running=False)


def test_a_sign_of_life_ends_the_stall_and_restarts_the_clock() -> None:
    """moved() says whether a reported stall ended, and the clock starts again."""
    clock = Clock()
    watch = StallWatch(after=60, clock=clock)
    clock.now += 61
    assert watch.check(running=True)
    assert watch.moved() is True
    assert watch.moved() is False
    clock.now += 30
    assert not watch.check(running=True)


def test_the_stall_line_names_the_job_and_the_forced_cancel() -> None:
    """The reported line says how long, where, that polling hides progress, and what to run."""
    text = stall_text("abcdef12-3456", 1260, "VAE Decode", polling=True)
    assert "abcdef12" in text and "21 min" in text and "VAE Decode" in text
    assert "while polling" in text and "comfycine cancel --force abcdef12" in text
