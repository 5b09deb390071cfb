"""Where a take comes from and what was made from it: ``take FILE --json``'s lineage.

A take is named by a file (its recipe read from the file alone) or by a job of the
ledger. Its parent is the take it was retaken from (``retake``); its inputs the earlier
takes it consumed (``--image job:ID:N``); its children the retakes and later stages
made from it, found in this Mac's ledger (none known on a Mac without one).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import MediaNotFound
from ..ledger import JobRecord, Ledger
from ..settings import Settings
from .recipe import Recipe, read_recipe
from .stamp import recipe_of

_FILE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".gif", ".mp4", ".mov", ".webm", ".json")


@dataclass(frozen=True)
class TakeSource:
    """A take as the user named it: its recipe, and its ledger record when known here."""

    recipe: Recipe
    ref: str  # a file or a job reference, as given
    record: JobRecord | None = None
    file: Path | None = None

    @property
    def short(self) -> str:
        """The take's short job id, or its file's name for a take without a job."""
        return self.recipe.job[:8] if self.recipe.job else Path(self.ref).name


def looks_like_file(ref: str) -> bool:
    """Whether ``ref`` names a file rather than a job id (a path or a media suffix)."""
    return "/" in ref or "\\" in ref or ref.lower().endswith(_FILE_SUFFIXES)


def find_take_source(settings: Settings | None, ref: str) -> TakeSource:
    """The take ``ref`` names: a rendered file (or its sidecar), else a ledger job or a
    sweep cell (``SWEEP:N``, ``SWEEP:NAME=VALUE``).

    Raises MediaNotFound for a path that is not there, UsageError ``no_recipe`` /
    ``recipe_corrupt`` for a file without a readable recipe, JobNotFound for a job id
    the ledger lacks. Without settings only files can be named.
    """
    path = Path(ref).expanduser()
    if path.is_file() or settings is None or looks_like_file(ref):
        if not path.is_file():
            raise MediaNotFound(
                f"No file {path}.",
                hint="Name a rendered file or a job id (see: comfycine status).",
                details={"file": str(path)},
            )
        recipe = read_recipe(path)
        record = None
        if recipe.job and settings is not None and settings.ledger_path.is_file():
            with Ledger.open(settings.ledger_path, secrets=settings.secret_values) as ledger:
                record = ledger.get(recipe.job)
        return TakeSource(recipe, ref, record, path)
    from ..sweepcontrol import cell_take

    with Ledger.open(settings.ledger_path, secrets=settings.secret_values) as ledger:
        record = cell_take(ledger, ref) or ledger.find(ref)
    return TakeSource(recipe_of(record), ref, record)


def _summary(record: JobRecord) -> dict[str, Any]:
    return {
        "job": record.id,
        "template": record.template,
        "status": record.status,
        "outputs": list(record.outputs),
        "created_at": record.created_at,
    }


def lineage_of(settings: Settings | None, recipe: Recipe) -> dict[str, Any]:
    """The take's parent, inputs and children (``ledger`` False: none could be asked)."""
    known = settings is not None and settings.ledger_path.is_file() and bool(recipe.job)
    parent: dict[str, Any] | None = {"job": recipe.parent} if recipe.parent else None
    children: list[dict[str, Any]] = []
    if known and settings is not None:
        with Ledger.open(settings.ledger_path, secrets=settings.secret_values) as ledger:
            found = ledger.get(recipe.parent) if recipe.parent else None
            if found is not None:
                parent = _summary(found)
            for child in ledger.children(recipe.job):
                kind = "retake" if child.extra.get("parent") == recipe.job else "stage"
                children.append({**_summary(child), "kind": kind})
    return {
        "parent": parent,
        "inputs": dict(recipe.inputs),
        "children": children,
        "ledger": known,
    }


def describe_take(ref: str, settings: Settings | None) -> dict[str, Any]:
    """``take FILE|JOB``'s data: the recipe (graph included) and its lineage."""
    source = find_take_source(settings, ref)
    data: dict[str, Any] = {
        "file": str(source.file) if source.file is not None else None,
        **source.recipe.to_dict(with_graph=True),
    }
    if source.record is not None:
        data["pick"] = source.record.extra.get("pick")
        data["note"] = source.record.extra.get("note")
    data["lineage"] = lineage_of(settings, source.recipe)
    return data
