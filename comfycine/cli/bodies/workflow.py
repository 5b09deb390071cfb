"""The body of ``workflow show``, free of Typer (see ``cli/bodies``)."""

from __future__ import annotations

from typing import Any

from comfycine.cli.render import Output


def workflow_dirs() -> list[Any]:
    """The template directories, without loading the full settings (kept fast)."""
    import os
    from pathlib import Path

    from comfycine.envnames import quick_setting
    from comfycine.templates import template_dirs

    configured = quick_setting("workflow_dir", os.environ)
    return template_dirs(Path(os.path.expanduser(configured)) if configured else None)


def describe(parameter: dict[str, Any]) -> str:
    """``required``, the default, bounds and choices of one parameter, on one line."""
    parts = []
    if parameter.get("required"):
        parts.append("required")
    elif parameter.get("seed") and parameter.get("default") is None:
        parts.append("random if unset")
    elif parameter.get("default") is not None:
        parts.append(f"default {parameter['default']}")
    bounds = parameter.get("bounds") or {}
    if bounds.get("min") is not None or bounds.get("max") is not None:
        parts.append(f"{bounds.get('min', '')}..{bounds.get('max', '')}")
    if bounds.get("step") and bounds.get("step") != "any":
        parts.append(str(bounds["step"]))
    if parameter.get("choices"):
        parts.append("one of: " + ", ".join(map(str, parameter["choices"])))
    return "; ".join(parts)


def show(*, name: str, target: str | None = None, json: bool = False, debug: bool = False) -> None:
    """``comfycine workflow show``: a template's parameters and nodes."""
    from comfycine.templates import describe_parameters, load_template

    output = Output("workflow show", as_json=json)
    template = load_template(name, workflow_dirs())
    nodes = [
        {
            "id": node_id,
            "class_type": node.get("class_type"),
            "title": (node.get("_meta") or {}).get("title"),
        }
        for node_id, node in template.graph.items()
    ]
    data = {
        "name": template.name,
        "path": str(template.path),
        "description": template.description,
        "parameters": describe_parameters(template),
        "nodes": nodes,
        "models": template.meta.get("models", []),
        "custom_nodes": template.meta.get("custom_nodes", []),
    }

    def human(out: Output, d: dict[str, Any]) -> None:
        out.write_stdout(f"{d['name']}: {d['description']}")
        out.write_stdout("parameters:")
        for p in d["parameters"]:
            out.write_stdout(f"  --set {p['name']}=<{p['kind']}>  {describe(p)}")
        if d["models"]:
            out.write_stdout("models:")
            for model in d["models"]:
                out.write_stdout(f"  models/{model.get('folder', '?')}/{model.get('name')}")
        for pack in d["custom_nodes"]:
            out.write_stdout(f"custom nodes: {pack.get('id')} ({pack.get('install', '')})")
        out.write_stdout("nodes: " + ", ".join(f"{n['id']}:{n['class_type']}" for n in d["nodes"]))

    output.success(data, human)
