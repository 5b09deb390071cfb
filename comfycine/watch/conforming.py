"""The watcher's side of a dropped timeline: conform it, then file it with its media.

See :mod:`.timelines` for the rules. The conform itself is
:func:`comfycine.conform.run.run_conform`, the same call as ``comfycine conform``.
"""

from __future__ import annotations

import json
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

from ..errors import ComfycineError, Interrupted
from ..files import write_new_file
from ..sanitize import redact
from .exchange import failure_reason, finish_input, move_aside, reason_path, resolve_item
from .timelines import claimed_media, move_tree

if TYPE_CHECKING:
    from .items import ItemHandler


async def take_timeline(handler: ItemHandler, rel: PurePosixPath, path: Path) -> str:
    """Conform one dropped timeline; ``filed``, ``hold`` (transient trouble) or ``stuck``."""
    from ..conform.run import RenderOptions, run_conform
    from .decision import is_transient

    name: str | None = None
    try:
        item = resolve_item(rel, handler.fixed_template)
        name = item.template
        options = RenderOptions(
            template=item.template,
            assignments=handler.assignments,
            targets=[handler.target.name],
            allow_spend=handler.allow_spend,
        )
        out_dir = handler.exchange.output_dir / Path(*item.inner.parent.parts)
        out_dir = out_dir / f"{Path(item.inner.name).stem}-{item.template}"
        handler.emit({"event": "timeline_started", "input": rel.as_posix(), "template": name})
        result = await run_conform(
            handler.settings,
            path,
            options,
            relink=path.parent,
            output=out_dir,
            on_event=lambda kind, payload: handler.emit({"event": kind, **payload}),
        )
    except Interrupted:
        raise
    except ComfycineError as exc:
        if is_transient(exc):
            return handler._hold(item, exc) if name else "hold"
        return await _file_failed(handler, rel, exc, name, used=[])
    used = [Path(s.shot.media) for s in result.shots if s.shot.media is not None]
    failure = result.failure()
    if failure is not None:
        return await _file_failed(handler, rel, failure, name, used=used)
    moved = _file_done(handler, rel, path, used)
    payload: dict[str, Any] = {
        "event": "timeline_conformed",
        "input": rel.as_posix(),
        "template": name,
        "timeline": result.timeline,
        "qc_report": result.qc_report,
        "conformed": result.count("conformed"),
        "outputs": [s.delivered for s in result.shots if s.delivered],
        "moved_to": moved,
    }
    handler.summary.add(payload)
    handler.emit(payload)
    await handler._notify("watch.succeeded", payload)
    return "filed"


def _file_done(
    handler: ItemHandler, rel: PurePosixPath, path: Path, used: list[Path]
) -> str | None:
    """The timeline and the media it used into ``input/.done/``; where the timeline went."""
    exchange = handler.exchange
    media = claimed_media(exchange.input_dir, rel, used)
    try:
        if path.is_dir():
            moved = move_tree(path, exchange.done_dir / Path(*rel.parts))
        else:
            moved = finish_input(exchange, rel)
        for clip in media:
            try:
                finish_input(exchange, clip)
            except FileNotFoundError:
                continue
    except (OSError, ComfycineError):
        return None
    return moved.relative_to(exchange.root).as_posix()


async def _file_failed(
    handler: ItemHandler,
    rel: PurePosixPath,
    error: ComfycineError,
    template: str | None,
    *,
    used: list[Path],
) -> str:
    """The timeline to ``failed/`` with its reason, and its media beside it."""
    exchange = handler.exchange
    source = exchange.input_dir / Path(*rel.parts)
    if source.is_dir():  # a bundle: fail_input moves files only
        try:
            moved = move_tree(source, exchange.failed_dir / Path(*rel.parts))
            moved_to = moved.relative_to(exchange.root).as_posix()
            reason = failure_reason(rel, error, moved_to=moved_to, template=template, job=None)
            text = json.dumps(reason, indent=2, ensure_ascii=False, default=str)
            write_new_file(reason_path(moved), redact(text, handler.settings.secret_values) + "\n")
        except (OSError, ComfycineError):
            return "stuck"
        payload = {
            "event": "item_failed",
            "input": rel.as_posix(),
            "template": template,
            "error": error.to_dict(),
            "moved_to": moved_to,
        }
        handler.summary.add(payload)
        handler.emit(payload)
        await handler._notify("watch.failed", payload)
        return "filed"
    outcome = await handler._fail(rel, error, template, job=error.details.get("job"))
    for clip in claimed_media(exchange.input_dir, rel, used):
        try:
            move_aside(
                exchange.input_dir / Path(*clip.parts), exchange.failed_dir / Path(*clip.parts)
            )
        except (OSError, ComfycineError):
            continue
    return outcome
