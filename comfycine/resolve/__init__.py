"""The DaVinci Resolve Studio scripting bridge (``comfycine resolve send|receive``).

:func:`locate` finds Resolve's ``DaVinciResolveScript`` module, :func:`connect` opens a
:class:`ResolveSession` on the current project's timeline; the manifest carries what a
send chose and rendered to the receive. See docs/resolve-scripting.md.
"""

from __future__ import annotations

from .bridge import ResolveSession, connect, find_timeline
from .errors import (
    ResolveImportFailed,
    ResolveNoProject,
    ResolveNothingSent,
    ResolveNoTimeline,
    ResolveNotInstalled,
    ResolveNotRunning,
    ResolveRenderFailed,
)
from .locate import locate
from .manifest import Manifest, load_manifest, manifest_path, new_manifest, save_manifest
from .placing import ImportReport, PlacedClip
from .render import PRORES_422_HQ, Clock
from .timeline import TimelineInfo

__all__ = [
    "PRORES_422_HQ",
    "Clock",
    "ImportReport",
    "Manifest",
    "PlacedClip",
    "ResolveImportFailed",
    "ResolveNoProject",
    "ResolveNoTimeline",
    "ResolveNotInstalled",
    "ResolveNotRunning",
    "ResolveNothingSent",
    "ResolveRenderFailed",
    "ResolveSession",
    "TimelineInfo",
    "connect",
    "find_timeline",
    "load_manifest",
    "locate",
    "manifest_path",
    "new_manifest",
    "save_manifest",
]
