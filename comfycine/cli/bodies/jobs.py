"""The bodies of ``generate``, ``wait`` and ``status``, free of Typer.

``cli/jobs.py`` declares these commands for Typer and calls these functions with the
parsed values; ``cli/fastpath`` parses an agent's usual command lines itself and calls
them directly, without importing Typer (about 60 ms of every call). Keyword names and
defaults are the declarations' own (a test compares the signatures).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from comfycine.cli.progressview import ProgressView
from comfycine.cli.render import Output
from comfycine.cli.settingsload import load_settings
from comfycine.cli.spendconsent import interactive, with_spend_consent


def print_job(output: Output, data: dict[str, Any]) -> None:
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
    *,
    template: str,
    words: list[str] | None = None,
    prompt: str | None = None,
    sets: list[str] | None = None,
    negative: str | None = None,
    seed: int | None = None,
    steps: int | None = None,
    width: int | None = None,
    height: int | None = None,
    frames: int | None = None,
    image: str | None = None,
    video: str | None = None,
    detach: bool = False,
    timeout: float | None = None,
    events: bool = False,
    no_validate: bool = False,
    tiled_vae: bool = False,
    fallback: str | None = None,
    on_oom: str | None = None,
    notify: bool | None = None,
    transport: str | None = None,
    target: str | None = None,
    url: str | None = None,
    takes: int | None = None,
    vary: list[str] | None = None,
    new_sweep: bool = False,
    allow_spend: bool = False,
    json: bool = False,
    debug: bool = False,
) -> None:
    """``comfycine generate``: one job, or a sweep of takes (--takes/--vary)."""
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
    output.success(data, print_job)


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
    import typer  # only at a terminal, to ask

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
    *,
    job: str,
    timeout: float | None = None,
    events: bool = False,
    notify: bool | None = None,
    transport: str | None = None,
    target: str | None = None,
    json: bool = False,
    debug: bool = False,
) -> None:
    """``comfycine wait``: follow a job (or a sweep) to its end, download its outputs."""
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
    output.success(result.to_dict(), print_job)


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
    *,
    job: str | None = None,
    limit: int = 20,
    picks: bool = False,
    target: str | None = None,
    json: bool = False,
    debug: bool = False,
) -> None:
    """``comfycine status``: one job, a sweep, the recent jobs, or the picked takes."""
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
