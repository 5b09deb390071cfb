"""``review``: the takes of a sweep, or the recent jobs, gathered from the ledger into one
review page (:mod:`.review`), with their previews made on the way (:mod:`.previews`).

Previews are made once, in a ``previews`` folder beside the outputs
(``<stem>.poster.jpg``, ``.sheet.jpg``, ``.thumb.jpg``: out of the way of an editor that
watches the output folder), and reused; a file they cannot be made from is shown
without them.
"""

from __future__ import annotations

import logging
import shlex
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import ComfycineError, UsageError
from ..ledger import JobRecord, Ledger
from ..settings import Settings

if TYPE_CHECKING:
    from .review import ReviewTake

logger = logging.getLogger(__name__)

RECENT = 50
PREVIEWS = "previews"  # the folder beside the outputs that holds their previews


@dataclass(frozen=True)
class ReviewPage:
    """What ``review`` wrote."""

    path: Path
    takes: int
    sweep: str | None

    def to_dict(self) -> dict[str, Any]:
        """``data`` of the envelope."""
        return {"page": str(self.path), "takes": self.takes, "sweep": self.sweep}


def retake_command(record: JobRecord) -> str:
    """The command that renders this take again: same template, values and seeds.

    The target is named unless it is the default one: a take from Comfy Cloud is
    rendered there again only by a command that says so.
    """
    words = ["comfycine", "retake", record.id]
    if record.target and record.target != "local":
        words += ["--target", record.target]
    return shlex.join(words)


def previews_of(path: Path) -> dict[str, str]:
    """The previews of one output (made now if missing); {} when they cannot be made."""
    try:
        from .previews import previews_for

        return previews_for(path, path.parent / PREVIEWS)
    except (ComfycineError, OSError, ImportError) as exc:
        logger.info("no preview for %s: %s", path.name, exc)
        return {}


def _take(record: JobRecord, varied: list[str]) -> ReviewTake:
    # The page writer loads for a review only: every job's previews_of comes through here.
    from .review import ReviewTake

    files = [Path(p) for p in record.outputs]
    made: dict[str, str] = {}
    for path in files[:1]:
        if path.is_file():
            made = previews_of(path)
    error = record.error.get("message") if record.error else None
    extra = record.extra if isinstance(record.extra, dict) else {}
    return ReviewTake(
        job=record.id,
        files=files,
        poster=Path(made["poster"]) if "poster" in made else None,
        sheet=Path(made["sheet"]) if "sheet" in made else None,
        thumbnail=Path(made["thumbnail"]) if "thumbnail" in made else None,
        template=record.template,
        params=dict(record.params),
        seeds=dict(record.seeds),
        target=record.target,
        status=record.status,
        pick=extra.get("pick") if isinstance(extra.get("pick"), str) else None,
        note=extra.get("note") if isinstance(extra.get("note"), str) else None,
        retake_command=retake_command(record),
        sweep=record.batch_id,
        cell={n: str(record.params.get(n, record.seeds.get(n, ""))) for n in varied} or None,
        created=record.created_at or 0.0,
        error=str(error) if error else None,
    )


def _varied(records: list[JobRecord]) -> list[str]:
    """The parameters whose values differ between the takes (a sweep's axes)."""
    names: list[str] = []
    for name in records[0].params:
        values = {str(r.params.get(name)) for r in records}
        if len(values) > 1 and name not in names:
            names.append(name)
    return names


def review(
    settings: Settings, *, sweep: str | None = None, since: float | None = None
) -> ReviewPage:
    """Write the review page of a sweep (or of the jobs since ``since``, else the recent)."""
    from ..sweepcontrol import takes_of

    with Ledger.open(settings.ledger_path, secrets=settings.secret_values) as ledger:
        if sweep is not None:
            records = takes_of(ledger, sweep)
            if not records:
                raise UsageError(
                    f"No sweep {sweep!r} in the ledger.",
                    code="unknown_sweep",
                    hint="Sweeps are made by: comfycine generate TEMPLATE --takes N",
                )
        else:
            records = [
                r for r in ledger.recent(RECENT) if since is None or (r.created_at or 0) >= since
            ]
    if not records:
        raise UsageError(
            "No takes to review yet.",
            code="nothing_to_review",
            hint="Render some with: comfycine generate TEMPLATE --takes 4",
        )
    varied = _varied(records) if sweep is not None else []
    takes = [_take(r, varied) for r in records]
    name = sweep or time.strftime("%Y%m%d-%H%M%S")
    out = settings.output_dir / "review" / f"review-{name}.html"
    title = f"Sweep {sweep} ({records[0].template})" if sweep else "Recent takes"
    from .review import write_review

    write_review(takes, out, title=title, varied=varied)
    return ReviewPage(out, len(takes), sweep)
