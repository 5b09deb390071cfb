"""Where a failed job ran: the PC, Comfy Cloud, or another named target — and how fixes say so.

A fix sends the filmmaker somewhere: the ComfyUI console, a settings line, a dashboard.
It must be the right machine: a cloud failure never points at the PC, a failure on the
PC never at platform.comfy.org, and a second PC or a rented box is named by its name and
URL. :func:`place_of` decides from the job's context (target name, server URL) and, when
that is unknown, from the error itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from ..errors import CloudAccountError, ComfycineError
from ..urls import shown_url
from .model import Fix, JobContext

LOCAL = "local"
CLOUD = "cloud"
TARGET = "target"
CLOUD_URL = "cloud.comfy.org"
# Comfy Cloud (cloud.comfy.org), its platform, and serverless deployments (*.run.comfy.app).
_CLOUD_DOMAINS = ("comfy.org", "comfy.app")


def is_cloud_url(url: str | None) -> bool:
    """Whether ``url`` is Comfy Cloud's, the platform's or a ``*.run.comfy.app`` deployment's."""
    try:
        host = (urlsplit(url or "").hostname or "").lower()
    except ValueError:
        return False
    return any(host == d or host.endswith("." + d) for d in _CLOUD_DOMAINS)


@dataclass(frozen=True)
class Place:
    """One place a job can run, and the words and commands that name it."""

    kind: str  # local | cloud | target
    name: str  # the target's name (local, cloud, studio…)
    url: str = ""  # as shown: never a password
    known: bool = True  # False: only the default target, nobody said where it ran

    @property
    def is_cloud(self) -> bool:
        """Comfy Cloud or a Comfy deployment: no console, no disk, no Pinokio to reach."""
        return self.kind == CLOUD

    @property
    def label(self) -> str:
        """``the PC``, ``Comfy Cloud``, or ``studio (http://100.64.1.2:8188)``."""
        if self.kind == LOCAL:
            return "the PC"
        if self.kind == CLOUD:
            if self.name == CLOUD:
                return "Comfy Cloud"
            host = urlsplit(self.url).hostname if self.url else None
            return f"the Comfy deployment {self.name}" + (f" ({host})" if host else "")
        return f"{self.name} ({self.url})" if self.url else f"target {self.name}"

    @property
    def subject(self) -> str:
        """:attr:`label` to start a sentence: ``The PC``, ``Target studio (http://…)``."""
        if self.kind == TARGET:
            return f"Target {self.label}" if self.url else self.label[:1].upper() + self.label[1:]
        return self.label[:1].upper() + self.label[1:]

    @property
    def target_flag(self) -> str:
        """`` --target NAME`` for commands aimed here (empty for the default, local)."""
        return "" if self.name == LOCAL else f" --target {self.name}"

    def doctor(self) -> Fix:
        """The doctor run that checks the chain to this place."""
        return Fix("Check the whole chain, rung by rung:", f"comfycine doctor{self.target_flag}")

    def logs(self, job: str | None) -> Fix:
        """Where the server's own account of a failure is read."""
        if self.is_cloud:
            return Fix(
                f"Open the job in Comfy Cloud ({CLOUD_URL}) for the server's own error; "
                "what comfycine kept of it:",
                f"comfycine debug {job[:8] if job else 'last'} --json",
            )
        if self.kind == LOCAL:
            return Fix("Look at the ComfyUI console on the PC for the cause.")
        return Fix(f"Look at the ComfyUI console of {self.label} for the cause.")


def place_of(ctx: JobContext, error: ComfycineError | None = None) -> Place:
    """Where the job of ``ctx`` ran (the error's own clues when the context does not know).

    Comfy Cloud when the target is ``cloud``, the server URL is a Comfy one, or (target
    unknown) the error is Comfy Cloud's; otherwise the PC for ``local`` and a named
    target for any other name. A target nobody named is the default one, ``known=False``.
    """
    details = error.details if error is not None else {}
    url = ctx.server_url or str(details.get("server_url") or details.get("url") or "")
    shown = shown_url(url) if url else ""
    known = ctx.target_known
    if (known and ctx.target == CLOUD) or is_cloud_url(url):
        return Place(CLOUD, ctx.target if known else CLOUD, shown, True)
    if not known and error is not None and _cloud_error(error):
        return Place(CLOUD, CLOUD, shown, True)
    if ctx.target == LOCAL:
        return Place(LOCAL, LOCAL, shown, known)
    return Place(TARGET, ctx.target, shown, known)


def _cloud_error(error: ComfycineError) -> bool:
    """An error Comfy Cloud's client raised (its account errors, its "Comfy Cloud …" text)."""
    if isinstance(error, CloudAccountError) or error.code.startswith("cloud_"):
        return True
    return error.message.startswith("Comfy Cloud") or bool(error.details.get("cloud"))
