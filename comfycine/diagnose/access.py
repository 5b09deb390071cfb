"""Rules for reaching the server and the cloud account: unreachable, Tailscale, cloud.

Part of :mod:`comfycine.diagnose.rules` (same pure shape: an error and its job's
context in, a :class:`~comfycine.diagnose.model.Diagnosis` out).
"""

from __future__ import annotations

from urllib.parse import urlsplit

from ..errors import ComfycineError
from .model import Diagnosis, Fix, JobContext

DOCTOR = Fix("Check the whole chain, rung by rung:", "comfycine doctor")


# --------------------------------------------------------------- reachability


def unreachable(error: ComfycineError, ctx: JobContext) -> Diagnosis:
    url = str(error.details.get("url") or "")
    parts = urlsplit(url)
    where = f"{parts.hostname or 'the server'}:{parts.port or 8188}"
    reason = str(error.details.get("reason") or "")
    command = error.details.get("command") or ctx.rerun_command(target="cloud")
    cloud = (
        Fix("Or run it on Comfy Cloud (paid):", command)
        if command
        else Fix("Or run it on Comfy Cloud (paid): add --target cloud to the command.")
    )
    if error.details.get("rendered") and error.details.get("job"):
        # Rendered on the server, only the download was cut: never propose a re-render.
        short = str(error.details["job"])[:8]
        return Diagnosis(
            "target_unreachable",
            f"{where} went out of reach while the outputs downloaded; the job rendered "
            "fine and its files wait on the server.",
            [Fix("Download them once the link is back:", f"comfycine wait {short}"), DOCTOR],
        )
    if error.details.get("submitted"):
        # The job reached the server: rendering it elsewhere would pay for it twice.
        job8 = str(error.details.get("job") or ctx.job or "")[:8]
        return Diagnosis(
            "target_unreachable",
            f"Lost contact with {where} while following job {job8}; it may still be running there.",
            [Fix("Collect it once the link is back:", f"comfycine wait {job8}"), DOCTOR],
            {"reason": reason, "url": url, "job": error.details.get("job")},
        )
    if reason == "dropped":
        job = ctx.job or error.details.get("job")
        follow = f"comfycine wait {str(job)[:8]}" if job else "comfycine status"
        return Diagnosis(
            "connection_dropped",
            f"The connection to {where} dropped; the job may still be running there.",
            [Fix("Follow it again (it downloads the outputs when done):", follow), DOCTOR],
        )
    if error.details.get("reachable_now"):
        again = ctx.rerun_command() or "the same command"
        return Diagnosis(
            "target_unreachable",
            f"{where} did not answer then, but ComfyUI answers now (it was starting, "
            "or the PC was waking up).",
            [Fix("Run it again:", again), DOCTOR],
        )
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
                Fix("Wake the PC and check Tailscale runs there too (same tailnet)."),
                DOCTOR,
                cloud,
            ],
        )
    causes = {
        "refused": f"Nothing listens on {where}: ComfyUI is not running, or runs without "
        "--listen (it then accepts only its own machine).",
        "timeout": f"No answer from {where}: the PC is off or asleep, Tailscale is down, "
        "or a firewall drops the port.",
        "dns": f"The name {parts.hostname} does not resolve (MagicDNS off, or a typo).",
    }
    first = {
        "refused": Fix(
            "Start ComfyUI on the PC with --listen 0.0.0.0 (Pinokio: add it to the "
            "launch arguments), then retry."
        ),
        "timeout": Fix(
            "Wake the PC, check Tailscale on both machines, and allow inbound TCP "
            f"{parts.port or 8188} in the PC's firewall (Tailscale interface)."
        ),
        "dns": Fix(
            "Use the PC's Tailscale address (tailscale status lists it) in COMFYUI_URL, "
            "or turn MagicDNS on."
        ),
    }
    local = parts.hostname in {"127.0.0.1", "localhost", "::1"}
    fixes = [first.get(reason, Fix(error.hint))]
    if local and reason == "refused":
        fixes = [Fix("Start a local test server:", "comfycine server up")]
    fixes.append(DOCTOR)
    if not local or error.details.get("command"):
        fixes.append(cloud)
    cause = causes.get(reason, error.message)
    return Diagnosis("target_unreachable", cause, fixes, {"reason": reason, "url": url})


# ---------------------------------------------------------------------- cloud

_CLOUD_CAUSES = {
    "cloud_auth": (
        "Comfy Cloud refused the API key.",
        Fix("Create or copy a key at platform.comfy.org into COMFY_CLOUD_API_KEY (.env)."),
    ),
    "cloud_credits": (
        "The Comfy Cloud account is out of credits.",
        Fix("Add credits at platform.comfy.org."),
    ),
    "cloud_plan": (
        "The Comfy Cloud plan does not allow API jobs (a Standard, Creator or Pro "
        "subscription is needed).",
        Fix("Check the subscription at platform.comfy.org."),
    ),
    "cloud_queue_full": (
        "Comfy Cloud's queue for this account is full.",
        Fix("Wait for a running cloud job to finish, then retry:", "comfycine status"),
    ),
}


def cloud_account(error: ComfycineError, ctx: JobContext) -> Diagnosis:
    cause, fix = _CLOUD_CAUSES.get(error.code, (error.message, Fix(error.hint)))
    fixes = [fix]
    if error.code == "cloud_auth":
        fixes.append(Fix("Check the key without rendering anything:", "comfycine doctor"))
    local = error.details.get("command") or ctx.rerun_command(target="local")
    if error.code in {"cloud_credits", "cloud_plan", "cloud_queue_full"} and local:
        fixes.append(Fix("Or render it on your PC:", local))
    return Diagnosis(error.code, cause, fixes)
