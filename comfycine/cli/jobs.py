"""``generate``, ``wait``, ``status`` and ``cancel``: their Typer declarations.

The bodies of the first three live in ``cli/bodies/jobs.py``, free of Typer, so that
the fast path (``cli/fastpath``) can run them without it.
"""

from __future__ import annotations

from typing import Annotated

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
    load_settings,
)
from comfycine.cli.render import Output


def generate(
    template: Annotated[str, typer.Argument(help="Template name (see: comfycine workflow list).")],
    words: Annotated[
        list[str] | None,
        typer.Argument(help="The prompt, as words after the template (or use --prompt)."),
    ] = None,
    prompt: Annotated[str | None, typer.Option("--prompt", "-p", help="The prompt text.")] = None,
    sets: SetOpt = None,
    negative: Annotated[str | None, typer.Option(help="Shortcut for --set negative=…")] = None,
    seed: Annotated[int | None, typer.Option(help="Shortcut for --set seed=…")] = None,
    steps: Annotated[int | None, typer.Option(help="Shortcut for --set steps=…")] = None,
    width: Annotated[int | None, typer.Option(help="Shortcut for --set width=…")] = None,
    height: Annotated[int | None, typer.Option(help="Shortcut for --set height=…")] = None,
    frames: Annotated[int | None, typer.Option(help="Shortcut for --set frames=…")] = None,
    image: Annotated[
        str | None, typer.Option(help="The template's image input, when it has exactly one.")
    ] = None,
    video: Annotated[
        str | None, typer.Option(help="The template's video input, when it has exactly one.")
    ] = None,
    detach: DetachOpt = False,
    timeout: FollowTimeoutOpt = None,
    events: EventsOpt = False,
    no_validate: NoValidateOpt = False,
    tiled_vae: Annotated[
        bool,
        typer.Option("--tiled-vae", help="Decode in tiles: far less GPU memory, same shot."),
    ] = False,
    fallback: Annotated[
        str | None,
        typer.Option(help="'cloud': if the target is unreachable, run on Comfy Cloud instead."),
    ] = None,
    on_oom: Annotated[
        str | None,
        typer.Option("--on-oom", help="'cloud': if the PC runs out of memory, rerun on the cloud."),
    ] = None,
    notify: NotifyOpt = None,
    transport: TransportOpt = None,
    target: TargetOpt = None,
    url: UrlOpt = None,
    takes: Annotated[
        int | None,
        typer.Option(help="Render N takes with N random seeds, as one sweep (see --vary)."),
    ] = None,
    vary: Annotated[
        list[str] | None,
        typer.Option(
            help="NAME=V1,V2 or NAME=LOW..HIGH: a take per value; repeat for every "
            "combination (one sweep, resumed when run again)."
        ),
    ] = None,
    new_sweep: Annotated[
        bool, typer.Option("--new-sweep", help="Start a fresh sweep instead of resuming it.")
    ] = False,
    allow_spend: AllowSpendOpt = False,
    json: JsonOpt = False,
    debug: DebugOpt = False,
) -> None:
    """Render a template on ComfyUI and download the result.

    Output paths go to stdout, progress to stderr. A prompt starting with @cloud asks
    for the cloud target. --takes / --vary render several takes as one sweep. Partner
    (paid API) nodes run only with --allow-spend or a yes at a terminal (else exit 9).
    """
    values = dict(locals())
    from comfycine.cli.bodies import jobs

    jobs.generate(**values)


def wait(
    job: Annotated[str, typer.Argument(help="Job id, a unique prefix, or 'last'.")],
    timeout: Annotated[
        float | None, typer.Option(help="Give up after S seconds (exit 6; the job goes on).")
    ] = None,
    events: EventsOpt = False,
    notify: NotifyOpt = None,
    transport: TransportOpt = None,
    target: TargetOpt = None,
    json: JsonOpt = False,
    debug: DebugOpt = False,
) -> None:
    """Follow a job until it ends, then download its outputs."""
    values = dict(locals())
    from comfycine.cli.bodies import jobs

    jobs.wait(**values)


def status(
    job: Annotated[
        str | None, typer.Argument(help="Job id, prefix or 'last'; none: recent.")
    ] = None,
    limit: Annotated[int, typer.Option(help="How many recent jobs to list.")] = 20,
    picks: Annotated[
        bool, typer.Option("--picks", help="List the picked takes (comfycine take pick).")
    ] = False,
    target: TargetOpt = None,
    json: JsonOpt = False,
    debug: DebugOpt = False,
) -> None:
    """Show one job, or the recent jobs (or the picked takes)."""
    values = dict(locals())
    from comfycine.cli.bodies import jobs

    jobs.status(**values)


def cancel(
    job: Annotated[str, typer.Argument(help="Job id, prefix or 'last'.")],
    force: Annotated[
        bool,
        typer.Option(
            "--force", help="If the interrupt is ignored: POST /free, then report (exit 5)."
        ),
    ] = False,
    target: TargetOpt = None,
    json: JsonOpt = False,
    debug: DebugOpt = False,
) -> None:
    """Interrupt a running job, or remove it from the queue if it has not started."""
    from comfycine.jobcontrol import cancel as run_cancel

    settings = load_settings()
    output = Output("cancel", as_json=json)
    result = run_cancel(settings, job, force=force)
    messages = {
        "interrupted": "interrupted while running",
        "freed": "stopped after an interrupt and POST /free",
        "removed": "removed from the queue",
        "already_finished": "already finished: nothing to cancel",
        "not_on_server": "not on the server any more (recorded as lost)",
        "finished_anyway": "it finished before the cancel took effect; collect it with "
        "comfycine wait",
        "cancel_requested": "the server took the request but the job has not stopped; "
        "check with comfycine status, or add --force",
    }
    output.success(
        result.to_dict(),
        lambda out, data: out.info(f"Job {data['job'][:8]}: {messages[data['action']]}."),
    )


def register(app: typer.Typer) -> None:
    """Add these commands to the application."""
    app.command()(generate)
    app.command()(wait)
    app.command()(status)
    app.command()(cancel)
