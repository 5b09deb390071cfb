"""What ``fix`` would install: the missing models and node packs, and where each comes from.

The needs come from a validation report (``missing_model``, ``unknown_node``,
``missing_custom_node``). Each is then looked up, first source first:

- a model: the template's sidecar (``models``: name, folder, url), the workflow itself
  (UI workflows carry ``properties.models`` per node: :mod:`comfycine.graph.modelrefs`),
  then ComfyUI-Manager's model list;
- a node class: the template's sidecar (``custom_nodes``: id, repo, classes), then
  Manager's class → pack mappings.

What no source knows is kept as unresolved, with the reason: nothing is searched for
silently, and nothing unknown is installed.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..graph.validate import ModelIndex, Problem

MODEL_CODES = frozenset({"missing_model"})
NODE_CODES = frozenset({"unknown_node", "missing_custom_node"})


@dataclass(frozen=True)
class ModelNeed:
    """A model file a node names that the server does not have."""

    name: str  # as the graph names it (may hold a subfolder: "wan/x.safetensors")
    folder: str | None  # the models/ folder it belongs in, when known
    node: str | None
    class_type: str | None


@dataclass(frozen=True)
class ModelInstall:
    """One model download to queue on the PC."""

    name: str  # the file name the graph expects
    folder: str  # models/<folder>/
    url: str
    source: str  # template | workflow | manager
    size: int | None = None  # bytes, when known
    listing: Mapping[str, Any] | None = None  # Manager's own entry, sent back as is

    def to_dict(self) -> dict[str, Any]:
        """JSON form (``data.models`` of ``fix``)."""
        return {
            "name": self.name,
            "folder": self.folder,
            "url": self.url,
            "source": self.source,
            "size": self.size,
        }


@dataclass(frozen=True)
class PackInstall:
    """One custom-node pack to install on the PC, for the classes it provides."""

    id: str  # Manager's id, or the repository URL
    title: str
    repo: str | None
    classes: tuple[str, ...]  # the missing classes it provides
    source: str  # template | manager

    def to_dict(self) -> dict[str, Any]:
        """JSON form (``data.packs`` of ``fix``)."""
        return {
            "id": self.id,
            "title": self.title,
            "repo": self.repo,
            "classes": list(self.classes),
            "source": self.source,
        }


@dataclass
class FixPlan:
    """Everything ``fix`` would do, and what it cannot do (``unresolved``)."""

    models: list[ModelInstall] = field(default_factory=list)
    packs: list[PackInstall] = field(default_factory=list)
    unresolved: list[dict[str, Any]] = field(default_factory=list)
    other_problems: list[Problem] = field(default_factory=list)  # not fixable by installing

    @property
    def empty(self) -> bool:
        """Nothing to install."""
        return not self.models and not self.packs

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {
            "models": [m.to_dict() for m in self.models],
            "packs": [p.to_dict() for p in self.packs],
            "unresolved": self.unresolved,
            "other_problems": [p.to_dict() for p in self.other_problems],
        }


def needs_of(
    problems: Sequence[Problem], graph: Mapping[str, Any], declared: Sequence[Mapping[str, Any]]
) -> tuple[list[ModelNeed], dict[str, list[str]], list[Problem]]:
    """The missing models, the missing classes (→ the nodes using them) and the other
    problems of a validation report."""
    index = ModelIndex(None, [dict(entry) for entry in declared])
    models: dict[str, ModelNeed] = {}
    classes: dict[str, list[str]] = {}
    other: list[Problem] = []
    for problem in problems:
        if problem.code in MODEL_CODES and problem.node is not None and problem.input:
            node = graph.get(problem.node) or {}
            value = (node.get("inputs") or {}).get(problem.input)
            if not isinstance(value, str):
                other.append(problem)
                continue
            folder = index.folder_for(problem.input, str(problem.class_type or ""), value)
            models.setdefault(value, ModelNeed(value, folder, problem.node, problem.class_type))
        elif problem.code in NODE_CODES and problem.class_type:
            classes.setdefault(problem.class_type, []).append(problem.node or "?")
        else:
            other.append(problem)
    return list(models.values()), classes, other


def _base(name: str) -> str:
    return name.replace("\\", "/").rsplit("/", 1)[-1]


@dataclass(frozen=True)
class ModelSource:
    """A place that knows model URLs: entries with a name, a folder and a URL."""

    name: str  # template | workflow | manager
    entries: Sequence[Mapping[str, Any]]


def resolve_models(needs: Iterable[ModelNeed], sources: Sequence[ModelSource]) -> FixPlan:
    """Each missing model's download, from the first source that has its URL."""
    plan = FixPlan()
    for need in needs:
        found = _find_model(need, sources)
        if found is None:
            plan.unresolved.append(
                {
                    "kind": "model",
                    "name": need.name,
                    "folder": need.folder,
                    "node": need.node,
                    "reason": "no download URL is known for it (not in the template, the"
                    " workflow or Manager's model list)",
                }
            )
        else:
            plan.models.append(found)
    return plan


def _find_model(need: ModelNeed, sources: Sequence[ModelSource]) -> ModelInstall | None:
    wanted = _base(need.name)
    for source in sources:
        for entry in source.entries:
            name = entry.get("filename") or entry.get("name")
            url = entry.get("url")
            if not isinstance(name, str) or _base(name) != wanted:
                continue
            if not isinstance(url, str) or not url.startswith(("http://", "https://")):
                continue
            folder = entry.get("folder") or entry.get("directory") or need.folder
            if not isinstance(folder, str) or not folder:
                continue
            size = entry.get("size_bytes")
            return ModelInstall(
                name=need.name,
                folder=folder,
                url=url,
                source=source.name,
                size=size if isinstance(size, int) else None,
                listing=entry if source.name == "manager" else None,
            )
    return None


@dataclass(frozen=True)
class PackSource:
    """A place that knows which pack provides a class: ``{class: pack entry}``."""

    name: str  # template | manager
    by_class: Mapping[str, Mapping[str, Any]]


def resolve_packs(
    classes: Mapping[str, list[str]], sources: Sequence[PackSource], plan: FixPlan
) -> None:
    """Add to ``plan`` the pack for each missing class (one install per pack)."""
    chosen: dict[str, PackInstall] = {}
    for cls in classes:
        entry, source = None, ""
        for candidate in sources:
            if cls in candidate.by_class:
                entry, source = candidate.by_class[cls], candidate.name
                break
        if entry is None:
            plan.unresolved.append(
                {
                    "kind": "node",
                    "name": cls,
                    "nodes": classes[cls],
                    "reason": "no known custom-node pack provides this class (not in the"
                    " template or Manager's mappings)",
                }
            )
            continue
        key = str(entry.get("id") or entry.get("repo") or entry.get("name"))
        known = chosen.get(key)
        provided = (*known.classes, cls) if known is not None else (cls,)
        chosen[key] = PackInstall(
            id=key,
            title=str(entry.get("name") or entry.get("title") or key),
            repo=entry.get("repo") if isinstance(entry.get("repo"), str) else None,
            classes=provided,
            source=source,
        )
    plan.packs.extend(chosen.values())


def template_packs(custom_nodes: Sequence[Mapping[str, Any]]) -> PackSource:
    """The template sidecar's ``custom_nodes`` as a class → pack source."""
    by_class: dict[str, Mapping[str, Any]] = {}
    for pack in custom_nodes:
        for cls in pack.get("classes") or ():
            if isinstance(cls, str):
                by_class.setdefault(cls, pack)
    return PackSource("template", by_class)
