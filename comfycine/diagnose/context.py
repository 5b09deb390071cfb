"""Build the :class:`JobContext` of a failing job, from a template or a ledger record."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..errors import ComfycineError
from ..ledger import JobRecord
from ..templates import Template, load_template, template_dirs
from ..urls import bare_url
from .lookup import template_facts
from .model import JobContext


def _bounds(template: Template) -> dict[str, dict[str, Any]]:
    return {
        name: {
            "min": p.minimum,
            "max": p.maximum,
            "multiple_of": p.multiple_of,
            "offset": p.offset,
        }
        for name, p in template.parameters.items()
        if p.minimum is not None or p.multiple_of is not None
    }


def context_for(
    template: Template | None,
    *,
    params: Mapping[str, Any] | None = None,
    seeds: Mapping[str, Any] | None = None,
    target: str = "local",
    job: str | None = None,
    graph: Mapping[str, Any] | None = None,
    server_url: str | None = None,
) -> JobContext:
    """The context of a job rendered from ``template`` (None: a plain workflow).

    ``server_url`` is where it was sent (the fixes name that machine); never a password.
    """
    ctx = JobContext(
        job=job,
        template=template.name if template else None,
        target=target,
        server_url=bare_url(server_url) if server_url else None,
        params=dict(params or {}),
        graph=dict(graph or {}),
        seeds=dict(seeds or {}),
    )
    if template is not None:
        ctx.defaults = {
            n: p.default for n, p in template.parameters.items() if p.default is not None
        }
        ctx.bounds = _bounds(template)
        ctx.packs, ctx.models = template_facts(template.meta)
    return ctx


def context_from_record(record: JobRecord, workflow_dir: Path | None) -> JobContext:
    """The context of a ledger job (its template reloaded when it still exists)."""
    template = None
    if record.template:
        try:
            template = load_template(record.template, template_dirs(workflow_dir))
        except ComfycineError:
            template = None  # a workflow file's stem, or a template since removed
    return context_for(
        template,
        params=record.params,
        seeds=record.seeds,
        target=record.target,
        job=record.id,
        graph=record.graph,
        server_url=record.server_url or None,
    )


def add_known_facts(ctx: JobContext, workflow_dir: Path | None) -> None:
    """Packs and model URLs every template sidecar names (for an error with no job)."""
    for directory in template_dirs(workflow_dir):
        for meta_path in sorted(directory.glob("*.meta.json")):
            try:
                meta = json.loads(meta_path.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                continue
            if not isinstance(meta, dict):
                continue
            packs, models = template_facts(meta)
            for cls, found in packs.items():
                ctx.packs.setdefault(cls, found)
            for name, source in models.items():
                ctx.models.setdefault(name, source)
