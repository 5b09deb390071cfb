"""The custom-node packs a UI workflow says it uses.

Current ComfyUI writes, on each node, ``properties.cnr_id`` (the Comfy Registry id of
its pack: ``"comfy-core"`` for the built-in nodes), ``properties.ver`` and sometimes
``properties.aux_id`` (a GitHub ``owner/repo``). :func:`node_packs` turns the non-core
ones into the sidecar's ``custom_nodes`` entries.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .convert import is_ui_workflow

CORE_PACK = "comfy-core"


def _nodes(ui: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    nodes = [n for n in ui.get("nodes") or () if isinstance(n, Mapping)]
    definitions = ui.get("definitions")
    subgraphs = definitions.get("subgraphs") if isinstance(definitions, Mapping) else None
    for sub in subgraphs if isinstance(subgraphs, list) else ():
        if isinstance(sub, Mapping):
            nodes.extend(n for n in sub.get("nodes") or () if isinstance(n, Mapping))
    return nodes


def node_packs(workflow: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The non-core packs of a UI workflow as sidecar entries ([] for an API graph).

    Each entry: ``{"id", "name", "classes", "install"}`` plus ``"repo"`` when the
    workflow names the GitHub repository; packs in order of first appearance.
    """
    if not is_ui_workflow(workflow):
        return []
    packs: dict[str, dict[str, Any]] = {}
    for node in _nodes(workflow):
        properties = node.get("properties")
        if not isinstance(properties, Mapping):
            continue
        pack_id, aux = properties.get("cnr_id"), properties.get("aux_id")
        key = pack_id if isinstance(pack_id, str) and pack_id else None
        repo = aux if isinstance(aux, str) and aux.count("/") == 1 else None
        if key == CORE_PACK or (key is None and repo is None):
            continue
        name = key or str(repo)
        entry = packs.setdefault(name, {"id": name, "name": name, "classes": []})
        if key:
            entry["install"] = f"comfy node registry-install {key}"
        if repo:
            entry["repo"] = f"https://github.com/{repo}"
        cls = node.get("type")
        if isinstance(cls, str) and cls not in entry["classes"]:
            entry["classes"].append(cls)
    return list(packs.values())
