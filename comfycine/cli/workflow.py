"""``comfycine workflow list|show``: the templates and their parameters.

The other ``workflow`` commands live in ``workflow_tools`` and ``workflow_script``.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer

from comfycine.cli.options import DebugOpt, JsonOpt, TargetOpt
from comfycine.cli.render import Output

app = typer.Typer(
    help="Workflows: templates, validation against the server, conversion, import, ComfyScript.",
    no_args_is_help=True,
)


def _workflow_dirs() -> list[Any]:
    """The template directories, without loading the full settings (kept fast)."""
    import os
    from pathlib import Path

    from comfycine.envnames import quick_setting
    from comfycine.templates import template_dirs

    configured = quick_setting("workflow_dir", os.environ)
    return template_dirs(Path(os.path.expanduser(configured)) if configured else None)


@app.command("list")
def list_(
    target: TargetOpt = None,
    json: JsonOpt = False,
    debug: DebugOpt = False,
) -> None:
    """List the templates that `comfycine generate` can run."""
    from comfycine.templates import list_templates

    output = Output("workflow list", as_json=json)
    infos = list_templates(_workflow_dirs())
    data = {
        "templates": [
            {
                "name": info.name,
                "description": info.description,
                "parameters": list(info.parameters),
                "path": str(info.path),
                "error": info.error,
            }
            for info in infos
        ]
    }

    def human(out: Output, d: dict[str, Any]) -> None:
        if not d["templates"]:
            out.info("No templates found. Set COMFYCINE_WORKFLOW_DIR to your workflows folder.")
        width = max((len(t["name"]) for t in d["templates"]), default=0)
        for t in d["templates"]:
            if t["error"]:
                out.write_stdout(f"{t['name']:{width}}  (cannot be used: {t['error']})")
                continue
            params = ", ".join(t["parameters"])
            out.write_stdout(f"{t['name']:{width}}  {t['description']}  [{params}]")

    output.success(data, human)


@app.command("show")
def show(
    name: Annotated[str, typer.Argument(help="Template name or path to a .json file.")],
    target: TargetOpt = None,
    json: JsonOpt = False,
    debug: DebugOpt = False,
) -> None:
    """Show a template's parameters (types, defaults, bounds) and nodes."""
    from comfycine.templates import describe_parameters, load_template

    output = Output("workflow show", as_json=json)
    template = load_template(name, _workflow_dirs())
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
        for p in d["parameters"]:
            extras = [f"{k}={p[k]}" for k in ("default", "min", "max", "choices") if p.get(k)]
            req = " (required)" if p.get("required") else ""
            out.write_stdout(f"  --set {p['name']}=<{p['kind']}>{req}  {' '.join(extras)}")
        out.write_stdout(
            "  nodes: " + ", ".join(f"{n['id']}:{n['class_type']}" for n in d["nodes"])
        )

    output.success(data, human)
