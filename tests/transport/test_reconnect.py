"""The one reconnect policy: what counts as an outage, and how long it is waited out."""

from __future__ import annotations

import pytest

from comfycine.errors import ServerError, TargetUnreachable, ValidationFailed
from comfycine.transport.reconnect import (
    Link,
    OutageNotice,
    OutageTooLong,
    is_outage,
    outage_reason,
)


class FakeTime:
    """A clock that only moves when the link sleeps."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        """The current fake time."""
        return self.now

    async def sleep(self, seconds: float) -> None:
        """Advance the fake time instead of sleeping."""
        self.sleeps.append(seconds)
        self.now += seconds


def refused() -> TargetUnreachable:
    """The error of a refused connection."""
    return TargetUnreachable("refused", details={"reason": "refused"})


def test_every_way_of_not_reaching_the_server_is_an_outage() -> None:
    """Unreachable (any reason) and a gateway's 502/503/504 are outages; 500 and 400 are not."""
    assert is_outage(refused())
    assert is_outage(TargetUnreachable("dns", details={"reason": "dns"}))
    for status in (502, 503, 504):
        assert is_outage(ServerError("gateway", details={"status": status}))
    assert not is_outage(ServerError("bug", details={"status": 500}))
    assert not is_outage(ValidationFailed("bad graph"))
    assert not is_outage(RuntimeError("not ours"))


def test_outage_reason_names_the_failure() -> None:
    """The reason shown in the stderr line: the transport reason or the HTTP status."""
    assert outage_reason(refused()) == "refused"
    assert outage_reason(ServerError("x", details={"status": 502})) == "http_502"


async def test_a_short_outage_is_waited_out_with_a_notice_per_try() -> None:
    """Three failures then a success: the call succeeds, each wait was announced."""
    time = FakeTime()
    notices: list[OutageNotice] = []
    backs: list[float] = []
    link = Link(
        60, on_wait=notices.append, on_back=backs.append, clock=time.clock, sleep=time.sleep
    )
    failures = [refused(), refused(), refused()]

    async def call() -> str:
        if failures:
            raise failures.pop()
        return "answer"

    assert await link.call(call) == "answer"
    assert [n.attempts for n in notices] == [1, 2, 3]
    assert notices[0].seconds == 0 and notices[-1].seconds == sum(time.sleeps[:-1])
    assert backs == [sum(time.sleeps)] and not link.is_down


async def test_the_window_spent_raises_outage_too_long_with_the_last_error() -> None:
    """A server out of reach for the whole window: OutageTooLong carries the last failure."""
    time = FakeTime()
    link = Link(30, clock=time.clock, sleep=time.sleep)
    last = refused()

    async def call() -> None:
        raise last

    with pytest.raises(OutageTooLong) as info:
        await link.call(call)
    assert info.value.error is last
    assert 25 <= info.value.seconds <= 30
    assert sum(time.sleeps) <= 30


async def test_one_outage_spans_several_calls() -> None:
    """A failed call, then another: the outage clock keeps running across them."""
    time = FakeTime()
    link = Link(10, clock=time.clock, sleep=time.sleep)
    for _ in range(4):
        await link.failed(refused())
    assert link.is_down
    with pytest.raises(OutageTooLong):
        for _ in range(20):
            await link.failed(refused())
    assert link.outages == 1


async def test_a_non_outage_error_goes_up_at_once() -> None:
    """A validation error is not retried: it is the answer."""
    time = FakeTime()
    link = Link(60, clock=time.clock, sleep=time.sleep)

    async def call() -> None:
        raise ValidationFailed("bad graph")

    with pytest.raises(ValidationFailed):
        await link.call(call)
    assert time.sleeps == []
