"""``comfycine take FILE``: what made a file, read from the file alone (no ledger needed)."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from comfycine.cli.notify import NotifyOpt
from comfycine.cli.options import (
    AllowSpendOpt,
    DebugOpt,
    DetachOpt,
    EventsOpt,
    FollowTimeoutOpt,
    JsonOpt,
    NoValidateOpt,
    SetOpt,
    TargetOpt,
    TransportOpt,
    UrlOpt,
)
from comfycine.cli.render import Output
from comfycine.cli.spendconsent import with_spend_consent

ACTIONS = ("pick", "reject", "note")


def take(
    item: Annotated[
        str,
        typer.Argument(
            help="A rendered file (PNG, MP4, WebM...) or its .json; or pick, reject, note."
        ),
    ],
    ref: Annotated[
        str | None,
        typer.Argument(help="With pick/reject/note: the take (job id, file, or SWEEP:N)."),
    ] = None,
    text: Annotated[str | None, typer.Argument(help="With note: the note.")] = None,
    json: JsonOpt = False,
    debug: DebugOpt = False,
) -> None:
    """Show the recipe inside a rendered file; or pick, reject or annotate a take.

    ``take FILE`` works on another Mac, months later: the recipe travels in the file
    (PNG text chunks, video tags) or in the sidecar .json beside it. ``take pick REF``,
    ``take reject REF`` and ``take note REF TEXT`` mark a take (a job id, one of its
    files, or a sweep cell: SWEEP:N, SWEEP:NAME=VALUE), in the ledger and in the
    sidecars; ``status --picks`` lists the picked ones.
    """
    output = Output("take", as_json=json)
    if item in ACTIONS:
        from comfycine.cli.options import load_settings
        from comfycine.errors import UsageError
        from comfycine.takes.picks import mark

        if ref is None or (item == "note" and text is None):
            usage = "take note REF TEXT" if item == "note" else f"take {item} REF"
            raise UsageError(f"Usage: comfycine {usage}", hint="REF is a job id or a file.")
        verdict = None if item == "note" else item
        view = mark(load_settings(), ref, verdict=verdict, note=text)
        output.success(view, lambda out, d: out.write_stdout(_verdict_line(d)))
        return
    from comfycine.takes.lineage import describe_take

    output.success(describe_take(item, _settings_or_none()), _print_recipe)


def _settings_or_none() -> Any:
    """The settings, or None when they cannot be read: ``take FILE`` needs none."""
    from comfycine.cli.options import load_settings
    from comfycine.errors import ComfycineError

    try:
        return load_settings()
    except ComfycineError:
        return None


def _verdict_line(data: dict[str, Any]) -> str:
    note = f" — {data['note']}" if data.get("note") else ""
    return f"{str(data['job'])[:8]} {data.get('pick') or 'not picked'}{note}"


def _print_recipe(output: Output, data: dict[str, Any]) -> None:
    keys = ("file", "template", "workflow", "job", "sweep", "parent", "target", "server")
    for key in (*keys, "comfycine"):
        if data.get(key):
            output.write_stdout(f"{key:10} {data[key]}")
    for name, value in (data.get("params") or {}).items():
        output.write_stdout(f"{'set':10} {name}={value}")
    for name, value in (data.get("seeds") or {}).items():
        output.write_stdout(f"{'seed':10} {name}={value}")
    for model in data.get("models") or ():
        output.write_stdout(f"{'model':10} {model}")
    lineage = data.get("lineage") or {}
    for child in lineage.get("children") or ():
        what = "retake" if child.get("kind") == "retake" else "next stage"
        output.write_stdout(f"{what:10} {str(child['job'])[:8]} {child.get('status')}")
    if not data.get("template") and not data.get("job") and not data.get("workflow"):
        output.info("Made by ComfyUI, not comfycine: only its graph is known.")


def retake(
    ref: Annotated[
        str,
        typer.Argument(
            help="The take: a rendered file (any Mac), a job id / 'last', or a sweep cell"
            " (SWEEP:N, SWEEP:NAME=VALUE)."
        ),
    ],
    sets: SetOpt = None,
    prompt: Annotated[
        str | None, typer.Option("--prompt", "-p", help="Another prompt for the take.")
    ] = None,
    seed: Annotated[
        str | None,
        typer.Option(help="Another seed: a number, or 'random' (default: the take's own)."),
    ] = None,
    force: Annotated[
        bool,
        typer.Option(
            "--force", help="Render even if the template changed since (with it as it is now)."
        ),
    ] = False,
    detach: DetachOpt = False,
    timeout: FollowTimeoutOpt = None,
    events: EventsOpt = False,
    no_validate: NoValidateOpt = False,
    notify: NotifyOpt = None,
    transport: TransportOpt = None,
    target: TargetOpt = None,
    url: UrlOpt = None,
    allow_spend: AllowSpendOpt = False,
    json: JsonOpt = False,
    debug: DebugOpt = False,
) -> None:
    """Render a take again: the same recipe (template, values, seeds), or a variation.

    The take is a file (its recipe travels inside it) or a job. --set, --prompt and
    --seed change it; the new take records its parent (see: comfycine take FILE). A
    template changed since is refused, saying what differs (--force renders anyway). It
    renders where the take did, unless that was billed: then --target is needed.
    Partner (paid API) nodes run only with --allow-spend or a yes at a terminal.
    """
    from comfycine.cli.bodies.jobs import print_job
    from comfycine.cli.options import load_settings
    from comfycine.cli.progressview import ProgressView
    from comfycine.notify.hooks import JobNotifications
    from comfycine.takes.retaking import retake as run_retake

    settings = load_settings(url, transport=transport)
    output = Output("retake", as_json=json or events)
    notices = JobNotifications(settings, notify)
    with ProgressView(output, events=events) as view, notices.reporting():
        made = with_spend_consent(
            lambda allow: run_retake(
                settings,
                ref,
                assignments=sets or [],
                prompt=prompt,
                seed=seed,
                target=target,
                force=force,
                detach=detach,
                timeout=timeout,
                observer=notices.observe(view),
                validate=not no_validate,
                keep_target=url is None,
                on_note=output.info,
                allow_spend=allow,
            ),
            allow_spend,
            before_ask=view.close,
        )
        notices.done(made.result)
    output.success(made.to_dict(), print_job)


def review(
    sweep: Annotated[
        str | None, typer.Option(help="The sweep to review (its id, from generate --takes).")
    ] = None,
    since: Annotated[
        float | None, typer.Option(help="Only the jobs of the last H hours (default: recent).")
    ] = None,
    no_open: Annotated[
        bool, typer.Option("--no-open", help="Write the page, do not open it (agents).")
    ] = False,
    json: JsonOpt = False,
    debug: DebugOpt = False,
) -> None:
    """Write one self-contained review page of takes (previews, players, values, retake
    commands) and open it in the browser."""
    import time

    from comfycine.cli.options import load_settings
    from comfycine.takes.review import open_in_browser
    from comfycine.takes.reviewing import review as write_page

    settings = load_settings()
    output = Output("review", as_json=json)
    after = None if since is None else time.time() - since * 3600
    page = write_page(settings, sweep=sweep, since=after)
    data = page.to_dict()
    data["opened"] = False if no_open else open_in_browser(page.path)
    output.success(data, lambda out, d: out.write_stdout(d["page"]))
