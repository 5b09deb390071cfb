"""``comfycine mobile tg-export|mcww-tag|portal-export``: workflows for phone-side tools.

Warnings (each tool's limits) always go to stderr, and into ``data.warnings`` with
``--json``.
"""

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
    TargetOpt,
    UrlOpt,
    load_settings,
)
from comfycine.cli.render import Output

app = typer.Typer(
    help="Exports for phone tools: ComfyUI-TG (Telegram), MCWW, Comfy Portal (iOS).",
    no_args_is_help=True,
)

TemplateArg = Annotated[str, typer.Argument(help="Template name (see: comfycine workflow list).")]
OutOpt = Annotated[Path | None, typer.Option("--out", "-o", help="Write the JSON to this file.")]


def _template(settings: Any, name: str) -> Any:
    from comfycine.templates import load_template, template_dirs

    return load_template(name, template_dirs(settings.workflow_dir))


def _warn(output: Output, data: dict[str, Any]) -> None:
    for warning in data["warnings"]:
        output.info(f"warning: {warning}")


def _finish(output: Output, data: dict[str, Any], human: Any) -> None:
    if output.as_json:
        _warn(output, data)
    output.success(data, human)


@app.command("tg-export")
def tg_export(
    name: TemplateArg,
    dest: Annotated[
        Path | None,
        typer.Option(help="Folder to write NAME.json into (default: OUTPUT_DIR/mobile/telegram)."),
    ] = None,
    force: ForceOpt = False,
    json: JsonOpt = False,
    debug: DebugOpt = False,
) -> None:
    """A template as a ComfyUI-TG workflow (API format, TG_ImageSaver), to copy to the PC."""
    from comfycine.mobile import tg_export as export

    settings = load_settings()
    output = Output("mobile tg-export", as_json=json)
    folder = (dest or settings.output_dir / "mobile" / "telegram").expanduser()
    data = export(_template(settings, name), folder, force=force).to_dict()

    def human(out: Output, d: dict[str, Any]) -> None:
        _warn(out, d)
        out.write_stdout(d["path"])
        out.info(d["hint"])

    _finish(output, data, human)


@app.command("mcww-tag")
def mcww_tag(
    file: Annotated[Path, typer.Argument(help="A workflow saved in ComfyUI's UI format.")],
    out: OutOpt = None,
    in_place: Annotated[
        bool, typer.Option("--in-place", help="Rewrite FILE itself instead of NAME-mcww.json.")
    ] = False,
    force: ForceOpt = False,
    offline: OfflineOpt = False,
    target: TargetOpt = None,
    url: UrlOpt = None,
    json: JsonOpt = False,
    debug: DebugOpt = False,
) -> None:
    """Title a saved workflow's prompt, seed, key numbers and output for MCWW."""
    import asyncio

    from comfycine.mobile import mcww_tag_file
    from comfycine.targets import resolve_target

    settings = load_settings(url)
    output = Output("mobile mcww-tag", as_json=json)
    result = asyncio.run(
        mcww_tag_file(
            settings,
            file.expanduser(),
            target=resolve_target(settings, target),
            offline=offline,
            out=out.expanduser() if out else None,
            in_place=in_place,
            force=force,
        )
    )
    data = result.to_dict()

    def human(o: Output, d: dict[str, Any]) -> None:
        _warn(o, d)
        for tag in d["tags"]:
            added = " (added Int/Float primitive)" if tag["added"] else ""
            o.info(f"  {tag['title']:28} node {tag['node']}{added}: {', '.join(tag['controls'])}")
        o.write_stdout(d["path"])
        o.info(d["hint"])

    _finish(output, data, human)


@app.command("portal-export")
def portal_export(
    name: TemplateArg,
    out: OutOpt = None,
    force: ForceOpt = False,
    target: TargetOpt = None,
    url: UrlOpt = None,
    json: JsonOpt = False,
    debug: DebugOpt = False,
) -> None:
    """A template as clean API JSON for Comfy Portal, and the host and port to enter."""
    from comfycine.mobile.portal import portal_export as export
    from comfycine.mobile.portal import portal_server

    settings = load_settings(url)
    output = Output("mobile portal-export", as_json=json)
    server = portal_server(settings, target)
    result = export(
        _template(settings, name), server, out=out.expanduser() if out else None, force=force
    )
    data = result.to_dict()

    def human(o: Output, d: dict[str, Any]) -> None:
        _warn(o, d)
        if d["path"]:
            o.write_stdout(d["path"])
        else:
            o.write_stdout(jsonlib.dumps(d["graph"], indent=2, ensure_ascii=False))
        o.info(f"Comfy Portal server: host {d['host']}, port {d['port']}")

    _finish(output, data, human)
