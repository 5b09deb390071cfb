"""``resolve send TEMPLATE`` and ``resolve receive``: DaVinci Resolve Studio, by script."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from comfycine.cli.conform import (
    DeliverOpt,
    InputParamOpt,
    MarkerOpt,
    PromptOpt,
    RetryFailedOpt,
    StrictLengthOpt,
    TargetsOpt,
    TemplateArg,
    print_conform,
)
from comfycine.cli.notify import NotifyOpt
from comfycine.cli.options import (
    AllowSpendOpt,
    DebugOpt,
    EventsOpt,
    JsonOpt,
    NoValidateOpt,
    SetOpt,
    TargetOpt,
    TransportOpt,
    UrlOpt,
    load_settings,
)
from comfycine.cli.render import Output
from comfycine.cli.spendconsent import with_spend_consent

app = typer.Typer(
    no_args_is_help=True,
    help="Send a Resolve timeline's clips through a template and bring the results back "
    "(DaVinci Resolve Studio, external scripting on).",
)

FALLBACK = (
    "Without Resolve's scripting (the free edition), export the timeline (File › Export › "
    "Timeline… as FCPXML, EDL or .otio) and run: comfycine conform TIMELINE TEMPLATE"
)


@app.command("send")
def send(
    template: TemplateArg,
    track: Annotated[
        int | None, typer.Option("--track", help="Video track number (default 1).")
    ] = None,
    marker: MarkerOpt = None,
    color: Annotated[
        str | None, typer.Option("--color", help="Only clips of this clip colour (Orange…).")
    ] = None,
    frames: Annotated[
        str | None,
        typer.Option("--frames", help="Only clips over IN-OUT (frames from the timeline start)."),
    ] = None,
    deliver: DeliverOpt = "render",
    strict_length: StrictLengthOpt = False,
    prompt: PromptOpt = None,
    sets: SetOpt = None,
    input_param: InputParamOpt = None,
    targets: TargetsOpt = None,
    retry_failed: RetryFailedOpt = False,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="List the clips that would go; render nothing.")
    ] = False,
    no_validate: NoValidateOpt = False,
    events: EventsOpt = False,
    notify: NotifyOpt = None,
    transport: TransportOpt = None,
    target: TargetOpt = None,
    url: UrlOpt = None,
    allow_spend: AllowSpendOpt = False,
    json: JsonOpt = False,
    debug: DebugOpt = False,
) -> None:
    """Render the chosen clips of Resolve's current timeline through TEMPLATE.

    Resolve renders each clip's range into the exchange folder; the ranges go through
    the template (resumably, on --targets), are fitted, delivered and checked as with
    conform. Then run `comfycine resolve receive` to place them in Resolve.
    """
    import asyncio

    from comfycine.cli.batchview import BatchView
    from comfycine.conform.resolving import ResolvePick, parse_frames
    from comfycine.conform.resolving import send as send_shots
    from comfycine.conform.run import RenderOptions
    from comfycine.errors import ComfycineError, UsageError
    from comfycine.notify.hooks import batch_hook

    if target and targets and [t.strip() for t in targets.split(",")] != [target]:
        raise UsageError("Give --target or --targets, not both.", hint="e.g. --targets local,cloud")
    names = [t for t in (targets or target or "").split(",") if t.strip()] or None
    output = Output("resolve send", as_json=json or events)
    pick = ResolvePick(track, marker, color, parse_frames(frames))
    settings = load_settings(url, transport=transport)
    try:
        with BatchView(output, events=events) as view:
            result = with_spend_consent(
                lambda allow: asyncio.run(
                    send_shots(
                        settings,
                        RenderOptions(
                            template=template,
                            prompt=prompt,
                            assignments=sets or [],
                            input_param=input_param,
                            targets=names,
                            retry_failed=retry_failed,
                            validate=not no_validate,
                            allow_spend=allow,
                            deliver=deliver,
                            strict_length=strict_length,
                        ),
                        pick,
                        on_event=view,
                        notify=None if dry_run else batch_hook(settings, notify),
                        dry_run=dry_run,
                    )
                ),
                allow_spend,
                command=f"comfycine resolve send {template}",
                before_ask=view.close,
            )
    except ComfycineError as exc:
        _explain(exc)
        raise
    failure = result.failure()
    if failure is None:
        output.success(result.to_dict(), print_conform)
        return
    if not output.as_json:
        print_conform(output, result.to_dict())
    failure.hint = (
        f"See {result.qc_report}. The conformed ones can be received now: comfycine resolve "
        f"receive; send again to retry the others (--retry-failed for failed renders)."
    )
    raise failure


@app.command("receive")
def receive(
    bin_name: Annotated[
        str | None, typer.Option("--bin", help="Media pool bin (default: the template's name).")
    ] = None,
    json: JsonOpt = False,
    debug: DebugOpt = False,
) -> None:
    """Import the last send's results into Resolve, on a new video track at their places."""
    from comfycine.conform.resolving import receive as receive_results
    from comfycine.errors import ComfycineError

    output = Output("resolve receive", as_json=json)
    settings = load_settings()
    try:
        data = receive_results(settings, bin_name=bin_name)
    except ComfycineError as exc:
        _explain(exc)
        raise
    output.success(data, _print_received)


def _explain(exc: Any) -> None:
    """Resolve unreachable or absent: name the timeline-file path as the way round."""
    if str(getattr(exc, "code", "")) in ("resolve_not_running", "resolve_not_installed"):
        from comfycine.errors import join_sentences

        if "conform" not in (exc.hint or ""):
            exc.hint = join_sentences(exc.hint, FALLBACK)


def _print_received(output: Output, data: dict[str, Any]) -> None:
    for clip in data.get("clips") or []:
        state = "placed" if clip.get("placed") else f"not placed: {clip.get('error')}"
        output.write_stdout(f"{clip.get('shot')}\t{clip.get('name')}\t{state}")
    output.info(
        f"Placed {data.get('placed', 0)} clip(s) on video track {data.get('track')} "
        f"of {data.get('timeline')!r}, bin {data.get('bin')!r}."
    )
