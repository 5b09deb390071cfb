"""The notify-command channel: the filmmaker's own script, given the message as argv[1].

``COMFYCINE_NOTIFY_COMMAND`` names a program (by default ``~/.claude/scripts/notify.sh``
when it exists). It is run without a shell, so nothing in the message is interpreted:
the argv is the command's words followed by the message as one argument.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shlex
import signal
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from ..sanitize import clean_text, redact

DEFAULT_TIMEOUT = 10.0
# What the outcome keeps of a failing command's stderr.
STDERR_TAIL = 300


def command_argv(command: str, message: str) -> list[str]:
    """The argv for ``command`` with ``message`` as its last, single argument.

    A command that is the path of an existing file is one word even with spaces in it
    (``~/Library/Application Support/…``); otherwise it is split like a shell would,
    without expanding anything but a leading ``~`` of the program.
    """
    whole = Path(os.path.expanduser(command.strip()))
    if whole.is_file():
        return [str(whole), message]
    words = shlex.split(command)
    if not words:
        raise ValueError("the notify command is empty")
    return [os.path.expanduser(words[0]), *words[1:], message]


async def run_process(argv: list[str], timeout: float) -> tuple[int | None, str]:
    """Run ``argv`` (no shell, no stdin) for at most ``timeout`` seconds.

    Returns the exit status (None when it was killed for running too long) and its
    stderr. stderr goes to a temporary file rather than a pipe, so a script that leaves
    a background helper holding the pipe open is not waited on. The process gets its
    own session, so a timeout kills its children too.
    """
    with tempfile.TemporaryFile() as errors:
        process = await asyncio.create_subprocess_exec(
            *argv,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=errors,
            start_new_session=True,
        )
        try:
            status: int | None = await asyncio.wait_for(process.wait(), timeout)
        except TimeoutError:
            _kill(process)
            await process.wait()
            status = None
        errors.seek(0)
        text = errors.read().decode("utf-8", errors="replace")
    return status, text


def _kill(process: asyncio.subprocess.Process) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        if hasattr(os, "killpg"):
            os.killpg(process.pid, signal.SIGKILL)
        else:
            process.kill()


async def run_command(
    command: str,
    message: str,
    *,
    timeout: float = DEFAULT_TIMEOUT,
    secrets: Iterable[str] = (),
) -> dict[str, Any]:
    """Run the notify command with ``message``; the outcome, never an exception.

    The outcome is ``{"channel": "command", "ok": bool, "detail": str}``; a failing
    command's detail holds its exit status and the last line of its stderr (cleaned of
    control characters, secrets redacted).
    """
    secrets = tuple(secrets)
    try:
        argv = command_argv(command, message)
        status, stderr = await run_process(argv, timeout)
    except (OSError, ValueError) as exc:
        return _outcome(False, f"cannot run {command!r}: {exc}", secrets)
    if status is None:
        return _outcome(False, f"{Path(argv[0]).name} took longer than {timeout:g} s", secrets)
    if status != 0:
        lines = [line for line in stderr.strip().splitlines() if line.strip()]
        last = f": {lines[-1][-STDERR_TAIL:]}" if lines else ""
        return _outcome(False, f"{Path(argv[0]).name} exited with {status}{last}", secrets)
    return _outcome(True, f"{Path(argv[0]).name} ran", secrets)


def _outcome(ok: bool, detail: str, secrets: tuple[str, ...]) -> dict[str, Any]:
    return {"channel": "command", "ok": ok, "detail": redact(clean_text(detail), secrets)}
