"""After a shot's render: fit it to its source, deliver it, check it, name it.

One render becomes one delivered file the editor imports: the frame rate and frame
count of its pull (trimmed, padded or retimed only where that is exact, and always
said), in the delivery format asked for, with the source's timecode, the job's recipe
inside, then checked by decoding it to its last frame. A delivered file is recorded in
``delivered.json`` of the conform's work folder, so running the conform again reuses
it instead of writing a ``-2`` copy.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..batch.inputs import VIDEO_EXTENSIONS
from ..errors import ComfycineError
from ..ledger import JobRecord
from .pulls import Pull
from .records import read_record, write_record
from .result import ConformedShot, not_writable
from .shots import Placement

SAFE_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-")


def video_output(outputs: list[str]) -> Path | None:
    """The job's first video output on this Mac (None: it made none)."""
    for text in outputs:
        path = Path(text)
        if path.suffix.lower() in VIDEO_EXTENSIONS and path.exists():
            return path
    return None


def clip_name(pull: Pull, template: str, job: str) -> str:
    """The new clip's name: the original's, the template and the job (the recipe's key)."""
    return f"{pull.shot.name} · {template} {job[:8]}"


def delivered_stem(out_dir: Path, pull: Pull, template: str, job: str) -> Path:
    """``<out>/003-shot010_upscale-video_1a2b3c4d`` (the delivery adds its suffix)."""
    stem = "".join(c if c in SAFE_CHARS else "_" for c in f"{pull.path.stem}_{template}")
    return out_dir / f"{stem}_{job[:8]}"


class Deliveries:
    """The conform's record of what it delivered (job, format, fitting → file, QC)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.entries: dict[str, Any] = read_record(path)

    @staticmethod
    def key(job: str, deliver: str, strict: bool, thresholds: tuple[float, float]) -> str:
        """What makes a delivery the same one."""
        return f"{job}|{deliver}|{int(strict)}|{thresholds[0]}|{thresholds[1]}"

    def find(self, key: str) -> dict[str, Any] | None:
        """The recorded delivery, when its file is still there."""
        entry = self.entries.get(key)
        if isinstance(entry, dict) and Path(str(entry.get("delivered", ""))).exists():
            return entry
        return None

    def record(self, key: str, entry: dict[str, Any]) -> None:
        """Remember a delivery (written at once: a crash later keeps it)."""
        self.entries[key] = entry
        write_record(self.path, self.entries)


def finish_shot(
    done: ConformedShot,
    pull: Pull,
    render: Path,
    record: JobRecord | None,
    *,
    template: str,
    out_dir: Path,
    deliver: str,
    strict_length: bool,
    thresholds: tuple[float, float],
    deliveries: Deliveries,
) -> Placement | None:
    """Fit, deliver, stamp and check one render; the placement when QC lets it on.

    Sets ``done``'s status, delivered file and QC. Per-shot problems (a rate that
    cannot be matched, an undecodable render) end the shot ``qc_failed``; they never
    stop the conform.
    """
    from ..media.deliver import deliver as deliver_media
    from ..media.fit import plan_fit
    from ..media.probe import probe
    from ..media.qc import check
    from ..takes.stamp import stamp_output

    assert done.job is not None
    key = Deliveries.key(done.job, deliver, strict_length, thresholds)
    known = deliveries.find(key)
    if known is None:
        try:
            info = probe(render)
            fit = plan_fit(info, pull.frames, pull.rate, strict_length=strict_length)
            stem = delivered_stem(out_dir, pull, template, done.job)
            out_dir.mkdir(parents=True, exist_ok=True)
            made = deliver_media(
                render,
                stem,
                kind=deliver,
                fit=fit,
                rate=pull.rate,
                timecode_frame=pull.timecode_frame,
                drop_frame=pull.drop_frame,
            )
            if record is not None and made.sequence is None:
                stamp_output(made.path, record, sidecar=True)
            report = check(
                made,
                frames=pull.frames,
                rate=pull.rate,
                source_scan=pull.source_scan,
                fit=fit,
                black_seconds=thresholds[0],
                frozen_seconds=thresholds[1],
            )
        except OSError as exc:
            raise not_writable(exc, f"the delivery of {pull.shot.name}") from exc
        except ComfycineError as exc:
            done.status, done.error, done.reason = "qc_failed", exc.code, exc.message
            done.qc = {"status": "failed", "problems": [{"code": exc.code, "message": exc.message}]}
            return None
        known = {
            "delivered": str(made.path),
            "frames": made.frames,
            "sequence": [str(made.sequence[0]), *made.sequence[1:]] if made.sequence else None,
            "qc": report.to_dict(),
        }
        deliveries.record(key, known)
    done.delivered = str(known["delivered"])
    done.qc = dict(known["qc"])
    if done.qc.get("status") == "failed":
        problems = done.qc.get("problems") or [{}]
        done.status = "qc_failed"
        done.error = str(problems[0].get("code") or "qc_failed")
        done.reason = str(problems[0].get("message") or "failed QC")
        return None
    done.status = "conformed"
    done.clip_name = clip_name(pull, template, done.job)
    sequence = known.get("sequence")
    return Placement(
        shot=pull.shot,
        name=done.clip_name,
        media=Path(done.delivered),
        media_rate=pull.rate,
        frames=int(known["frames"]),
        media_start_frame=pull.timecode_frame,
        sequence=(Path(sequence[0]), str(sequence[1]), int(sequence[2]), str(sequence[3]))
        if sequence
        else None,
        metadata=placement_metadata(done, pull, template, record, deliver),
    )


def placement_metadata(
    done: ConformedShot, pull: Pull, template: str, record: JobRecord | None, deliver: str
) -> dict[str, Any]:
    """What the new clip carries: the recipe's key facts and the QC verdict."""
    meta: dict[str, Any] = {
        "template": template,
        "job": done.job,
        "target": done.target,
        "deliver": deliver,
        "qc": (done.qc or {}).get("status"),
        "source": {
            "clip": pull.shot.name,
            "media": pull.shot.media_name,
            "first_frame": pull.first,
            "frames": pull.frames,
        },
    }
    if record is not None:
        meta["params"] = {k: v for k, v in record.params.items() if not isinstance(v, bytes)}
        meta["seeds"] = dict(record.seeds)
    return meta
