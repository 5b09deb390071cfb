"""``conform TIMELINE TEMPLATE``: an editor's clips through a template and back in place."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

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

DeliverOpt = Annotated[
    str,
    typer.Option(
        "--deliver",
        help="render (the render's own codec), h264, prores (422 HQ .mov), dnxhr (HQ .mov) "
        "or png (a PNG sequence).",
    ),
]
TemplateArg = Annotated[str, typer.Argument(help="Template with a video input.")]
MarkerOpt = Annotated[
    str | None, typer.Option("--marker", help="Only clips under a marker of this name.")
]
StrictLengthOpt = Annotated[
    bool,
    typer.Option(
        "--strict-length", help="Fail a clip whose render is longer or shorter (no trim/pad)."
    ),
]
PromptOpt = Annotated[str | None, typer.Option("--prompt", "-p", help="The prompt for every clip.")]
InputParamOpt = Annotated[
    str | None, typer.Option(help="The video input the clips go into (templates with several).")
]
TargetsOpt = Annotated[
    str | None,
    typer.Option(help="Spread over targets, e.g. local,cloud (naming cloud consents)."),
]
RetryFailedOpt = Annotated[
    bool, typer.Option("--retry-failed", help="Render again the clips that failed before.")
]


def conform(
    timeline: Annotated[
        str,
        typer.Argument(help="A timeline: FCPXML (.fcpxml/.fcpxmld), EDL, FCP7/Resolve XML, .otio."),
    ],
    template: TemplateArg,
    track: Annotated[
        str | None, typer.Option("--track", help="Only the clips of this track (V1, a name).")
    ] = None,
    marker: MarkerOpt = None,
    color: Annotated[
        str | None, typer.Option("--color", help="Only clips or markers of this colour.")
    ] = None,
    keyword: Annotated[
        str | None, typer.Option("--keyword", help="Only clips with this keyword (FCPXML).")
    ] = None,
    span: Annotated[
        str | None,
        typer.Option(
            "--range", help="Only clips over IN-OUT: timeline timecodes or seconds (10-20.5)."
        ),
    ] = None,
    relink: Annotated[
        str | None,
        typer.Option("--relink", help="Find moved or offline media by name under this folder."),
    ] = None,
    skip_offline: Annotated[
        bool, typer.Option("--skip-offline", help="Conform the clips whose media is found.")
    ] = False,
    rate: Annotated[
        str | None, typer.Option("--rate", help="Frame rate of an EDL (24, 25, 23.976…).")
    ] = None,
    deliver: DeliverOpt = "render",
    strict_length: StrictLengthOpt = False,
    qc_black: Annotated[
        float, typer.Option("--qc-black", help="Longest black stretch allowed (seconds).")
    ] = 0.5,
    qc_frozen: Annotated[
        float, typer.Option("--qc-frozen", help="Longest frozen stretch allowed (seconds).")
    ] = 1.0,
    output_dir: Annotated[
        str | None,
        typer.Option("--output", "-o", help="Folder for the results (default: exchange output/)."),
    ] = None,
    prompt: PromptOpt = None,
    sets: SetOpt = None,
    input_param: InputParamOpt = None,
    targets: TargetsOpt = None,
    concurrency: Annotated[
        str | None, typer.Option(help="Jobs in flight per target: N or local=3,cloud=1.")
    ] = None,
    retry_failed: RetryFailedOpt = False,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="List the clips and what would run; send nothing.")
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
    """Render the chosen clips of TIMELINE through TEMPLATE and write the timeline back.

    Each clip's source range is rendered (resumably, on --targets), fitted to its
    source's frame rate and length (any trim or pad is reported), delivered, checked
    (decodes to the end, no black or frozen stretch the source lacks) and placed on a
    new track at its record position, in a new timeline file of the same format. The
    original timeline is never modified. A QC report is written beside the results.
    """
    from comfycine.cli.batchview import BatchView
    from comfycine.conform.run import RenderOptions
    from comfycine.conform.run import conform as run_conform
    from comfycine.errors import ComfycineError, UsageError
    from comfycine.notify.hooks import batch_hook
    from comfycine.timeline.selection import Selection

    if target and targets and [t.strip() for t in targets.split(",")] != [target]:
        raise UsageError("Give --target or --targets, not both.", hint="e.g. --targets local,cloud")
    names = [t for t in (targets or target or "").split(",") if t.strip()] or None
    output = Output("conform", as_json=json or events)
    options = RenderOptions(
        template=template,
        prompt=prompt,
        assignments=sets or [],
        input_param=input_param,
        targets=names,
        concurrency=concurrency,
        retry_failed=retry_failed,
        validate=not no_validate,
        deliver=deliver,
        strict_length=strict_length,
        black_seconds=qc_black,
        frozen_seconds=qc_frozen,
    )
    selection = Selection(track, marker, color, keyword, None)
    settings = load_settings(url, transport=transport)
    again = f"comfycine conform {timeline} {template}"
    try:
        with BatchView(output, events=events) as view:
            result = with_spend_consent(
                lambda allow: run_conform(
                    settings,
                    timeline,
                    _allowing(options, allow),
                    selection=selection,
                    span=span,
                    relink=relink,
                    skip_offline=skip_offline,
                    rate=rate,
                    output=output_dir,
                    dry_run=dry_run,
                    on_event=view,
                    notify=None if dry_run else batch_hook(settings, notify),
                ),
                allow_spend,
                command=again,
                before_ask=view.close,
            )
    except ComfycineError as exc:
        _explain_stop(exc, again)
        raise
    failure = result.failure()
    if failure is None:
        output.success(result.to_dict(), print_conform)
        return
    if not output.as_json:
        print_conform(output, result.to_dict())
    failure.hint = (
        f"See {result.qc_report}; rerun the same command to retry (add --retry-failed for "
        "clips whose render failed)."
        if result.qc_report
        else "Rerun the same command to retry."
    )
    raise failure


def _explain_stop(exc: Any, again: str) -> None:
    """A conform cut short (Ctrl-C, the PC gone): the same command resumes it."""
    from comfycine.errors import Interrupted, TargetUnreachable, join_sentences

    if isinstance(exc, Interrupted) and "items" in exc.details:
        exc.message = exc.message.replace("Batch ", "The conform's renders (batch ", 1)
        exc.message = exc.message.replace(" stopped:", ") stopped:", 1)
        exc.hint = f"Resume with the same command: {again} (nothing is rendered twice)"
    elif isinstance(exc, TargetUnreachable) and "items" in exc.details:
        exc.hint = join_sentences(exc.hint, f"Then resume with: {again}")


def _allowing(options: Any, allow: bool) -> Any:
    from dataclasses import replace

    return replace(options, allow_spend=allow)


def print_conform(output: Output, data: dict[str, Any]) -> None:
    """One line per clip (stdout), then the timeline written and the counts (stderr)."""
    for shot in data.get("shots") or []:
        qc = shot.get("qc") or {}
        notes = "; ".join(str(n) for n in qc.get("notes") or [])
        detail = shot.get("delivered") or shot.get("reason") or ""
        if data.get("dry_run"):
            pull = shot.get("pull") or {}
            detail = f"{pull.get('frames', '?')} frames from {Path(str(shot.get('media'))).name}"
        line = "\t".join(
            (f"{shot['index']:>3}", str(shot["name"]), str(shot["status"]), str(detail))
        )
        output.write_stdout(output.redacted(line + (f"\t({notes})" if notes else "")))
        for ignored in shot.get("ignored") or []:
            output.info(f"  clip {shot['index']}: ignored {ignored}")
    for note in data.get("notes") or []:
        output.info(note)
    if data.get("timeline"):
        output.info(f"Timeline written: {data['timeline']} (re-import it in the editor)")
    if data.get("qc_report"):
        output.info(f"QC report: {data['qc_report']}")
    counts = (
        f"{data['conformed']} conformed, {data['qc_failed']} failed QC, {data['failed']} "
        f"failed, {data['offline']} offline"
    )
    if data.get("dry_run"):
        planned = sum(1 for s in data.get("shots") or [] if s.get("status") == "planned")
        counts = f"dry run: {planned} clip(s) would render, {data['offline']} offline; nothing sent"
    output.info(f"conform {Path(str(data['source'])).name} ({data['template']}): {counts}")
