"""``comfycine fix`` (and ``workflow validate --fix``): install what a workflow lacks on
the PC through ComfyUI-Manager, with a yes first."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from comfycine.cli.options import DebugOpt, JsonOpt, TargetOpt, UrlOpt, load_settings
from comfycine.cli.render import Output

YesOpt = Annotated[
    bool, typer.Option("--yes", "-y", help="Install without asking (your consent, given ahead).")
]
DryRunOpt = Annotated[
    bool, typer.Option("--dry-run", help="List what would be installed, with sizes; do nothing.")
]


def fix(
    workflow: Annotated[
        str, typer.Argument(help="Template name, workflow .json (API or UI), or a job id.")
    ],
    yes: YesOpt = False,
    dry_run: DryRunOpt = False,
    timeout: Annotated[
        float, typer.Option(help="Stop following the downloads after S seconds (exit 6).")
    ] = 7200.0,
    target: TargetOpt = None,
    url: UrlOpt = None,
    json: JsonOpt = False,
    debug: DebugOpt = False,
) -> None:
    """Install the models and node packs a workflow lacks, on the PC, through
    ComfyUI-Manager: with your yes (or --yes), progress per item, a restart when node
    packs came in, then a new validation. Without Manager: the steps to do by hand."""
    run_fix(
        workflow,
        yes=yes,
        dry_run=dry_run,
        timeout=timeout,
        target=target,
        url=url,
        command="fix",
        as_json=json,
    )


def run_fix(
    workflow: str,
    *,
    yes: bool,
    dry_run: bool,
    timeout: float,
    target: str | None,
    url: str | None,
    command: str,
    as_json: bool,
) -> None:
    """What ``fix`` and ``workflow validate --fix`` share."""
    import asyncio

    from comfycine.manager.fixing import FixOptions
    from comfycine.manager.fixing import fix as run
    from comfycine.targets import resolve_target

    settings = load_settings(url)
    output = Output(command, as_json=as_json)
    chosen = resolve_target(settings, target)
    from comfycine.cli.spendconsent import interactive

    ask = _asker(output) if interactive() and not yes else None
    options = FixOptions(yes=yes, dry_run=dry_run, ask=ask, timeout=timeout)
    result = asyncio.run(
        run(settings, workflow, target=chosen, options=options, progress=output.info)
    )
    data = result.to_dict()
    if dry_run or result.fixed:
        output.success(data, _print_result)
        return
    if not as_json:
        _print_result(output, data)
    raise _left(data, workflow)


def _left(data: dict[str, Any], workflow: str) -> Any:
    from comfycine.errors import ValidationFailed

    if data["manager"] is None and (data["models"] or data["packs"]):
        message = f"{workflow}: the server has no ComfyUI-Manager to install what is missing."
        code = "manager_missing"
    else:
        count = len(data["remaining"])
        message = f"{workflow}: {count} problem(s) left after the fix."
        code = "still_missing"
    hint = (
        "Do the steps shown (data.manual_steps) on the PC, then: comfycine workflow validate "
        + workflow
        if data["manual_steps"]
        else f"See them with: comfycine workflow validate {workflow}"
    )
    return ValidationFailed(message, code=code, hint=hint, details=data)


def _size(size: int | None) -> str:
    if size is None:
        return "size unknown"
    shown, unit = float(size), "B"
    for bigger in ("KB", "MB", "GB"):
        if shown < 1024:
            break
        shown, unit = shown / 1024, bigger
    return f"{size} B" if unit == "B" else f"{shown:.1f} {unit}"


def _print_plan(output: Output, data: dict[str, Any]) -> None:
    for model in data["models"]:
        output.info(
            f"  model {model['name']} → models/{model['folder']}/ ({_size(model['size'])},"
            f" from {model['source']}: {model['url']})"
        )
    for pack in data["packs"]:
        classes = ", ".join(pack["classes"])
        output.info(f"  node pack {pack['title']} ({pack['repo'] or pack['id']}) for {classes}")
    for item in data["unresolved"]:
        output.info(f"  cannot: {item['kind']} {item['name']}: {item['reason']}")


def _print_result(output: Output, data: dict[str, Any]) -> None:
    if not data["models"] and not data["packs"] and not data["unresolved"]:
        output.info(f"✓ {data['workflow']}: nothing to install.")
    elif data["dry_run"]:
        output.info(f"{data['workflow']} would need:")
        _print_plan(output, data)
    for item in data["installed"]:
        mark = {True: "✓", False: "✗", None: "?"}[item["ok"]]
        why = f": {item['message']}" if item["message"] else ""
        output.info(f"{mark} {item['kind']} {item['name']}{why}")
    for step in data["manual_steps"]:
        output.info(step)
    if data["fixed"]:
        output.info(f"✓ {data['workflow']} is valid on this server now.")
    output.write_stdout(data["workflow"])


def _asker(output: Output) -> Any:
    def ask(plan: Any) -> bool:
        output.info("To install on the PC:")
        _print_plan(output, plan.to_dict())
        return bool(typer.confirm("Install these on the PC?", err=True))

    return ask
