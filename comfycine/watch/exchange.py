"""The exchange folder: its layout, which template takes a file, and where files go after.

::

    EXCHANGE_DIR/
      input/               watched: drop (or export) files here
        <template>/…       a subfolder names the template (unless --template is given)
        .done/…            inputs rendered successfully, moved here (same relative path)
      output/              results, named after the input: plan12.mov → plan12.upscale.mp4
      failed/…             inputs that failed (same relative path) + <name>.json, the reason

Processed inputs are *moved* out of ``input/`` (to ``input/.done/`` or ``failed/``), so
``input/`` only ever holds work still to do, and moving a file back retries it. The
ledger's item key (template + relative path + content hash) covers the moment between
a job's end and the move, so a restart never renders a file twice.

Nothing here overwrites a file: every placement takes a free name (``-2``, ``-3`` …)
through a hard link (which fails rather than replace), or an exclusive create.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import Any

from ..errors import ComfycineError, UsageError
from ..files import name_variants, write_new_file
from ..sanitize import redact
from ..templates import Template
from ..transport.downloads import safe_stem
from .completeness import FileState, media_kind

INPUT, OUTPUT, FAILED, DONE = "input", "output", "failed", ".done"
# Names an exporter or a copy uses while a file is unfinished, and system clutter.
TEMP_SUFFIXES = (".part", ".tmp", ".temp", ".crdownload", ".download", ".partial", "~")
REASON_SCHEMA = "comfycine/watch-failure/1"


@dataclass(frozen=True)
class Exchange:
    """The folders of one exchange directory."""

    root: Path

    @property
    def input_dir(self) -> Path:
        """Watched for new files."""
        return self.root / INPUT

    @property
    def output_dir(self) -> Path:
        """Where results are placed, named after their input."""
        return self.root / OUTPUT

    @property
    def failed_dir(self) -> Path:
        """Where failed inputs go, each with a ``.json`` reason."""
        return self.root / FAILED

    @property
    def done_dir(self) -> Path:
        """Where rendered inputs go (hidden inside ``input/``, ignored by the scan)."""
        return self.input_dir / DONE

    def ensure(self) -> list[Path]:
        """Create the missing folders; return those created (to tell the user).

        The exchange root itself is created only when the folder above it exists: an
        unmounted drive (``/Volumes/RAID``) must not turn into a folder on the boot disk.
        """
        if not self.root.is_dir():
            parent = self.root.parent
            if not parent.is_dir():
                raise UsageError(
                    f"Cannot create the exchange folder {self.root}: {parent} does not exist.",
                    hint="Mount the drive, or choose another folder with --exchange DIR "
                    "(or COMFYCINE_EXCHANGE_DIR).",
                    code="exchange_unavailable",
                )
        created = []
        for folder in (self.root, self.input_dir, self.output_dir, self.failed_dir):
            if not folder.is_dir():
                folder.mkdir(parents=True, exist_ok=True)
                created.append(folder)
        return created


def is_ignored(name: str) -> bool:
    """Dot-files (``.DS_Store``, ``._x`` AppleDouble), temporary and partial downloads."""
    return name.startswith(".") or name.lower().endswith(TEMP_SUFFIXES) or name == "Icon\r"


def scan_inputs(input_dir: Path) -> list[tuple[PurePosixPath, FileState]]:
    """Every regular file under ``input_dir`` (dot-folders skipped) with its state."""
    found: list[tuple[PurePosixPath, FileState]] = []
    for folder, dirs, files in os.walk(input_dir):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(files):
            if is_ignored(name):
                continue
            path = Path(folder, name)
            try:
                st = path.stat()
            except OSError:
                continue  # vanished, or a dangling link
            if stat.S_ISREG(st.st_mode):
                rel = PurePosixPath(path.relative_to(input_dir).as_posix())
                found.append((rel, FileState.of(st)))
    return found


@dataclass(frozen=True)
class WatchItem:
    """One input file: its place under ``input/`` and the template that takes it."""

    rel: PurePosixPath  # relative to input/
    template: str
    inner: PurePosixPath  # below the template's folder (all of rel with --template)

    def output_name(self, extension: str) -> PurePosixPath:
        """``plan12.mov`` rendered by ``upscale`` as mp4 → ``plan12.upscale.mp4``."""
        name = f"{self.inner.stem}.{safe_stem(self.template)}.{extension.lower()}"
        return self.inner.parent / name


def resolve_item(rel: PurePosixPath, fixed_template: str | None) -> WatchItem:
    """The template of a file: ``--template`` if given, else its first subfolder."""
    if fixed_template:
        return WatchItem(rel, fixed_template, rel)
    if len(rel.parts) < 2:
        raise UsageError(
            f"{rel} is not in a template folder, so no template is chosen for it.",
            hint="Move it into input/<template>/ (see: comfycine workflow list), "
            "or run: comfycine watch --template NAME",
            code="no_template",
        )
    return WatchItem(rel, rel.parts[0], PurePosixPath(*rel.parts[1:]))


def media_parameter(template: Template, path: Path) -> str:
    """The media parameter of ``template`` that takes ``path`` (by image/video type).

    Raises UsageError ``template_without_media`` when the template takes no media at all,
    ``wrong_media_type`` when it takes none of this file's kind, and
    ``ambiguous_media_input`` when several inputs could take it.
    """
    media = {name: p for name, p in template.parameters.items() if p.kind.is_media}
    if not media:
        raise UsageError(
            f"Template {template.name} has no media input (PARAM_IMAGE_…, PARAM_VIDEO_…), "
            "so it cannot take a watched file.",
            hint="Watch with a template that takes an image or a video (see: comfycine "
            "workflow list), or add a PARAM_IMAGE_INPUT / PARAM_VIDEO_INPUT placeholder.",
            code="template_without_media",
            details={"template": template.name},
        )
    kind = media_kind(path)
    matching = [name for name, p in media.items() if p.kind.value == kind]
    if not matching:
        takes = ", ".join(f"{p.kind.value} ({name})" for name, p in media.items())
        what = f"a {kind}" if kind else "not an image or a video"
        hint = (
            f"Move {path.name} into the folder of a template that takes {what} "
            "(see: comfycine workflow list)."
            if kind
            else f"Only images and videos can be rendered; take {path.name} out of input/."
        )
        raise UsageError(
            f"{path.name} is {what}; template {template.name} takes: {takes}.",
            hint=hint,
            code="wrong_media_type",
            details={"template": template.name, "file_kind": kind},
        )
    if len(matching) > 1:
        required = [name for name in matching if media[name].required]
        preferred = [name for name in matching if name in ("input", kind)]
        matching = required if len(required) == 1 else preferred
    if len(matching) != 1:
        raise UsageError(
            f"Template {template.name} has several {kind} inputs; a watched file can feed one.",
            hint=f"Give the others defaults in {template.name}.meta.json, or set them "
            "with comfycine watch --set NAME=PATH.",
            code="ambiguous_media_input",
            details={"template": template.name},
        )
    return matching[0]


def unreadable_error(path: Path, exc: OSError) -> UsageError:
    """The error for an input that cannot be read."""
    return UsageError(
        f"Cannot read {path.name}: {exc.strerror or exc}.",
        hint="Check its permissions (ls -l). On macOS a background watcher also needs "
        "Full Disk Access for Desktop, Documents, Downloads and external drives.",
        code="unreadable_input",
    )


def _same_file(a: Path, b: Path) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def place_file(source: Path, final: Path) -> Path:
    """Put ``source`` at ``final`` (or ``-2``, ``-3`` …), hard-linked, else copied.

    Never replaces a file. A name that already holds ``source`` itself (a hard link
    left by an earlier, interrupted run) is reused instead of adding another copy.
    """
    final.parent.mkdir(parents=True, exist_ok=True)
    for candidate in name_variants(final):
        if candidate.exists():
            if _same_file(candidate, source):
                return candidate
            continue
        try:
            os.link(source, candidate)
            return candidate
        except FileExistsError:
            continue
        except OSError:
            return _copy_new(source, candidate)
    raise ComfycineError(f"Too many files named like {final.name} in {final.parent}.")


def _copy_new(source: Path, final: Path) -> Path:
    """Copy (another volume, no hard links) into a temporary name, then publish it."""
    part = final.with_name(f".{final.name}.{os.getpid()}.part")
    try:
        shutil.copyfile(source, part)
        for candidate in name_variants(final):
            try:
                with candidate.open("xb"):
                    pass
            except FileExistsError:
                continue
            os.replace(part, candidate)
            return candidate
    finally:
        part.unlink(missing_ok=True)
    raise ComfycineError(f"Too many files named like {final.name} in {final.parent}.")


def move_aside(
    source: Path, final: Path, *, companion: Callable[[Path], Path] | None = None
) -> Path:
    """Move ``source`` to ``final`` or a free variant; return where it went.

    ``companion(name)`` is a file that must be free too (the ``.json`` reason beside a
    failed input). Raises FileNotFoundError when ``source`` is gone.
    """
    final.parent.mkdir(parents=True, exist_ok=True)
    for candidate in name_variants(final):
        if candidate.exists() and _same_file(candidate, source):
            source.unlink()  # linked there by a run cut short before the unlink
            return candidate
        if candidate.exists() or (companion is not None and companion(candidate).exists()):
            continue
        try:
            os.link(source, candidate)
        except FileExistsError:
            continue
        except FileNotFoundError:
            raise
        except OSError:
            os.rename(source, candidate)  # no hard links on this volume; the name is free
            return candidate
        source.unlink()
        return candidate
    raise ComfycineError(f"Too many files named like {final.name} in {final.parent}.")


def reason_path(moved: Path) -> Path:
    """The reason file beside a failed input: ``plan12.mov`` → ``plan12.mov.json``."""
    return moved.with_name(moved.name + ".json")


def failure_reason(
    rel: PurePosixPath,
    error: ComfycineError,
    *,
    moved_to: str,
    template: str | None,
    job: str | None,
) -> dict[str, Any]:
    """The content of a ``.json`` reason: the error, its diagnosis, how to retry."""
    folder = rel.parent.as_posix()
    back = "input/" if folder == "." else f"input/{folder}/"
    return {
        "schema": REASON_SCHEMA,
        "input": rel.as_posix(),
        "moved_to": moved_to,
        "template": template,
        "job": job,
        "failed_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "error": error.to_dict(),
        "diagnosis": _diagnosis(error),
        "retry": f"Fix the cause, then move the file back into {back} to try again.",
    }


def _diagnosis(error: ComfycineError) -> dict[str, Any] | None:
    attached = error.details.get("diagnosis")
    if isinstance(attached, dict):
        return attached  # made where the job was known (its template, sizes, target)
    try:
        from ..diagnose import diagnose

        result: dict[str, Any] = diagnose(error).to_dict()
        return result
    except Exception:
        return None  # a reason without a diagnosis beats no reason at all


def fail_input(
    exchange: Exchange,
    rel: PurePosixPath,
    error: ComfycineError,
    *,
    template: str | None = None,
    job: str | None = None,
    secrets: tuple[str, ...] = (),
) -> tuple[Path, Path]:
    """Move an input to ``failed/`` and write its reason beside it; (input, reason) paths.

    The input moves first: a crash between the two leaves it safe, without a reason.
    """
    source = exchange.input_dir / Path(*rel.parts)
    moved = move_aside(source, exchange.failed_dir / Path(*rel.parts), companion=reason_path)
    moved_to = moved.relative_to(exchange.root).as_posix()
    reason = failure_reason(rel, error, moved_to=moved_to, template=template, job=job)
    text = json.dumps(reason, indent=2, ensure_ascii=False, default=str)
    written = write_new_file(reason_path(moved), redact(text, secrets) + "\n")
    return moved, written


def finish_input(exchange: Exchange, rel: PurePosixPath) -> Path:
    """Move a rendered input to ``input/.done/`` (same relative path, never overwriting)."""
    source = exchange.input_dir / Path(*rel.parts)
    return move_aside(source, exchange.done_dir / Path(*rel.parts))
