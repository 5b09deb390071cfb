"""Picks: a take chosen, rejected or annotated — in the ledger and in its files' sidecars.

A take is named by its job (id, prefix, ``last``) or by one of its files (the recipe in
the file says which job made it). The verdict goes in the job's ``extra`` (``pick``,
``note``), which ``status`` and ``review`` show, and into each output's sidecar, so the
file carries it to another Mac too.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ..errors import UsageError
from ..ledger import JobRecord, Ledger
from ..settings import Settings
from .recipe import read_recipe, sidecar_path

VERDICTS = {"pick": "picked", "reject": "rejected"}


def find_take(ledger: Ledger, ref: str) -> JobRecord:
    """The job of a take: ``ref`` is a job id (prefix, ``last``), one of its files, or a
    sweep cell (``SWEEP:N``, ``SWEEP:NAME=VALUE``)."""
    from ..sweepcontrol import cell_take

    path = Path(ref).expanduser()
    if path.is_file():
        recipe = read_recipe(path)
        if not recipe.job:
            raise UsageError(
                f"{path.name} was made by ComfyUI, not comfycine: it has no job to mark.",
                code="not_a_take",
                hint="Mark a take comfycine rendered: comfycine take pick JOB",
            )
        return ledger.find(recipe.job)
    return cell_take(ledger, ref) or ledger.find(ref)


def _stamp_sidecars(record: JobRecord, fields: dict[str, Any]) -> None:
    """Merge the verdict into each output's sidecar (the sidecar's other keys kept)."""
    for output in record.outputs:
        sidecar = sidecar_path(Path(output))
        if not sidecar.is_file():
            continue
        try:
            data = json.loads(sidecar.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if not isinstance(data, dict):
            continue
        data.update({k: v for k, v in fields.items() if v is not None})
        for key in (k for k, v in fields.items() if v is None):
            data.pop(key, None)
        temp = sidecar.with_name(f".{sidecar.name}.tmp")
        temp.write_text(json.dumps(data, indent=2, ensure_ascii=False), encoding="utf-8")
        temp.replace(sidecar)


def mark(
    settings: Settings, ref: str, *, verdict: str | None = None, note: str | None = None
) -> dict[str, Any]:
    """Set a take's verdict (``pick``/``reject``) or note; the take as ``status`` shows it."""
    from ..jobcontrol import job_view

    with Ledger.open(settings.ledger_path, secrets=settings.secret_values) as ledger:
        record = find_take(ledger, ref)
        extra = dict(record.extra)
        fields: dict[str, Any] = {}
        if verdict is not None:
            extra["pick"] = fields["pick"] = VERDICTS[verdict]
        if note is not None:
            extra["note"] = fields["note"] = note.strip() or None
            if not note.strip():
                extra.pop("note", None)
        record = ledger.update(record.id, extra=extra)
    _stamp_sidecars(record, fields)
    view = job_view(record)
    view.update(pick=extra.get("pick"), note=extra.get("note"))
    return view


def picked(settings: Settings, limit: int = 200) -> list[dict[str, Any]]:
    """The picked takes, newest first (``status --picks``)."""
    from ..jobcontrol import job_view

    with Ledger.open(settings.ledger_path, secrets=settings.secret_values) as ledger:
        records = [r for r in ledger.recent(limit) if r.extra.get("pick") == "picked"]
    return [{**job_view(r), "pick": "picked", "note": r.extra.get("note")} for r in records]
