"""Following a job over plain HTTP: how often to ask, and what the answers tell.

When the event socket cannot be had (a proxy that refuses the upgrade, a socket that
keeps dropping, ``--transport poll``), a job is followed by asking ``/history/{id}`` and
``/queue`` (Comfy Cloud: its job route) again and again. :class:`PollSchedule` spaces
the questions: quick at first and right after anything changed (a queued job starts, a
running one ends), then slower while nothing moves, up to :data:`MAX_INTERVAL` — a
ten-minute render costs about 30 requests a minute, and its end is seen within a few
seconds.
"""

from __future__ import annotations

from dataclasses import dataclass

from .local import ComfyClient
from .records import JobSighting

FIRST_INTERVAL = 0.25
MAX_INTERVAL = 4.0
GROWTH = 1.5


@dataclass
class PollSchedule:
    """The adaptive interval between two looks at a followed job."""

    first: float = FIRST_INTERVAL
    ceiling: float = MAX_INTERVAL
    growth: float = GROWTH
    _next: float = FIRST_INTERVAL

    def __post_init__(self) -> None:
        self._next = self.first

    def next_interval(self) -> float:
        """Seconds until the next look; each call lengthens the following one."""
        current = self._next
        self._next = min(self.ceiling, self._next * self.growth)
        return current

    def changed(self) -> None:
        """Something moved (queue position, phase): look again soon."""
        self._next = self.first


async def locate_job(client: ComfyClient, prompt_id: str) -> JobSighting:
    """One look: finished (with its history), queued or running (with the position), or absent.

    The client knows how its server answers that (:meth:`ComfyClient.locate`).
    """
    return await client.locate(prompt_id)
