"""Streamed, atomic, resumable, bounded downloads of a job's outputs.

Files are named by us (``<template>-<job8>-<nn>.<ext>``), never by the server: a
server-given name only contributes a sanitised extension. Bytes go to a ``*.part``
named after the writer's pid (:mod:`.partfiles`) and are published with a hard link,
which fails instead of replacing an existing file: a final file is never partial.

A cut transfer keeps its part. The next try (through a :class:`~.reconnect.Link`
outage, or a later ``wait``) asks for the rest with ``Range: bytes=N-``; a server that
answers 200 or a 206 for other bytes is read from the start again. A body never grows
past its announced ``Content-Length`` (or :data:`MAX_UNANNOUNCED` without one), nor
eats the disk's last :data:`DISK_RESERVE`.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import shutil
from datetime import date
from pathlib import Path
from typing import BinaryIO

import httpx

from ..errors import ComfycineError, DownloadFailed, OutputNotWritable
from ..files import publish_part
from .failures import unreachable_error
from .local import ComfyClient
from .partfiles import adopt_part
from .reconnect import GATEWAY_STATUSES, Link, is_outage
from .records import OutputRef

# Writes to the part are buffered in blocks of this size.
CHUNK_SIZE = 1 << 20
# Without an announced length (chunked or compressed), no render is bigger than this:
# an endless body stops here rather than at a full disk.
MAX_UNANNOUNCED = 64 << 30
# Room left free (5 % of a smaller disk) so the ledger can still record the job.
DISK_RESERVE = 64 << 20
# While the length is unknown, free space is looked at again after this many bytes.
FREE_CHECK_EVERY = 16 << 20
# Answers that cannot continue a part start it again; this many times, then it fails.
MAX_RESTARTS = 2
_CONTENT_RANGE = re.compile(r"^bytes (\d+)-(\d+)/(\d+|\*)$")
_DISK_FULL = frozenset(
    code for code in (errno.ENOSPC, getattr(errno, "EDQUOT", None)) if code is not None
)
_EXT = re.compile(r"^[A-Za-z0-9]{1,8}$")
_NAME_PART = re.compile(r"[^A-Za-z0-9._-]+")


def safe_extension(filename: str) -> str:
    """The extension of a server-given name, or ``bin`` if it is anything odd."""
    base = filename.replace("\\", "/").rsplit("/", 1)[-1]
    ext = base.rsplit(".", 1)[-1] if "." in base else ""
    return ext.lower() if _EXT.match(ext) else "bin"


def safe_stem(text: str) -> str:
    """A file-name-safe version of a template name (no separators, no dots first)."""
    stem = _NAME_PART.sub("-", text).strip("-.") or "job"
    return stem[:60]


def output_path(
    output_dir: Path, template: str, job_id: str, index: int, ref: OutputRef, day: date
) -> Path:
    """``OUTPUT_DIR/YYYY-MM-DD/<template>-<job8>-<nn>.<ext>`` (DESIGN.md, Files on disk)."""
    job8 = job_id.replace("-", "")[:8]
    name = f"{safe_stem(template)}-{job8}-{index:02d}.{safe_extension(ref.filename)}"
    return output_dir / day.isoformat() / name


def _publish(part: Path, final: Path) -> Path:
    """Move ``part`` to ``final`` without ever replacing a file; suffix -2, -3… if taken."""
    published = publish_part(part, final)
    if published is None:
        raise DownloadFailed(f"Too many files named like {final.name} in {final.parent}.")
    return published


class _Restart(Exception):
    """The answer cannot continue the part: read the file from its first byte again."""


def output_error(exc: OSError, folder: Path) -> OutputNotWritable:
    """The error for a file-system failure while writing an output into ``folder``."""
    name = errno.errorcode.get(exc.errno or 0, type(exc).__name__)
    details = {"folder": str(folder), "errno": name}
    if exc.errno in _DISK_FULL:
        return OutputNotWritable(
            f"The disk holding {folder} is full ({exc.strerror or name}).",
            code="disk_full",
            hint="Free some space on that disk, then: comfycine wait JOB",
            details=details,
        )
    why = exc.strerror or str(exc)
    blocking = _file_in_the_way(folder)
    if blocking is not None:
        details["file"] = str(blocking)
        why = f"{blocking} is a file, not a folder"
    return OutputNotWritable(f"Cannot write into {folder}: {why}.", details=details)


def _file_in_the_way(folder: Path) -> Path | None:
    """The file standing where ``folder`` or one of its parents should be, if any."""
    for path in (folder, *folder.parents):
        if path.exists():
            return None if path.is_dir() else path
    return None


def _check_room(folder: Path, needed: int) -> None:
    """Refuse to start (or go on) when ``needed`` more bytes would eat the reserve."""
    try:
        usage = shutil.disk_usage(folder)
    except OSError:
        return  # the write itself will say what is wrong
    reserve = min(DISK_RESERVE, usage.total // 20)
    if usage.free - needed < reserve:
        raise output_error(OSError(errno.ENOSPC, os.strerror(errno.ENOSPC)), folder)


def _resume_point(response: httpx.Response, offset: int) -> tuple[int, int | None]:
    """Where the body starts in the file, and the file's size when the answer says it.

    A 206 must continue exactly at ``offset``; a 200 is the whole file from byte 0.
    """
    if response.status_code == 206:
        match = _CONTENT_RANGE.match(response.headers.get("content-range", "").strip())
        if not offset or match is None or int(match[1]) != offset:
            raise _Restart
        if match[3] == "*":
            return offset, None
        total = int(match[3])
        if int(match[2]) + 1 != total:
            raise _Restart  # a slice that stops short of the end: not what we asked
        return offset, total
    if response.status_code != 200:
        raise DownloadFailed(
            f"The server answered HTTP {response.status_code} with no file.",
            details={"status": response.status_code},
        )
    return 0, None


def _open_part(part: Path, start: int) -> BinaryIO:
    """The part opened for writing at ``start`` (truncated there: nothing stale after)."""
    handle = part.open("r+b" if start and part.exists() else "wb", buffering=CHUNK_SIZE)
    handle.seek(start)
    handle.truncate()
    return handle


async def _transfer(client: ComfyClient, ref: OutputRef, part: Path, max_unannounced: int) -> None:
    """One request: the rest of ``part`` (or all of it). Returns once the part is whole."""
    offset = part.stat().st_size if part.exists() else 0
    headers = {"Range": f"bytes={offset}-"} if offset else None
    async with client.stream_output(ref, headers=headers) as response:
        start, total = _resume_point(response, offset)
        # A compressed body's length says nothing about the decoded bytes we write.
        encoded = response.headers.get("content-encoding", "identity") != "identity"
        length = response.headers.get("content-length", "")
        expected = total
        if not encoded and length.isdigit():
            if total is not None and start + int(length) != total:
                raise _Restart
            expected = start + int(length)
        limit = expected if expected is not None else max_unannounced
        _check_room(part.parent, 0 if expected is None else expected - start)
        position = checked = start
        with _open_part(part, start) as handle:
            # As received: a cut loses nothing that arrived (a 1 MiB chunker would).
            async for chunk in response.aiter_bytes():
                if position + len(chunk) > limit:
                    raise _too_large(ref, limit, announced=expected is not None)
                handle.write(chunk)
                position += len(chunk)
                if expected is None and position - checked >= FREE_CHECK_EVERY:
                    _check_room(part.parent, 0)
                    checked = position
            handle.flush()
            os.fsync(handle.fileno())  # published files must survive a power cut whole
    if expected is not None and position < expected:
        # The body ended early (a proxy or the server cut it): a dropped link, resumable.
        raise unreachable_error(client.base_url, "dropped")


def _too_large(ref: OutputRef, limit: int, *, announced: bool) -> DownloadFailed:
    said = f"the {limit} bytes it announced" if announced else f"{limit} bytes (no size given)"
    return DownloadFailed(
        f"The server sent more than {said} for {ref.filename}; the download was stopped.",
        details={"filename": ref.filename, "limit": limit, "announced": announced},
    )


def _failed(ref: OutputRef, exc: ComfycineError) -> DownloadFailed:
    details = {"filename": ref.filename, "subfolder": ref.subfolder, "cause": exc.code}
    for key in ("status", "reason"):
        if key in exc.details:
            details[key] = exc.details[key]
    return DownloadFailed(f"Cannot download {ref.filename}: {exc.message}", details=details)


def _retryable(exc: ComfycineError) -> bool:
    """An outage, or a storage host's gateway error (Comfy Cloud's signed URLs)."""
    return is_outage(exc) or exc.details.get("status") in GATEWAY_STATUSES


async def download_output(
    client: ComfyClient,
    ref: OutputRef,
    destination: Path,
    *,
    link: Link | None = None,
    max_unannounced: int = MAX_UNANNOUNCED,
) -> Path:
    """Stream one output into ``destination`` (or a free variant of it); returns the path.

    Memory stays at one chunk whatever the file size. A part left by a dead process
    for the same destination is resumed. With ``link``, a cut or unreachable server is
    waited out (resuming each time) until :class:`~.reconnect.OutageTooLong`; without
    it one failure ends the try. Either way the part stays for a later resume, and no
    final file exists unless whole. Raises :class:`DownloadFailed` (the file is not
    there, or came too large) and :class:`OutputNotWritable` (disk full, unwritable).
    """
    folder = destination.parent
    try:
        folder.mkdir(parents=True, exist_ok=True)
        part = adopt_part(destination)
    except OSError as exc:
        raise output_error(exc, folder) from exc
    restarts = 0
    try:
        while True:
            before = _size(part)
            try:
                await _transfer(client, ref, part, max_unannounced)
                if link is not None:
                    link.up()
                break
            except _Restart:
                restarts += 1
                part.unlink(missing_ok=True)
                if restarts > MAX_RESTARTS:
                    raise DownloadFailed(
                        f"The server's partial answers for {ref.filename} do not match "
                        "what was asked.",
                        details={"filename": ref.filename},
                    ) from None
            except OSError as exc:
                raise output_error(exc, folder) from exc
            except ComfycineError as exc:
                status = exc.details.get("status")
                if status == 416 and restarts < MAX_RESTARTS:
                    restarts += 1  # the part is longer than the file: not a prefix of it
                    part.unlink(missing_ok=True)
                    continue
                if "limit" in exc.details or status == 404:
                    part.unlink(missing_ok=True)  # bad bytes, or no file left to resume
                if link is None or not _retryable(exc):
                    if isinstance(exc, DownloadFailed | OutputNotWritable):
                        raise
                    raise _failed(ref, exc) from exc
                if _size(part) > before:
                    # The part grew: the link worked for a while. A server that answers
                    # and then cuts every time, with no progress, stays one outage.
                    link.up()
                await link.failed(exc)
        try:
            return _publish(part, destination)
        except OSError as exc:
            raise output_error(exc, folder) from exc
    finally:
        _drop_if_empty(part)


def _size(part: Path) -> int:
    try:
        return part.stat().st_size
    except OSError:
        return 0


def _drop_if_empty(part: Path) -> None:
    """An empty part holds nothing to resume: no clutter left behind."""
    with contextlib.suppress(OSError):
        if part.stat().st_size == 0:
            part.unlink()
