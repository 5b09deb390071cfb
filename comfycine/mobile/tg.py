"""ComfyUI-TG (daxcay/ComfyUI-TG): a template as a workflow its Telegram bot can run.

What the bot expects, read from its sources (``classes/TG_ImageSaver.py``,
``nodejs/project/app.js`` and ``__init__.py`` at 0a76a6e; shared FIELD-FACTS §5):

* API-format JSON files in ``Telegram/workflows/``. ``Telegram`` is created in
  ComfyUI's *working directory* (``DATA_FOLDER = './Telegram'``, beside
  ``telegram.json``), not inside ``custom_nodes``; the dashboard on port 4001 also
  uploads there (``POST /workflows``). comfycine on the Mac cannot write on the PC, so
  the file is written locally and the copy is left to the user (:data:`COPY_HINT`).
* The results come from the node **titled** exactly ``TG_ImageSaver`` (class
  ``TG_ImageSaver``, inputs ``Images`` IMAGE and ``Path`` STRING; the bot overwrites
  ``Path``), read from ``outputs[id].images`` and sent with ``sendPhoto`` only: no video.
  A video template therefore gets a poster frame (the first frame, core
  ``ImageFromBatch``) fed to the saver; its own video output stays and is saved on the PC.
* On ``/q`` the bot re-seeds the first node titled ``KSampler`` (input ``seed``) and the
  first titled ``RandomNoise`` (input ``noise_seed``) with ``Date.now()``; the seed node
  is titled accordingly when the node's seed range allows such a value.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

from ..errors import UsageError
from ..templates import Kind, Template
from .common import (
    MobileExport,
    image_source,
    input_position,
    is_video_output,
    next_id,
    output_nodes,
    render_export,
    write_json,
)

TOOL = "comfyui-tg"
SAVER_CLASS = SAVER_TITLE = "TG_ImageSaver"
SAVER_PATH = "Telegram/output"  # replaced by the bot with Telegram/output/<user>
TG_PACK = {
    "id": "ComfyUI-TG",
    "name": "ComfyUI-TG",
    "repo": "https://github.com/daxcay/ComfyUI-TG",
    "install": "comfy node registry-install ComfyUI-TG",
    "classes": [SAVER_CLASS],
}
SEED_TITLES = {"seed": "KSampler", "noise_seed": "RandomNoise"}
# The bot's seeds are JavaScript Date.now() values (milliseconds, ~1.8e12 in 2026).
BOT_SEED_AT_LEAST = 2**41
COPY_HINT = (
    "Copy it on the PC into Telegram\\workflows\\ in ComfyUI's working folder (where "
    "ComfyUI-TG created Telegram\\telegram.json, e.g. ComfyUI_windows_portable\\Telegram\\"
    "workflows), or upload it from the ComfyUI-TG dashboard on port 4001; then send /wfs "
    "to the bot."
)
NO_VIDEO = (
    "no video in ComfyUI-TG: the bot sends photos only, so the phone gets a poster frame "
    "(the first frame); the video itself is still saved on the PC."
)


def _title_seed(graph: dict[str, Any], template: Template, warnings: list[str]) -> str | None:
    """Title the seed node the way the bot re-seeds; returns its id (None: not re-seeded)."""
    seed = template.parameters.get("seed")
    if seed is None:
        return None
    maximum = seed.maximum
    target = seed.targets[0]
    title = SEED_TITLES.get(target.input)
    if title is None or (maximum is not None and maximum < BOT_SEED_AT_LEAST):
        warnings.append(
            f"ComfyUI-TG cannot re-seed node {target.node_id} (its seed input "
            f"{target.input!r} takes values up to {maximum}, the bot writes the time in "
            f"ms): the seed stays fixed; change it with /s {target.node_id} "
            f"{input_position(graph[target.node_id], target.input)} <seed>."
        )
        return None
    graph[target.node_id]["_meta"]["title"] = title
    others = sorted({t.node_id for t in seed.targets if t.node_id != target.node_id})
    if others:
        warnings.append(
            f"ComfyUI-TG re-seeds only node {target.node_id} (titled {title}); "
            f"node(s) {', '.join(others)} keep the seed {graph[others[0]]['inputs'][target.input]}."
        )
    return target.node_id


def _phone_hints(graph: dict[str, Any], template: Template, warnings: list[str]) -> None:
    """How to set the prompt and the media from Telegram (``/s node index value``)."""
    for name, param in template.parameters.items():
        if not (param.kind.is_media or name == "prompt"):
            continue
        target = param.targets[0]
        command = f"/s {target.node_id} {input_position(graph[target.node_id], target.input)}"
        if param.kind is Kind.VIDEO:
            warnings.append(
                f"{name}: ComfyUI-TG cannot receive a video; put the clip into ComfyUI/input "
                f"on the PC and set it with {command} <file name>."
            )
        elif param.kind.is_media:
            warnings.append(f"{name}: send it to the bot as a photo captioned {command}.")
        else:
            warnings.append(f"prompt: set it from Telegram with {command} <text>.")


def build_tg_graph(
    template: Template, rng: random.Random | None = None
) -> tuple[dict[str, Any], dict[str, Any], list[str]]:
    """``(graph, facts, warnings)``: the template ready for ComfyUI-TG.

    ``facts`` names the saver node, the poster-frame node (None for stills) and the node
    the bot re-seeds. Raises UsageError ``no_image_output`` when no output gives images.
    """
    graph, warnings = render_export(template, rng)
    outputs = output_nodes(graph)
    source = image_source(graph, outputs[0]) if outputs else None
    if source is None:
        raise UsageError(
            f"{template.name} has no image or video output ComfyUI-TG could send.",
            code="no_image_output",
            hint="Export a template that ends in SaveImage or SaveVideo.",
            details={"template": template.name},
        )
    poster: str | None = None
    if is_video_output(graph, outputs[0]):
        poster = next_id(graph)
        graph[poster] = {
            "class_type": "ImageFromBatch",
            "inputs": {"image": source, "batch_index": 0, "length": 1},
            "_meta": {"title": "Poster frame"},
        }
        source = [poster, 0]
        warnings.insert(0, NO_VIDEO)
    saver = next_id(graph)
    graph[saver] = {
        "class_type": SAVER_CLASS,
        "inputs": {"Images": source, "Path": SAVER_PATH},
        "_meta": {"title": SAVER_TITLE},
    }
    reseeded = _title_seed(graph, template, warnings)
    _phone_hints(graph, template, warnings)
    warnings.append(
        f"the PC needs the ComfyUI-TG custom nodes ({TG_PACK['install']}) for {SAVER_CLASS}."
    )
    facts = {"saver_node": saver, "poster_node": poster, "reseeded_node": reseeded}
    return graph, facts, warnings


def tg_export(
    template: Template,
    dest_dir: Path,
    *,
    force: bool = False,
    rng: random.Random | None = None,
) -> MobileExport:
    """Write ``<dest_dir>/<template>.json`` for ComfyUI-TG; never over a file unless ``force``.

    The bot lists workflows by file name, so the file keeps the template's name.
    """
    graph, facts, warnings = build_tg_graph(template, rng)
    path = write_json(dest_dir / f"{template.name}.json", graph, force=force)
    data = {**facts, "copy_to": "Telegram/workflows/", "hint": COPY_HINT, "pack": TG_PACK}
    return MobileExport(template.name, TOOL, graph, path, warnings, data)
