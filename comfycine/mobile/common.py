"""What the phone exports share: filled-in values, readable titles, outputs, writing.

A phone tool cannot fill comfycine's placeholders, so an export is a template rendered
with values chosen here (:func:`export_values`): the sidecar's defaults, an empty text
for a prompt without one, a fresh seed, and for media a file name in ComfyUI's input
folder (with a warning, since the phone has no local file to upload).
"""

from __future__ import annotations

import json
import random
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from ..errors import ParameterError
from ..files import write_new_file
from ..templates import Kind, Template, render_graph
from ..templates.binding import SEED_RANDOM_MAX
from ..templates.placeholders import node_title

# A stock ComfyUI ships input/example.png (LoadImage lists it on a fresh install).
STOCK_IMAGE = "example.png"
# Output classes and the input that carries their frames as IMAGE.
IMAGE_OUTPUTS = {
    "SaveImage": "images",
    "PreviewImage": "images",
    "SaveAnimatedWEBP": "images",
    "SaveAnimatedPNG": "images",
    "SaveWEBM": "images",
    "VHS_VideoCombine": "images",
}
VIDEO_OUTPUTS = frozenset(
    {"SaveVideo", "SaveWEBM", "SaveAnimatedWEBP", "SaveAnimatedPNG", "VHS_VideoCombine"}
)
OUTPUT_CLASSES = frozenset({*IMAGE_OUTPUTS, "SaveVideo"})
_LABELS = {
    "prompt": "Prompt",
    "negative": "Negative prompt",
    "cfg": "CFG",
    "fps": "FPS",
    "dit_model": "DiT model",
    "lora_strength": "LoRA strength",
}
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1", "0.0.0.0"})

Link = list[Any]  # ["<node id>", <output index>]


@dataclass
class MobileExport:
    """One export for a phone tool: the graph or workflow, where it went, what to know.

    ``data`` holds the tool-specific facts (host and port, saver node, copy hint, tags).
    """

    template: str
    tool: str
    document: dict[str, Any]
    path: Path | None = None
    warnings: list[str] = field(default_factory=list)
    data: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """The JSON form for the envelope (``graph`` is the exported document)."""
        return {
            "template": self.template,
            "tool": self.tool,
            "path": str(self.path) if self.path else None,
            **self.data,
            "warnings": self.warnings,
            "graph": self.document,
        }


def label(name: str, kind: Kind | None = None) -> str:
    """A parameter's human label: ``cfg`` -> ``CFG``, ``camera_type`` -> ``Camera type``;
    media say what they take: ``style`` (image) -> ``Style image``."""
    text = _LABELS.get(name, name.replace("_", " ").capitalize())
    if kind is not None and kind.is_media and name != kind.value:
        text += f" {kind.value}"
    return text


def media_filename(template: Template, name: str) -> str:
    """The input-folder file an export names for a media parameter."""
    param = template.parameters[name]
    if isinstance(param.default, str) and param.default:
        return Path(param.default).name
    if param.kind is Kind.VIDEO:
        return f"{name}.mp4"
    if param.kind is Kind.MASK:
        return f"{name}.png"
    return STOCK_IMAGE


def export_values(
    template: Template, rng: random.Random | None = None
) -> tuple[dict[str, Any], dict[str, str], list[str]]:
    """``(values, media file names, warnings)`` filling every parameter of ``template``.

    Defaults first; a prompt or text without one is empty (warned for the prompt); a
    random seed is drawn in [0, 2**32-1]; a combo without default takes its first choice.
    Raises ParameterError naming the numbers that have no default at all.
    """
    values: dict[str, Any] = {}
    media: dict[str, str] = {}
    warnings: list[str] = []
    missing: list[str] = []
    for name, param in template.parameters.items():
        if param.kind.is_media:
            media[name] = media_filename(template, name)
            warnings.append(
                f"{name}: the phone cannot upload a local file through this export; it "
                f"names {media[name]} in ComfyUI's input folder. Pick another file in the "
                f"app, or put {media[name]} into ComfyUI/input on the PC."
            )
        elif param.randomized:
            values[name] = (rng or random.Random()).randint(0, SEED_RANDOM_MAX)
        elif param.default is not None:
            values[name] = param.default
        elif param.kind in (Kind.PROMPT, Kind.STR):
            values[name] = ""
            if param.kind is Kind.PROMPT:
                warnings.append("prompt: the template has no default prompt; type it in the app.")
        elif param.choices:
            values[name] = param.choices[0]
        else:
            missing.append(name)
    if missing:
        raise ParameterError(
            f"Cannot export {template.name}: no default for {', '.join(missing)}",
            hint=f'Add defaults to {template.name}.meta.json ("defaults": {{...}}).',
            details={"template": template.name, "missing": missing},
        )
    return values, media, warnings


def output_nodes(graph: Mapping[str, Any]) -> list[str]:
    """Ids of the graph's known output nodes, in graph order."""
    return [nid for nid, node in graph.items() if node.get("class_type") in OUTPUT_CLASSES]


def is_video_output(graph: Mapping[str, Any], node_id: str) -> bool:
    """True when the output node writes a video or an animation."""
    return graph[node_id].get("class_type") in VIDEO_OUTPUTS


def _as_link(value: Any) -> Link | None:
    ok = isinstance(value, list) and len(value) == 2 and isinstance(value[0], str)
    return list(value) if ok else None


def next_id(graph: Mapping[str, Any]) -> str:
    """A fresh node id: one past the largest numeric id."""
    numbers = [int(k) for k in graph if str(k).isdigit()]
    return str(max(numbers, default=0) + 1)


def image_source(graph: dict[str, Any], output_id: str) -> Link | None:
    """The IMAGE link an output node's frames come from, or None when unknown.

    ``SaveVideo`` is followed to its ``CreateVideo``; any other video source gets a
    ``GetVideoComponents`` node added to ``graph`` (its output 0 is the frames).
    """
    node = graph[output_id]
    cls = node.get("class_type")
    if cls in IMAGE_OUTPUTS:
        return _as_link(node["inputs"].get(IMAGE_OUTPUTS[cls]))
    if cls != "SaveVideo":
        return None
    video = _as_link(node["inputs"].get("video"))
    if video is None or video[0] not in graph:
        return None
    source = graph[video[0]]
    if source.get("class_type") == "CreateVideo" and video[1] == 0:
        return _as_link(source["inputs"].get("images"))
    split = next_id(graph)
    graph[split] = {
        "class_type": "GetVideoComponents",
        "inputs": {"video": video},
        "_meta": {"title": "Frames of the video"},
    }
    return [split, 0]


def readable_titles(graph: dict[str, Any], template: Template) -> None:
    """Title each node that takes a parameter after it, and the outputs "Output".

    A node holding one parameter that lives nowhere else is titled with its label
    ("Prompt", "Seed"); a node holding several, or a parameter spread over several
    nodes, keeps its own title with the labels after it: "Sampler (Seed, Steps, CFG)".
    """
    by_node: dict[str, list[str]] = {}
    spread: dict[str, bool] = {}
    for name, param in template.parameters.items():
        nodes = list(dict.fromkeys(t.node_id for t in param.targets))
        spread[name] = len(nodes) > 1
        for node_id in nodes:
            by_node.setdefault(node_id, []).append(name)
    params = template.parameters
    for node_id, names in by_node.items():
        node = graph[node_id]
        labels = [label(n, params[n].kind) for n in names]
        if len(names) == 1 and not spread[names[0]]:
            title = labels[0]
        else:
            title = f"{node_title(node)} ({', '.join(labels)})"
        node.setdefault("_meta", {})["title"] = title
    for index, node_id in enumerate(output_nodes(graph), start=1):
        graph[node_id].setdefault("_meta", {})["title"] = "Output" + (
            f" {index}" if index > 1 else ""
        )


def render_export(
    template: Template, rng: random.Random | None = None
) -> tuple[dict[str, Any], list[str]]:
    """The template as a plain API graph: every placeholder filled, readable titles."""
    values, media, warnings = export_values(template, rng)
    graph = render_graph(template, values, media)
    readable_titles(graph, template)
    return graph, warnings


def input_position(node: Mapping[str, Any], input_name: str) -> int:
    """The input's index among the node's non-link inputs (how ComfyUI-TG numbers them)."""
    plain = [k for k, v in node.get("inputs", {}).items() if not isinstance(v, list)]
    return plain.index(input_name) if input_name in plain else -1


def write_json(path: Path, document: Any, *, force: bool = False) -> Path:
    """Write ``document`` as indented JSON; never over an existing file unless ``force``."""
    text = json.dumps(document, indent=2, ensure_ascii=False) + "\n"
    return write_new_file(path, text, force=force)


@dataclass(frozen=True)
class PhoneAddress:
    """What a phone app asks for: host (no scheme) and port, from a ComfyUI URL."""

    host: str
    port: int
    scheme: str
    warnings: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {"host": self.host, "port": self.port, "scheme": self.scheme}


def phone_address(url: str) -> PhoneAddress:
    """Host and port for a phone app from ``url``; warns when it is this machine only."""
    parts = urlsplit(url if re.match(r"^[a-z][a-z0-9+.-]*://", url, re.I) else f"http://{url}")
    scheme = parts.scheme.lower() or "http"
    host = parts.hostname or ""
    try:
        port = parts.port or (443 if scheme == "https" else 80)
    except ValueError:
        port = 443 if scheme == "https" else 80
    warnings: list[str] = []
    if host in LOOPBACK_HOSTS or host.startswith("127."):
        warnings.append(
            f"COMFYUI_URL points at this machine ({host}): the phone cannot reach that. "
            "Use the PC's Tailscale address (100.x.y.z or its MagicDNS name) as the host, "
            "with ComfyUI started with --listen and Tailscale on the phone."
        )
    return PhoneAddress(host, port, scheme, tuple(warnings))
