"""``generate`` (and ``workflow run``) as library calls over :class:`JobRunner`.

A template or a workflow file becomes a :class:`PreparedJob`; :func:`run_prepared`
uploads its media, records, submits and follows it. Functions take the resolved
:class:`~comfycine.settings.Settings` and plain arguments and return a result with
``to_dict()`` for the JSON envelope. Nothing here prints: progress goes to the
``observer`` the CLI passes in.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from .errors import (
    CloudAccountError,
    ComfycineError,
    JobFailed,
    NoCatalog,
    ParameterError,
    TargetUnreachable,
    UsageError,
    join_sentences,
    recordable,
)
from .graph.tiling import tile_vae_decodes
from .jobs import FollowOptions, JobRunner, Observer, new_ids
from .journal import Journal
from .ledger import Ledger
from .preflight import preflight
from .results import JobResult, interrupted_error, outcome_result
from .settings import Settings
from .spend import check_graph, check_job
from .targets import Target, resolve_target
from .templates import Template, bind_values, load_template, render_graph, template_dirs
from .transport import ComfyClient

if TYPE_CHECKING:
    from .transport.updates import JobUpdates


def target_url(settings: Settings, target: str | None) -> tuple[str, str]:
    """(name, base URL) of the chosen target."""
    chosen = resolve_target(settings, target)
    return chosen.name, chosen.url


def split_target_prefix(prompt: str | None, target: str | None) -> tuple[str | None, str | None]:
    """``@cloud a rainy street`` → (``a rainy street``, ``cloud``): the filmmaker's shorthand."""
    if prompt is not None and prompt.lstrip().lower().startswith("@cloud"):
        rest = prompt.lstrip()[len("@cloud") :]
        if not rest or rest[0].isspace():
            if target not in (None, "cloud"):
                raise UsageError(
                    f"The prompt asks for @cloud but --target is {target!r}.",
                    hint="Drop one of the two.",
                    code="conflicting_target",
                )
            return rest.strip(), "cloud"
    return prompt, target


def join_prompt_words(
    template: str, words: Sequence[str], prompt: str | None
) -> tuple[str, str | None]:
    """``generate wan22-t2v a rainy street`` → (``wan22-t2v``, ``a rainy street``).

    How a slash command passes the filmmaker's words as they are; ``@cloud`` may come
    before the template too (``generate @cloud wan22-t2v a rainy street``).
    """
    rest = list(words)
    if template.strip().lower() == "@cloud" and rest:
        template, rest = rest[0], ["@cloud", *rest[1:]]
    if not rest:
        return template, prompt
    if prompt is not None:
        raise UsageError(
            "The prompt is given twice: as words after the template and with --prompt.",
            hint="Keep one of the two.",
        )
    return template, " ".join(rest)


def resolve_media_shortcuts(template: Template, overrides: Mapping[str, str]) -> dict[str, str]:
    """Turn ``--image``/``--video`` (keys ``@image``/``@video``) into the template's own name."""
    resolved: dict[str, str] = {}
    for key, value in overrides.items():
        if not key.startswith("@"):
            resolved[key] = value
            continue
        kind = key[1:]
        names = [n for n, p in template.parameters.items() if p.kind.value == kind]
        if len(names) != 1:
            found = ", ".join(names) if names else "none"
            raise ParameterError(
                f"--{kind} needs a template with exactly one {kind} input; "
                f"{template.name} has: {found}.",
                hint=f"Use --set NAME=PATH (see: comfycine workflow show {template.name})",
            )
        resolved[names[0]] = value
    return resolved


def seed_values(template: Template, values: Mapping[str, Any]) -> dict[str, int]:
    """Every seed actually used (set or drawn), so the take can be rendered again."""
    return {
        name: int(values[name])
        for name in template.parameters
        if (name == "seed" or name.endswith("_seed")) and isinstance(values.get(name), int)
    }


def _json_params(values: Mapping[str, Any]) -> dict[str, Any]:
    return {k: str(v) if isinstance(v, Path) else v for k, v in values.items()}


async def _generate(
    settings: Settings,
    template_name: str,
    *,
    prompt: str | None,
    assignments: Sequence[str],
    overrides: Mapping[str, str],
    target: str | None,
    detach: bool,
    timeout: float | None,
    observer: Observer | None,
    validate: bool,
    tiled_vae: bool,
    allow_spend: bool,
) -> JobResult:
    prompt, target = split_target_prefix(prompt, target)
    chosen = resolve_target(settings, target)
    template = load_template(template_name, template_dirs(settings.workflow_dir))
    job = prepare_chained_job(
        settings,
        template,
        chosen.url,
        prompt=prompt,
        assignments=assignments,
        overrides=overrides,
        validate=validate,
        tiled_vae=tiled_vae,
    )
    job.allow_spend = allow_spend
    return await run_prepared(
        settings, job, target=chosen, detach=detach, timeout=timeout, observer=observer
    )


def prepare_chained_job(
    settings: Settings,
    template: Template,
    server_url: str,
    *,
    prompt: str | None = None,
    assignments: Sequence[str] = (),
    overrides: Mapping[str, str] | None = None,
    validate: bool = True,
    tiled_vae: bool = False,
    server_inputs: Mapping[str, tuple[Any, str]] | None = None,
    choices: Mapping[str, int] | None = None,
) -> PreparedJob:
    """:func:`prepare_template_job`, where a media value may also be a previous take
    (``job:ID[:N]``, ``take:FILE``): read where it lies on ``server_url``'s server, or
    uploaded from this Mac (see takes.chain)."""
    overrides = dict(overrides or {})
    refs: list[Any] = []
    given = [a.partition("=")[2] for a in assignments] + list(overrides.values())
    if any(v.strip().startswith(("job:", "take:")) for v in given):
        from .takes.chain import resolve_references

        with Ledger.open(settings.ledger_path, secrets=settings.secret_values) as ledger:
            assignments, overrides, refs = resolve_references(
                template, assignments, overrides, ledger
            )
    job = prepare_template_job(
        template,
        prompt=prompt,
        assignments=assignments,
        overrides=overrides,
        validate=validate,
        tiled_vae=tiled_vae,
        server_inputs=server_inputs,
        choices=choices,
    )
    if refs:
        from .takes.chain import apply_references

        apply_references(job, refs, server_url)
    return job


def prepare_template_job(
    template: Template,
    *,
    prompt: str | None = None,
    assignments: Sequence[str] = (),
    overrides: Mapping[str, str] | None = None,
    validate: bool = True,
    tiled_vae: bool = False,
    server_inputs: Mapping[str, tuple[Any, str]] | None = None,
    choices: Mapping[str, int] | None = None,
) -> PreparedJob:
    """Bind values to a template (media shortcuts, seeds drawn) as a job ready to run.

    The one way ``generate``, ``batch``, ``watch`` and ``retake`` turn a template into a
    job. ``tiled_vae`` decodes in tiles (``VAEDecodeTiled``): far less memory, same shot.
    ``server_inputs`` maps a media parameter to (the value to record, the name of a file
    already on the server): nothing is uploaded for it, unless a value is also given.
    A prompt's ``{a|b}`` choices are drawn (templates.choices); ``choices`` gives the
    recorded ``<name>_choices`` seeds of a take to draw the same again.
    """
    resolved = resolve_media_shortcuts(template, overrides or {})
    on_server = dict(server_inputs or {})
    binding = bind_values(
        template,
        prompt=prompt,
        assignments=assignments,
        overrides=resolved,
        kept={name: recorded for name, (recorded, _) in on_server.items()},
    )

    from .templates.choices import draw_choices

    rendered, choice_seeds = draw_choices(template, binding.values, choices)

    def build(uploaded: dict[str, str]) -> dict[str, Any]:
        graph = render_graph(template, rendered, uploaded)
        return tile_vae_decodes(graph)[0] if tiled_vae else graph

    return PreparedJob(
        label=template.name,
        media=binding.media,
        build=build,
        params=_json_params(binding.values),
        seeds={**seed_values(template, binding.values), **choice_seeds},
        preflight=template if validate else None,
        template=template,
        tiled_vae=tiled_vae,
        server_inputs={
            name: remote
            for name, (_, remote) in on_server.items()
            if binding.sources.get(name) == "kept"
        },
    )


@dataclass
class PreparedJob:
    """A job ready to run: how to build its graph once its media are uploaded."""

    label: str  # names the output files (the template, or the workflow file's stem)
    build: Callable[[dict[str, str]], dict[str, Any]]
    media: dict[str, Path] = field(default_factory=dict)
    params: dict[str, Any] = field(default_factory=dict)
    seeds: dict[str, int] = field(default_factory=dict)
    # Checked against the server's nodes and models before anything is sent (None: skip).
    preflight: Template | bool | None = True
    # Set by batch and watch: which run and which input file the job belongs to.
    batch_id: str | None = None
    source_path: str | None = None
    # Set by batch and watch: the input's identity (content, template, parameters).
    item_key: str | None = None
    # The template it came from: a failure's diagnosis reads its defaults and bounds.
    template: Template | None = None
    tiled_vae: bool = False
    # Media already on the server (a previous job's output, by its annotated name):
    # parameter → the name the graph uses, nothing uploaded (takes.chain).
    server_inputs: dict[str, str] = field(default_factory=dict)
    # Recorded with the job from the start, e.g. the ``parent`` a retake came from.
    extra: dict[str, Any] = field(default_factory=dict)
    # Consent to run partner (paid API) nodes: without it such a graph is refused (spend.py).
    allow_spend: bool = False

    def graph_to_check(self) -> dict[str, Any]:
        """The graph as it will be sent, before its media are uploaded (names as on disk)."""
        names = {name: path.name for name, path in self.media.items()}
        return self.build({**names, **self.server_inputs})


async def run_prepared(
    settings: Settings,
    job: PreparedJob,
    *,
    target: Target,
    detach: bool,
    timeout: float | None,
    observer: Observer | None,
) -> JobResult:
    """Upload, record, submit and (unless detached) follow one prepared job."""
    async with (
        target.client() as client,
        Journal(settings.ledger_path, secrets=settings.secret_values) as journal,
    ):
        return await run_prepared_on(
            client,
            journal,
            settings,
            job,
            target=target.name,
            detach=detach,
            timeout=timeout,
            observer=observer,
        )


async def run_prepared_on(
    client: ComfyClient,
    journal: Journal,
    settings: Settings,
    job: PreparedJob,
    *,
    target: str,
    detach: bool = False,
    timeout: float | None = None,
    observer: Observer | None = None,
) -> JobResult:
    """:func:`run_prepared` on a client and an open journal that the caller keeps.

    ``batch`` runs many jobs this way over one connection pool and one ledger
    connection; ``target`` is the target's name, recorded with the job.
    """
    try:
        return await _run_on(client, journal, settings, job, target, detach, timeout, observer)
    except ComfycineError as exc:
        raise _diagnosed(exc, job, target, client.base_url) from None


def _diagnosed(
    error: ComfycineError, job: PreparedJob, target: str, server_url: str | None = None
) -> ComfycineError:
    """The error with the diagnosis of its job attached (the top fix becomes the hint)."""
    from .diagnose import attach
    from .diagnose.context import context_for

    template = job.template
    graph = template.graph if template is not None else {}
    if template is not None and job.tiled_vae:
        graph = tile_vae_decodes(graph)[0]
    context = context_for(
        template,
        params=job.params,
        seeds=job.seeds,
        target=target,
        job=error.details.get("job"),
        graph=graph,
        server_url=server_url,
    )
    return attach(error, context)


async def _run_on(
    client: ComfyClient,
    journal: Journal,
    settings: Settings,
    job: PreparedJob,
    target: str,
    detach: bool,
    timeout: float | None,
    observer: Observer | None,
) -> JobResult:
    prompt_id, client_id = new_ids()
    runner = JobRunner(
        client,
        journal,
        target=target,
        output_dir=settings.output_dir,
        observer=observer,
        options=FollowOptions.from_settings(settings),
    )
    # The socket must be open before the POST; prepare the job while its handshake
    # is in flight (round trips over Tailscale). Detached: just check the server.
    reaching: asyncio.Future[Any] = asyncio.ensure_future(
        client.reachable() if detach else runner.open_updates(client_id)
    )
    updates: JobUpdates | None = None
    try:
        # The spend gate, before anything is uploaded, recorded or sent.
        spend_checked = await check_job(
            client,
            settings.cache_dir,
            job.graph_to_check(),
            allowed=job.allow_spend,
            label=job.label,
            reaching=reaching,
            notice=runner.notice,
        )
        uploaded: dict[str, str] = dict(job.server_inputs)
        if job.media:
            updates = _as_updates(await reaching)
            uploaded.update(await runner.upload_media(job.media))
        graph = job.build(uploaded)
        record = await runner.record(
            graph,
            prompt_id=prompt_id,
            client_id=client_id,
            template=job.label,
            params=job.params,
            seeds=job.seeds,
            batch_id=job.batch_id,
            source_path=job.source_path,
            item_key=job.item_key,
            # A graph run without a template says so: its retake resubmits the graph.
            extra=job.extra if job.template is not None else {"workflow": job.label, **job.extra},
        )
        try:
            # Reachable first (bounded at 2.5 s): a server that accepts connections
            # but never answers must not hang the preflight's requests.
            updates = _as_updates(await reaching)
            if not spend_checked:  # the node list could not be read before: now or never
                await check_graph(
                    client,
                    settings.cache_dir,
                    graph,
                    allowed=job.allow_spend,
                    label=job.label,
                    notice=runner.notice,
                )
            if job.preflight is not None and job.preflight is not False:
                try:
                    await _preflight(client, settings, job, graph, uploaded)
                except NoCatalog as exc:
                    # A Comfy API v2 server: the server itself validates on submission.
                    runner.notice(f"Validation skipped: {exc.message}", record.id)
        except ComfycineError as exc:
            await journal.mark(record.id, "failed", error=recordable(exc))
            raise
        record = await runner.post(record)
        if updates is None:
            return JobResult.from_record(record)
        try:
            outcome = await runner.follow(record, updates, timeout=timeout, attach=False)
        except asyncio.CancelledError:
            raise interrupted_error(record.id) from None
        return outcome_result(outcome)
    finally:
        updates = updates or await _settle(reaching)
        if updates is not None:
            await updates.close()


async def _preflight(
    client: ComfyClient,
    settings: Settings,
    job: PreparedJob,
    graph: dict[str, Any],
    uploaded: dict[str, str],
) -> None:
    template = job.preflight if isinstance(job.preflight, Template) else None
    await preflight(
        client, settings, graph, label=job.label, template=template, uploaded=set(uploaded.values())
    )


def _as_updates(reached: Any) -> JobUpdates | None:
    # What the connection future gives: the opened updates, or None for a detached job
    # (``reachable()`` answers None), whose submission needs no socket nor websockets.
    return cast("JobUpdates | None", reached)


async def _settle(reaching: asyncio.Future[Any]) -> JobUpdates | None:
    """Cancel a connection still in flight, or return the updates it opened (to close)."""
    if not reaching.done():
        reaching.cancel()
    with contextlib.suppress(BaseException):
        return _as_updates(await reaching)
    return None


def generate(
    settings: Settings,
    template_name: str,
    *,
    prompt: str | None = None,
    assignments: Sequence[str] = (),
    overrides: Mapping[str, str] | None = None,
    target: str | None = None,
    detach: bool = False,
    timeout: float | None = None,
    observer: Observer | None = None,
    validate: bool = True,
    tiled_vae: bool = False,
    allow_spend: bool = False,
) -> JobResult:
    """Render a template with values, run it on the target, download its outputs.

    With ``validate`` the rendered graph is checked against the server's nodes and
    models first (every problem at once, exit 4), so no GPU time is spent on it.
    ``tiled_vae`` decodes in tiles (the out-of-memory fix that keeps the shot as it is).
    Partner (paid API) nodes are refused (ConsentRequired, exit 9) unless ``allow_spend``.
    """
    return asyncio.run(
        _generate(
            settings,
            template_name,
            prompt=prompt,
            assignments=assignments,
            overrides=overrides or {},
            target=target,
            detach=detach,
            timeout=timeout,
            observer=observer,
            validate=validate,
            tiled_vae=tiled_vae,
            allow_spend=allow_spend,
        )
    )


def with_fallback(
    run: Callable[[str | None], JobResult],
    *,
    target: str | None,
    fallback: str | None,
    on_oom: str | None = None,
    ask: Callable[[ComfycineError], bool] | None,
    command: Callable[[str], str],
    notice: Callable[[str], None],
    estimate: Callable[[], dict[str, Any] | None] | None = None,
) -> JobResult:
    """Run on ``target``; switch to the other side only with consent, never silently.

    The PC unreachable (exit 3) or out of memory (exit 5) → the cloud, when
    ``--fallback cloud`` / ``--on-oom cloud`` consented in advance or ``ask`` (a person
    at a terminal) says yes. The cloud out of credits or plan (exit 7) → the PC is
    proposed. Without consent the error goes out with ``details.fallback`` and the exact
    command to run. A refused spend (ConsentRequired, exit 9) goes out as it is, from
    either side: partner nodes bill the same account on the PC and on the cloud.
    ``estimate()`` (cloudcost) is what the cloud run would cost: it goes in
    ``details.estimate`` before ``ask`` sees the error, and in the consented notice.
    """
    on_cloud = (target or "").strip().lower() == "cloud"
    try:
        return run(target)
    except (TargetUnreachable, JobFailed) as exc:
        oom = isinstance(exc, JobFailed)
        if on_cloud or (oom and exc.code != "out_of_memory"):
            raise
        if exc.details.get("submitted"):
            raise  # the job reached the PC and may still run there: never render it twice
        quote = estimate() if estimate is not None else None
        if quote:
            exc.details["estimate"] = quote
        consented, flag = (on_oom, "--on-oom") if oom else (fallback, "--fallback")
        if consented == "cloud":
            cost = f" {quote['text']}" if quote else ""
            notice(f"{exc.message} Running on Comfy Cloud, as {flag} cloud allows.{cost}")
            return run("cloud")
        if ask is not None and ask(exc):
            return run("cloud")
        lead = "Or on Comfy Cloud (96 GB, paid):" if oom else "To run it on Comfy Cloud (paid):"
        raise _propose(exc, "cloud", command, lead) from None
    except CloudAccountError as exc:
        if not on_cloud or exc.code not in {"cloud_credits", "cloud_plan"}:
            raise
        raise _propose(exc, "local", command, "Run it on your PC instead:") from None


def _propose(
    exc: ComfycineError, where: str, command: Callable[[str], str], lead: str
) -> ComfycineError:
    exc.details["fallback"] = where
    exc.details["command"] = command(where)
    exc.hint = join_sentences(exc.hint, lead, command(where))
    return exc
