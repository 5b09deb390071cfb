"""Turn any failure into a :class:`Diagnosis`: a code, a plain cause, concrete fixes.

* :func:`diagnose` — pure rules over a comfycine error and what is known of its job;
* :func:`error_from_text` — a pasted message (JSON or plain text) as the error it means;
* :mod:`.lookup` — the network facts some fixes need (ComfyUI-Manager's pack and model
  lists on the server, cached; the template's sidecar; the Tailscale state).
"""

from __future__ import annotations

from ..errors import ComfycineError, ExitCode, join_sentences
from .model import Diagnosis, Fix, JobContext, ModelSource, PackInfo
from .rules import diagnose
from .text import error_from_text

# Errors whose own hint is already the whole story.
_PLAIN_EXITS = frozenset(
    {ExitCode.USAGE, ExitCode.STILL_RUNNING, ExitCode.CONSENT, ExitCode.INTERRUPTED}
)


def attach(error: ComfycineError, context: JobContext | None = None) -> ComfycineError:
    """Put the diagnosis in ``error.details.diagnosis`` and its top fix in the hint.

    Done once, where the most is known of the job (``generate``, ``wait``); the CLI's
    error path adds it, without the job's context, to any failure that has none yet.
    """
    if "diagnosis" in error.details or error.exit_code in _PLAIN_EXITS:
        return error
    diagnosis = diagnose(error, context)
    error.details["diagnosis"] = diagnosis.to_dict()
    top = diagnosis.top_fix
    if top:
        command = error.details.get("command")
        error.hint = top if not command or command in top else join_sentences(top, "Or:", command)
    return error


__all__ = [
    "Diagnosis",
    "Fix",
    "JobContext",
    "ModelSource",
    "PackInfo",
    "attach",
    "diagnose",
    "error_from_text",
]
