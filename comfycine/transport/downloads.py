"""Streamed, atomic, never-overwriting downloads of a job's outputs.

Files are named by us (``<template>-<job8>-<nn>.<ext>``), never by the server: a
server-given name only contributes a sanitised extension. Bytes go to ``*.part`` and
are published with a hard link, which fails instead of replacing an existing file.
"""

from __future__ import annotations

import os
import re
from datetime import date
from pathlib import Path

from ..errors import ComfycineError, DownloadFailed
from .local import ComfyClient
from .records import OutputRef

CHUNK_SIZE = 1 << 20
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
    candidate = final
    for attempt in range(2, 1000):
        try:
            os.link(part, candidate)
        except FileExistsError:
            candidate = final.with_name(f"{final.stem}-{attempt}{final.suffix}")
            continue
        except OSError:
            # Filesystems without hard links: exclusive create keeps the no-overwrite rule.
            try:
                with candidate.open("xb"):
                    pass
            except FileExistsError:
                candidate = final.with_name(f"{final.stem}-{attempt}{final.suffix}")
                continue
            os.replace(part, candidate)
            return candidate
        part.unlink()
        return candidate
    raise DownloadFailed(f"Too many files named like {final.name} in {final.parent}.")


async def download_output(client: ComfyClient, ref: OutputRef, destination: Path) -> Path:
    """Stream one output into ``destination`` (or a free variant of it); returns the path.

    Memory stays at one chunk whatever the file size. A short or failed transfer
    leaves nothing behind.
    """
    destination.parent.mkdir(parents=True, exist_ok=True)
    part = destination.with_name(destination.name + f".{os.getpid()}.part")
    written = 0
    try:
        async with client.stream_output(ref) as response:
            # A compressed body's length says nothing about the decoded bytes we write.
            encoded = response.headers.get("content-encoding", "identity") != "identity"
            expected = None if encoded else response.headers.get("content-length")
            with part.open("wb") as handle:
                async for chunk in response.aiter_bytes(CHUNK_SIZE):
                    handle.write(chunk)
                    written += len(chunk)
        if expected is not None and expected.isdigit() and int(expected) != written:
            raise DownloadFailed(
                f"Download of {ref.filename} stopped at {written} of {expected} bytes.",
                details={"filename": ref.filename, "written": written, "expected": int(expected)},
            )
        return _publish(part, destination)
    except DownloadFailed:
        raise
    except ComfycineError as exc:
        raise DownloadFailed(
            f"Cannot download {ref.filename}: {exc.message}",
            details={"filename": ref.filename, "subfolder": ref.subfolder, "cause": exc.code},
        ) from exc
    finally:
        part.unlink(missing_ok=True)
