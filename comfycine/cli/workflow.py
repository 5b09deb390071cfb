"""``comfycine workflow list|show``: the templates and their parameters.

The other ``workflow`` commands live in ``workflow_tools`` and ``workflow_script``.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer

from comfycine.cli.bodies.workflow import workflow_dirs
from comfycine.cli.options import DebugOpt, JsonOpt, TargetOpt
from comfycine.cli.render import Output

app = typer.Typer(
    help="Workflows: templates, validation against the server, conversion, import, ComfyScript.",
    no_args_is_help=True,
)


@app.command("list")
def list_(
    target: TargetOpt = None,
    json: JsonOpt = False,
    debug: DebugOpt = False,
) -> None:
    """List the templates that `comfycine generate` can run."""
    from comfycine.templates import list_templates

    output = Output("workflow list", as_json=json)
    infos = list_templates(workflow_dirs())
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
    values = dict(locals())
    from comfycine.cli.bodies import workflow

    workflow.show(**values)
