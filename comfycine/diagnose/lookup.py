"""The facts some fixes need from elsewhere: which pack has a node, where a model lives.

Sources, best first: the template's sidecar (it names its packs and model URLs), then
ComfyUI-Manager on the server: ``/v2/customnode/getmappings?mode=cache`` (Manager v4),
else ``/customnode/getmappings?mode=cache`` (v3), and the model list
``/v2/externalmodel/getlist?mode=cache`` / ``/externalmodel/getlist?mode=cache``
(PROTOCOL.md §4.4–4.5). Manager's answers are cached per server for a day: the node map
is ~1.5 MB and changes rarely.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from ..errors import ComfycineError
from ..files import write_new_file
from ..transport import ComfyClient
from .model import JobContext, ModelSource, PackInfo

MAPPING_PATHS = ("/v2/customnode/getmappings?mode=cache", "/customnode/getmappings?mode=cache")
MODEL_LIST_PATHS = ("/v2/externalmodel/getlist?mode=cache", "/externalmodel/getlist?mode=cache")
CACHE_SECONDS = 24 * 3600


def template_facts(
    meta: Mapping[str, Any],
) -> tuple[dict[str, list[PackInfo]], dict[str, ModelSource]]:
    """Packs by class and model sources by file name, from a template sidecar."""
    packs: dict[str, list[PackInfo]] = {}
    for pack in meta.get("custom_nodes") or ():
        if not isinstance(pack, Mapping):
            continue
        info = PackInfo(
            title=str(pack.get("name") or pack.get("id") or "a custom-node pack"),
            key=str(pack.get("id") or pack.get("repo") or ""),
            source="template",
            install=pack.get("install"),
        )
        for cls in pack.get("classes") or ():
            packs.setdefault(str(cls), []).append(info)
    models: dict[str, ModelSource] = {}
    for model in meta.get("models") or ():
        if isinstance(model, Mapping) and model.get("name"):
            name = str(model["name"])
            models[name.rsplit("/", 1)[-1]] = ModelSource(
                name, model.get("folder"), model.get("url"), "template"
            )
    return packs, models


def packs_from_mappings(mappings: Any, classes: Iterable[str]) -> dict[str, list[PackInfo]]:
    """Manager's ``{pack_key: [[classes…], {title_aux, nodename_pattern?…}]}`` → packs by class.

    A class may be in several packs (861 are, in Manager 4.3): all are kept, in map order.
    """
    wanted = list(classes)
    found: dict[str, list[PackInfo]] = {cls: [] for cls in wanted}
    if not isinstance(mappings, Mapping):
        return {}
    for key, entry in mappings.items():
        if not isinstance(entry, list) or not entry:
            continue
        names = entry[0] if isinstance(entry[0], list) else []
        info = entry[1] if len(entry) > 1 and isinstance(entry[1], Mapping) else {}
        pattern = info.get("nodename_pattern")
        for cls in wanted:
            if cls in names or (isinstance(pattern, str) and _matches(pattern, cls)):
                title = info.get("title_aux") or info.get("title") or str(key)
                found[cls].append(PackInfo(str(title), str(key), "manager"))
    return {cls: packs for cls, packs in found.items() if packs}


def _matches(pattern: str, name: str) -> bool:
    try:
        return re.search(pattern, name) is not None
    except re.error:
        return False


def models_from_list(model_list: Any, files: Iterable[str]) -> dict[str, ModelSource]:
    """Manager's ``{"models": [{filename, save_path, url, …}]}`` → sources by file name."""
    wanted = set(files)
    entries = model_list.get("models") if isinstance(model_list, Mapping) else None
    found: dict[str, ModelSource] = {}
    for entry in entries or ():
        if not isinstance(entry, Mapping):
            continue
        filename = str(entry.get("filename") or "")
        if filename in wanted and filename not in found:
            folder = str(entry.get("save_path") or "")
            if folder in ("", "default"):
                folder = str(entry.get("type") or "") or ""
            found[filename] = ModelSource(filename, folder or None, entry.get("url"), "manager")
    return found


class ManagerCache:
    """ComfyUI-Manager's lists for one server, fetched once a day into the cache dir."""

    def __init__(self, client: ComfyClient, cache_dir: Path) -> None:
        self.client = client
        parts = urlsplit(client.base_url)
        safe = re.sub(r"[^\w.-]", "_", f"{parts.hostname}-{parts.port or 80}")
        self.directory = cache_dir / "manager" / safe

    async def get(self, name: str, paths: tuple[str, ...]) -> Any | None:
        """The cached answer if fresh, else the server's (cached), else None."""
        path = self.directory / f"{name}.json"
        try:
            if time.time() - path.stat().st_mtime < CACHE_SECONDS:
                return json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            pass
        try:
            data = await self.client.first_json(paths)
        except ComfycineError:
            return None
        if data is not None:
            self._store(path, data)
        return data

    def _store(self, path: Path, data: Any) -> None:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            # A cache entry, replaced on purpose (still atomically, via a temporary file).
            write_new_file(path, json.dumps(data), force=True)
        except OSError:
            pass  # a cache that cannot be written only costs a refetch


async def fill_from_server(
    ctx: JobContext, client: ComfyClient, cache_dir: Path, *, classes: list[str], files: list[str]
) -> None:
    """Add Manager's answers for the classes and files the template did not explain."""
    manager = ManagerCache(client, cache_dir)
    ctx.manager_checked = True
    unknown_classes = [c for c in classes if c not in ctx.packs]
    if unknown_classes:
        mappings = await manager.get("mappings", MAPPING_PATHS)
        ctx.packs.update(packs_from_mappings(mappings, unknown_classes))
    unknown_files = [f for f in files if f not in ctx.models or not ctx.models[f].url]
    if unknown_files:
        model_list = await manager.get("models", MODEL_LIST_PATHS)
        for name, source in models_from_list(model_list, unknown_files).items():
            ctx.models.setdefault(name, source)
            if not ctx.models[name].url:
                ctx.models[name] = source
