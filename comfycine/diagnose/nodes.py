"""Rules for a node that raised while running: wrong model parts, a missing Python
package or file, an unsupported GPU, or any other exception.

Part of :mod:`comfycine.diagnose.rules` (same pure shape). The fixes are for the machine
the job ran on (:mod:`comfycine.diagnose.place`): nothing is installed on Comfy Cloud.
"""

from __future__ import annotations

import re
from typing import Any

from ..errors import ComfycineError
from .model import Diagnosis, Fix, JobContext
from .place import LOCAL, Place, place_of

_NO_MODULE = re.compile(r"No module named '([\w.\-]+)'")
_NO_FILE = re.compile(r"No such file or directory: '([^']+)'")


def node_label(details: dict[str, Any]) -> str:
    node, cls = details.get("node"), details.get("class_type")
    if node and cls:
        return f"node {node} ({cls})"
    return f"node {node}" if node else "the workflow"


def node_exception(error: ComfycineError, ctx: JobContext) -> Diagnosis:
    details = error.details
    text = f"{details.get('exception_type', '')}: {details.get('exception_message', '')}"
    where = node_label(details)
    if "mat1 and mat2 shapes" in text:
        return Diagnosis(
            "model_mismatch",
            f"{where} got tensors of the wrong size: the text encoder (CLIP), VAE or LoRA "
            "does not belong to this model.",
            [
                Fix(
                    "Use the text encoder and VAE the model card names (see the template):",
                    f"comfycine workflow show {ctx.template}" if ctx.template else None,
                ),
            ],
        )
    place = place_of(ctx, error)
    module = _NO_MODULE.search(text)
    if module:
        return Diagnosis(
            "missing_python_package",
            f"{where} needs the Python package {module.group(1)}, missing on {place.label}.",
            _environment_fixes(place, f"python -m pip install {module.group(1)}"),
        )
    missing = _NO_FILE.search(text)
    if missing or "FileNotFoundError" in text:
        name = missing.group(1) if missing else "a file"
        put = (
            Fix(f"Pick another file: {place.label} has only its own files and what you upload.")
            if place.is_cloud
            else Fix(
                f"Put {name} where the node expects it on {place.label}, or pick another file."
            )
        )
        return Diagnosis("missing_file", f"{where} could not open {name} on {place.label}.", [put])
    if "no kernel image is available" in text or "sm_120" in text:
        return Diagnosis(
            "gpu_unsupported",
            f"The PyTorch of {place.label} was not built for its GPU (an RTX 5090 needs CUDA "
            "12.8 builds).",
            [_update_torch(place)],
        )
    fixes = [
        Fix(
            f"Check the inputs of {where}; the full traceback:",
            debug_command(ctx, json=True),
        )
    ]
    if place.is_cloud:
        fixes.append(place.logs(ctx.job or error.details.get("job")))
    if ctx.template:
        fixes.append(Fix("Validate the template:", f"comfycine workflow validate {ctx.template}"))
    return Diagnosis("node_exception", error.message, fixes)


def _update_torch(place: Place) -> Fix:
    if place.is_cloud:
        return Fix(
            "Comfy Cloud runs its own builds: try again later, or render locally (--target local)."
        )
    if place.kind == LOCAL:
        return Fix("Update ComfyUI in Pinokio (or install a cu128 PyTorch), then restart it.")
    return Fix(f"Update ComfyUI (or install a cu128 PyTorch) on {place.label}, then restart it.")


def _environment_fixes(place: Place, pip: str) -> list[Fix]:
    """A Python package missing where ComfyUI runs: install it there (never on the cloud)."""
    if place.is_cloud:
        return [
            Fix(
                f"{place.subject}'s ComfyUI cannot be changed: replace the node, or render on "
                "the local ComfyUI (--target local) once the package is installed there."
            )
        ]
    where = "on the PC (Pinokio: its terminal)" if place.kind == LOCAL else f"on {place.label}"
    return [
        Fix(f"Install it into ComfyUI's own Python {where}, then restart ComfyUI:", pip),
        Fix("Or reinstall the node pack from ComfyUI-Manager (it installs its needs)."),
    ]


def debug_command(ctx: JobContext, *, json: bool = False) -> str:
    job = ctx.job[:8] if ctx.job else "last"
    return f"comfycine debug {job}" + (" --json" if json else "")
