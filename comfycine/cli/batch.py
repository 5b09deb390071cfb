"""``batch FOLDER TEMPLATE``: every file of a folder through one template."""

from __future__ import annotations

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


def batch(
    folder: Annotated[str, typer.Argument(help="Folder of images or videos (not recursive).")],
    template: Annotated[str, typer.Argument(help="Template name (see: comfycine workflow list).")],
    prompt: Annotated[
        str | None, typer.Option("--prompt", "-p", help="The prompt for every item.")
    ] = None,
    sets: SetOpt = None,
    input_param: Annotated[
        str | None,
        typer.Option(help="The media input the files go into (templates with several)."),
    ] = None,
    concurrency: Annotated[
        str | None,
        typer.Option(help="Jobs in flight per target: N, or local=3,cloud=1 (default 2; cloud 1)."),
    ] = None,
    retry_failed: Annotated[
        bool, typer.Option("--retry-failed", help="Run again the items that failed before.")
    ] = False,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="List what would run; send nothing.")
    ] = False,
    targets: Annotated[
        str | None,
        typer.Option(help="Spread over targets, e.g. local,cloud (naming cloud consents)."),
    ] = None,
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
    """Render every image or video of FOLDER through TEMPLATE, resumably.

    Finished items are skipped when run again; failed ones are retried with
    --retry-failed. Ctrl-C leaves submitted jobs running and prints how to resume.
    A template with partner (paid API) nodes needs --allow-spend, or one yes at a
    terminal for the whole batch (else exit 9, nothing sent).
    """
    from comfycine.batch import batch as run_batch
    from comfycine.cli.batchview import BatchView, print_summary
    from comfycine.errors import ComfycineError, UsageError, join_sentences
    from comfycine.notify.hooks import batch_hook

    if target and targets and [t.strip() for t in targets.split(",")] != [target]:
        raise UsageError("Give --target or --targets, not both.", hint="e.g. --targets local,cloud")
    names = [t for t in (targets or target or "").split(",") if t.strip()] or None
    output = Output("batch", as_json=json or events)
    words = _Words(folder, template, prompt, sets, input_param, no_validate, json, events)
    again = words.command(concurrency=concurrency, targets=targets, target=target, url=url)
    try:
        settings = load_settings(url, transport=transport)
        with BatchView(output, events=events) as view:
            # The spend gate runs once, before any item is sent: one question per batch.
            result = with_spend_consent(
                lambda allow: run_batch(
                    settings,
                    folder,
                    template,
                    prompt=prompt,
                    assignments=sets or [],
                    input_param=input_param,
                    targets=names,
                    concurrency=concurrency,
                    retry_failed=retry_failed,
                    dry_run=dry_run,
                    validate=not no_validate,
                    on_event=view,
                    notify=None if dry_run else batch_hook(settings, notify),
                    allow_spend=allow,
                ),
                allow_spend,
                command=again,
                before_ask=view.close,
            )
    except ComfycineError as exc:
        uses_cloud = "cloud" in (names or []) or (prompt or "").lstrip().startswith("@cloud")
        _explain_stop(exc, output, again, None if uses_cloud else words.command(targets="cloud"))
        raise
    failure = result.failure()
    if failure is None:
        output.success(result.to_dict(), print_summary)
        return
    if not output.as_json:
        print_summary(output, result.to_dict())
    failed = [i for i in result.items if i.status == "failed"]
    failure.hint = f"Retry the failed items with: {again} --retry-failed"
    if not any(i.earlier for i in failed) and failed[0].job:
        see_why = f"See why with: comfycine debug {failed[0].job[:8]}"
        failure.hint = join_sentences(see_why, failure.hint)
    raise failure


def _explain_stop(exc: Any, output: Output, again: str, on_cloud: str | None) -> None:
    """Give a batch that stopped early its summary and the command that resumes it.

    ``on_cloud``: the command running the batch on Comfy Cloud, proposed when the PC
    cannot be reached (None when the cloud is already among the targets).
    """
    from comfycine.cli.batchview import print_summary
    from comfycine.errors import Interrupted, TargetUnreachable, join_sentences

    ran = any(
        i.get("status") in ("succeeded", "failed") and not i.get("earlier")
        for i in exc.details.get("items") or []
    )
    if "items" in exc.details and (isinstance(exc, Interrupted) or ran):
        if not output.as_json:
            print_summary(output, exc.details)
        exc.hint = (
            f"Resume with: {again}"
            if isinstance(exc, Interrupted)
            else join_sentences(exc.hint, f"Resume with: {again}")
        )
    if isinstance(exc, TargetUnreachable) and on_cloud is not None:
        exc.details.update(fallback="cloud", command=on_cloud)
        exc.hint = join_sentences(exc.hint, f"Or on Comfy Cloud (paid): {on_cloud}")


class _Words:
    """Rebuilds this command line: to resume, retry, or run on another target."""

    def __init__(
        self,
        folder: str,
        template: str,
        prompt: str | None,
        sets: list[str] | None,
        input_param: str | None,
        no_validate: bool,
        json: bool,
        events: bool,
    ) -> None:
        self.head = ["comfycine", "batch", folder, template]
        for assignment in sets or []:
            self.head += ["--set", assignment]
        for flag, value in (("--prompt", prompt), ("--input-param", input_param)):
            if value is not None:
                self.head += [flag, value]
        flags = (("--no-validate", no_validate), ("--json", json), ("--events", events))
        self.tail = [flag for flag, on in flags if on]

    def command(
        self,
        *,
        concurrency: str | None = None,
        targets: str | None = None,
        target: str | None = None,
        url: str | None = None,
    ) -> str:
        """The command line, with these target options."""
        import shlex

        words = list(self.head)
        options = (
            ("--concurrency", concurrency),
            ("--targets", targets),
            ("--target", None if targets else target),
            ("--url", url),
        )
        for flag, value in options:
            if value is not None:
                words += [flag, value]
        return shlex.join(words + self.tail)
