"""The stand-in's render queue: Project's render calls, and a renderer writing real files.

Rendering advances one step each time the bridge polls (``IsRenderingInProgress``):
the next waiting job goes Ready → Rendering → Complete (its file written) or Failed, so
a test runs without threads or clocks. Knobs on the stage: ``fail_jobs`` (CustomNames
whose job fails), ``never_finish`` (jobs stay Rendering until StopRendering), ``busy``
(Resolve renders something else already), ``refuse_codec``.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

from .strict import Strict, check, is_int

# Documented keys of SetRenderSettings ("Looking up Render Settings"); the bridge uses some.
RENDER_KEYS = {
    "SelectAllFrames",
    "MarkIn",
    "MarkOut",
    "TargetDir",
    "CustomName",
    "UniqueFilenameStyle",
    "ExportVideo",
    "ExportAudio",
    "FormatWidth",
    "FormatHeight",
    "FrameRate",
    "PixelAspectRatio",
    "VideoQuality",
    "AudioCodec",
    "AudioBitDepth",
    "AudioSampleRate",
    "ColorSpaceTag",
    "GammaTag",
    "ExportAlpha",
    "EncodingProfile",
    "MultiPassEncode",
    "AlphaMode",
    "NetworkOptimization",
    "ClipStartFrame",
    "TimelineStartTimecode",
    "ReplaceExistingFilesInPlace",
}
# The stand-in's own table, independent of the bridge's rate parsing.
NTSC = {
    "23.976": Fraction(24000, 1001),
    "29.97": Fraction(30000, 1001),
    "59.94": Fraction(60000, 1001),
}
CODECS = {"mov": {"Apple ProRes 422 HQ": "ProRes422HQ", "H.264": "H264"}, "mp4": {"H.264": "H264"}}


@dataclass
class Job:
    """One queued render job."""

    uid: str
    settings: dict[str, Any]
    format: str
    codec: str
    status: str = "Ready"
    percent: float = 0.0
    error: str = ""


class RenderQueue(Strict):
    """Project's render calls, over an in-memory queue."""

    CALLS = frozenset(
        {
            "GetCurrentRenderMode",
            "SetCurrentRenderMode",
            "GetCurrentRenderFormatAndCodec",
            "SetCurrentRenderFormatAndCodec",
            "GetRenderCodecs",
            "SetRenderSettings",
            "AddRenderJob",
            "DeleteRenderJob",
            "StartRendering",
            "StopRendering",
            "IsRenderingInProgress",
            "GetRenderJobStatus",
        }
    )

    def __init__(self, project: Any, stage: Any) -> None:
        self.project = project
        self.stage = stage
        self.mode = 0
        self.format, self.codec = "mp4", "H264"
        self.settings: dict[str, Any] = {}
        self.jobs: dict[str, Job] = {}
        self.active: list[str] = []
        self.count = 0

    def GetCurrentRenderMode(self) -> int:
        return self.mode

    def SetCurrentRenderMode(self, renderMode: int) -> bool:
        check(renderMode in (0, 1), f"SetCurrentRenderMode({renderMode!r})")
        self.mode = renderMode
        return True

    def GetCurrentRenderFormatAndCodec(self) -> dict[str, str]:
        return {"format": self.format, "codec": self.codec}

    def SetCurrentRenderFormatAndCodec(self, format: str, codec: str) -> bool:
        if self.stage.refuse_codec or codec not in CODECS.get(format, {}).values():
            return False
        self.format, self.codec = format, codec
        return True

    def GetRenderCodecs(self, renderFormat: str) -> dict[str, str]:
        return dict(CODECS.get(renderFormat, {}))

    def SetRenderSettings(self, settings: dict[str, Any]) -> bool:
        check(isinstance(settings, dict), "SetRenderSettings takes a dict")
        unknown = set(settings) - RENDER_KEYS
        check(not unknown, f"undocumented render settings {sorted(unknown)}")
        for key in ("MarkIn", "MarkOut"):
            check(key not in settings or is_int(settings[key]), f"{key} must be an int")
        for key in ("TargetDir", "CustomName"):
            check(key not in settings or isinstance(settings[key], str), f"{key} must be text")
        self.settings.update(settings)
        return True

    def AddRenderJob(self) -> str:
        check(self.mode == 1, "the bridge renders in single-clip mode")
        self.count += 1
        uid = f"job-{self.count:03d}"
        self.jobs[uid] = Job(uid, dict(self.settings), self.format, self.codec)
        return uid

    def DeleteRenderJob(self, jobId: str) -> bool:
        job = self.jobs.get(jobId)
        if job is None or job.status == "Rendering":
            return False
        del self.jobs[jobId]
        return True

    def StartRendering(self, *jobs: Any, isInteractiveMode: bool = False) -> bool:
        ids = list(jobs[0]) if len(jobs) == 1 and isinstance(jobs[0], list) else list(jobs)
        check(all(isinstance(j, str) for j in ids), "StartRendering takes job ids (text)")
        if not ids or any(j not in self.jobs for j in ids):
            return False
        self.active = ids
        return True

    def StopRendering(self) -> None:
        for uid in self.active:
            job = self.jobs.get(uid)
            if job is not None and job.status in ("Ready", "Rendering"):
                job.status = "Cancelled"
        self.active = []

    def IsRenderingInProgress(self) -> bool:
        if self.stage.busy:
            return True
        self._advance()
        return any(
            self.jobs[j].status in ("Ready", "Rendering") for j in self.active if j in self.jobs
        )

    def GetRenderJobStatus(self, jobId: str) -> dict[str, Any]:
        job = self.jobs.get(jobId)
        if job is None:
            return {}
        status: dict[str, Any] = {"JobStatus": job.status, "CompletionPercentage": job.percent}
        if job.error:
            status["Error"] = job.error
        return status

    def _advance(self) -> None:
        waiting = [
            self.jobs[j] for j in self.active if self.jobs[j].status in ("Ready", "Rendering")
        ]
        if not waiting:
            return
        job = waiting[0]
        if job.status == "Ready" or self.stage.never_finish:
            job.status, job.percent = "Rendering", 50.0
            return
        if job.settings.get("CustomName") in self.stage.fail_jobs:
            job.status, job.error = "Failed", "Media offline"
            return
        write_render(self.project, job)
        job.status, job.percent = "Complete", 100.0


def write_render(project: Any, job: Job) -> Path:
    """The job's MarkIn..MarkOut (both included) of the current timeline as a real file."""
    from tests.takes.clips import make_clip

    timeline = project.current
    settings = job.settings
    check(settings.get("SelectAllFrames") is False, "pulls render a mark range")
    first, last = int(settings["MarkIn"]), int(settings["MarkOut"])
    check(timeline.start_frame <= first <= last, f"marks {first}..{last} outside the timeline")
    rate: Fraction = timeline_rate(timeline.settings["timelineFrameRate"])
    path = Path(settings["TargetDir"]) / f"{settings['CustomName']}.{job.format}"
    check(not path.exists(), f"the render would overwrite {path}")
    if job.codec == "ProRes422HQ":
        make_clip(
            path,
            codec="prores_ks",
            fps=rate,
            frames=last - first + 1,
            size=(64, 36),
            pix_fmt="yuv422p10le",
            options={"profile": "3"},
        )
    else:
        make_clip(path, fps=rate, frames=last - first + 1, size=(64, 36))
    return path


def timeline_rate(setting: str) -> Fraction:
    """The timeline's rate from its ``timelineFrameRate`` text."""
    text = setting.replace("DF", "").strip()
    return NTSC.get(text) or Fraction(text)
