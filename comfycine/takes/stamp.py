"""Each downloaded output gets its recipe: inside the file, and in a sidecar beside it.

Called once per file as it lands (:func:`comfycine.collecting.collect_outputs`). The
recipe comes from the job's ledger record: graph, template, values, seeds, target,
server, job, sweep, the inputs taken from earlier jobs (``job:ID:N``), models. A file
that cannot carry it (or that fails to) keeps the sidecar; nothing here ever fails the
job: the render is done and on disk, the recipe is a bonus it must not cost.
"""

from __future__ import annotations

import logging
from pathlib import Path

from ..errors import ComfycineError
from ..ledger import JobRecord
from .recipe import Recipe, embed, models_in, write_sidecar

logger = logging.getLogger(__name__)


def recipe_of(record: JobRecord) -> Recipe:
    """The recipe of a job, from its ledger record."""
    inputs = {
        name: value
        for name, value in record.params.items()
        if isinstance(value, str) and value.startswith("job:")
    }
    extra = record.extra if isinstance(record.extra, dict) else {}
    parent, workflow = extra.get("parent"), extra.get("workflow")
    return Recipe(
        graph=record.graph,
        template=None if isinstance(workflow, str) else record.template,
        workflow=workflow if isinstance(workflow, str) else None,
        params=dict(record.params),
        seeds=dict(record.seeds),
        target=record.target,
        server=record.server_url,
        job=record.id,
        sweep=record.batch_id,
        parent=parent if isinstance(parent, str) else None,
        inputs=inputs,
        models=models_in(record.graph),
        created=record.created_at or 0.0,
    )


def stamp_output(path: Path, record: JobRecord, *, sidecar: bool = True) -> None:
    """Write the recipe into ``path`` (PNG chunks, video tags) and, unless turned off, a
    sidecar ``<file>.json``; a failure is logged, never raised."""
    recipe = recipe_of(record)
    try:
        embedded = embed(path, recipe)
    except (ComfycineError, OSError) as exc:
        logger.warning("could not write the recipe into %s: %s", path.name, exc)
        embedded = False
    if sidecar or not embedded:
        try:
            write_sidecar(path, recipe)
        except (ComfycineError, OSError) as exc:
            logger.warning("could not write the sidecar of %s: %s", path.name, exc)
