"""Timelines dropped into the exchange: conformed whole, with the media beside them.

An FCPXML (or an ``.fcpxmld`` bundle), an EDL, an FCP7/Resolve XML or an ``.otio``
dropped into ``input/`` is not a file to render: it is a list of clips to render, from
the media lying in the same folder. The watcher therefore treats such a folder as one
piece of work:

- the media files in a folder holding a timeline are never taken alone (they would be
  rendered whole, then again as the timeline's clips);
- the timeline is taken only once every file of its folder is complete (an export of
  the timeline and its media lands in any order);
- it is conformed like ``comfycine conform TIMELINE TEMPLATE --relink <its folder>``,
  the results and the new timeline going to ``output/<folder>/<timeline>-<template>/``;
- then the timeline and the media it used move to ``input/.done/`` — or, on failure,
  to ``failed/`` with the reason beside the timeline, so that dropping them back
  together tries again (the renders already made are found, not sent twice).
"""

from __future__ import annotations

import os
from pathlib import Path, PurePosixPath

TIMELINE_SUFFIXES = frozenset({".fcpxml", ".edl", ".otio", ".xml"})
BUNDLE_SUFFIX = ".fcpxmld"  # Final Cut 10.6+ exports a folder holding Info.fcpxml
BUNDLE_DOCUMENT = "Info.fcpxml"
# Why a timeline is not taken yet: a file of its folder is still arriving.
WAITING_FOR_MEDIA = "waiting_for_media"


def timeline_of(rel: PurePosixPath) -> PurePosixPath | None:
    """The timeline a scanned file stands for (a bundle for its Info.fcpxml), or None.

    Other files inside a bundle stand for nothing (None) and are never inputs.
    """
    parent = rel.parent
    if parent.suffix.lower() == BUNDLE_SUFFIX:
        return parent if rel.name == BUNDLE_DOCUMENT else None
    if rel.suffix.lower() in TIMELINE_SUFFIXES:
        return rel
    return None


def in_bundle(rel: PurePosixPath) -> bool:
    """True for any file inside an ``.fcpxmld`` bundle."""
    return any(part.lower().endswith(BUNDLE_SUFFIX) for part in rel.parts[:-1])


def timeline_folders(rels: list[PurePosixPath]) -> set[PurePosixPath]:
    """The folders (relative to input/) holding at least one timeline."""
    folders = set()
    for rel in rels:
        timeline = timeline_of(rel)
        if timeline is not None:
            folders.add(timeline.parent)
    return folders


def claimed_media(
    input_dir: Path, timeline_rel: PurePosixPath, used: list[Path]
) -> list[PurePosixPath]:
    """The media the conform used that lie under ``input/`` (to file with the timeline)."""
    root = input_dir.resolve()
    claimed: list[PurePosixPath] = []
    for path in used:
        try:
            rel = PurePosixPath(path.resolve().relative_to(root).as_posix())
        except (ValueError, OSError):
            continue  # elsewhere on the Mac: not ours to move
        if rel not in claimed and rel != timeline_rel:
            claimed.append(rel)
    return claimed


def move_tree(source: Path, final: Path) -> Path:
    """Move a bundle folder to ``final`` or ``final-2``…; return where it went."""
    final.parent.mkdir(parents=True, exist_ok=True)
    candidate, n = final, 1
    while candidate.exists():
        n += 1
        candidate = final.with_name(f"{final.stem}-{n}{final.suffix}")
    os.rename(source, candidate)
    return candidate
