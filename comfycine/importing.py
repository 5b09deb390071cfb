"""Workflows saved in ComfyUI, turned into comfycine templates.

ComfyUI keeps saved workflows as UI-format JSON under ``user/<user>/workflows/``; the
server lists them at ``/api/userdata?dir=workflows`` and serves one at
``/api/userdata/workflows%2F<path>`` (PROTOCOL.md §1.10). :func:`import_workflow`
converts one to an API graph, puts the ``PARAM_PROMPT`` placeholder where the positive
prompt was (and ``PARAM_STR_NEGATIVE`` for the negative one), and writes
``NAME.json`` + ``NAME.meta.json`` without ever replacing an existing template unless
asked to.
"""

from __future__ import annotations

import contextlib
import copy
import json
import os
import re
import tempfile
import unicodedata
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from .errors import TemplateInvalid, UsageError
from .graph.convert import is_ui_workflow, ui_to_api
from .graph.schema import Catalog
from .transport import ComfyClient

WORKFLOWS_DIR = "workflows"  # under the server's user directory
PROMPT_PLACEHOLDER = "PARAM_PROMPT"
NEGATIVE_PLACEHOLDER = "PARAM_STR_NEGATIVE"
TEXT_INPUTS = ("text", "prompt")  # the text input of an encoder, in order of preference
CONDITIONING = "CONDITIONING"
_UNSAFE = re.compile(r"[^a-z0-9_-]+")


@dataclass(frozen=True)
class SavedWorkflow:
    """One workflow file saved in ComfyUI (``path`` is relative to the workflows dir)."""

    path: str
    size: int | None = None
    modified: float | None = None  # epoch seconds

    def to_dict(self) -> dict[str, Any]:
        """A JSON-friendly form."""
        return {"path": self.path, "size": self.size, "modified": self.modified}


@dataclass(frozen=True)
class ImportResult:
    """A template written from a saved workflow."""

    name: str
    path: Path
    meta_path: Path
    converted: bool  # the source was UI format
    prompt_inputs: list[str] = field(default_factory=list)  # "node.input" set to PARAM_PROMPT
    negative_inputs: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-friendly form for the envelope."""
        return {
            "name": self.name,
            "path": str(self.path),
            "meta_path": str(self.meta_path),
            "converted": self.converted,
            "prompt_inputs": self.prompt_inputs,
            "negative_inputs": self.negative_inputs,
            "warnings": self.warnings,
        }


def _number(value: Any) -> float | None:
    ok = isinstance(value, int | float) and not isinstance(value, bool)
    return value if ok else None


async def list_saved_workflows(client: ComfyClient) -> list[SavedWorkflow]:
    """The ``.json`` workflows saved in ComfyUI, sorted by path ([] when there are none)."""
    items = await client.list_userdata(WORKFLOWS_DIR)
    found: list[SavedWorkflow] = []
    for item in items or ():
        path = item.get("path")
        if not isinstance(path, str) or not path.lower().endswith(".json"):
            continue
        size = _number(item.get("size"))
        found.append(
            SavedWorkflow(
                path=path.replace("\\", "/"),
                size=int(size) if size is not None else None,
                modified=_number(item.get("modified")),
            )
        )
    return sorted(found, key=lambda w: w.path.lower())


async def fetch_saved_workflow(client: ComfyClient, path: str) -> dict[str, Any]:
    """The JSON of one saved workflow, ``path`` relative to the workflows dir.

    Raises :class:`UsageError` (``workflow_not_found``) when the server has no such
    file and :class:`TemplateInvalid` when the file is not a JSON object.
    """
    relative = path.replace("\\", "/").lstrip("/")
    data = await client.get_userdata(f"{WORKFLOWS_DIR}/{relative}")
    if data is None:
        raise UsageError(
            f"ComfyUI has no saved workflow {relative!r}.",
            code="workflow_not_found",
            hint="Check the name against the workflows listed in ComfyUI's Workflows panel.",
            details={"path": relative},
        )
    if not isinstance(data, dict):
        raise TemplateInvalid(
            f"The saved workflow {relative!r} is not a JSON object.",
            hint="Open it in ComfyUI and save it again.",
            details={"path": relative},
        )
    return data


def template_stem(path: str) -> str:
    """A template name from a saved path: last part, no ``.json``, lower-case, safe chars.

    ``"Shots/My Flow v2.json"`` -> ``"my-flow-v2"``. Accents are dropped, anything but
    letters, digits, ``_`` and ``-`` becomes ``-``.
    """
    stem = PurePosixPath(path.replace("\\", "/")).name
    if stem.lower().endswith(".json"):
        stem = stem[: -len(".json")]
    ascii_text = unicodedata.normalize("NFKD", stem).encode("ascii", "ignore").decode()
    stem = _UNSAFE.sub("-", ascii_text.lower()).strip("-_")
    stem = re.sub(r"-{2,}", "-", stem)[:80].strip("-_")
    if not stem:
        raise UsageError(
            f"Cannot make a template name from {path!r}.",
            code="invalid_name",
            hint="Give the template a name made of letters and digits.",
        )
    return stem


def _api_graph(data: dict[str, Any]) -> bool:
    return bool(data) and all(isinstance(v, dict) and "class_type" in v for v in data.values())


def _text_input(graph: dict[str, Any], node_id: str, catalog: Catalog) -> tuple[str, str] | None:
    """The literal text that ``node_id`` encodes: (node, input), following one link."""
    node = graph.get(node_id) or {}
    inputs = node.get("inputs") or {}
    schema = catalog.get(str(node.get("class_type")))
    for name in TEXT_INPUTS:
        spec = schema.inputs.get(name) if schema else None
        if name not in inputs or (spec is not None and spec.type != "STRING"):
            continue
        value = inputs[name]
        if isinstance(value, str):
            return node_id, name
        if isinstance(value, list) and len(value) == 2:
            # A text box node (PrimitiveString and the like): its one literal string.
            source_id = str(value[0])
            source = graph.get(source_id) or {}
            strings = [k for k, v in (source.get("inputs") or {}).items() if isinstance(v, str)]
            if len(strings) == 1:
                return source_id, strings[0]
    return None


def find_prompt_inputs(graph: dict[str, Any], catalog: Catalog, side: str) -> list[tuple[str, str]]:
    """The text inputs that feed a sampler's ``side`` ("positive"/"negative") input.

    Walks up from every node input called ``side`` through conditioning links; the
    first node on each path with a STRING ``text``/``prompt`` input is the encoder.
    """
    found: list[tuple[str, str]] = []
    for node in graph.values():
        start = (node.get("inputs") or {}).get(side)
        if not (isinstance(start, list) and len(start) == 2):
            continue
        queue, seen = deque([str(start[0])]), set()
        while queue:
            node_id = queue.popleft()
            if node_id in seen or node_id not in graph:
                continue
            seen.add(node_id)
            target = _text_input(graph, node_id, catalog)
            if target is not None:
                if target not in found:
                    found.append(target)
                continue
            current = graph[node_id]
            schema = catalog.get(str(current.get("class_type")))
            for name, value in (current.get("inputs") or {}).items():
                spec = schema.inputs.get(name) if schema else None
                is_link = isinstance(value, list) and len(value) == 2
                if is_link and (spec is None or spec.type == CONDITIONING):
                    queue.append(str(value[0]))
    return found


def _place(
    graph: dict[str, Any], targets: list[tuple[str, str]], placeholder: str, warnings: list[str]
) -> tuple[list[str], str | None]:
    """Put ``placeholder`` into the targets holding the first target's text."""
    if not targets:
        return [], None
    first_node, first_input = targets[0]
    text = graph[first_node]["inputs"][first_input]
    placed: list[str] = []
    for node_id, name in targets:
        if graph[node_id]["inputs"][name] == text:
            graph[node_id]["inputs"][name] = placeholder
            placed.append(f"{node_id}.{name}")
        else:
            warnings.append(
                f"node {node_id} input {name!r} holds a different text; left as it is "
                f"(only the text of node {first_node} became {placeholder})"
            )
    already = isinstance(text, str) and text.startswith("PARAM_")  # a template imported again
    return placed, text if isinstance(text, str) and not already else None


def _publish(text: str, final: Path, overwrite: bool) -> None:
    """Write ``final`` atomically; without ``overwrite`` an existing file is never replaced."""
    handle, temp_name = tempfile.mkstemp(prefix=f".{final.name}.", suffix=".part", dir=final.parent)
    temp = Path(temp_name)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(text)
        if overwrite:
            os.replace(temp, final)
            return
        try:
            os.link(temp, final)
        except FileExistsError:
            raise _exists(final) from None
        except OSError:
            # No hard links here: an exclusive create keeps the no-clobber rule.
            try:
                with final.open("x"):
                    pass
            except FileExistsError:
                raise _exists(final) from None
            os.replace(temp, final)
    finally:
        with contextlib.suppress(FileNotFoundError):
            temp.unlink()


def _exists(path: Path) -> UsageError:
    return UsageError(
        f"A template file {path.name} already exists in {path.parent}.",
        code="template_exists",
        hint="Choose another name, or re-run with --force to replace it.",
        details={"path": str(path)},
    )


def import_workflow(
    ui_or_api: dict[str, Any],
    catalog: Catalog,
    *,
    name: str,
    dest_dir: Path,
    overwrite: bool = False,
    source: str | None = None,
) -> ImportResult:
    """Write a saved workflow as the template ``<stem of name>.json`` (+ ``.meta.json``).

    A UI workflow is converted first (its warnings are kept). The positive prompt's
    text becomes ``PARAM_PROMPT`` and the negative one's ``PARAM_STR_NEGATIVE``; their
    old texts become the defaults in the sidecar, whose description names ``source``
    (default: ``name``). Raises :class:`UsageError` ``template_exists`` when either file
    exists and ``overwrite`` is False, :class:`TemplateInvalid` for a non-workflow.
    """
    stem = template_stem(name)
    converted = is_ui_workflow(ui_or_api)
    warnings: list[str] = []
    if converted:
        result = ui_to_api(ui_or_api, catalog)
        graph, warnings = result.graph, list(result.warnings)
    elif isinstance(ui_or_api, dict) and _api_graph(ui_or_api):
        graph = copy.deepcopy(ui_or_api)
    else:
        raise TemplateInvalid(
            f"{source or name} is neither a UI workflow nor an API graph.",
            hint="Save the workflow from ComfyUI (Workflow > Save) and try again.",
        )
    positive = find_prompt_inputs(graph, catalog, "positive")
    negative = [t for t in find_prompt_inputs(graph, catalog, "negative") if t not in positive]
    prompt_inputs, prompt_text = _place(graph, positive, PROMPT_PLACEHOLDER, warnings)
    negative_inputs, negative_text = _place(graph, negative, NEGATIVE_PLACEHOLDER, warnings)
    if not prompt_inputs:
        warnings.append("no text input feeds a sampler's positive input; no prompt parameter")
    meta: dict[str, Any] = {"description": f"Imported from ComfyUI: {source or name}"}
    defaults = {"prompt": prompt_text, "negative": negative_text}
    if any(v is not None for v in defaults.values()):
        meta["defaults"] = {k: v for k, v in defaults.items() if v is not None}

    dest_dir.mkdir(parents=True, exist_ok=True)
    path, meta_path = dest_dir / f"{stem}.json", dest_dir / f"{stem}.meta.json"
    if not overwrite:
        for existing in (path, meta_path):
            if existing.exists():
                raise _exists(existing)
    _publish(json.dumps(graph, indent=2, ensure_ascii=False) + "\n", path, overwrite)
    _publish(json.dumps(meta, indent=2, ensure_ascii=False) + "\n", meta_path, overwrite)
    return ImportResult(
        name=stem,
        path=path,
        meta_path=meta_path,
        converted=converted,
        prompt_inputs=prompt_inputs,
        negative_inputs=negative_inputs,
        warnings=warnings,
    )
