"""The DaVinci Resolve (Studio) scripting bridge: a session on the open project's timeline.

Reference: Resolve's scripting README (``Developer/Scripting/README.txt``, "Last
Updated: 7 May 2025", the Resolve 20 API; facts checked against the 20 October 2020
copy in ynput/OpenPype ``openpype/hosts/resolve/RESOLVE_API_README_v16.2.0_up.txt``).
Only calls that README documents are used; see docs/resolve-scripting.md for the list.

The entry is ``DaVinciResolveScript.scriptapp("Resolve")`` (the module from
:func:`comfycine.resolve.locate.locate`), then ``GetProjectManager()`` →
``GetCurrentProject()`` → ``GetCurrentTimeline()``. ``scriptapp`` answers None when
Resolve is not running and when it refuses external scripts: the free edition has none
(the README documents the API "for DaVinci Resolve Studio"), and in Studio the
preference Preferences › System › General › "External scripting using" must be Local
(or Network). The two cannot be told apart from outside, so the error says both.

Send: :meth:`ResolveSession.select` → :meth:`ResolveSession.render_pulls` (+ the
manifest, :mod:`.manifest`). Receive: :func:`connect` with the manifest's timeline →
:meth:`ResolveSession.import_results`.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..conform.shots import Placement, Shot
from .errors import ResolveNoProject, ResolveNoTimeline, ResolveNotRunning
from .placing import ImportReport, import_results
from .render import PRORES_422_HQ, Clock, Progress, render_pulls
from .selection import Criteria, select_shots
from .timeline import ResolveObject, TimelineInfo, read_info

APP = "Resolve"


class ResolveSession:
    """The open project and one of its timelines, reached through Resolve's scripting."""

    def __init__(
        self,
        resolve: ResolveObject,
        project: ResolveObject,
        timeline: ResolveObject,
        *,
        clock: Clock | None = None,
    ) -> None:
        self.resolve = resolve
        self.project = project
        self.timeline = timeline
        self.clock = clock or Clock()

    def timeline_info(self) -> TimelineInfo:
        """Project and timeline names, the exact rate, first frame, video track count."""
        return read_info(self.project, self.timeline)

    def select(
        self,
        track: int | None = None,
        marker: str | None = None,
        color: str | None = None,
        frames: tuple[int, int] | None = None,
    ) -> list[Shot]:
        """The shots chosen by the rule of :mod:`comfycine.resolve.selection`
        (none given: every clip on video track 1). UsageError on a bad track or range."""
        criteria = Criteria(track=track, marker=marker, color=color, frames=frames)
        return select_shots(self.timeline, self.timeline_info(), criteria)

    def render_pulls(
        self,
        shots: Sequence[Shot],
        folder: Path,
        *,
        format: str = "mov",
        codec: str = PRORES_422_HQ,
        timeout: float = 3600.0,
        poll: float = 1.0,
        on_progress: Progress | None = None,
    ) -> list[Path]:
        """One render job per shot (its record range) into ``folder``; the files in shot
        order. See :func:`comfycine.resolve.render.render_pulls` for the errors."""
        self._make_current()
        return render_pulls(
            self.project,
            self.timeline_info(),
            shots,
            folder,
            format=format,
            codec=codec,
            timeout=timeout,
            poll=poll,
            clock=self.clock,
            on_progress=on_progress,
        )

    def import_results(self, bin_name: str, placements: Sequence[Placement]) -> ImportReport:
        """Import the results into the bin ``bin_name`` (made under the media pool's root
        when missing) and place them on a new video track at their record positions."""
        self._make_current()
        media_pool = self.project.GetMediaPool()
        return import_results(media_pool, self.timeline, self.timeline_info(), bin_name, placements)

    def _make_current(self) -> None:
        # Render jobs and AppendToTimeline act on the project's current timeline.
        if not self.project.SetCurrentTimeline(self.timeline):
            name = self.timeline.GetName()
            raise ResolveNoTimeline(
                f"Resolve would not open the timeline {name!r}.",
                details={"timeline": name},
            )


def connect(
    module: Any, *, timeline: str | None = None, clock: Clock | None = None
) -> ResolveSession:
    """A session on Resolve's open project and its current timeline, or the timeline
    whose unique id or name is ``timeline``.

    ``module`` is ``DaVinciResolveScript`` (:func:`~comfycine.resolve.locate.locate`).
    Raises ResolveNotRunning (exit 3), ResolveNoProject, ResolveNoTimeline (exit 2).
    """
    resolve = module.scriptapp(APP)
    if resolve is None:
        raise ResolveNotRunning(
            "DaVinci Resolve did not answer: it is not running, or it refuses external "
            "scripts (the free edition has none; Studio needs Preferences › System › "
            "General › External scripting using: Local). If Resolve is open, it is the "
            "second.",
        )
    manager = resolve.GetProjectManager()
    project = manager.GetCurrentProject() if manager else None
    if project is None:
        raise ResolveNoProject("DaVinci Resolve has no project open.")
    if timeline is None:
        current = project.GetCurrentTimeline()
        if current is None:
            raise ResolveNoTimeline(
                f"The Resolve project {project.GetName()!r} has no timeline open.",
                details={"project": str(project.GetName())},
            )
    else:
        current = find_timeline(project, timeline)
    return ResolveSession(resolve, project, current, clock=clock)


def find_timeline(project: ResolveObject, key: str) -> ResolveObject:
    """The project's timeline whose unique id, else name, is ``key`` (ResolveNoTimeline)."""
    timelines = [project.GetTimelineByIndex(i) for i in range(1, project.GetTimelineCount() + 1)]
    timelines = [t for t in timelines if t is not None]
    for attribute in ("GetUniqueId", "GetName"):
        for candidate in timelines:
            if str(getattr(candidate, attribute)()) == key:
                return candidate
    names = [str(t.GetName()) for t in timelines]
    raise ResolveNoTimeline(
        f"The Resolve project {project.GetName()!r} has no timeline {key!r}"
        + (f" (it has {', '.join(map(repr, names))})." if names else "."),
        details={"project": str(project.GetName()), "timelines": names},
    )
