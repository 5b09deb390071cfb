"""``debug`` (why did it fail, what to do) and ``free`` (release the GPU's memory)."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from comfycine.cli.options import DebugOpt, JsonOpt, TargetOpt, UrlOpt, load_settings
from comfycine.cli.render import Output


def _print_diagnosis(out: Output, data: dict[str, Any]) -> None:
    diagnosis = data["diagnosis"]
    job = data.get("job")
    if job:
        out.info(f"job {job['job'][:8]} ({job.get('template') or 'workflow'}, {job['status']})")
    out.write_stdout(f"{diagnosis['code']}: {diagnosis['cause']}")
    for number, fix in enumerate(diagnosis["fixes"], start=1):
        line = f"  {number}. {fix['text']}"
        out.write_stdout(f"{line}\n     {fix['command']}" if fix.get("command") else line)


def debug(
    job: Annotated[
        str | None,
        typer.Argument(help="A job id (or 4+ characters of it), or 'last' (the latest failure)."),
    ] = None,
    error_text: Annotated[
        str | None,
        typer.Option(
            "--error-text", "-e", help="Diagnose a pasted error message instead ('-': stdin)."
        ),
    ] = None,
    target: TargetOpt = None,
    url: UrlOpt = None,
    json: JsonOpt = False,
    debug: DebugOpt = False,
) -> None:
    """Explain why a job failed, and what to do next (the exact commands)."""
    from comfycine.debugging import debug as run_debug
    from comfycine.errors import UsageError

    if job is not None and error_text is not None:
        raise UsageError(
            "Give a job or --error-text, not both.", hint="See: comfycine debug --help"
        )
    if error_text == "-":
        import sys

        error_text = sys.stdin.read()
    settings = load_settings(url)
    result = run_debug(settings, job, error_text=error_text, target=target)
    Output("debug", as_json=json).success(result.to_dict(), _print_diagnosis)


def free(
    keep_models: Annotated[
        bool, typer.Option("--keep-models", help="Free cached memory but keep models loaded.")
    ] = False,
    target: TargetOpt = None,
    url: UrlOpt = None,
    json: JsonOpt = False,
    debug: DebugOpt = False,
) -> None:
    """Release the GPU memory ComfyUI holds (unloads models; after an out-of-memory)."""
    from comfycine.debugging import free_memory

    settings = load_settings(url)
    data = free_memory(settings, target, unload_models=not keep_models)
    Output("free", as_json=json).success(
        data, lambda out, d: out.info(f"✓ {d['target']} ({d['url']}) released its memory")
    )


def register(app: typer.Typer) -> None:
    """Add ``debug`` and ``free`` to the application."""
    app.command("debug")(debug)
    app.command("free")(free)
