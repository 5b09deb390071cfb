"""The stall watchdog: a running job that shows no sign of life for too long is reported.

"No sign of life" means no progress event, no queue change and no history change.
Video models have nodes that are silent for minutes (a VAE decode of 121 frames), so
the threshold is long (:data:`DEFAULT_STALL_AFTER`, a setting). A stalled job is only
*reported* — on stderr, as an ``--events`` event, by notification, and in ``wait`` and
``status`` — never cancelled: ``comfycine cancel --force JOB`` is the user's call.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

DEFAULT_STALL_AFTER = 1200.0


@dataclass
class StallWatch:
    """When the followed job last moved, and whether its stall was reported."""

    after: float = DEFAULT_STALL_AFTER
    clock: Callable[[], float] = time.monotonic
    last_change: float = field(default=0.0)
    # Wall-clock time of the last change, for the ledger and `status`.
    last_change_at: float = field(default=0.0)
    reported: bool = False

    def __post_init__(self) -> None:
        self.moved()
        self.reported = False

    def moved(self) -> bool:
        """The job showed life; True when it had been reported stalled (it recovered)."""
        was = self.reported
        self.last_change = self.clock()
        self.last_change_at = time.time()
        self.reported = False
        return was

    @property
    def silent_for(self) -> float:
        """Seconds since the job last moved."""
        return self.clock() - self.last_change

    def check(self, running: bool) -> bool:
        """True once, when a running job has been silent for ``after`` seconds."""
        if self.reported or not running or self.silent_for < self.after:
            return False
        self.reported = True
        return True

    def to_dict(self) -> dict[str, Any]:
        """``details.stalled``: since when (epoch seconds) and for how long."""
        return {"since": round(self.last_change_at, 3), "seconds": round(self.silent_for, 1)}


def stall_text(job_id: str, seconds: float, node: str | None, polling: bool) -> str:
    """The one line that reports a stall (stderr, notification)."""
    minutes = seconds / 60
    where = f" in {node}" if node else ""
    why = (
        " Live progress is unavailable while polling, so it may just be a long node."
        if polling
        else ""
    )
    return (
        f"Job {job_id[:8]} shows no progress{where} for {minutes:.0f} min: it may be stuck.{why} "
        f"It keeps running; stop it with: comfycine cancel --force {job_id[:8]}"
    )
