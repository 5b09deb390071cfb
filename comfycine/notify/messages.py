"""The notices comfycine sends: a job done or failed, a batch done, a job still rendering.

Plain text (no Markdown: server text would need escaping), one short first line that
reads well on a phone's lock screen, details after it. The attachment is a picture where
one exists, because a picture is read at a glance on a phone and a video is not: a
video's contact sheet, an image (its thumbnail when Telegram would not take it as a
photo), a sweep's grid; the text names the output itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ..sanitize import clean_text
from .telegram import Limits, photo_fits

if TYPE_CHECKING:
    from ..diagnose import Diagnosis
    from ..errors import ComfycineError
    from ..results import JobResult


@dataclass(frozen=True)
class Notice:
    """A message for every channel, and optionally a file for those that take one."""

    text: str
    attachment: Path | None = None


def format_duration(seconds: float | None) -> str:
    """``42 s``, ``3 min 12 s``, ``1 h 03 min``; empty for None."""
    if seconds is None:
        return ""
    whole = round(seconds)
    if whole < 60:
        return f"{max(whole, 0)} s"
    minutes, secs = divmod(whole, 60)
    if minutes < 60:
        return f"{minutes} min {secs:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


def job_done_notice(result: JobResult) -> Notice:
    """A finished job: template, short id, time taken, the outputs; the first attached."""
    took = f" in {format_duration(result.seconds)}" if result.seconds is not None else ""
    lines = [f"✅ {result.template or 'job'} {result.job[:8]} done{took} ({result.target})"]
    outputs = [str(path) for path in result.outputs]
    if outputs:
        more = f" (+{len(outputs) - 1} more)" if len(outputs) > 1 else ""
        lines.append(outputs[0] + more)
    attachment = _picture_of(outputs[0], result.previews) if outputs else None
    return Notice("\n".join(lines), attachment)


def _picture_of(output: str, previews: dict[str, dict[str, str]]) -> Path:
    """What to attach for ``output``: its sheet, itself or its thumbnail (see the module).

    Without previews (not made, or gone since) the output itself, as before they existed.
    """
    made = previews.get(output)
    if not isinstance(made, dict):
        return Path(output)
    sheet = _existing(made.get("sheet"))
    if sheet is not None:
        return sheet
    thumbnail = _existing(made.get("thumbnail"))
    if thumbnail is not None and not _fits_as_photo(Path(output)):
        return thumbnail
    return Path(output)


def _existing(path: object) -> Path | None:
    """``path`` when it names a file on disk."""
    if not isinstance(path, str) or not path:
        return None
    found = Path(path)
    return found if found.is_file() else None


def _fits_as_photo(image: Path) -> bool:
    """Whether Telegram would show ``image`` as a photo (bytes and shape, header only)."""
    try:
        size = image.stat().st_size
    except OSError:  # the output is gone: its thumbnail is all there is to show
        return False
    return photo_fits(image, size, Limits())


def job_failed_notice(
    error: ComfycineError, diagnosis: Diagnosis | None = None, *, label: str | None = None
) -> Notice:
    """A failed job: what failed, why, and the first fix of its diagnosis.

    ``diagnosis`` defaults to :func:`comfycine.diagnose.diagnose` of ``error``;
    ``label`` (a template name, an input file) names the job when given.
    """
    if diagnosis is None:
        from ..diagnose import diagnose

        diagnosis = diagnose(error)
    job = str(error.details.get("job") or "")[:8]
    name = " ".join(part for part in (label, job) if part) or "job"
    message = clean_text(error.message).strip().splitlines()
    lines = [f"❌ {name} failed: {message[0] if message else error.code}"]
    if diagnosis.cause and diagnosis.cause.strip() != error.message.strip():
        lines.append(clean_text(diagnosis.cause).strip())
    if diagnosis.top_fix:
        lines.append(f"Fix: {clean_text(diagnosis.top_fix).strip()}")
    return Notice("\n".join(lines))


def batch_done_notice(
    done: int,
    failed: int,
    total: int,
    seconds: float | None,
    *,
    label: str | None = None,
    kind: str = "batch",
    grid: str | None = None,
) -> Notice:
    """A finished batch: ``done/total`` succeeded, how many failed, the time it took.

    ``kind`` names it (``batch``, ``sweep``); ``grid``, a sweep's labelled grid of its
    takes, is attached when it is on disk.
    """
    took = f" in {format_duration(seconds)}" if seconds is not None else ""
    name = f"{kind} {label}" if label else kind
    mark = "✅" if failed == 0 and done == total else "⚠️"
    tail = f", {failed} failed" if failed else ""
    return Notice(f"{mark} {name}: {done}/{total} done{tail}{took}", _existing(grid))


def stalled_notice(label: str | None, job: str, text: str) -> Notice:
    """A running job with no sign of life for a long time (sent once per stall)."""
    name = " ".join(part for part in (label, job[:8]) if part) or "job"
    return Notice(f"⚠️ {name} may be stuck. {text}")


def still_rendering_notice(label: str | None, job: str, elapsed: float) -> Notice:
    """A job still going after a long time (sent once, so the filmmaker knows it lives)."""
    name = " ".join(part for part in (label, job[:8]) if part) or "job"
    return Notice(f"⏳ {name} still rendering after {format_duration(elapsed)}")
