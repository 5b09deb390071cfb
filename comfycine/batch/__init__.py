"""``comfycine batch``: a folder of images or videos through one template, resumably.

::

    run.py      run_batch / batch: targets, template, folder, plan, run, notify;
                run_sweep / sweep: the takes of one shot (generate --takes / --vary)
    sweep.py    --vary / --takes: axes, cells (bounded), sweep ids, kept seeds, the plan
    inputs.py   the folder's files and the media placeholder they go into
    plan.py     item keys (content hash + template + parameters) and the ledger's verdict
    runner.py   BatchEngine: N workers per target, one shared queue, resume, Ctrl-C
    result.py   BatchItem, BatchResult (the envelope's data), BatchFailedItems (exit 5)

Every job goes through :func:`comfycine.generation.run_prepared_on`, the code path of
``generate``; the ledger records each with ``batch_id``, ``source_path`` and
``item_key``, which is what makes a second run skip, retry or resume.
"""

from __future__ import annotations

from .inputs import IMAGE_EXTENSIONS, VIDEO_EXTENSIONS, InputFile, discover_inputs, media_parameter
from .plan import batch_id, item_key
from .result import BatchFailedItems, BatchItem, BatchResult
from .run import (
    NotifyHook,
    batch,
    parse_concurrency,
    resolve_targets,
    run_batch,
    run_sweep,
    sweep,
)
from .runner import BatchEngine, EventHook

__all__ = [
    "IMAGE_EXTENSIONS",
    "VIDEO_EXTENSIONS",
    "BatchEngine",
    "BatchFailedItems",
    "BatchItem",
    "BatchResult",
    "EventHook",
    "InputFile",
    "NotifyHook",
    "batch",
    "batch_id",
    "discover_inputs",
    "item_key",
    "media_parameter",
    "parse_concurrency",
    "resolve_targets",
    "run_batch",
    "run_sweep",
    "sweep",
]
