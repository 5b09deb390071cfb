"""``workflow validate|convert|import|nodes|models``: checking and bringing in workflows."""

from __future__ import annotations

import json as jsonlib
from pathlib import Path
from typing import Annotated, Any

import typer

from comfycine.cli.options import (
    DebugOpt,
    ForceOpt,
    JsonOpt,
    OfflineOpt,
    OutputOpt,
    TargetOpt,
    UrlOpt,
    load_settings,
)
from comfycine.cli.render import Output


def _target(settings: Any, target: str | None) -> Any:
    from comfycine.targets import resolve_target

    return resolve_target(settings, target)


def _print_problems(out: Output, data: dict[str, Any]) -> None:
    # Each message already names the node, its title, class and input.
    for problem in data["problems"]:
        out.write_stdout(f"{problem['code']}: {problem['message']}")
        if problem.get("fix"):
            out.write_stdout(f"  fix: {problem['fix']}")
    _print_partner_nodes(out, data)


def _print_partner_nodes(out: Output, data: dict[str, Any]) -> None:
    """Partner nodes are no problem, but they bill the Comfy account: say so."""
    for node in data.get("partner_nodes") or ():
        price = (node.get("price") or {}).get("text") or "no price given by the server"
        out.info(
            f"partner node {node['node']}: {node['display_name']} ({node['class_type']}) "
            f"bills your Comfy account: {price}; running it needs --allow-spend."
        )


def validate(
    workflow: Annotated[str, typer.Argument(help="Template name, .json (API or UI) or .py.")],
    offline: OfflineOpt = False,
    fix: Annotated[
        bool,
        typer.Option("--fix", help="Install what is missing through ComfyUI-Manager (asks)."),
    ] = False,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="With --fix: do not ask.")] = False,
    target: TargetOpt = None,
    url: UrlOpt = None,
    json: JsonOpt = False,
    debug: DebugOpt = False,
) -> None:
    """Check a workflow against the server's nodes and models: every problem at once.

    Partner (paid API) nodes are listed too (data.partner_nodes, with the server's
    price where it gives one): valid, but running them needs --allow-spend. --fix then
    installs what is missing, as comfycine fix does.
    """
    import asyncio

    if fix:
        from comfycine.cli.fix import run_fix

        run_fix(workflow, yes=yes, dry_run=False, timeout=7200.0, target=target, url=url,
                command="workflow validate", as_json=json)  # fmt: skip
        return

    from comfycine.workbench import validate as run_validate

    settings = load_settings(url)
    output = Output("workflow validate", as_json=json)
    report = asyncio.run(
        run_validate(settings, workflow, target=_target(settings, target), offline=offline)
    )
    data = report.to_dict()
    if report.problems:
        if not json:
            _print_problems(output, data)
        report.raise_if_invalid()

    def human(out: Output, d: dict[str, Any]) -> None:
        for warning in d["warnings"]:
            out.info(f"warning: {warning}")
        _print_partner_nodes(out, d)
        out.info(f"✓ {d['workflow']} is valid on this server ({d['catalog']} node list).")

    output.success(data, human)


def convert(
    source: Annotated[Path, typer.Argument(help="A workflow saved in ComfyUI's UI format.")],
    out: OutputOpt = None,
    force: ForceOpt = False,
    offline: OfflineOpt = False,
    target: TargetOpt = None,
    url: UrlOpt = None,
    json: JsonOpt = False,
    debug: DebugOpt = False,
    seed: Annotated[
        int | None,
        typer.Option(help="Draw the {a|b} choices of dynamic prompts as an earlier --seed did."),
    ] = None,
) -> None:
    """Convert a UI-format workflow to the API format, as ComfyUI's frontend queues it."""
    import asyncio

    from comfycine.files import write_new_file
    from comfycine.workbench import convert as run_convert

    settings = load_settings(url)
    output = Output("workflow convert", as_json=json)
    result = asyncio.run(
        run_convert(
            settings,
            source.expanduser(),
            target=_target(settings, target),
            offline=offline,
            seed=seed,
        )
    )
    text = jsonlib.dumps(result.graph, indent=2, ensure_ascii=False) + "\n"
    written = write_new_file(out.expanduser(), text, force=force) if out else None
    data = {
        "graph": result.graph,
        "warnings": result.warnings,
        "output": str(written) if written else None,
        # The {a|b} draws of dynamic prompts: --seed SEED makes the same texts again.
        "seed": result.seed,
        "prompts": [p.to_dict() for p in result.prompts],
    }

    def human(o: Output, d: dict[str, Any]) -> None:
        for warning in d["warnings"]:
            o.info(f"warning: {warning}")
        for prompt in d["prompts"]:
            if prompt["choices"]:
                o.info(
                    f"node {prompt['node']} {prompt['input']}: drew {prompt['text']!r} "
                    f"(again with --seed {d['seed']})"
                )
        if d["output"]:
            o.write_stdout(d["output"])
        else:
            o.write_stdout(text.rstrip("\n"))

    output.success(data, human)


def import_(
    names: Annotated[
        list[str] | None,
        typer.Argument(help="Saved workflows (or with --official, templates) to import."),
    ] = None,
    official: Annotated[
        bool,
        typer.Option(
            "--official", help="The templates the server's ComfyUI ships (no NAME: list them)."
        ),
    ] = False,
    as_name: Annotated[
        str | None, typer.Option("--as", help="Template name to write (one NAME only).")
    ] = None,
    all_: Annotated[bool, typer.Option("--all", help="Import every saved workflow.")] = False,
    dest: Annotated[
        Path | None,
        typer.Option(help="Folder to write into (default: COMFYCINE_WORKFLOW_DIR or ./workflows)."),
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Replace existing templates.")] = False,
    target: TargetOpt = None,
    url: UrlOpt = None,
    json: JsonOpt = False,
    debug: DebugOpt = False,
) -> None:
    """List the workflows saved in ComfyUI (or the official templates), or import them.

    An import writes NAME.json and NAME.meta.json: placeholders for the prompt, size,
    frames, fps, steps, cfg and media inputs, and the models with their download URLs.
    """
    import asyncio

    from comfycine import workbench
    from comfycine.errors import UsageError

    settings = load_settings(url)
    output = Output("workflow import", as_json=json)
    folder = (dest or settings.workflow_dir or Path("workflows")).expanduser()
    chosen = _target(settings, target)
    if official and all_:
        raise UsageError(
            "--all imports every saved workflow; with --official, name the templates.",
            code="official_with_all",
            hint="List the official templates with: comfycine workflow import --official",
        )
    if official and not names:
        data = asyncio.run(workbench.list_official_templates(settings, target=chosen))
    elif official:
        data = asyncio.run(
            workbench.import_official(
                settings, names or [], target=chosen, dest=folder, as_name=as_name, force=force
            )
        )
    else:
        data = asyncio.run(
            workbench.import_saved(
                settings,
                names or [],
                target=chosen,
                dest=folder,
                everything=all_,
                force=force,
                as_name=as_name,
            )
        )
    output.success(data, _print_import)


def _print_import(o: Output, d: dict[str, Any]) -> None:
    """Paths written (warnings on stderr), or the list of what can be imported."""
    if "official" in d:
        for t in d["official"]:
            tag = " (partner: paid API)" if t["partner"] else ""
            models = f"  [{', '.join(t['models'])}]" if t["models"] else ""
            o.write_stdout(f"{t['name']}  {t['media_type']}: {t['title']}{tag}{models}")
        o.info("Import with: comfycine workflow import --official NAME [--as NEWNAME]")
        return
    if d["imported"]:
        for item in d["imported"]:
            o.write_stdout(item["path"])
            for warning in item["warnings"]:
                o.info(f"warning: {warning}")
        for item in d["skipped"]:
            o.info(f"skipped {item['name']}: {item['reason']}")
        return
    if not d["saved"]:
        o.info("No workflows are saved on this server.")
    for item in d["saved"]:
        o.write_stdout(item["path"])
    if d["saved"]:
        o.info("Import with: comfycine workflow import NAME … (or --all)")


def nodes(
    search: Annotated[str | None, typer.Argument(help="Words to look for.")] = None,
    offline: OfflineOpt = False,
    target: TargetOpt = None,
    url: UrlOpt = None,
    json: JsonOpt = False,
    debug: DebugOpt = False,
) -> None:
    """List the node classes the server has (name, category, inputs, outputs)."""
    import asyncio

    from comfycine.workbench import find_nodes

    settings = load_settings(url)
    output = Output("workflow nodes", as_json=json)
    found = asyncio.run(
        find_nodes(settings, search, target=_target(settings, target), offline=offline)
    )
    data = {"nodes": [n.to_dict() for n in found]}

    def human(o: Output, d: dict[str, Any]) -> None:
        for node in d["nodes"]:
            inputs = ", ".join(f"{k}:{v}" for k, v in node["inputs"].items())
            pack = "" if node["pack"] == "core" else f" [{node['pack']}]"
            o.write_stdout(f"{node['name']}{pack}({inputs}) -> {', '.join(node['outputs'])}")
        o.info(f"{len(d['nodes'])} node class(es).")

    output.success(data, human)


def models(
    folder: Annotated[str | None, typer.Argument(help="One folder, e.g. checkpoints.")] = None,
    target: TargetOpt = None,
    url: UrlOpt = None,
    json: JsonOpt = False,
    debug: DebugOpt = False,
) -> None:
    """List the model files the server has, by folder."""
    import asyncio

    from comfycine.workbench import find_models

    settings = load_settings(url)
    output = Output("workflow models", as_json=json)
    found = asyncio.run(find_models(settings, folder, target=_target(settings, target)))

    def human(o: Output, d: dict[str, Any]) -> None:
        for name, files in d["models"].items():
            if folder is None and not files:
                continue
            for file in files:
                o.write_stdout(f"{name}/{file}")
        if not any(d["models"].values()):
            o.info("No model files found.")

    output.success({"models": found}, human)


def register(app: typer.Typer) -> None:
    """Add these commands to the workflow group."""
    app.command("validate")(validate)
    app.command("convert")(convert)
    app.command("import")(import_)
    app.command("nodes")(nodes)
    app.command("models")(models)
