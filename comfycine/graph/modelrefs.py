"""The model files a workflow names, with the download URL and folder it declares.

Workflows saved by current ComfyUI (and every official template) carry, on each loader
node, ``properties.models = [{"name", "url", "directory", "hash"?, "hash_type"?}]``;
some also carry a top-level ``models`` list of the same entries. :func:`model_refs`
reads both from a UI workflow, including the nodes inside its subgraphs, and names the
other model files it finds in widget values without a URL. An API graph carries no
URLs: its refs come from the model inputs (``ckpt_name``, ``unet_name``, …) with the
folder guessed from the input, and ``url`` None.

Muted and bypassed nodes (modes 2 and 4) never run, so their models are not needed.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from .convert import MODE_BYPASS, MODE_NEVER, is_ui_workflow
from .validate import MODEL_INPUTS, MODEL_SUFFIXES, ModelIndex

_SKIPPED_MODES = frozenset({MODE_NEVER, MODE_BYPASS})


@dataclass(frozen=True)
class ModelRef:
    """One model file a workflow needs: where to download it and which folder it goes in.

    ``url`` and ``directory`` are None when the workflow does not say; ``node_id`` and
    ``class_type`` name the node that loads it (None for a top-level ``models`` entry).
    A subgraph's inner node has the id the API graph gives it (``"<instance>:<inner>"``).
    """

    name: str
    url: str | None
    directory: str | None
    node_id: str | None
    class_type: str | None

    def to_sidecar(self) -> dict[str, Any]:
        """The sidecar's form: ``{"name", "folder"?, "url"?}``."""
        entry: dict[str, Any] = {"name": self.name}
        if self.directory:
            entry["folder"] = self.directory
        if self.url:
            entry["url"] = self.url
        return entry


def _text(value: Any) -> str | None:
    return value.strip() if isinstance(value, str) and value.strip() else None


def _declared(entry: Any, node_id: str | None, class_type: str | None) -> ModelRef | None:
    """A ref from one ``{"name", "url", "directory"}`` entry (None when it names nothing)."""
    if not isinstance(entry, Mapping) or (name := _text(entry.get("name"))) is None:
        return None
    url = _text(entry.get("url"))
    directory = _text(entry.get("directory")) or _text(entry.get("folder"))
    return ModelRef(name, url, directory, node_id, class_type)


def _is_model_file(value: Any) -> bool:
    return (
        isinstance(value, str)
        and not value.startswith("PARAM_")
        and value.lower().endswith(MODEL_SUFFIXES)
    )


def _ui_nodes(
    nodes: Any, definitions: Mapping[str, Any], prefix: str, depth: int = 0
) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every node that runs, with its API id, descending into subgraph instances."""
    for node in nodes if isinstance(nodes, list) else ():
        if not isinstance(node, dict) or node.get("mode") in _SKIPPED_MODES:
            continue
        node_id = f"{prefix}{node.get('id')}"
        inner = definitions.get(str(node.get("type")))
        if isinstance(inner, Mapping) and depth < 16:  # subgraphs cannot nest deeper in practice
            # Inner nodes first: they name the real loader, the instance only repeats it.
            yield from _ui_nodes(inner.get("nodes"), definitions, f"{node_id}:", depth + 1)
        yield node_id, node


def _subgraphs(ui: Mapping[str, Any]) -> dict[str, Any]:
    definitions = ui.get("definitions")
    found = definitions.get("subgraphs") if isinstance(definitions, Mapping) else None
    return {
        str(sub.get("id")): sub
        for sub in (found if isinstance(found, list) else ())
        if isinstance(sub, Mapping)
    }


def _ui_refs(ui: Mapping[str, Any]) -> Iterator[ModelRef]:
    for node_id, node in _ui_nodes(ui.get("nodes"), _subgraphs(ui), ""):
        class_type = _text(node.get("type"))
        properties = node.get("properties")
        entries = properties.get("models") if isinstance(properties, Mapping) else None
        declared = [_declared(e, node_id, class_type) for e in entries or ()]
        named = {ref.name for ref in declared if ref is not None}
        yield from (ref for ref in declared if ref is not None)
        widgets = node.get("widgets_values")
        # Older saves, and nodes the frontend gives no model list: the file names alone.
        for value in widgets if isinstance(widgets, list) else ():
            if _is_model_file(value) and value not in named:
                yield ModelRef(value, None, None, node_id, class_type)
    for entry in ui.get("models") or () if isinstance(ui.get("models"), list) else ():
        ref = _declared(entry, None, None)
        if ref is not None:
            yield ref


def _api_refs(graph: Mapping[str, Any]) -> Iterator[ModelRef]:
    index = ModelIndex(None, ())
    for node_id, node in graph.items():
        if not isinstance(node, Mapping) or not isinstance(node.get("inputs"), Mapping):
            continue
        class_type = str(node.get("class_type"))
        for name, value in node["inputs"].items():
            if not (_is_model_file(value) or (name in MODEL_INPUTS and _text(value))):
                continue
            if value.startswith("PARAM_"):
                continue
            folder = index.folder_for(name, class_type, value)
            yield ModelRef(value, None, folder, str(node_id), class_type)


def model_refs(workflow: Mapping[str, Any]) -> list[ModelRef]:
    """The model files ``workflow`` (UI or API format) needs, one ref per file name.

    A file named twice keeps the first ref that has a URL (else the first), and gains
    the folder of a later one when the first has none. Order: first appearance.
    """
    refs = _ui_refs(workflow) if is_ui_workflow(workflow) else _api_refs(workflow)
    merged: dict[str, ModelRef] = {}
    for ref in refs:
        old = merged.get(ref.name)
        if old is None:
            merged[ref.name] = ref
        elif old.url is None and ref.url is not None:
            merged[ref.name] = ModelRef(
                ref.name, ref.url, ref.directory or old.directory, old.node_id, old.class_type
            )
        elif old.directory is None and ref.directory is not None:
            merged[ref.name] = ModelRef(
                old.name, old.url, ref.directory, old.node_id, old.class_type
            )
    return list(merged.values())


def without_url(refs: list[ModelRef]) -> list[ModelRef]:
    """The refs that say nowhere to download their file from."""
    return [ref for ref in refs if ref.url is None]
