"""QC of a delivered result against its source clip, and the QC report file.

:func:`check` decodes the delivered file once (:func:`~comfycine.media.scan.scan`) and
reports, each with a stable ``code``:

- ``decode_error``: it does not decode to its last frame;
- ``frame_count``: it has another frame count than the clip;
- ``frame_rate``: its rate is not the clip's (a PNG sequence has none to check);
- ``black`` / ``frozen``: a black or frozen stretch at least the threshold long that the
  source does not have. The source's own fade or static shot is no problem: a stretch
  the source scan covers (give or take :data:`SLACK_SECONDS` at its ends) is listed in
  ``matched`` instead; what the source does not cover counts only when that part alone
  reaches the threshold.

The ``source_scan`` must number frames as the delivery does: a scan of the clip's pull
(frame 0 = the clip's first frame), not of the whole media file.

Any problem fails the result. Otherwise what the fit or the delivery changed (a trim,
a pad, a retime, padding to an even size, audio left out) makes it ``warnings``: a
length never changes silently. Else it ``passed``.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

from comfycine.media.deliver import Delivered
from comfycine.media.errors import MediaError
from comfycine.media.fit import FitPlan
from comfycine.media.probe import probe
from comfycine.media.scan import FrameScan, Stretch, scan
from comfycine.media.timecode import rate_text

SLACK_SECONDS = 0.125  # a render's fade may start or end a few frames off the source's
REPORT_VERSION = 1


@dataclass
class QcReport:
    """The QC of one delivered result."""

    path: Path
    status: str  # "passed" | "warnings" | "failed"
    frames: int  # frames that decoded
    expected_frames: int
    rate: Fraction  # the clip's
    problems: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # what the fit and delivery changed
    matched: list[dict[str, Any]] = field(default_factory=list)  # stretches as in the source
    name: str | None = None
    scan: FrameScan | None = None

    def to_dict(self) -> dict[str, Any]:
        """The report for JSON (the envelope and the QC report file)."""
        return {
            "name": self.name,
            "path": str(self.path),
            "status": self.status,
            "frames": self.frames,
            "expected_frames": self.expected_frames,
            "rate": str(self.rate),
            "problems": self.problems,
            "notes": list(self.notes),
            "matched": self.matched,
        }


def check(
    delivered: Delivered,
    *,
    frames: int,
    rate: Fraction,
    source_scan: FrameScan | None,
    fit: FitPlan,
    black_seconds: float = 0.5,
    frozen_seconds: float = 1.0,
    name: str | None = None,
) -> QcReport:
    """Check ``delivered`` against its clip of ``frames`` at ``rate``; never raises for
    what it finds (a file that does not open is a ``decode_error`` problem)."""
    report = QcReport(delivered.path, "passed", 0, frames, rate, name=name)
    report.notes.extend([*fit.notes, *delivered.notes])
    try:
        found = _scan(delivered, rate, black_seconds, frozen_seconds)
    except MediaError as exc:
        report.problems.append({"code": "decode_error", "message": exc.message})
        return _finish(report)
    report.scan, report.frames = found, found.frames
    if not found.decoded_to_end:
        report.problems.append(
            {"code": "decode_error", "frames": found.frames,
             "message": f"it does not decode to its last frame: {found.error}"}
        )  # fmt: skip
    if found.frames != frames:
        report.problems.append(
            {"code": "frame_count", "frames": found.frames, "expected": frames,
             "message": f"{found.frames} frames for a {frames}-frame clip"}
        )  # fmt: skip
    if delivered.sequence is None:
        _check_rate(report, delivered.path, rate)
    limits = {"black": black_seconds, "frozen": frozen_seconds}
    for stretch in [*found.black, *found.frozen]:
        _judge(report, stretch, source_scan, math.ceil(limits[stretch.kind] * rate))
    return _finish(report)


def _scan(delivered: Delivered, rate: Fraction, black: float, frozen: float) -> FrameScan:
    if delivered.sequence is None:
        return scan(delivered.path, rate=rate, black_seconds=black, frozen_seconds=frozen)
    folder, prefix, digits, suffix = delivered.sequence
    pattern = folder / f"{prefix}%0{digits}d{suffix}"
    return scan(
        pattern, rate=rate, black_seconds=black, frozen_seconds=frozen,
        start_number=delivered.first_number,
    )  # fmt: skip


def _check_rate(report: QcReport, path: Path, rate: Fraction) -> None:
    with contextlib.suppress(MediaError):  # a file that does not open: decode_error says it
        have = probe(path).rate
        if have != rate:
            report.problems.append(
                {"code": "frame_rate", "rate": str(have), "expected": str(rate),
                 "message": f"{rate_text(have)} fps for a {rate_text(rate)} fps clip"}
            )  # fmt: skip


def _judge(report: QcReport, stretch: Stretch, source: FrameScan | None, limit: int) -> None:
    """A stretch is a problem unless the source has it (give or take the slack)."""
    entry = stretch.to_dict()
    where = (
        f"{stretch.kind} for {float(stretch.seconds):.2f} s from frame {stretch.first} "
        f"({float(stretch.start):.2f} s in)"
    )
    if source is not None:
        slack = max(1, round(SLACK_SECONDS * stretch.rate))
        theirs = [s for s in [*source.black, *source.frozen, *source.runs]
                  if s.kind == stretch.kind]  # fmt: skip
        if _longest_uncovered(stretch, theirs, slack) < limit:
            report.matched.append({**entry, "message": f"{where}, as in the source"})
            return
    report.problems.append({"code": stretch.kind, **entry, "message": where})


def _longest_uncovered(stretch: Stretch, covers: Sequence[Stretch], slack: int) -> int:
    """The longest run of ``stretch``'s frames that no cover (widened by slack) holds."""
    longest = run = 0
    for index in range(stretch.first, stretch.first + stretch.count):
        if any(c.first - slack <= index <= c.last + slack for c in covers):
            run = 0
        else:
            run += 1
            longest = max(longest, run)
    return longest


def _finish(report: QcReport) -> QcReport:
    report.status = "failed" if report.problems else "warnings" if report.notes else "passed"
    return report


def write_report(
    reports: Mapping[str, Any] | Sequence[QcReport | Mapping[str, Any]],
    path: Path,
    *,
    text: bool = True,
) -> Path:
    """Write the QC report file ``path`` (JSON) atomically; return ``path``.

    ``reports`` is a list of :class:`QcReport` (or their dicts), written as
    ``{"version": 1, "reports": […], "summary": {…}}``, or a whole result mapping (a
    conform's ``to_dict()``), written as it is. With ``text``, a plain-text summary
    goes beside it (``.txt`` for ``.json``): one line per QC found anywhere in it.
    """
    document: Any
    if isinstance(reports, Mapping):
        document = dict(reports)
    else:
        items = [r.to_dict() if isinstance(r, QcReport) else dict(r) for r in reports]
        summary = {s: sum(1 for r in items if r.get("status") == s)
                   for s in ("passed", "warnings", "failed")}  # fmt: skip
        document = {"version": REPORT_VERSION, "reports": items, "summary": summary}
    _write_atomic(path, json.dumps(document, indent=2, default=_plain) + "\n")
    if text:
        lines = [_line(label, qc) for label, qc in _qcs(document, None)]
        _write_atomic(path.with_suffix(".txt"), "\n".join(lines) + "\n" if lines else "")
    return path


def _qcs(value: Any, label: str | None) -> Iterator[tuple[str | None, dict[str, Any]]]:
    """Every QC dict (one with ``status`` and ``problems``) in ``value``, with a label."""
    if isinstance(value, dict):
        own = value.get("name") or label
        if "status" in value and "problems" in value:
            yield str(own or value.get("path") or ""), value
            return
        for item in value.values():
            yield from _qcs(item, str(own) if own else None)
    elif isinstance(value, list):
        for item in value:
            yield from _qcs(item, label)


def _line(label: str | None, qc: dict[str, Any]) -> str:
    said = [str(p.get("message") or p.get("code")) for p in qc.get("problems") or []]
    said += [str(n) for n in qc.get("notes") or []]
    tail = f": {'; '.join(said)}" if said else ""
    return f"{str(qc.get('status', '?')).upper():8} {label or '?'}{tail}"


def _write_atomic(path: Path, content: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    part = path.with_name(f".{path.name}.{os.getpid()}.part")
    try:
        part.write_text(content, encoding="utf-8")
        os.replace(part, path)
    finally:
        part.unlink(missing_ok=True)


def _plain(value: Any) -> Any:
    """JSON for what json does not know: fractions and paths as strings."""
    if isinstance(value, (Fraction, Path)):
        return str(value)
    if hasattr(value, "to_dict"):
        return value.to_dict()
    raise TypeError(f"{type(value).__name__} is not JSON")
