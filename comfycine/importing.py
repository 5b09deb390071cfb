"""Workflows saved in ComfyUI (or shipped with it), turned into comfycine templates.

ComfyUI keeps saved workflows as UI-format JSON under ``user/<user>/workflows/``; the
server lists them at ``/api/userdata?dir=workflows`` and serves one at
``/api/userdata/workflows%2F<path>`` (PROTOCOL.md §1.10). :func:`import_workflow`
converts one to an API graph, infers placeholders for the usual parameters (prompt and
negative text, size, frames, fps, steps, cfg, media inputs: :mod:`.templates.infer`),
fills the sidecar with their defaults and bounds, the model files with the URL and
folder the workflow gives them (:mod:`.graph.modelrefs`), the custom-node packs and
partner nodes it uses, and writes ``NAME.json`` + ``NAME.meta.json`` without ever
replacing an existing template unless asked to.
"""

from __future__ import annotations

import contextlib
import copy
import json
import os
import re
import tempfile
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from .errors import TemplateInvalid, UsageError
from .graph.convert import is_ui_workflow, ui_to_api
from .graph.modelrefs import ModelRef, model_refs
from .graph.packrefs import node_packs
from .graph.partner import partner_nodes
from .graph.schema import Catalog
from .templates.choices import has_choice
from .templates.infer import infer_placeholders
from .templates.prompts import (
    NEGATIVE_PLACEHOLDER,
    PROMPT_PLACEHOLDER,
    find_prompt_inputs,
)
from .transport import ComfyClient

__all__ = [
    "NEGATIVE_PLACEHOLDER",
    "PROMPT_PLACEHOLDER",
    "ImportResult",
    "SavedWorkflow",
    "fetch_saved_workflow",
    "find_prompt_inputs",
    "import_workflow",
    "list_saved_workflows",
    "sidecar_models",
    "template_stem",
]

WORKFLOWS_DIR = "workflows"  # under the server's user directory
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
    """A template written from a workflow, and what was inferred for it."""

    name: str
    path: Path
    meta_path: Path
    converted: bool  # the source was UI format
    prompt_inputs: list[str] = field(default_factory=list)  # "node.input" set to PARAM_PROMPT
    negative_inputs: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    parameters: list[dict[str, Any]] = field(default_factory=list)  # the inferred ones
    models: list[dict[str, Any]] = field(default_factory=list)  # the sidecar's entries
    custom_nodes: list[dict[str, Any]] = field(default_factory=list)
    partner_nodes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-friendly form for the envelope."""
        return {
            "name": self.name,
            "path": str(self.path),
            "meta_path": str(self.meta_path),
            "converted": self.converted,
            "prompt_inputs": self.prompt_inputs,
            "negative_inputs": self.negative_inputs,
            "parameters": self.parameters,
            "models": self.models,
            "custom_nodes": self.custom_nodes,
            "partner_nodes": self.partner_nodes,
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


def _base(name: str) -> str:
    return name.replace("\\", "/").rsplit("/", 1)[-1]


def sidecar_models(
    graph: dict[str, Any], declared: list[ModelRef]
) -> tuple[list[dict[str, Any]], list[str]]:
    """The sidecar's ``models`` for ``graph``, and the names no URL is known for.

    Every model file the API graph names gets an entry; the URL and folder come from
    ``declared`` (the refs of the UI workflow it came from), matched by name, else by
    file name; the folder falls back to the one the input implies.
    """
    by_name = {ref.name: ref for ref in declared}
    by_base = {_base(ref.name): ref for ref in declared}
    entries: list[dict[str, Any]] = []
    missing: list[str] = []
    for used in model_refs(graph):
        ref = by_name.get(used.name) or by_base.get(_base(used.name))
        merged = ModelRef(
            used.name,
            ref.url if ref else None,
            (ref.directory if ref else None) or used.directory,
            used.node_id,
            used.class_type,
        )
        entries.append(merged.to_sidecar())
        if merged.url is None:
            missing.append(used.name)
    return entries, missing


def _no_url_warning(missing: list[str]) -> str:
    listed = ", ".join(missing[:6]) + (f" and {len(missing) - 6} more" if len(missing) > 6 else "")
    return (
        f"{len(missing)} model file(s) carry no download URL in the workflow: {listed}; "
        "the sidecar lists them without one (nothing was looked up)"
    )


def import_workflow(
    ui_or_api: dict[str, Any],
    catalog: Catalog,
    *,
    name: str,
    dest_dir: Path,
    overwrite: bool = False,
    source: str | None = None,
    description: str | None = None,
    extra_meta: dict[str, Any] | None = None,
) -> ImportResult:
    """Write a workflow as the template ``<stem of name>.json`` (+ ``.meta.json``).

    A UI workflow is converted first (its warnings are kept). Placeholders are inferred
    (:func:`~comfycine.templates.infer.infer_placeholders`): the positive prompt's text
    becomes ``PARAM_PROMPT``, the negative one's ``PARAM_STR_NEGATIVE``, sizes, frames,
    fps, steps, cfg and media inputs their own; the old values become the defaults.
    The sidecar gets ``description`` (default: "Imported from ComfyUI: ``source``"),
    the models with URL and folder, the custom-node packs, the partner nodes used and
    ``extra_meta``. A model without a URL is named in the warnings. Raises
    :class:`UsageError` ``template_exists`` when either file exists and ``overwrite``
    is False, :class:`TemplateInvalid` for a non-workflow.
    """
    stem = template_stem(name)
    converted = is_ui_workflow(ui_or_api)
    warnings: list[str] = []
    if converted:
        result = ui_to_api(ui_or_api, catalog)
        graph, warnings = result.graph, list(result.warnings)
        for prompt in result.prompts:
            # {a|b} choices stay in the template: each take draws its own, like a seed
            # (templates.choices), instead of the one draw made while converting.
            node = graph.get(prompt.node)
            if has_choice(prompt.template) and isinstance(node, dict):
                node.setdefault("inputs", {})[prompt.input] = prompt.template
    elif isinstance(ui_or_api, dict) and _api_graph(ui_or_api):
        graph = copy.deepcopy(ui_or_api)
    else:
        raise TemplateInvalid(
            f"{source or name} is neither a UI workflow nor an API graph.",
            hint="Save the workflow from ComfyUI (Workflow > Save) and try again.",
        )
    inference = infer_placeholders(graph, catalog)
    warnings.extend(inference.warnings)
    models, missing = sidecar_models(graph, model_refs(ui_or_api) if converted else [])
    if missing:
        warnings.append(_no_url_warning(missing))
    packs = node_packs(ui_or_api)
    partners = sorted({node.class_type for node in partner_nodes(graph, catalog)})
    meta: dict[str, Any] = {
        "description": description or f"Imported from ComfyUI: {source or name}"
    }
    meta.update(inference.sidecar())
    for key, value in (("models", models), ("custom_nodes", packs), ("partner_nodes", partners)):
        if value:
            meta[key] = value
    meta.update(extra_meta or {})

    dest_dir.mkdir(parents=True, exist_ok=True)
    path, meta_path = dest_dir / f"{stem}.json", dest_dir / f"{stem}.meta.json"
    if not overwrite:
        for existing in (path, meta_path):
            if existing.exists():
                raise _exists(existing)
    text = json.dumps(inference.graph, indent=2, ensure_ascii=False) + "\n"
    _publish(text, path, overwrite)
    _publish(json.dumps(meta, indent=2, ensure_ascii=False) + "\n", meta_path, overwrite)
    return ImportResult(
        name=stem,
        path=path,
        meta_path=meta_path,
        converted=converted,
        prompt_inputs=inference.targets_of("prompt"),
        negative_inputs=inference.targets_of("negative"),
        warnings=warnings,
        parameters=[p.to_dict() for p in inference.parameters],
        models=models,
        custom_nodes=packs,
        partner_nodes=partners,
    )
