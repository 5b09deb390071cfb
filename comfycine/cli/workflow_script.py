"""``workflow to-script|run``: ComfyScript in, a job out."""

from __future__ import annotations

from typing import Annotated

import typer

from comfycine.cli.bodies.jobs import print_job
from comfycine.cli.options import (
    AllowSpendOpt,
    DebugOpt,
    DetachOpt,
    EventsOpt,
    FollowTimeoutOpt,
    ForceOpt,
    JsonOpt,
    NoValidateOpt,
    OutputOpt,
    TargetOpt,
    TransportOpt,
    UrlOpt,
    load_settings,
)
from comfycine.cli.progressview import ProgressView
from comfycine.cli.render import Output
from comfycine.cli.spendconsent import with_spend_consent


def to_script(
    workflow: Annotated[str, typer.Argument(help="An API-format .json file or a template name.")],
    out: OutputOpt = None,
    force: ForceOpt = False,
    target: TargetOpt = None,
    url: UrlOpt = None,
    json: JsonOpt = False,
    debug: DebugOpt = False,
) -> None:
    """Turn an API-format workflow into a ComfyScript Python script (needs the server)."""
    from comfycine.files import write_new_file
    from comfycine.targets import resolve_target
    from comfycine.workbench import to_script as run_to_script

    settings = load_settings(url)
    output = Output("workflow to-script", as_json=json)
    code = run_to_script(workflow, settings, target=resolve_target(settings, target))
    written = write_new_file(out.expanduser(), code, force=force) if out else None
    output.success(
        {"script": code, "output": str(written) if written else None},
        lambda o, d: o.write_stdout(d["output"] or d["script"].rstrip("\n")),
    )


def run(
    workflow: Annotated[str, typer.Argument(help="A ComfyScript .py script or an API .json.")],
    detach: DetachOpt = False,
    timeout: FollowTimeoutOpt = None,
    no_validate: NoValidateOpt = False,
    events: EventsOpt = False,
    transport: TransportOpt = None,
    target: TargetOpt = None,
    url: UrlOpt = None,
    allow_spend: AllowSpendOpt = False,
    json: JsonOpt = False,
    debug: DebugOpt = False,
) -> None:
    """Run a ComfyScript script or an API workflow file like generate does.

    Partner (paid API) nodes run only with --allow-spend or a yes at a terminal.
    """
    import asyncio

    from comfycine.workbench import run_workflow

    settings = load_settings(url, transport=transport)
    output = Output("workflow run", as_json=json or events)
    with ProgressView(output, events=events) as view:
        result = with_spend_consent(
            lambda allow: asyncio.run(
                run_workflow(
                    settings,
                    workflow,
                    target=target,
                    detach=detach,
                    timeout=timeout,
                    observer=view,
                    check_first=not no_validate,
                    allow_spend=allow,
                )
            ),
            allow_spend,
            before_ask=view.close,
        )
    output.success(result.to_dict(), print_job)


def register(app: typer.Typer) -> None:
    """Add these commands to the workflow group."""
    app.command("to-script")(to_script)
    app.command("run")(run)
