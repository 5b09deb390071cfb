"""Entry point: build the Typer app, run it, and map every outcome to one exit code.

This is the only place that turns exceptions into exit codes: commands raise library
errors, :func:`main` renders them (one red line + hint, or the JSON envelope).
"""

from __future__ import annotations

import os
import sys

# typing costs ~10 ms to import: the warm path does without it (annotations are text).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from comfycine.errors import ComfycineError

# Nothing else at import: main() may hand the command to the warm server (comfycine.warm)
# before anything of the library is loaded.


def command_name(argv: list[str]) -> str:
    """The command's name for the envelope: ``generate``, ``workflow show``…"""
    words = [a for a in argv if not a.startswith("-")]
    return (
        " ".join(words[:2])
        if words[:1] in (["server"], ["workflow"], ["mobile"])
        else (words[0] if words else "comfycine")
    )


def _debug_enabled(argv: list[str]) -> bool:
    value = os.environ.get("COMFYCINE_DEBUG", "").strip().lower()
    return "--debug" in argv or value in {"1", "true", "yes", "on"}


def _secret_values(argv: list[str]) -> tuple[str, ...]:
    """The configured secrets, and the password of a URL given as a flag (``--url``)."""
    from comfycine.envnames import secret_values
    from comfycine.urls import url_passwords

    flags = [p for p in url_passwords(" ".join(argv)) if len(p) >= 4]
    return (*secret_values(os.environ), *flags)


def run(argv: list[str]) -> int:
    """Run the CLI with ``argv`` (without the program name); return the exit code."""
    from comfycine.cli.render import Output
    from comfycine.errors import ComfycineError, ExitCode, Interrupted

    as_json = "--json" in argv or "--events" in argv
    output = Output(command_name(argv), as_json=as_json, secrets=lambda: _secret_values(argv))
    try:
        # An agent's usual command lines skip Typer (cli/fastpath); the rest parse there.
        from comfycine.cli.fastpath import fast_call

        call = fast_call(argv)
        if call is not None:
            call()
            return int(ExitCode.OK)
        return _run_typer(argv)
    except ComfycineError as exc:
        if _debug_enabled(argv):
            _print_traceback(exc, output)
        output.error(_diagnosed(exc))
        return int(exc.exit_code)
    except KeyboardInterrupt:
        output.error(Interrupted("Interrupted.", hint=""))
        return int(ExitCode.INTERRUPTED)
    except Exception as exc:
        code = _typer_outcome(exc, output, argv)
        if code is not None:
            return code
        if _debug_enabled(argv):
            _print_traceback(exc, output)
        bug = ComfycineError(
            f"Unexpected error: {type(exc).__name__}: {exc}",
            hint="Run again with --debug and report the traceback.",
        )
        output.error(bug)
        return int(ExitCode.UNEXPECTED)


def _run_typer(argv: list[str]) -> int:
    """Parse and run ``argv`` with the Typer application."""
    import typer

    from comfycine.cli.app import build_app
    from comfycine.errors import ExitCode

    # Only the named command: a run that names one does not build them all.
    first = argv[0] if argv and not argv[0].startswith("-") else None
    second = argv[1] if first and len(argv) > 1 and not argv[1].startswith("-") else None
    app = build_app(first, second, listing=_lists_commands(argv, first))
    command = typer.main.get_command(app)
    result = command.main(args=argv, prog_name="comfycine", standalone_mode=False)
    return int(result) if isinstance(result, int) else int(ExitCode.OK)


def _typer_outcome(exc: Exception, output: Any, argv: list[str]) -> int | None:
    """The exit code of Typer's own exceptions (exit, abort, a bad command line), else None.

    Typer is only looked at when it was loaded: the fast path never imports it, unless
    a body asked a question at a terminal.
    """
    typer = sys.modules.get("typer")
    if typer is None:
        return None
    from comfycine.errors import ExitCode, Interrupted, UsageError

    if isinstance(exc, typer.Exit):
        return int(exc.exit_code)
    if isinstance(exc, typer.Abort):
        output.error(Interrupted("Interrupted.", hint=""))
        return int(ExitCode.INTERRUPTED)
    if isinstance(exc, _click_exception()):
        if type(exc).__name__ == "NoArgsIsHelpError":
            return int(ExitCode.USAGE)  # the help text was already printed
        message = str(getattr(exc, "format_message", exc.__str__)())
        output.error(UsageError(message, hint=_usage_hint(argv)))
        return int(ExitCode.USAGE)
    return None


def _lists_commands(argv: list[str], first: str | None) -> bool:
    """Whether the run may only print a help that lists commands (the root's, or a
    group's when ``first`` names one): ``comfycine``, ``--help``, ``GROUP``, ``GROUP -h``."""
    helps = (["-h"], ["--help"])
    if first is None:
        return not argv or argv in helps
    return len(argv) == 1 or argv[1:] in helps


def _diagnosed(exc: ComfycineError) -> ComfycineError:
    """The error with its diagnosis (the top fix becomes the hint); never fails itself."""
    try:
        from comfycine.diagnose import attach

        return attach(exc)
    except Exception:
        return exc  # a diagnosis is a help, never a second failure


def _print_traceback(exc: BaseException, output: Any) -> None:
    """The traceback for --debug: without locals, and redacted like every other output."""
    import traceback

    text = "".join(traceback.format_exception(exc))
    sys.stderr.write(output.redacted(text))
    sys.stderr.flush()


def _click_exception() -> type[Exception]:
    """Typer's (vendored) click exception base: parsing errors of the command line."""
    import typer

    return next(c for c in typer.BadParameter.__mro__ if c.__name__ == "ClickException")


def _usage_hint(argv: list[str]) -> str:
    words = [a for a in argv if not a.startswith("-")]
    return f"See: comfycine {words[0]} --help" if words else "See: comfycine --help"


def main() -> None:
    """Console-script entry point: warm when the warm server can take it (comfycine.warm)."""
    argv = sys.argv[1:]
    from comfycine.warm.client import run_warm

    code = run_warm(argv)
    sys.exit(run(argv) if code is None else code)
