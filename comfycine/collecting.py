"""Collecting a job's outputs: once, whoever asks, and nothing lost when it breaks.

A job that succeeded on its server is *rendered*; it is *succeeded* once its outputs
are on disk. :func:`collect_outputs` is the one place that downloads them (``generate``,
``wait``, ``batch`` and ``watch`` alike):

* one collector per job across processes (a lock file in the ledger's folder): a second
  ``wait`` of the same job waits for the first, then returns the same paths;
* outputs already on disk are kept, only the missing ones are downloaded (resuming
  their ``.part`` files);
* any failure (the link gave up, a file gone from the server, a full disk, the
  caller's deadline) leaves the job ``rendered`` in the ledger, with what is on disk,
  and the error names the job and the ``comfycine wait`` that finishes the download.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import os
import re
import sys
import time
from collections.abc import AsyncIterator, Callable
from datetime import date
from pathlib import Path

from .errors import ComfycineError, OutputNotWritable, TargetUnreachable, recordable
from .journal import Journal
from .ledger import JobRecord
from .ledger import needs_collection as needs_collection  # re-exported: its old home
from .transport import ComfyClient, OutputRef
from .transport.downloads import download_output, output_path
from .transport.partfiles import sweep_stale_parts
from .transport.reconnect import Link, OutageTooLong

logger = logging.getLogger(__name__)

# Lock files live in DATA_DIR/locks, one per bucket of job ids (not one per job: no
# file to clean up per job, and two jobs rarely share a bucket).
LOCK_BUCKETS = 256
# How often a second collector tries the lock again (it waits for a download).
LOCK_POLL = 0.05

OnFile = Callable[[OutputRef], None]
# Called with each downloaded file: writes the recipe into it (takes.stamp).
Stamp = Callable[[Path], None]

if sys.platform == "win32":
    import msvcrt

    def _try_lock(fd: int) -> bool:
        try:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        return True

    def _unlock(fd: int) -> None:
        with contextlib.suppress(OSError):
            msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)

else:
    import fcntl

    def _try_lock(fd: int) -> bool:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        return True

    def _unlock(fd: int) -> None:
        fcntl.flock(fd, fcntl.LOCK_UN)


def lock_path(data_dir: Path, job_id: str) -> Path:
    """The lock file that serialises the collectors of ``job_id``."""
    bucket = int(hashlib.sha256(job_id.encode()).hexdigest()[:8], 16) % LOCK_BUCKETS
    return data_dir / "locks" / f"collect-{bucket:03d}.lock"


@contextlib.asynccontextmanager
async def job_lock(data_dir: Path, job_id: str) -> AsyncIterator[None]:
    """Hold the cross-process collection lock of one job.

    Waiting polls a non-blocking lock, so the caller's deadline (or Ctrl-C) can end
    it. A lock that cannot be created (odd file system) is skipped, not fatal: the
    worst case is then a second copy, as before locks existed.
    """
    path = lock_path(data_dir, job_id)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    except OSError as exc:
        logger.info("collecting %s without a lock: %s", job_id, exc)
        yield
        return
    try:
        while not _try_lock(fd):
            await asyncio.sleep(LOCK_POLL)
        try:
            yield
        finally:
            _unlock(fd)
    finally:
        os.close(fd)


def job8(job_id: str) -> str:
    """The short id used in output file names (hex digits, no dashes)."""
    return job_id.replace("-", "")[:8]


def _index_pattern(job_id: str) -> re.Pattern[str]:
    # <template>-<job8>-<nn>[-k].<ext>: -k when the name was taken (downloads._publish).
    return re.compile(rf"-{re.escape(job8(job_id))}-(\d+)(?:-\d+)?\.[A-Za-z0-9]+$")


def outputs_on_disk(record: JobRecord, count: int) -> dict[int, Path]:
    """The recorded outputs still on disk, by their 1-based index in the job's refs."""
    pattern = _index_pattern(record.id)
    found: dict[int, Path] = {}
    existing = [Path(p) for p in record.outputs if Path(p).is_file()]
    for path in existing:
        match = pattern.search(path.name)
        if match and 1 <= int(match[1]) <= count:
            found.setdefault(int(match[1]), path)
    if not found and existing and len(record.outputs) == count:
        # Names that say nothing of the index (written by hand): the order does.
        found = {i: Path(p) for i, p in enumerate(record.outputs, 1) if Path(p).is_file()}
    return found


def output_refs(record: JobRecord) -> list[OutputRef]:
    """The files of a recorded job to download (``type: output``), in history order."""
    refs = []
    for item in record.remote_outputs:
        if not isinstance(item, dict) or not isinstance(item.get("filename"), str):
            continue
        ref = OutputRef(
            node=str(item.get("node") or ""),
            kind=str(item.get("kind") or "images"),
            filename=item["filename"],
            subfolder=str(item.get("subfolder") or ""),
            type=str(item.get("type") or "output"),
            animated=bool(item.get("animated")),
            asset_id=str(item.get("asset_id") or ""),
        )
        if ref.type == "output":
            refs.append(ref)
    return refs


async def collect_outputs(
    client: ComfyClient,
    journal: Journal,
    record: JobRecord,
    refs: list[OutputRef],
    *,
    output_dir: Path,
    link: Link | None = None,
    on_file: OnFile | None = None,
    stamp: Stamp | None = None,
) -> list[Path]:
    """Download the outputs of a job that succeeded on its server; their paths, in order.

    ``stamp`` is called on each file downloaded (the recipe written into it).

    Holds the job's lock (waiting for another collector first), keeps the outputs
    already on disk, downloads the others and records each in the ledger as it lands.
    On any failure, the job is left ``rendered`` (``remote_outputs`` and what is on
    disk recorded) and the error, naming the job, goes up; cancellation goes up as is.
    The caller marks the job ``succeeded``.
    """
    try:
        async with job_lock(journal.path.parent, record.id):
            current = journal.ledger.get(record.id) or record
            paths = outputs_on_disk(current, len(refs))
            day = date.fromtimestamp(record.created_at or time.time())
            template = record.template or "job"
            for index, ref in enumerate(refs, start=1):
                if index in paths:
                    continue
                target = output_path(output_dir, template, record.id, index, ref, day)
                if target.is_file():
                    # Published (whole: finals never are partial) by a collector that
                    # died before recording it; a second copy would be the -2 file.
                    paths[index] = target
                else:
                    if on_file is not None:
                        on_file(ref)
                    paths[index] = await download_output(client, ref, target, link=link)
                    if stamp is not None:
                        # A thread: a video's recipe is written by remuxing it.
                        await asyncio.to_thread(stamp, paths[index])
                await journal.update(record.id, outputs=[str(paths[i]) for i in sorted(paths)])
            _sweep(journal, output_dir / day.isoformat())
            return [paths[i] for i in sorted(paths)]
    except BaseException as exc:
        error: ComfycineError | None = None
        if isinstance(exc, OutageTooLong):
            error = _lost_link(client, record, exc)
        elif isinstance(exc, ComfycineError):
            error = _named(exc, record)
        await _keep_rendered(journal, record, refs, error)
        if error is None or error is exc:
            raise  # cancelled (deadline, Ctrl-C), a bug, or the error now naming the job
        raise error from exc


async def collect_rendered(
    client: ComfyClient,
    journal: Journal,
    record: JobRecord,
    *,
    output_dir: Path,
    link: Link | None = None,
    on_file: OnFile | None = None,
    stamp: Stamp | None = None,
) -> JobRecord:
    """Finish a :func:`needs_collection` job from its recorded outputs; mark it succeeded.

    Asks the server nothing but the files: it works after a restart that wiped the
    server's history (the files stay in its output folder).
    """
    paths = await collect_outputs(
        client,
        journal,
        record,
        output_refs(record),
        output_dir=output_dir,
        link=link,
        on_file=on_file,
        stamp=stamp,
    )
    # A job from an older version recorded failed: it did render; drop that error.
    return await journal.mark(record.id, "succeeded", outputs=[str(p) for p in paths], error=None)


async def _keep_rendered(
    journal: Journal, record: JobRecord, refs: list[OutputRef], error: ComfycineError | None
) -> None:
    """Record the job ``rendered`` with what is on disk (unless another collector won).

    ``error`` (why the download stopped) is recorded for ``status`` and ``debug``.
    """
    try:
        current = journal.ledger.get(record.id) or record
        if current.status == "succeeded" and len(outputs_on_disk(current, len(refs))) == len(refs):
            return
        remote = current.remote_outputs or [ref.to_dict() for ref in refs]
        on_disk = outputs_on_disk(current, len(refs))
        await journal.mark(
            record.id,
            "rendered",
            remote_outputs=remote,
            outputs=[str(on_disk[i]) for i in sorted(on_disk)],
            error=recordable(error) if error is not None else current.error,
        )
    except Exception as exc:  # the ledger may be on the disk that just filled up
        logger.warning("could not record job %s as rendered: %s", record.id, exc)


def _named(error: ComfycineError, record: JobRecord) -> ComfycineError:
    """The error with the job it belongs to and the wait that finishes the download."""
    short = record.id[:8]  # a prefix `wait` resolves
    error.details.setdefault("job", record.id)
    error.details["rendered"] = True
    if isinstance(error, OutputNotWritable):
        if error.code == "disk_full":
            first = "Free some space on that disk"
        elif error.details.get("file"):
            first = f"Move {error.details['file']} away (or set COMFYCINE_OUTPUT_DIR)"
        else:
            first = "Make the folder writable (or set COMFYCINE_OUTPUT_DIR to another one)"
        error.hint = f"{first}, then finish the download: comfycine wait {short}"
    elif error.details.get("status") == 404:
        error.hint = f"Check the server's output folder still has it, then: comfycine wait {short}"
    else:
        error.hint = f"Finish the download with: comfycine wait {short}"
    if short not in error.message:
        after = (
            "the server no longer has that file"
            if error.details.get("status") == 404
            else "its outputs wait on the server"
        )
        error.message = f"{error.message} Job {short} rendered fine; {after}."
        error.args = (error.message,)
    return error


def _lost_link(client: ComfyClient, record: JobRecord, outage: OutageTooLong) -> TargetUnreachable:
    """Exit 3 for a download that outlived the outage window: the job is not lost."""
    short = record.id[:8]  # a prefix `wait` resolves
    reason = str(outage.error.details.get("reason") or outage.error.code)
    return TargetUnreachable(
        f"Lost contact with {client.base_url} for {outage.seconds:.0f} s while downloading "
        f"the outputs of job {short} ({reason}); it rendered fine, its outputs wait on the "
        "server.",
        hint=f"Download them once the link is back: comfycine wait {short}",
        details={
            "job": record.id,
            "url": client.base_url,
            "reason": reason,
            "submitted": True,
            "rendered": True,
            "outage_seconds": round(outage.seconds, 1),
        },
    )


def _sweep(journal: Journal, folder: Path) -> None:
    """Delete stale parts in ``folder``, sparing those of jobs still to be collected."""
    name = re.compile(r"-([0-9a-fA-F]{8})-\d+(?:-\d+)?\.[A-Za-z0-9]+$")

    def pending(final: str) -> bool:
        match = name.search(final)
        if match is None:
            return False
        try:
            other = journal.ledger.find(match[1])
        except ComfycineError as exc:
            return exc.code != "unknown_job"  # ambiguous: keep it, to be safe
        return other.status != "succeeded"

    try:
        sweep_stale_parts(folder, keep=pending)
    except OSError as exc:
        logger.info("could not sweep %s: %s", folder, exc)
