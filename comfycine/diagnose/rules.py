"""The rules: one comfycine error (plus what is known of its job) → one :class:`Diagnosis`.

Pure functions: no I/O. Network facts (ComfyUI-Manager's pack map, the Tailscale state)
arrive already looked up in the :class:`JobContext` (see :mod:`comfycine.diagnose.lookup`).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from ..errors import ComfycineError, ExitCode
from .access import DOCTOR, cloud_account, unreachable
from .memory import fewer_frames, has_full_vae_decode, lower_resolution
from .model import Diagnosis, Fix, JobContext, ModelSource, PackInfo

# Pinokio's default install place on Windows (the spec's own note, marked "to verify").
PINOKIO_MODELS = r"C:\Users\<you>\pinokio\api\comfyui.git\app\models"
# value_not_in_list inputs that name model files, and the folder each one reads from.
MODEL_INPUT_FOLDERS = {
    "ckpt_name": "checkpoints",
    "lora_name": "loras",
    "vae_name": "vae",
    "unet_name": "diffusion_models",
    "clip_name": "text_encoders",
    "clip_name1": "text_encoders",
    "clip_name2": "text_encoders",
    "control_net_name": "controlnet",
    "model_name": "upscale_models",
    "upscale_model": "upscale_models",
    "clip_vision": "clip_vision",
    "style_model_name": "style_models",
}
_NOT_IN_LIST = re.compile(r"(\w+)\s*:\s*'([^']+)'\s+not in")
_MODEL_FILE = re.compile(r"names model file '(.+?)', which.*?(?:\(models/([^)]+?)/?\))?\.?$")
_NO_NODE = re.compile(r"node (\S+?) does not exist", re.IGNORECASE)
_NO_MODULE = re.compile(r"No module named '([\w.\-]+)'")
_NO_FILE = re.compile(r"No such file or directory: '([^']+)'")


def diagnose(error: ComfycineError, context: JobContext | None = None) -> Diagnosis:
    """The diagnosis of an error comfycine raised, using what is known of its job."""
    ctx = context or JobContext()
    rule = _RULES.get(error.code)
    if rule is None:
        if error.code.startswith("cloud_"):
            rule = cloud_account
        elif error.exit_code == ExitCode.USAGE:
            rule = _usage
        elif error.exit_code == ExitCode.REJECTED:
            rule = _rejected
        else:
            rule = _generic
    return rule(error, ctx)


# ------------------------------------------------------------------ out of memory


def _oom(error: ComfycineError, ctx: JobContext) -> Diagnosis:
    details = error.details
    where = _node_label(details)
    size = [f"{ctx.params[k]}" for k in ("width", "height") if k in ctx.params]
    facts: dict[str, Any] = {}
    fixes: list[Fix] = []
    resolution = lower_resolution(ctx.params, ctx.bounds)
    frames = fewer_frames(ctx.params, ctx.bounds)
    for reduction, lead in ((resolution, "Render smaller"), (frames, "Render fewer frames")):
        if reduction is not None:
            facts.update(reduction.changes)
            command = ctx.rerun_command(reduction.changes)
            fixes.append(Fix(f"{lead}, {reduction.summary}:", command))
    if not fixes:
        fixes.append(Fix("Lower the resolution or the frame count (--set width=… --set frames=…)."))
    decoders = has_full_vae_decode(ctx.graph)
    if decoders or details.get("class_type") == "VAEDecode":
        nodes = ", ".join(decoders) or str(details.get("node") or "?")
        tiled = ctx.rerun_command(flags=("--tiled-vae",))
        text = f"Decode in tiles (VAEDecodeTiled for node {nodes}: a fraction of the memory)"
        fixes.append(
            Fix(f"{text}, same shot:", tiled)
            if tiled
            else Fix(f"{text}: replace VAEDecode with VAEDecodeTiled in the workflow.")
        )
    if ctx.target != "cloud":
        fixes.append(Fix("Free what other jobs left in GPU memory, then retry:", "comfycine free"))
        cloud = details.get("command") or ctx.rerun_command(target="cloud")
        if cloud:
            fixes.append(Fix("Or render it unchanged on Comfy Cloud (96 GB, paid):", cloud))
        else:
            fixes.append(Fix("Or render it on Comfy Cloud (96 GB, paid): add --target cloud."))
    at = f" at {'×'.join(size)}" if len(size) == 2 else ""
    cause = f"The GPU ran out of memory in {where}{at}."
    if ctx.target == "cloud":
        cause = f"Even Comfy Cloud's GPU ran out of memory in {where}{at}."
    return Diagnosis("out_of_memory", cause, fixes, facts)


# -------------------------------------------------------------- nodes and models


def _problems(error: ComfycineError) -> list[dict[str, Any]]:
    found = error.details.get("problems")
    return [p for p in found if isinstance(p, dict)] if isinstance(found, list) else []


def missing_classes(error: ComfycineError) -> list[str]:
    """Node classes the server lacks, from the problems or the server's own message."""
    classes: list[str] = []
    for problem in _problems(error):
        if problem.get("code") in {"unknown_node", "missing_custom_node"}:
            cls = problem.get("class_type")
            if cls and cls not in classes:
                classes.append(str(cls))
    server = error.details.get("server_error")
    text = f"{error.message} {server.get('message', '') if isinstance(server, dict) else ''}"
    for match in _NO_NODE.finditer(text):
        if match.group(1) not in classes:
            classes.append(match.group(1))
    return classes


def missing_model_files(error: ComfycineError) -> list[tuple[str, str | None]]:
    """(file name, folder) of every model file the server lacks."""
    files: list[tuple[str, str | None]] = []
    for problem in _problems(error):
        if problem.get("code") not in {"missing_model", "value_not_in_list"}:
            continue
        message = str(problem.get("message") or "")
        server = _NOT_IN_LIST.search(message)  # the server's "ckpt_name: 'x' not in [...]"
        ours = _MODEL_FILE.search(message)  # our validator's "names model file 'x' ... (models/f/)"
        name = server.group(2) if server else (ours.group(1) if ours else None)
        input_name = str(problem.get("input") or (server.group(1) if server else ""))
        folder = ours.group(2) if ours and ours.group(2) else MODEL_INPUT_FOLDERS.get(input_name)
        if name and (problem.get("code") == "missing_model" or input_name in MODEL_INPUT_FOLDERS):
            files.append((name, folder))
    return files


def _pack_fix(cls: str, packs: list[PackInfo]) -> Fix:
    if not packs:
        return Fix(
            f"{cls}: no known pack provides it. Search for it in ComfyUI-Manager "
            "(Custom Nodes Manager → search the class name), or check its spelling."
        )
    first = packs[0]
    others = f" (also in: {', '.join(p.title for p in packs[1:3])})" if len(packs) > 1 else ""
    command = first.install_command
    if command:
        return Fix(f"{cls} comes from {first.title}{others}; install it, restart ComfyUI:", command)
    return Fix(
        f"{cls} comes from {first.title}{others}: install it from ComfyUI-Manager "
        f"(Install via Git URL: {first.key}), then restart ComfyUI."
    )


def _model_fix(name: str, folder: str | None, source: ModelSource | None) -> Fix:
    folder = (source.folder if source and source.folder else None) or folder
    place = f"models/{folder}" if folder else "the models folder it belongs to"
    pinokio = f" (Pinokio: {PINOKIO_MODELS}\\{folder})" if folder else ""
    url = f" from {source.url}" if source and source.url else ""
    return Fix(f"Download {name}{url} into {place} on the PC{pinokio}, then retry.")


def _missing(error: ComfycineError, ctx: JobContext) -> Diagnosis:
    classes = missing_classes(error)
    files = missing_model_files(error)
    fixes = [_pack_fix(cls, ctx.packs.get(cls, [])) for cls in classes]
    fixes += [_model_fix(name, folder, ctx.models.get(name)) for name, folder in files]
    if classes and not ctx.manager_checked and not all(ctx.packs.get(c) for c in classes):
        ask = "Ask the server's ComfyUI-Manager which pack it is:"
        fixes.append(Fix(ask, _debug_command(ctx)))
    if ctx.template:
        fixes.append(
            Fix("Check the template again:", f"comfycine workflow validate {ctx.template}")
        )
    if classes:
        code = "missing_custom_node"
        cause = f"The server has no node {'class' if len(classes) == 1 else 'classes'} " + (
            ", ".join(classes) + (f" (and {len(files)} missing model file(s))" if files else "")
        )
    elif files:
        code = "missing_model"
        cause = "The server lacks model file(s): " + ", ".join(name for name, _ in files)
    else:
        return _rejected(error, ctx)
    facts = {"classes": classes, "models": [name for name, _ in files]}
    return Diagnosis(code, cause + ".", fixes, facts)


def _rejected(error: ComfycineError, ctx: JobContext) -> Diagnosis:
    problems = _problems(error)
    if missing_classes(error) or missing_model_files(error):
        return _missing(error, ctx)
    fixes = [
        Fix(f"Node {p.get('node')} {p.get('input') or ''}: {p.get('fix')}".replace("  ", " "))
        for p in problems
        if p.get("fix")
    ][:5]
    if ctx.template:
        show = f"comfycine workflow show {ctx.template}"
        fixes.append(Fix("See the parameters and bounds:", show))
    if error.hint and not fixes:
        fixes.append(Fix(error.hint))
    code = "invalid_input" if problems or error.code == "validation_failed" else error.code
    return Diagnosis(code, error.message, fixes)


# ---------------------------------------------------------------- node errors


def _node_label(details: dict[str, Any]) -> str:
    node, cls = details.get("node"), details.get("class_type")
    if node and cls:
        return f"node {node} ({cls})"
    return f"node {node}" if node else "the workflow"


def _node_exception(error: ComfycineError, ctx: JobContext) -> Diagnosis:
    details = error.details
    text = f"{details.get('exception_type', '')}: {details.get('exception_message', '')}"
    where = _node_label(details)
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
    module = _NO_MODULE.search(text)
    if module:
        return Diagnosis(
            "missing_python_package",
            f"{where} needs the Python package {module.group(1)}, missing on the server.",
            [
                Fix(
                    "Install it into ComfyUI's own Python on the PC (Pinokio: its terminal), "
                    "then restart ComfyUI:",
                    f"python -m pip install {module.group(1)}",
                ),
                Fix("Or reinstall the node pack from ComfyUI-Manager (it installs its needs)."),
            ],
        )
    missing = _NO_FILE.search(text)
    if missing or "FileNotFoundError" in text:
        name = missing.group(1) if missing else "a file"
        return Diagnosis(
            "missing_file",
            f"{where} could not open {name} on the server.",
            [Fix(f"Put {name} where the node expects it on the PC, or pick another file.")],
        )
    if "no kernel image is available" in text or "sm_120" in text:
        return Diagnosis(
            "gpu_unsupported",
            "The server's PyTorch was not built for this GPU (an RTX 5090 needs CUDA 12.8 builds).",
            [Fix("Update ComfyUI in Pinokio (or install a cu128 PyTorch), then restart it.")],
        )
    fixes = [
        Fix(
            f"Check the inputs of {where} in ComfyUI; the full traceback:",
            _debug_command(ctx, json=True),
        )
    ]
    if ctx.template:
        fixes.append(Fix("Validate the template:", f"comfycine workflow validate {ctx.template}"))
    return Diagnosis("node_exception", error.message, fixes)


# ----------------------------------------------------------------------- misc


def _job_state(error: ComfycineError, ctx: JobContext) -> Diagnosis:
    job = str(ctx.job or error.details.get("job") or "")[:8]
    rerun = ctx.rerun_command()
    if error.code == "download_failed":
        again = Fix("Finish the download (nothing renders again):", f"comfycine wait {job}")
        return Diagnosis(error.code, error.message, [again])
    if error.code == "still_running":
        again = Fix("Wait for it again:", f"comfycine wait {job}")
        return Diagnosis(error.code, error.message, [again])
    fixes = [Fix("Render it again:", rerun)] if rerun else [Fix(error.hint)]
    cause = {
        "job_lost": "The server no longer knows the job: ComfyUI restarted while it was "
        "queued or running.",
        "job_interrupted": "The job was interrupted on the server (cancelled, or ComfyUI "
        "was stopped).",
    }.get(error.code, error.message)
    return Diagnosis(error.code, cause, fixes)


def _output(error: ComfycineError, ctx: JobContext) -> Diagnosis:
    """Disk full or an unwritable output folder: the render is safe on the server."""
    job = str(ctx.job or error.details.get("job") or "")[:8]
    folder = error.details.get("folder") or "the output folder"
    if error.code == "disk_full":
        cause = f"No space left on the disk holding {folder}; the render itself succeeded."
        first = "Free some space there (or set COMFYCINE_OUTPUT_DIR to another disk)"
    elif error.details.get("file"):
        blocking = error.details["file"]
        cause = f"{blocking} is a file where the output folder should be; the render succeeded."
        first = f"Move {blocking} away (or set COMFYCINE_OUTPUT_DIR to another folder)"
    else:
        cause = f"comfycine cannot write into {folder}; the render itself succeeded."
        first = f"Make {folder} writable (or set COMFYCINE_OUTPUT_DIR to another folder)"
    if not job:
        return Diagnosis(error.code, cause, [Fix(f"{first}, then run the command again.")])
    return Diagnosis(
        error.code,
        cause,
        [Fix(f"{first}, then finish the download:", f"comfycine wait {job}")],
    )


def _usage(error: ComfycineError, ctx: JobContext) -> Diagnosis:
    return Diagnosis("invalid_input", error.message, [Fix(error.hint)] if error.hint else [])


def _server(error: ComfycineError, ctx: JobContext) -> Diagnosis:
    return Diagnosis(
        "server_error",
        error.message,
        [Fix("Look at the ComfyUI console on the PC for the cause."), DOCTOR],
    )


def _generic(error: ComfycineError, ctx: JobContext) -> Diagnosis:
    return Diagnosis(error.code, error.message, [Fix(error.hint)] if error.hint else [DOCTOR])


def _debug_command(ctx: JobContext, *, json: bool = False) -> str:
    job = ctx.job[:8] if ctx.job else "last"
    return f"comfycine debug {job}" + (" --json" if json else "")


_RULES: dict[str, Callable[[ComfycineError, JobContext], Diagnosis]] = {
    "out_of_memory": _oom,
    "missing_custom_node": _missing,
    "unknown_node": _missing,
    "missing_model": _missing,
    "validation_failed": _rejected,
    "target_unreachable": unreachable,
    "node_exception": _node_exception,
    "job_lost": _job_state,
    "job_interrupted": _job_state,
    "download_failed": _job_state,
    "disk_full": _output,
    "output_not_writable": _output,
    "still_running": _job_state,
    "server_error": _server,
}
