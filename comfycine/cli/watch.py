"""``watch`` and ``watch install-launchd``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from comfycine.cli.notify import NotifyOpt
from comfycine.cli.options import (
    AllowSpendOpt,
    DebugOpt,
    ForceOpt,
    JsonOpt,
    SetOpt,
    TargetOpt,
    TransportOpt,
    UrlOpt,
    load_settings,
)
from comfycine.cli.render import Output

app = typer.Typer(
    invoke_without_command=True,
    no_args_is_help=False,
)

ExchangeOpt = Annotated[
    Path | None,
    typer.Option("--exchange", help="The exchange folder (default COMFYCINE_EXCHANGE_DIR)."),
]
TemplateOpt = Annotated[
    str | None,
    typer.Option(
        "--template",
        help="Render every file with this template (default: the "
        "subfolder of input/ the file is in).",
    ),
]


def _line(output: Output, event: dict[str, Any]) -> None:
    """One event as a line for a person (outputs on stdout, the rest on stderr)."""
    kind, rel = event["event"], event.get("input", "")
    job = str(event.get("job") or "")[:8]
    if kind == "item_succeeded":
        for path in event.get("outputs") or ():
            output.write_stdout(str(path))
        took = f" in {event['seconds']:.1f} s" if event.get("seconds") else ""
        output.info(f"✓ {rel} rendered with {event['template']} (job {job}){took}")
    elif kind == "item_failed":
        error = event.get("error") or {}
        where = event.get("moved_to") or event.get("message") or "left in place"
        output.info(f"✗ {rel}: {error.get('message')} → {where}")
        if error.get("hint"):
            output.info(f"  hint: {error['hint']}")
    elif kind == "item_skipped":
        output.info(f"= {rel} was already rendered (job {job}); filed in input/.done/")
    elif kind == "item_started":
        output.info(f"→ {rel} with {event['template']}" + (" (rerun)" if event["rerun"] else ""))
    elif kind == "item_resumed":
        output.info(f"↻ {rel}: following job {job} again (started before a restart)")
    elif kind == "item_held":
        message = (event.get("error") or {}).get("message") or event.get("message")
        output.info(f"… {rel}: {message} It stays in input/ and is tried again.")
    elif kind == "item_waiting":
        output.info(f"… {rel}: complete in size, but {event['reason'].replace('_', ' ')}")
    elif kind == "item_incomplete":
        output.info(f"… {rel}: still being written; left for the next run")
    elif kind == "item_seen":
        output.info(f"• {rel}: waiting until it is complete")
    elif kind == "watch_started":
        how = f"template {event['template']}" if event["template"] else "template by subfolder"
        verb = "Checking" if event["mode"] == "once" else "Watching"
        stop = "" if event["mode"] == "once" else "; Ctrl-C to stop"
        output.info(f"{verb} {event['input']} ({how}, target {event['target']}){stop}")
    elif "message" in event:
        output.info(str(event["message"]))


def _print_summary(output: Output, data: dict[str, Any]) -> None:
    counts = ", ".join(f"{data[k]} {k}" for k in ("succeeded", "failed", "skipped") if data[k])
    output.info(f"Done: {counts or 'nothing to render'}.")
    for rel in data.get("pending") or ():
        output.info(f"  still incomplete: {rel}")


@app.callback(invoke_without_command=True)
def watch(
    ctx: typer.Context,
    exchange: ExchangeOpt = None,
    template: TemplateOpt = None,
    sets: SetOpt = None,
    once: Annotated[
        bool,
        typer.Option(
            "--once",
            help="Take what is there (waiting for files still being "
            "written, up to 2 min), render it, exit. For cron.",
        ),
    ] = False,
    poll: Annotated[
        float, typer.Option("--poll", help="Seconds between two looks at a growing file.")
    ] = 2.0,
    polls: Annotated[
        int, typer.Option("--polls", help="Unchanged looks before a file counts as complete.")
    ] = 3,
    notify: NotifyOpt = None,
    transport: TransportOpt = None,
    target: TargetOpt = None,
    url: UrlOpt = None,
    allow_spend: AllowSpendOpt = False,
    json: JsonOpt = False,
    debug: DebugOpt = False,
) -> None:
    """Render each file exported into EXCHANGE_DIR/input/<template>/ into output/.

    A file is taken once complete (unchanged over --polls looks, not open for writing,
    readable by ffprobe). Results are named after the input (plan12.mov →
    output/plan12.upscale.mp4); rendered inputs move to input/.done/, failed ones to
    failed/ with a .json reason. Restart-safe: nothing is rendered twice. With --json,
    one NDJSON event per happening, the envelope last. Ctrl-C exits 0 when idle, 130
    while following a job (it goes on; the next watch picks it up). Nobody is asked:
    a template with partner (paid API) nodes sends its files to failed/ (code
    spend_not_allowed) unless --allow-spend.
    """
    if ctx.invoked_subcommand is not None:
        return
    from comfycine.cli.progressview import ProgressView
    from comfycine.notify.hooks import watch_hook
    from comfycine.watch import WatchOptions
    from comfycine.watch import watch as run_watch

    settings = load_settings(url, exchange_dir=exchange, transport=transport)
    output = Output("watch", as_json=json)
    options = WatchOptions(
        exchange_dir=settings.exchange_dir,
        template=template,
        assignments=sets or [],
        target=target,
        once=once,
        poll_interval=poll,
        polls=polls,
        allow_spend=allow_spend,
    )
    with ProgressView(output) as view:

        def on_event(event: dict[str, Any]) -> None:
            if event["event"].startswith(("item_succeeded", "item_failed", "item_skipped")):
                view.close()
            if json:
                output.event(event)
            else:
                _line(output, event)

        hook = watch_hook(settings, notify)
        summary = run_watch(settings, options, on_event=on_event, notify=hook, observer=view)
    output.success(summary.to_dict(), _print_summary)


def _print_install(output: Output, data: dict[str, Any]) -> None:
    verb = {"created": "Wrote", "replaced": "Replaced", "unchanged": "Unchanged:"}
    output.write_stdout(data["plist"])
    output.info(f"{verb[data['action']]} {data['plist']}")
    for warning in data["warnings"]:
        output.info(f"warning: {warning}")
    output.info("Load it (starts now and at every login):")
    output.info(f"  {data['bootstrap']}")
    output.info(f"Stop and unload it:\n  {data['bootout']}")
    output.info(f"Logs: {', '.join(data['logs'])}")


@app.command("install-launchd")
def install_launchd(
    exchange: ExchangeOpt = None,
    template: TemplateOpt = None,
    dest: Annotated[
        Path | None,
        typer.Option("--dest", help="Write the plist here (default ~/Library/LaunchAgents)."),
    ] = None,
    force: ForceOpt = False,
    target: TargetOpt = None,
    url: UrlOpt = None,
    allow_spend: AllowSpendOpt = False,
    json: JsonOpt = False,
    debug: DebugOpt = False,
) -> None:
    """Write a LaunchAgent that keeps `comfycine watch` running, and print how to load it.

    --allow-spend goes into the agent's command: its watcher may run partner nodes.
    """
    from comfycine.watch import install_launchd as run_install

    settings = load_settings(url, exchange_dir=exchange)
    output = Output("watch install-launchd", as_json=json)
    result = run_install(
        settings,
        template=template,
        target=target,
        allow_spend=allow_spend,
        dest_dir=dest,
        force=force,
    )
    output.success(result.to_dict(), _print_install)
