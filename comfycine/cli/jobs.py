"""``generate``, ``wait``, ``status`` and ``cancel``."""

from __future__ import annotations

from collections.abc import Callable
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
    load_settings,
)
from comfycine.cli.progressview import ProgressView
from comfycine.cli.render import Output
from comfycine.cli.spendconsent import interactive, with_spend_consent


def _print_job(output: Output, data: dict[str, Any]) -> None:
    for path in data.get("outputs") or ():
        output.write_stdout(str(path))
    job = str(data.get("job", ""))[:8]
    if data.get("status") in {"queued", "submitting"}:
        output.write_stdout(job)
        output.info(f"Submitted job {job}. Follow it with: comfycine wait {job}")
        return
    seconds = data.get("seconds")
    took = f" in {seconds:.1f} s" if isinstance(seconds, int | float) else ""
    count = len(data.get("outputs") or ())
    output.info(
        f"✓ {data.get('template') or 'job'} {job} {data.get('status')}{took}, {count} file(s)"
    )
    seeds = data.get("seeds") or {}
    if seeds:
        output.info("  seeds: " + ", ".join(f"{k}={v}" for k, v in seeds.items()))


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
    from comfycine.generation import generate as run_generate
    from comfycine.generation import join_prompt_words, split_target_prefix, with_fallback
    from comfycine.notify.hooks import JobNotifications

    template, prompt = join_prompt_words(template, words or [], prompt)
    settings = load_settings(url, transport=transport)
    # NDJSON events end with the envelope (DESIGN.md: streaming commands).
    output = Output("generate", as_json=json or events)
    shortcuts = {
        "negative": negative,
        "seed": seed,
        "steps": steps,
        "width": width,
        "height": height,
        "frames": frames,
        "@image": image,
        "@video": video,
    }
    overrides = {k: str(v) for k, v in shortcuts.items() if v is not None}
    text, chosen = split_target_prefix(prompt, target)
    if takes is not None or vary:
        sweep_args = (fallback, on_oom, timeout)
        _run_sweep(
            settings,
            output,
            template,
            text,
            sets,
            overrides,
            takes,
            vary,
            chosen,
            detach=detach,
            new=new_sweep,
            events=events,
            validate=not no_validate,
            notify=notify,
            refused=sweep_args,
            allow_spend=allow_spend,
        )
        return
    quote = _cloud_quote(settings, template, sets, overrides)
    if (chosen or "").strip().lower() == "cloud" and (estimate := quote()) is not None:
        output.info(str(estimate["text"]))
    notices = JobNotifications(settings, notify, label=template)
    with ProgressView(output, events=events) as view, notices.reporting():
        result = with_fallback(
            # A spend refused for want of consent asks at a terminal, then runs again.
            lambda where: with_spend_consent(
                lambda allow: run_generate(
                    settings,
                    template,
                    prompt=text,
                    assignments=sets or [],
                    overrides=overrides,
                    target=where,
                    detach=detach,
                    timeout=timeout,
                    observer=notices.observe(view),
                    validate=not no_validate,
                    tiled_vae=tiled_vae,
                    allow_spend=allow,
                ),
                allow_spend,
                command=_same_command(template, text, sets, shortcuts, where),
                before_ask=view.close,
            ),
            target=chosen,
            fallback=fallback,
            on_oom=on_oom,
            ask=_ask_cloud if interactive() else None,
            command=lambda where: _same_command(template, text, sets, shortcuts, where),
            notice=output.info,
            estimate=quote,
        )
        notices.done(result)
    data = result.to_dict()
    if result.target == "cloud" and quote() is not None:
        data["estimate"] = quote()
    output.success(data, _print_job)


def _cloud_quote(
    settings: Any, template: str, sets: list[str] | None, overrides: dict[str, str]
) -> Callable[[], dict[str, Any] | None]:
    """What this job would cost on Comfy Cloud, worked out once (before it runs there)."""
    found: list[dict[str, Any] | None] = []

    def quote() -> dict[str, Any] | None:
        if not found:
            from comfycine.cloudcost import estimate_template_job

            found.append(
                estimate_template_job(
                    settings, template, assignments=sets or [], overrides=overrides
                )
            )
        return found[0]

    return quote


def _run_sweep(
    settings: Any,
    output: Output,
    template: str,
    prompt: str | None,
    sets: list[str] | None,
    overrides: dict[str, str],
    takes: int | None,
    vary: list[str] | None,
    target: str | None,
    *,
    detach: bool,
    new: bool,
    events: bool,
    validate: bool,
    notify: bool | None,
    refused: tuple[Any, ...],
    allow_spend: bool,
) -> None:
    """``generate --takes/--vary``: the takes as one sweep on the batch machinery."""
    from comfycine.batch import sweep as run_sweep
    from comfycine.cli.batchview import BatchView, print_summary
    from comfycine.errors import UsageError
    from comfycine.notify.hooks import batch_hook

    if any(value is not None for value in refused):
        raise UsageError(
            "--fallback, --on-oom and --timeout are for one job, not a sweep.",
            hint="Pick the target with --target; follow a sweep later with: comfycine wait SWEEP",
        )
    with BatchView(output, events=events) as view:
        # The sweep's spend gate runs once, before any take is sent: one question.
        result = with_spend_consent(
            lambda allow: run_sweep(
                settings,
                template,
                prompt=prompt,
                assignments=sets or [],
                overrides=overrides,
                vary=vary or [],
                takes=takes or 0,
                targets=[target] if target else None,
                validate=validate,
                detach=detach,
                new=new,
                on_event=view,
                notify=batch_hook(settings, notify),
                allow_spend=allow,
            ),
            allow_spend,
            before_ask=view.close,
        )
    data = {"sweep": result.batch, **result.to_dict()}
    failure = result.failure()
    if failure is not None:
        failure.details.update(data)
        if not output.as_json:
            print_summary(output, data)
        raise failure
    output.success(data, print_summary)


def _ask_cloud(exc: Any) -> bool:
    estimate = exc.details.get("estimate") or {}
    cost = f"\n{estimate['text']}" if estimate.get("text") else ""
    question = f"{exc.message}{cost}\nRun it on Comfy Cloud instead (paid)?"
    return bool(typer.confirm(question, err=True))


def _same_command(
    template: str,
    prompt: str | None,
    sets: list[str] | None,
    shortcuts: dict[str, Any],
    target: str | None,
) -> str:
    """The command line that renders the same job on ``target`` (None: the default)."""
    import shlex

    words = ["comfycine", "generate", template]
    if prompt is not None:
        words += ["--prompt", prompt]
    for assignment in sets or []:
        words += ["--set", assignment]
    for name, value in shortcuts.items():
        if value is not None:
            words += [f"--{name.lstrip('@')}", str(value)]
    return shlex.join([*words, "--target", target] if target else words)


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
    from comfycine.jobcontrol import wait as run_wait
    from comfycine.notify.hooks import JobNotifications
    from comfycine.sweepcontrol import is_sweep_ref, wait_sweep

    settings = load_settings(transport=transport)
    output = Output("wait", as_json=json or events)
    notices = JobNotifications(settings, notify)
    with ProgressView(output, events=events) as view, notices.reporting():
        if is_sweep_ref(job):
            takes = wait_sweep(settings, job, timeout=timeout, observer=notices.observe(view))
            if takes is not None:
                output.success(takes, _print_status)
                return
        result = run_wait(settings, job, timeout=timeout, observer=notices.observe(view))
        notices.done(result)
    output.success(result.to_dict(), _print_job)


def _print_status(output: Output, data: dict[str, Any]) -> None:
    jobs = [data["job"]] if "job" in data else data.get("jobs", [])
    if not jobs:
        output.info("No jobs yet. Start one with: comfycine generate testpattern")
        return
    if "job" in data:
        job = data["job"]
        for key in ("job", "status", "server_state", "template", "target", "server", "seconds"):
            if job.get(key) is not None:
                output.write_stdout(f"{key:13} {job[key]}")
        for path in job.get("outputs") or ():
            output.write_stdout(f"{'output':13} {path}")
        if job.get("error"):
            output.write_stdout(f"{'error':13} {job['error'].get('message')}")
        stalled = job.get("stalled")
        if stalled:
            minutes = float(stalled.get("seconds") or 0) / 60
            output.write_stdout(
                f"{'stalled':13} no progress for {minutes:.0f} min when last followed "
                f"(comfycine cancel --force {str(job['job'])[:8]} stops it)"
            )
        return
    from rich.markup import escape  # the table only: one job prints plain lines
    from rich.table import Table

    table = Table("job", "status", "template", "target", "seconds", "outputs", box=None)
    for job in jobs:
        table.add_row(
            escape(str(job["job"])[:8]),
            escape(str(job["status"])),
            escape(str(job.get("template") or "")),
            escape(str(job.get("target") or "")),
            "" if job.get("seconds") is None else f"{job['seconds']:.1f}",
            str(len(job.get("outputs") or ())),
        )
    from rich.console import Console

    Console(highlight=False, soft_wrap=True).print(table)


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
    from comfycine.jobcontrol import status as run_status
    from comfycine.sweepcontrol import is_sweep_ref, sweep_status

    settings = load_settings()
    output = Output("status", as_json=json)
    if picks:
        from comfycine.takes.picks import picked

        output.success({"jobs": picked(settings)}, _print_status)
        return
    if is_sweep_ref(job):
        found = sweep_status(settings, job or "")
        if found is not None:
            output.success(found, _print_status)
            return
    output.success(run_status(settings, job, limit=limit).to_dict(), _print_status)


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
