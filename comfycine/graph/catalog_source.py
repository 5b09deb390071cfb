"""Where a catalog comes from: the live server, or the snapshot cached at the last fetch.

A live fetch reads ``/object_info`` and the model lists (``/models``, then
``/models/{folder}`` for each folder, concurrently) and saves them as a snapshot in
``<cache_dir>/snapshots/<host>_<port>.json``, so that ``workflow validate`` still works
when the server is off (or with ``--offline``, without asking it at all).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import os
import re
import shutil
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from ..errors import TargetUnreachable, UsageError
from ..transport import ComfyClient
from ..urls import bare_url
from .schema import Catalog

SNAPSHOT_FORMAT = 1
# Not model folders: listing custom_nodes walks every file of every pack.
_SKIPPED_FOLDERS = frozenset({"custom_nodes"})
logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class CatalogResult:
    """A catalog, the model files per folder, and where and when they were read.

    ``source`` is "live" or "snapshot"; ``fetched_at`` is an ISO 8601 UTC time.
    """

    catalog: Catalog
    models: dict[str, list[str]]
    source: Literal["live", "snapshot"]
    fetched_at: str


async def fetch_models(client: ComfyClient) -> dict[str, list[str]]:
    """``{folder: [file names]}`` for every model folder the server reports.

    Folders that vanish between the two requests (404) are left out; a server without
    the ``/models`` route gives ``{}``.
    """
    folders = [f for f in await client.model_folders() if f not in _SKIPPED_FOLDERS]
    listings = await asyncio.gather(*(client.models_in(folder) for folder in folders))
    return {f: files for f, files in zip(folders, listings, strict=True) if files is not None}


async def fetch_catalog(client: ComfyClient) -> tuple[dict[str, Any], dict[str, list[str]]]:
    """The raw ``/object_info`` and the model lists, fetched concurrently."""
    object_info, models = await asyncio.gather(client.object_info(), fetch_models(client))
    return object_info, models


def now_text() -> str:
    """The current UTC time as ISO 8601 text, to the second."""
    return datetime.now(UTC).isoformat(timespec="seconds")


def snapshot_path(cache_dir: Path, url: str) -> Path:
    """``<cache_dir>/snapshots/<host>_<port>.json`` for a server URL."""
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    host = re.sub(r"[^A-Za-z0-9.-]", "_", parts.hostname or "server")
    return cache_dir / "snapshots" / f"{host}_{port}.json"


def save_snapshot(
    cache_dir: Path,
    url: str,
    object_info: dict[str, Any],
    models: dict[str, list[str]],
    *,
    fetched_at: str | None = None,
) -> Path:
    """Write the snapshot of one server atomically; returns its path.

    ``fetched_at`` defaults to now. A reader never sees a half-written file: the JSON
    goes to a temporary file in the same folder, which then replaces the old snapshot.
    """
    path = snapshot_path(cache_dir, url)
    path.parent.mkdir(parents=True, exist_ok=True)
    body = {
        "format": SNAPSHOT_FORMAT,
        "comfyui_url": bare_url(url),  # never a password, whatever the caller passes
        "fetched_at": fetched_at or now_text(),
        "object_info": object_info,
        "models": models,
    }
    handle, partial = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".part")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            json.dump(body, stream, separators=(",", ":"))
        os.replace(partial, path)
    except BaseException:
        Path(partial).unlink(missing_ok=True)
        raise
    _save_split(path, body)
    return path


def _split_dir(path: Path) -> Path:
    return path.with_suffix(".classes")


def _class_file(name: str) -> str:
    # Class names are free text in custom packs: hash them into safe file names.
    return hashlib.sha1(name.encode("utf-8")).hexdigest()[:20] + ".json"


def _save_split(path: Path, body: dict[str, Any]) -> None:
    """One small file per class beside the snapshot, for :func:`load_quick_catalog`.

    A job's preflight needs a dozen classes; reading the whole snapshot (hundreds of KB
    of JSON) costs more than the rest of a quick job. Written to a fresh folder that
    replaces the old one, so a reader sees either the old split or the new.
    """
    split = _split_dir(path)
    fresh = Path(tempfile.mkdtemp(dir=path.parent, prefix=split.name + "."))
    try:
        names = sorted(body["object_info"])
        for name in names:
            (fresh / _class_file(name)).write_text(
                json.dumps(body["object_info"][name], separators=(",", ":")), encoding="utf-8"
            )
        index = {k: body[k] for k in ("format", "comfyui_url", "fetched_at", "models")}
        (fresh / "index.json").write_text(json.dumps({**index, "classes": names}), "utf-8")
        stale = split.with_name(split.name + ".old")
        shutil.rmtree(stale, ignore_errors=True)
        if split.exists():
            os.replace(split, stale)
        os.replace(fresh, split)
        shutil.rmtree(stale, ignore_errors=True)
    except OSError as exc:
        logger.warning("could not write the quick snapshot index %s: %s", split, exc)
        shutil.rmtree(fresh, ignore_errors=True)


def load_quick_catalog(cache_dir: Path, url: str) -> CatalogResult | None:
    """The snapshot of ``url`` with classes read from disk only when asked for."""
    split = _split_dir(snapshot_path(cache_dir, url))
    try:
        index = json.loads((split / "index.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(index, dict) or index.get("format") != SNAPSHOT_FORMAT:
        return None

    def read_class(name: str) -> dict[str, Any] | None:
        try:
            spec = json.loads((split / _class_file(name)).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        return spec if isinstance(spec, dict) else None

    raw_models = index.get("models")
    models: dict[str, Any] = raw_models if isinstance(raw_models, dict) else {}
    clean = {str(k): [str(f) for f in v] for k, v in models.items() if isinstance(v, list)}
    catalog = Catalog(names=[str(n) for n in index.get("classes", [])], loader=read_class)
    return CatalogResult(catalog, clean, "snapshot", str(index.get("fetched_at") or ""))


def load_snapshot(
    cache_dir: Path, url: str
) -> tuple[dict[str, Any], dict[str, list[str]], str] | None:
    """``(object_info, models, fetched_at)`` of a server's snapshot, or None.

    An unreadable or foreign file counts as no snapshot (it is rewritten at the next
    live fetch).
    """
    path = snapshot_path(cache_dir, url)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or data.get("format") != SNAPSHOT_FORMAT:
        return None
    object_info, models = data.get("object_info"), data.get("models")
    if not isinstance(object_info, dict) or not isinstance(models, dict):
        return None
    clean = {str(k): [str(f) for f in v] for k, v in models.items() if isinstance(v, list)}
    return object_info, clean, str(data.get("fetched_at") or "")


def _from_snapshot(
    snapshot: tuple[dict[str, Any], dict[str, list[str]], str],
) -> CatalogResult:
    object_info, models, fetched_at = snapshot
    return CatalogResult(Catalog.from_object_info(object_info), models, "snapshot", fetched_at)


async def load_catalog(
    client: ComfyClient, cache_dir: Path, *, offline: bool = False
) -> CatalogResult:
    """The server's catalog: live (and saved as the snapshot), else the last snapshot.

    With ``offline`` the server is not asked; without a snapshot that raises a
    :class:`UsageError` (code ``no_snapshot``). When the server is unreachable the
    snapshot answers; without one the :class:`TargetUnreachable` is raised again.
    """
    url = client.base_url
    if offline:
        snapshot = load_snapshot(cache_dir, url)
        if snapshot is None:
            raise UsageError(
                f"No cached node list for {url}: it is saved at the first validation "
                "against the running server.",
                code="no_snapshot",
                hint="Run once while the server is up: comfycine workflow validate NAME",
                details={"url": url},
            )
        return _from_snapshot(snapshot)
    try:
        object_info, models = await fetch_catalog(client)
    except TargetUnreachable:
        snapshot = load_snapshot(cache_dir, url)
        if snapshot is None:
            raise
        logger.info("%s unreachable; using the snapshot of %s", url, snapshot[2])
        return _from_snapshot(snapshot)
    fetched_at = now_text()
    try:
        save_snapshot(cache_dir, url, object_info, models, fetched_at=fetched_at)
    except OSError as exc:
        # The live answer is still good; only the offline fallback is lost.
        logger.warning("could not save the catalog snapshot: %s", exc)
    return CatalogResult(Catalog.from_object_info(object_info), models, "live", fetched_at)
