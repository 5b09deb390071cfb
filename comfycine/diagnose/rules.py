"""The rules: one comfycine error (plus what is known of its job) → one :class:`Diagnosis`.

Pure functions: no I/O. Network facts (ComfyUI-Manager's pack map, the Tailscale state)
arrive already looked up in the :class:`JobContext` (see :mod:`comfycine.diagnose.lookup`).
Every fix names the machine the job ran on (:mod:`comfycine.diagnose.place`): the PC,
Comfy Cloud, or a named target with its URL.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from ..errors import ComfycineError, ExitCode
from .access import unreachable
from .account import ACCOUNT_CODES, account, is_auth_refusal
from .memory import fewer_frames, has_full_vae_decode, lower_resolution
from .model import Diagnosis, Fix, JobContext, ModelSource, PackInfo
from .nodes import debug_command, node_exception, node_label
from .place import CLOUD, CLOUD_URL, LOCAL, Place, place_of

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


def diagnose(error: ComfycineError, context: JobContext | None = None) -> Diagnosis:
    """The diagnosis of an error comfycine raised, using what is known of its job.

    Without a context the target is unknown: the error's own clues say where it happened
    (see :func:`~comfycine.diagnose.place.place_of`), else the default target, the PC.
    """
    ctx = context or JobContext(target_known=False)
    rule = account if error.code in ACCOUNT_CODES else _RULES.get(error.code)
    if rule is None:
        if error.exit_code == ExitCode.USAGE:
            rule = _usage
        elif error.exit_code == ExitCode.REJECTED:
            rule = _rejected
        else:
            rule = _generic
    return rule(error, ctx)


# ------------------------------------------------------------------ out of memory


def _oom(error: ComfycineError, ctx: JobContext) -> Diagnosis:
    details = error.details
    where = node_label(details)
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
    place = place_of(ctx, error)
    if not place.is_cloud:
        free = f"comfycine free{place.target_flag}"
        fixes.append(Fix("Free what other jobs left in GPU memory, then retry:", free))
        cloud = details.get("command") or ctx.rerun_command(target=CLOUD)
        if cloud:
            fixes.append(Fix("Or render it unchanged on Comfy Cloud (96 GB, paid):", cloud))
        else:
            fixes.append(Fix("Or render it on Comfy Cloud (96 GB, paid): add --target cloud."))
    at = f" at {'×'.join(size)}" if len(size) == 2 else ""
    gpu = "The GPU" if place.kind == LOCAL else f"The GPU of {place.label}"
    cause = f"{gpu} ran out of memory in {where}{at}."
    if place.is_cloud:
        cause = f"Even {place.label}'s GPU ran out of memory in {where}{at}."
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


def _pack_fix(cls: str, packs: list[PackInfo], place: Place) -> Fix:
    if place.is_cloud:
        # Nothing can be installed on Comfy Cloud: another node, or a machine that has it.
        found = f" (it comes from {packs[0].title})" if packs else ""
        return Fix(
            f"{cls}{found} is not available on {place.label}, where nothing can be installed: "
            "replace it in the workflow, or render on the local ComfyUI (--target local) once "
            "it is installed there."
        )
    on = "" if place.kind == LOCAL else f" on {place.label}"
    if not packs:
        return Fix(
            f"{cls}: no known pack provides it. Search for it in ComfyUI-Manager{on} "
            "(Custom Nodes Manager → search the class name), or check its spelling."
        )
    first = packs[0]
    others = f" (also in: {', '.join(p.title for p in packs[1:3])})" if len(packs) > 1 else ""
    command = first.install_command
    if command:
        return Fix(
            f"{cls} comes from {first.title}{others}; install it{on}, restart ComfyUI:", command
        )
    return Fix(
        f"{cls} comes from {first.title}{others}: install it from ComfyUI-Manager{on} "
        f"(Install via Git URL: {first.key}), then restart ComfyUI."
    )


def _model_fix(name: str, folder: str | None, source: ModelSource | None, place: Place) -> Fix:
    folder = (source.folder if source and source.folder else None) or folder
    if place.is_cloud:
        return Fix(
            f"{place.subject} has no {name}: pick a model it offers (the template's choices), "
            "or render on the local ComfyUI (--target local) with the file there."
        )
    where = f"models/{folder}" if folder else "the models folder it belongs to"
    pinokio = f" (Pinokio: {PINOKIO_MODELS}\\{folder})" if folder and place.kind == LOCAL else ""
    url = f" from {source.url}" if source and source.url else ""
    return Fix(f"Download {name}{url} into {where} on {place.label}{pinokio}, then retry.")


def _missing(error: ComfycineError, ctx: JobContext) -> Diagnosis:
    classes = missing_classes(error)
    files = missing_model_files(error)
    place = place_of(ctx, error)
    fixes = [_pack_fix(cls, ctx.packs.get(cls, []), place) for cls in classes]
    fixes += [_model_fix(name, folder, ctx.models.get(name), place) for name, folder in files]
    unexplained = not all(ctx.packs.get(c) for c in classes)
    if classes and not ctx.manager_checked and unexplained and not place.is_cloud:
        ask = "Ask the server's ComfyUI-Manager which pack it is:"
        fixes.append(Fix(ask, debug_command(ctx)))
    if ctx.template:
        fixes.append(
            Fix("Check the template again:", f"comfycine workflow validate {ctx.template}")
        )
    if classes:
        code = "missing_custom_node"
        cause = (
            f"{_server_name(place)} has no node {'class' if len(classes) == 1 else 'classes'} "
            + (", ".join(classes) + (f" (and {len(files)} missing model file(s))" if files else ""))
        )
    elif files:
        code = "missing_model"
        cause = f"{_server_name(place)} lacks model file(s): " + ", ".join(n for n, _ in files)
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
    place = place_of(ctx, error)
    if place.is_cloud:
        causes = {
            "job_lost": f"{place.subject} no longer knows the job (lost on its side).",
            "job_interrupted": f"The job was stopped on {place.label} (cancelled, or over the "
            "plan's run-time limit).",
        }
    else:
        server = "ComfyUI" if place.kind == LOCAL else f"ComfyUI on {place.label}"
        causes = {
            "job_lost": f"{server} no longer knows the job: it restarted while the job was "
            "queued or running.",
            "job_interrupted": f"The job was interrupted on {place.label} (cancelled, or "
            "ComfyUI there was stopped).",
        }
    return Diagnosis(error.code, causes.get(error.code, error.message), fixes)


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
    place = place_of(ctx, error)
    if is_auth_refusal(error) and not place.is_cloud:
        return account(error, ctx)
    job = ctx.job or error.details.get("job")
    return Diagnosis("server_error", error.message, [place.logs(job), place.doctor()])


def _cancel_ignored(error: ComfycineError, ctx: JobContext) -> Diagnosis:
    """An interrupt (and POST /free) did not stop the node: restart where it runs."""
    place = place_of(ctx, error)
    if not place.known and error.hint:
        fix = Fix(error.hint)  # the command's own words, when nobody said which machine
    elif place.is_cloud:
        fix = Fix(f"Cancel it from the job's page in Comfy Cloud ({CLOUD_URL}).")
    elif place.kind == LOCAL:
        fix = Fix("Restart ComfyUI on the PC (Pinokio: Stop, then Start); the job ends with it.")
    else:
        fix = Fix(f"Restart ComfyUI on {place.label}; the job ends with it.")
    return Diagnosis(error.code, error.message, [fix])


def _generic(error: ComfycineError, ctx: JobContext) -> Diagnosis:
    fixes = [Fix(error.hint)] if error.hint else [place_of(ctx, error).doctor()]
    return Diagnosis(error.code, error.message, fixes)


def _server_name(place: Place) -> str:
    """The server as a sentence's subject: ``The PC``, ``Comfy Cloud``, ``studio (URL)``."""
    if not place.known and not place.is_cloud:
        return "The server"
    return place.subject


_RULES: dict[str, Callable[[ComfycineError, JobContext], Diagnosis]] = {
    "out_of_memory": _oom,
    "missing_custom_node": _missing,
    "unknown_node": _missing,
    "missing_model": _missing,
    "validation_failed": _rejected,
    "target_unreachable": unreachable,
    "node_exception": node_exception,
    "job_lost": _job_state,
    "job_interrupted": _job_state,
    "download_failed": _job_state,
    "disk_full": _output,
    "output_not_writable": _output,
    "still_running": _job_state,
    "server_error": _server,
    "cancel_ignored": _cancel_ignored,
}
