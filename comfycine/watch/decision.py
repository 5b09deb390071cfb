"""The restart-safe decision: what the ledger says to do with an input.

Every job the watcher submits carries an item key (template + relative path + content
hash). Reading the jobs of a key tells whether the input was rendered already, whether
a job is still going on the server (its watcher was killed), or whether a crash cut it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import PurePosixPath

from ..errors import CloudAccountError, ComfycineError, OutputNotWritable, TargetUnreachable
from ..ledger import JobRecord

KEY_PREFIX = "watch:"
# A job cut by a crash (the server restarted, the watcher died before posting it) is
# run this many more times before its input goes to failed/.
MAX_CRASH_RERUNS = 1


def item_key(template: str, rel: PurePosixPath, digest: str) -> str:
    """The ledger key of an input: template + relative path + content hash."""
    text = f"{template}\n{rel.as_posix()}\n{digest}"
    return KEY_PREFIX + hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Decision:
    """What to do with an input (see :func:`decide`)."""

    action: str  # run | resume | done | fail
    record: JobRecord | None = None
    reruns: int = 0


def handled(record: JobRecord) -> bool:
    """True once the watcher filed the input of this job (done or failed)."""
    return bool((record.extra.get("watch") or {}).get("handled"))


def _transient(record: JobRecord) -> bool:
    error = record.error or {}
    return error.get("exit") in (3, 7) or error.get("code") == "ledger_unavailable"


def decide(history: Sequence[JobRecord]) -> Decision:
    """What to do with an input, from the ledger's jobs for its key (newest first).

    ``done``: a job succeeded (never rendered twice). ``resume``: a job is still queued
    or running (its watcher died). ``fail``: the last attempt failed for a reason of its
    own, or crashes used up the rerun. ``run``: nothing yet, a rerun after a crash, or a
    retry of an input moved back from ``failed/``. Attempts that failed only because the
    server was unreachable do not count.
    """
    for record in history:
        if record.status == "succeeded":
            return Decision("done", record)
    current: list[JobRecord] = []
    for record in history:
        if handled(record):
            break  # failed and filed before; the file was moved back: a fresh try
        current.append(record)
    for record in current:
        if not record.is_terminal:
            return Decision("resume", record)
    counted = [r for r in current if not _transient(r)]
    crashes = [r for r in counted if r.status == "lost"]
    failures = [r for r in counted if r.status != "lost"]
    if failures:
        return Decision("fail", failures[0])
    if len(crashes) > MAX_CRASH_RERUNS:
        return Decision("fail", crashes[0])
    return Decision("run", None, reruns=len(crashes))


def is_transient(error: ComfycineError) -> bool:
    """Trouble that is not the file's fault: keep the file and try again later.

    A full disk or unwritable output folder counts: the job stays rendered and is
    collected once there is room.
    """
    return isinstance(error, TargetUnreachable | CloudAccountError | OutputNotWritable) or (
        error.code == "ledger_unavailable"
    )
