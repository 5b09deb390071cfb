"""Everything the CLI prints: the JSON envelope on stdout, chatter and errors on stderr.

stdout is data (output paths, or exactly one JSON document with ``--json``); stderr is
for people (progress, the one red error line and its hint).
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.console import Console

    from comfycine.errors import ComfycineError

SCHEMA = "comfycine/1"


def envelope(
    command: str, data: dict[str, Any] | None, error: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The one JSON document a command prints with ``--json``."""
    return {
        "schema": SCHEMA,
        "ok": error is None,
        "command": command,
        "data": data,
        "error": error,
    }


def stderr_console() -> Console:
    """A Rich console on stderr (colour only on a terminal, NO_COLOR honoured)."""
    from rich.console import Console

    return Console(stderr=True, highlight=False, soft_wrap=True)


def is_tty(stream: Any) -> bool:
    """Whether a stream is an interactive terminal."""
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


class Output:
    """Prints a command's result or error, for a person or for a machine."""

    def __init__(
        self,
        command: str,
        *,
        as_json: bool,
        secrets: Callable[[], tuple[str, ...]] = tuple,
    ) -> None:
        self.command = command
        self.as_json = as_json
        self._secrets_provider = secrets
        self._secrets: tuple[str, ...] | None = None
        self._console: Console | None = None

    @property
    def secrets(self) -> tuple[str, ...]:
        """Secret values to redact, read on first use (reading .env costs time)."""
        if self._secrets is None:
            self._secrets = self._secrets_provider()
        return self._secrets

    @property
    def console(self) -> Console:
        """The stderr console, created on first use."""
        if self._console is None:
            self._console = stderr_console()
        return self._console

    def _clean(self, text: str) -> str:
        from comfycine.sanitize import clean_text, redact

        return redact(clean_text(text), self.secrets)

    def redacted(self, text: str) -> str:
        """``text`` with secrets removed (control characters kept: tracebacks)."""
        from comfycine.sanitize import redact

        return redact(text, self.secrets)

    def write_stdout(self, text: str) -> None:
        """Write data to stdout, redacted."""
        sys.stdout.write(self._clean(text) + "\n")
        sys.stdout.flush()

    @property
    def rich_stderr(self) -> bool:
        """Colour and live display only for a person at a terminal.

        Off a terminal (an agent's Bash tool, cron, a pipe) plain lines are written and
        Rich is never imported: it costs ~30 ms of start-up per command.
        """
        return is_tty(sys.stderr)

    def _plain(self, line: str) -> None:
        sys.stderr.write(line + "\n")
        sys.stderr.flush()

    def info(self, text: str) -> None:
        """A line of chatter on stderr (escaped: server text may hold markup)."""
        if not self.rich_stderr:
            self._plain(self._clean(text))
            return
        from rich.markup import escape

        self.console.print(escape(self._clean(text)))

    def success(
        self, data: dict[str, Any], human: Callable[[Output, dict[str, Any]], None] | None = None
    ) -> None:
        """Print a successful result: the envelope, or the human rendering."""
        if self.as_json:
            self.write_stdout(json.dumps(envelope(self.command, data), default=str))
        elif human is not None:
            human(self, data)
        else:
            self.write_stdout(json.dumps(data, indent=2, default=str))

    def error(self, exc: ComfycineError, *, data: dict[str, Any] | None = None) -> None:
        """The one red line, the hint, and (with --json) the envelope on stdout."""
        message = self._clean(exc.message)
        hint = self._clean(exc.hint) if exc.hint else ""
        if self.rich_stderr:
            from rich.markup import escape

            self.console.print(f"[bold red]error:[/] {escape(message)}")
            if hint:
                self.console.print(f"[dim]hint:[/] {escape(hint)}")
        else:
            self._plain(f"error: {message}")
            if hint:
                self._plain(f"hint: {hint}")
        if self.as_json:
            error = json.loads(self._clean(json.dumps(exc.to_dict(), default=str)))
            self.write_stdout(json.dumps(envelope(self.command, data, error), default=str))

    def event(self, payload: dict[str, Any]) -> None:
        """One NDJSON event line on stdout (streaming commands)."""
        self.write_stdout(json.dumps(payload, default=str))


def want_color() -> bool:
    """False when NO_COLOR is set (https://no-color.org)."""
    return "NO_COLOR" not in os.environ
