"""The stand-in's world for one test: is Resolve running, its project, the render knobs.

``DaVinciResolveScript.scriptapp`` reads the stage a fixture installed with :func:`use`;
tests change its fields to play a scenario (not running, no project, a failing job).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .strict import Strict


@dataclass
class Stage:
    """What the stand-in Resolve is doing."""

    running: bool = True  # False: scriptapp answers None (not running, or free edition)
    project: Any = None  # world.Project, or None: the Project Manager is showing
    fail_jobs: set[str] = field(default_factory=set)  # CustomNames whose render fails
    never_finish: bool = False  # renders stay "Rendering" until StopRendering
    busy: bool = False  # Resolve is rendering something else
    refuse_codec: bool = False  # SetCurrentRenderFormatAndCodec answers False


_current: list[Stage] = []


def use(stage: Stage | None) -> None:
    """Install ``stage`` (None: remove it)."""
    _current.clear()
    if stage is not None:
        _current.append(stage)


def current() -> Stage | None:
    """The installed stage."""
    return _current[0] if _current else None


class ProjectManager(Strict):
    """ProjectManager: the current project only."""

    def __init__(self, stage: Stage) -> None:
        self.stage = stage

    def GetCurrentProject(self) -> Any:
        return self.stage.project


class Resolve(Strict):
    """The object scriptapp("Resolve") returns."""

    def __init__(self, stage: Stage) -> None:
        self.stage = stage

    def GetProjectManager(self) -> ProjectManager:
        return ProjectManager(self.stage)
