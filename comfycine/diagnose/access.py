"""Rules for reaching the server: unreachable, connection dropped, Tailscale down.

Part of :mod:`comfycine.diagnose.rules` (same pure shape: an error and its job's
context in, a :class:`~comfycine.diagnose.model.Diagnosis` out). Every text names the
machine the job was sent to (:mod:`comfycine.diagnose.place`); Comfy Cloud's account
refusals are in :mod:`comfycine.diagnose.account`.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from ..errors import ComfycineError
from .model import Diagnosis, Fix, JobContext
from .place import LOCAL, Place, place_of

DOCTOR = Fix("Check the whole chain, rung by rung:", "comfycine doctor")
LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})


# --------------------------------------------------------------- reachability


def unreachable(error: ComfycineError, ctx: JobContext) -> Diagnosis:
    url = str(error.details.get("url") or "")
    parts = urlsplit(url)
    default_port = 443 if parts.scheme == "https" else 8188  # ComfyUI's own port otherwise
    where = f"{parts.hostname or 'the server'}:{parts.port or default_port}"
    place = place_of(ctx, error)
    doctor = place.doctor()
    reason = str(error.details.get("reason") or "")
    if error.details.get("rendered") and error.details.get("job"):
        # Rendered on the server, only the download was cut: never propose a re-render.
        short = str(error.details["job"])[:8]
        return Diagnosis(
            "target_unreachable",
            f"{where} went out of reach while the outputs downloaded; the job rendered "
            "fine and its files wait on the server.",
            [Fix("Download them once the link is back:", f"comfycine wait {short}"), doctor],
        )
    if error.details.get("submitted"):
        # The job reached the server: rendering it elsewhere would pay for it twice.
        job8 = str(error.details.get("job") or ctx.job or "")[:8]
        return Diagnosis(
            "target_unreachable",
            f"Lost contact with {where} while following job {job8}; it may still be running there.",
            [Fix("Collect it once the link is back:", f"comfycine wait {job8}"), doctor],
            {"reason": reason, "url": url, "job": error.details.get("job")},
        )
    if reason == "dropped":
        job = ctx.job or error.details.get("job")
        follow = f"comfycine wait {str(job)[:8]}" if job else "comfycine status"
        return Diagnosis(
            "connection_dropped",
            f"The connection to {where} dropped; the job may still be running there.",
            [Fix("Follow it again (it downloads the outputs when done):", follow), doctor],
        )
    if error.details.get("reachable_now"):
        again = ctx.rerun_command() or "the same command"
        waking = "had a short outage" if place.is_cloud else f"{place.label} was waking up"
        return Diagnosis(
            "target_unreachable",
            f"{where} did not answer then, but answers now (it was starting, or {waking}).",
            [Fix("Run it again:", again), doctor],
        )
    if place.is_cloud:
        return _cloud_unreachable(error, ctx, place, where, reason)
    cloud = _on_cloud(error, ctx)
    if ctx.tailscale_problem:
        return Diagnosis(
            "tailscale_down",
            f"Cannot reach {where}: {ctx.tailscale_problem}",
            [
                Fix(ctx.tailscale_fix)
                if ctx.tailscale_fix
                else Fix(
                    "Start Tailscale on this Mac and log in (menu bar app, or):", "tailscale up"
                ),
                Fix(f"Wake {place.label} and check Tailscale runs there too (same tailnet)."),
                doctor,
                cloud,
            ],
        )
    port = parts.port or default_port
    causes = {
        "refused": f"Nothing listens on {where}: ComfyUI is not running on {place.label}, or "
        "runs without --listen (it then accepts only its own machine).",
        "timeout": f"No answer from {where}: {place.label} is off or asleep, Tailscale is "
        "down, or a firewall drops the port.",
        "dns": f"The name {parts.hostname} does not resolve (MagicDNS off, or a typo).",
    }
    pinokio = " (Pinokio: add it to the launch arguments)" if place.kind == LOCAL else ""
    setting = "COMFYUI_URL" if place.kind == LOCAL else f"COMFYCINE_TARGETS ({place.name}=…)"
    first = {
        "refused": Fix(
            f"Start ComfyUI on {place.label} with --listen 0.0.0.0{pinokio}, then retry."
        ),
        "timeout": Fix(
            f"Wake {place.label}, check Tailscale on both machines, and allow inbound TCP "
            f"{port} in its firewall (Tailscale interface)."
        ),
        "dns": Fix(
            f"Use the Tailscale address of {place.label} (tailscale status lists it) in "
            f"{setting}, or turn MagicDNS on."
        ),
    }
    loopback = parts.hostname in LOOPBACK
    fixes = [first.get(reason, Fix(error.hint))]
    if loopback and reason == "refused" and place.kind == LOCAL:
        fixes = [Fix("Start a local test server:", "comfycine server up")]
    fixes.append(doctor)
    if not loopback or error.details.get("command"):
        fixes.append(cloud)
    cause = causes.get(reason, error.message)
    return Diagnosis("target_unreachable", cause, fixes, {"reason": reason, "url": url})


def _on_cloud(error: ComfycineError, ctx: JobContext) -> Fix:
    """The same job on Comfy Cloud (proposed only for jobs that never reached the server)."""
    command = error.details.get("command") or ctx.rerun_command(target="cloud")
    if command:
        return Fix("Or run it on Comfy Cloud (paid):", str(command))
    return Fix("Or run it on Comfy Cloud (paid): add --target cloud to the command.")


def _cloud_unreachable(
    error: ComfycineError, ctx: JobContext, place: Place, where: str, reason: str
) -> Diagnosis:
    """Comfy Cloud out of reach: this machine's connection or the service, never the PC."""
    command = error.details.get("command") or ctx.rerun_command(target=LOCAL)
    local = (
        Fix("Or render it on the local ComfyUI:", str(command))
        if command
        else Fix("Or render it on the local ComfyUI: add --target local to the command.")
    )
    return Diagnosis(
        "target_unreachable",
        f"No answer from {place.label} ({where}): this machine's internet connection, a "
        "proxy or firewall on the way, or an outage of the service.",
        [Fix("Check this machine's internet connection, then retry."), place.doctor(), local],
        {"reason": reason, "url": str(error.details.get("url") or "")},
    )
