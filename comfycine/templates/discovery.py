"""Finding templates in the workflow directories and loading one into a :class:`Template`.

Kept cheap on purpose (``workflow list`` is on the cold-start benchmark): json, pathlib
and dataclasses only.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import TemplateInvalid, TemplateNotFound
from .meta import apply_meta, parse_meta
from .placeholders import Parameter, scan_graph

TEMPLATE_SUFFIX = ".json"
META_SUFFIX = ".meta.json"
_MAX_LISTED = 8  # problems spelled out in one message; the rest are in details


@dataclass(frozen=True)
class Template:
    """A loaded template: its API graph (placeholders intact), sidecar and parameters."""

    name: str
    path: Path
    graph: dict[str, Any]
    meta: dict[str, Any]
    parameters: dict[str, Parameter]
    description: str = ""
    fixed_seed: bool = False

    @property
    def models(self) -> list[Any]:
        """The sidecar's ``models`` list, as data."""
        return list(self.meta.get("models") or [])

    @property
    def custom_nodes(self) -> list[Any]:
        """The sidecar's ``custom_nodes`` list, as data."""
        return list(self.meta.get("custom_nodes") or [])

    @property
    def outputs(self) -> Any:
        """The sidecar's optional ``outputs`` entry, as data (None when absent)."""
        return self.meta.get("outputs")


@dataclass(frozen=True)
class TemplateInfo:
    """One line of ``workflow list``: a template found on disk, loadable or not."""

    name: str
    path: Path
    description: str = ""
    parameters: tuple[str, ...] = field(default_factory=tuple)
    error: str | None = None  # why it cannot be loaded, when it cannot


def shipped_dir() -> Path:
    """The templates shipped with comfycine.

    In a wheel they are force-included as ``comfycine/_workflows``; in a source checkout
    (or an editable install) they are the top-level ``workflows/`` beside the package.
    """
    package = Path(__file__).resolve().parent.parent
    bundled = package / "_workflows"
    return bundled if bundled.is_dir() else package.parent / "workflows"


def template_dirs(workflow_dir: Path | None) -> list[Path]:
    """The directories searched for templates, first match wins: the user's, then shipped."""
    dirs: list[Path] = []
    if workflow_dir is not None:
        dirs.append(Path(os.path.expanduser(str(workflow_dir))))
    shipped = shipped_dir()
    if not any(_same_dir(d, shipped) for d in dirs):
        dirs.append(shipped)
    return dirs


def _same_dir(a: Path, b: Path) -> bool:
    try:
        return a.resolve() == b.resolve()
    except OSError:
        return False


def _template_files(directory: Path) -> list[Path]:
    if not directory.is_dir():
        return []
    return sorted(
        p
        for p in directory.glob("*" + TEMPLATE_SUFFIX)
        if not p.name.endswith(META_SUFFIX) and not p.name.startswith(".") and p.is_file()
    )


def _template_name(path: Path) -> str:
    return path.name[: -len(TEMPLATE_SUFFIX)]


def list_templates(dirs: Sequence[Path]) -> list[TemplateInfo]:
    """Every template in ``dirs``, sorted by name; a name in an earlier dir hides later ones.

    A template that fails to load is listed with its ``error`` instead of failing the list.
    """
    infos: dict[str, TemplateInfo] = {}
    for directory in dirs:
        for path in _template_files(directory):
            name = _template_name(path)
            if name in infos:
                continue
            try:
                template = read_template(path)
            except TemplateInvalid as exc:
                infos[name] = TemplateInfo(name, path, error=exc.message)
            else:
                infos[name] = TemplateInfo(
                    name, path, template.description, tuple(template.parameters)
                )
    return [infos[name] for name in sorted(infos)]


def _looks_like_path(name: str) -> bool:
    return name.endswith(TEMPLATE_SUFFIX) or "/" in name or os.sep in name or name[:1] in ("~", ".")


def load_template(name_or_path: str, dirs: Sequence[Path]) -> Template:
    """Load a template by name (searched in ``dirs``) or by path to its ``.json`` file.

    Raises TemplateNotFound (with close names) or TemplateInvalid.
    """
    if _looks_like_path(name_or_path):
        path = Path(os.path.expanduser(name_or_path))
        if path.is_file():
            return read_template(path)
        raise TemplateNotFound(
            f"No template file at {path}",
            hint="Check the path, or list the templates with: comfycine workflow list",
            details={"path": str(path)},
        )
    for directory in dirs:
        path = directory / (name_or_path + TEMPLATE_SUFFIX)
        if path.is_file():
            return read_template(path)
    names = sorted({_template_name(p) for d in dirs for p in _template_files(d)})
    same = [n for n in names if n.lower() == name_or_path.lower()]
    if len(same) == 1:
        return load_template(same[0], dirs)
    import difflib

    close = difflib.get_close_matches(name_or_path, names, n=3, cutoff=0.5)
    message = f"Unknown template {name_or_path!r}"
    if close:
        message += "; did you mean " + " or ".join(repr(n) for n in close) + "?"
    raise TemplateNotFound(
        message,
        details={"name": name_or_path, "suggestions": close, "searched": [str(d) for d in dirs]},
    )


def _read_json(path: Path) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise TemplateInvalid(
            f"Cannot read {path}: {reason}", hint="Check the file.", details={"path": str(path)}
        ) from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise TemplateInvalid(
            f"{path} is not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}",
            hint=f"Fix the JSON syntax in {path.name}.",
            details={"path": str(path), "line": exc.lineno, "column": exc.colno},
        ) from None


def _fail(path: Path, problems: list[str], hint: str | None = None) -> TemplateInvalid:
    shown = "; ".join(problems[:_MAX_LISTED])
    if len(problems) > _MAX_LISTED:
        shown += f"; and {len(problems) - _MAX_LISTED} more"
    return TemplateInvalid(
        f"{path}: {shown}", hint=hint, details={"path": str(path), "problems": problems}
    )


def check_graph(data: Any, path: Path) -> dict[str, Any]:
    """``data`` as an API-format graph, or TemplateInvalid saying what is wrong with it."""
    if (
        isinstance(data, dict)
        and isinstance(data.get("nodes"), list)
        and isinstance(data.get("links"), list)
    ):
        raise TemplateInvalid(
            f"{path} is a ComfyUI workflow in the UI (save) format, not the API format",
            hint=(
                'Export it with "Export (API)" in ComfyUI, or convert it with: '
                f"comfycine workflow convert {path}"
            ),
            details={"path": str(path), "format": "ui"},
        )
    if not isinstance(data, dict):
        raise _fail(path, ["an API graph must be a JSON object mapping node ids to nodes"])
    if not data:
        raise _fail(path, ["the graph has no nodes"])
    problems = []
    for node_id, node in data.items():
        if not isinstance(node, dict):
            problems.append(f"node {node_id!r} is not an object")
        elif not isinstance(node.get("class_type"), str) or not node["class_type"]:
            problems.append(f"node {node_id!r} has no class_type")
        elif not isinstance(node.get("inputs"), dict):
            problems.append(f"node {node_id!r} ({node['class_type']}) has no inputs object")
    if problems:
        raise _fail(path, problems)
    return data


def read_template(path: Path) -> Template:
    """Load the template stored at ``path`` (and its ``.meta.json`` beside it, if any)."""
    if path.name.endswith(META_SUFFIX):
        graph_path = path.with_name(path.name[: -len(META_SUFFIX)] + TEMPLATE_SUFFIX)
        raise TemplateInvalid(
            f"{path} is a template's sidecar, not a template",
            hint=f"Pass the template itself: {graph_path}",
            details={"path": str(path)},
        )
    name = _template_name(path) if path.name.endswith(TEMPLATE_SUFFIX) else path.stem
    graph = check_graph(_read_json(path), path)
    parameters, problems = scan_graph(graph)
    if problems:
        raise _fail(path, problems, hint="Fix the placeholders (see: comfycine workflow show)")
    meta_path = path.with_name(name + META_SUFFIX)
    raw_meta: dict[str, Any] = {}
    if meta_path.is_file():
        loaded = _read_json(meta_path)
        info, problems = parse_meta(loaded)
        if not problems:
            raw_meta = loaded
            parameters, problems = apply_meta(parameters, info, graph, path.parent)
        if problems:
            raise _fail(meta_path, problems, hint=f"Fix {meta_path.name}.")
    else:
        info, _ = parse_meta({})
        parameters, problems = apply_meta(parameters, info, graph, path.parent)
        if problems:
            raise _fail(path, problems)
    return Template(
        name=name,
        path=path,
        graph=graph,
        meta=raw_meta,
        parameters=parameters,
        description=info.description,
        fixed_seed=info.fixed_seed,
    )
