"""MCWW (light-and-ray/Minimalistic-Comfy-Wrapper-WebUI): titles that make a phone UI.

MCWW turns a saved (UI-format) workflow into a form: a node becomes a control when its
title reads ``<Label:category[/tab]:row[/col]> other args`` (``docs/titles.md``;
``parse_title`` in ``mcww/comfy/comfyUtils.py``). Categories ``prompt`` and ``output``
are mandatory; a label containing "seed" on an integer gives a seed control; two titles
differing only by "Width"/"Height" give a resolution picker.

A titled node shows **one** field, chosen by ``getElementField``
(``mcww/comfy/nodeUtils.py``): media first, then text, then a boolean, else its first
number, in schema order. So a KSampler titled "Seed" shows its seed, but its steps and
cfg cannot be reached by a title: for those, :func:`tag_workflow` adds a core
``PrimitiveInt``/``PrimitiveFloat`` wired to the widget and titles that node instead
(MCWW's own advice: "connect primitives to them").

MCWW is served by its own Gradio server on port 7860 (7861 when ComfyUI uses 7860),
never under ComfyUI's URL (FIELD-FACTS §5).
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import TemplateInvalid, UsageError
from ..graph.convert import is_ui_workflow, ui_to_api
from ..graph.schema import COMBO, Catalog, NodeSchema
from ..importing import find_prompt_inputs
from .common import MobileExport, phone_address, write_json
from .uiedit import MULTILINE_TEXT, PRIMITIVE_FOR_TYPE, PRIMITIVE_NODES, UiWorkflow

if TYPE_CHECKING:
    from ..settings import Settings
    from ..targets import Target

TOOL = "mcww"
MCWW_PORT = 7860
# (role, label, input names, category, row): the controls mcww-tag makes, in this order.
NUMBER_ROLES = (
    ("seed", "Seed", ("seed", "noise_seed"), "advanced", 2),
    ("steps", "Steps", ("steps",), "advanced", 3),
    ("cfg", "CFG", ("cfg",), "advanced", 4),
    ("width", "Width", ("width",), "important", 1),
    ("height", "Height", ("height",), "important", 1),
    ("frames", "Frames", ("length", "frames", "num_frames", "video_length"), "important", 2),
)
_MEDIA_ORDER = ("IMAGE", "VIDEO", "AUDIO", "STRING", "BOOLEAN")  # getElementField's priority
_LINK_MEDIA = frozenset({"IMAGE", "VIDEO", "AUDIO"})
PRIMITIVE_MAX = 2**63 - 1  # PrimitiveInt's range
OWN_PORT = (
    f"MCWW runs on its own port ({MCWW_PORT}, or 7861 when ComfyUI uses 7860), not under "
    "ComfyUI's URL; with ComfyUI on --listen 100.x.y.z set GRADIO_SERVER_NAME in MCWW's .env."
)


@dataclass(frozen=True)
class Tag:
    """One MCWW control: the node titled, the inputs it drives, whether it was added."""

    role: str
    node: str
    title: str
    controls: tuple[str, ...]
    added: bool = False
    previous_title: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {
            "role": self.role,
            "node": self.node,
            "title": self.title,
            "controls": list(self.controls),
            "added": self.added,
            "previous_title": self.previous_title,
        }


def title(label: str, category: str, row: int) -> str:
    """``<Label:category:row>``, the MCWW title syntax."""
    return f"<{label}:{category}:{row}>"


def mcww_field(inputs: dict[str, Any], schema: NodeSchema, *, is_input: bool) -> str | None:
    """The input MCWW would show for a node titled as a control, or None (mirrors
    ``getElementField``: media, then text, then boolean, else the first number)."""
    fields: list[tuple[str, str]] = []
    for spec in schema.inputs.values():
        if spec.type == COMBO:
            if is_input and (spec.upload or spec.name in ("file", "image")):
                fields.append((spec.name, (spec.upload or "image").upper()))
        elif spec.type in ("STRING", "INT", "FLOAT", "BOOLEAN"):
            if inputs.get(spec.name) is not None or not is_input:
                fields.append((spec.name, spec.type))
        elif not is_input and (spec.type in _LINK_MEDIA or spec.type == "*"):
            fields.append((spec.name, spec.type))
    for kind in _MEDIA_ORDER:
        for name, field_kind in fields:
            if field_kind == kind:
                return name
    return fields[0][0] if fields else None


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


@dataclass(frozen=True)
class TagResult:
    """A tagged copy of a UI workflow, its controls, and what to know."""

    workflow: dict[str, Any]
    tags: list[Tag]
    warnings: list[str]


class _Tagger:
    """One tagging pass: roles are found on the API conversion, titles set on the UI."""

    def __init__(self, ui: dict[str, Any], catalog: Catalog) -> None:
        self.ui = UiWorkflow(ui)
        converted = ui_to_api(ui, catalog).graph
        # Inner nodes of subgraphs ("outer:inner") cannot be titled here; MCWW cannot run them.
        self.api = {k: v for k, v in converted.items() if ":" not in k}
        self.catalog = catalog
        self.tags: list[Tag] = []
        self.claimed: set[str] = set()
        self.warnings: list[str] = []
        if len(self.api) < len(converted):
            self.warnings.append(
                "the workflow uses subgraphs, which MCWW cannot run; unpack them in ComfyUI "
                "(right-click > Convert to nodes) and tag it again."
            )

    def schema(self, node_id: str) -> NodeSchema | None:
        return self.catalog.get(str(self.api[node_id].get("class_type")))

    def shown_field(self, node_id: str, *, is_input: bool = True) -> str | None:
        schema = self.schema(node_id)
        return (
            mcww_field(self.api[node_id]["inputs"], schema, is_input=is_input) if schema else None
        )

    def put(self, role: str, node_id: str, text: str, controls: list[str], added: bool) -> None:
        previous = None if added else self.ui.set_title(node_id, text)
        self.claimed.add(node_id)
        self.tags.append(Tag(role, node_id, text, tuple(controls), added, previous))

    def control(
        self, role: str, text: str, group: list[tuple[str, str]], value: Any, value_type: str
    ) -> None:
        """Title the node MCWW would show ``group``'s input from, or add a primitive."""
        controls = [f"{n}.{i}" for n, i in group]
        feeder = self.ui.primitive_feeder(*group[0])
        if feeder is not None:
            if feeder not in self.claimed:
                self.put(role, feeder, text, controls, added=False)
            return
        node_id, name = group[0]
        if len(group) == 1 and node_id not in self.claimed and self.shown_field(node_id) == name:
            self.put(role, node_id, text, controls, added=False)
            return
        cls = MULTILINE_TEXT if value_type == "STRING" else PRIMITIVE_FOR_TYPE.get(value_type)
        problem = None
        if cls is None or cls not in self.catalog:
            problem = "this server has no primitive node to expose it"
        elif value_type == "INT" and not -PRIMITIVE_MAX <= value <= PRIMITIVE_MAX:
            problem = f"{value} is beyond the Int primitive's range"
        elif any(self.ui.feeder(n, i) is not None for n, i in group):
            problem = "it is already linked"
        if problem is not None or cls is None:
            self.warnings.append(f"{role}: {controls[0]} is not tagged: {problem}.")
            return
        widgets = [value, "randomize" if role == "seed" else "fixed"]
        widgets = widgets if cls == PRIMITIVE_FOR_TYPE["INT"] else [value]
        added = sum(t.added for t in self.tags)
        new = self.ui.add_primitive(cls, value_type, widgets, text, group, offset=added)
        self.put(role, new, text, controls, added=True)

    def prompts(self) -> int:
        """Tag the positive prompts (row 1, 2, ...) and negatives; returns the rows used."""
        positive = find_prompt_inputs(self.api, self.catalog, "positive")
        negative = find_prompt_inputs(self.api, self.catalog, "negative")
        for row, (node_id, name) in enumerate(positive, start=1):
            text = title("Prompt" + (f" {row}" if row > 1 else ""), "prompt", row)
            self.control(
                "prompt", text, [(node_id, name)], self.api[node_id]["inputs"][name], "STRING"
            )
        for index, (node_id, name) in enumerate([t for t in negative if t not in positive], 1):
            label = "Negative prompt" + (f" {index}" if index > 1 else "")
            value = self.api[node_id]["inputs"][name]
            self.control(
                "negative", title(label, "advanced", 1), [(node_id, name)], value, "STRING"
            )
        return len(positive)

    def media(self, first_row: int) -> None:
        """Tag the loaders whose shown field is an uploaded file (image, video, audio)."""
        counts: dict[str, int] = {}
        for node_id in self.api:
            schema, field = self.schema(node_id), self.shown_field(node_id)
            spec = schema.inputs.get(field) if schema and field else None
            if spec is None or spec.type != COMBO or node_id in self.claimed:
                continue
            kind = (spec.upload or "image").capitalize()
            counts[kind] = counts.get(kind, 0) + 1
            label = kind + (f" {counts[kind]}" if counts[kind] > 1 else "")
            text = title(label, "prompt", first_row + sum(counts.values()) - 1)
            self.put(kind.lower(), node_id, text, [f"{node_id}.{field}"], added=False)

    def occurrences(self, names: tuple[str, ...]) -> list[tuple[str, str, Any, str]]:
        """``(node, input, value, type)`` of number widgets called ``names``: sampler and
        latent nodes first (a 64x64 fill colour is not the shot's width), and among
        those the inputs the user already drives from a primitive."""
        found: list[tuple[tuple[int, int], str, str, Any, str]] = []
        for node_id, node in self.api.items():
            schema = self.schema(node_id)
            if schema is None:
                continue
            rank = 0 if "LATENT" in schema.outputs else 1
            for name in names:
                spec, value = schema.inputs.get(name), node["inputs"].get(name)
                if spec is None or spec.type not in PRIMITIVE_FOR_TYPE:
                    continue
                source = self.api.get(str(value[0])) if isinstance(value, list) and value else None
                if source is not None and source.get("class_type") in PRIMITIVE_NODES:
                    value = source["inputs"].get("value")
                if _is_number(value):
                    fed = 0 if self.ui.primitive_feeder(node_id, name) else 1
                    found.append(((rank, fed), node_id, name, value, spec.type))
        found.sort(key=lambda item: item[0])
        return [(n, i, v, t) for _, n, i, v, t in found]

    def numbers(self) -> None:
        """Seed, steps, cfg, width, height, frames: one control each, shared by the
        nodes of the same class holding the same value (both stages of a sampler)."""
        for role, label, names, category, row in NUMBER_ROLES:
            found = self.occurrences(names)
            if not found:
                continue
            node_id, _, value, value_type = found[0]
            cls = self.api[node_id]["class_type"]
            group = [
                (n, i) for n, i, v, _ in found if v == value and self.api[n]["class_type"] == cls
            ]
            value = float(value) if value_type == "FLOAT" else value
            self.control(role, title(label, category, row), group, value, value_type)

    def outputs(self) -> None:
        """Tag every output node MCWW can show (``<Output:output:1>``, ...)."""
        row = 0
        for node_id, node in self.api.items():
            schema = self.schema(node_id)
            field = self.shown_field(node_id, is_input=False)
            if schema is None or not schema.output_node or field is None:
                continue
            row += 1
            text = title("Output" + (f" {row}" if row > 1 else ""), "output", row)
            self.put("output", node_id, text, [f"{node_id}.{field}"], added=False)
            if node.get("class_type") == "VHS_VideoCombine":
                self.warnings.append(
                    f"node {node_id} is VHS_VideoCombine, whose results MCWW does not show; "
                    "use the core SaveVideo node for MCWW."
                )

    def run(self) -> None:
        """Every role, in the order that decides which node a title goes to."""
        rows = self.prompts()
        self.numbers()
        self.media(rows + 1)
        self.outputs()
        roles = {t.role for t in self.tags}
        if not roles & {"prompt", "image", "video", "audio"}:
            self.warnings.append(
                "no prompt or input file was found; MCWW needs one control in the prompt "
                "category: title a node <Label:prompt:1> in ComfyUI."
            )
        if "output" not in roles:
            self.warnings.append(
                "no output node was found; MCWW needs one: title it <Output:output:1> in ComfyUI."
            )


def _require_ui(ui: Any) -> None:
    if not is_ui_workflow(ui):
        raise UsageError(
            "MCWW reads workflows in ComfyUI's UI (save) format; this is not one.",
            code="not_ui_workflow",
            hint="Save the workflow from the ComfyUI canvas (Workflow > Save) and tag that file.",
        )


def tag_workflow(ui: Any, catalog: Catalog) -> TagResult:
    """A copy of the UI workflow ``ui`` with MCWW titles on its prompt, seed, steps, cfg,
    size, frames, input files and outputs (primitives added where a title cannot reach).

    Raises UsageError ``not_ui_workflow`` for anything but a UI-format workflow.
    """
    _require_ui(ui)
    tagged = copy.deepcopy(ui)
    tagger = _Tagger(tagged, catalog)
    tagger.run()
    return TagResult(tagged, tagger.tags, [*tagger.warnings, OWN_PORT])


def _read_workflow(source: Path) -> Any:
    try:
        return json.loads(source.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UsageError(
            f"No workflow file at {source}.", code="file_not_found", hint="Check the path."
        ) from None
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise TemplateInvalid(
            f"Cannot read {source} as JSON: {exc}", details={"path": str(source)}
        ) from None


def tagged_path(source: Path) -> Path:
    """Where the tagged copy goes by default: ``NAME-mcww.json`` beside the source."""
    return source.with_name(f"{source.stem}-mcww{source.suffix or '.json'}")


async def mcww_tag_file(
    settings: Settings,
    source: Path,
    *,
    target: Target,
    offline: bool = False,
    out: Path | None = None,
    in_place: bool = False,
    force: bool = False,
) -> MobileExport:
    """``mobile mcww-tag FILE``: tag a saved workflow with the target's node schemas.

    Writes ``out`` (default :func:`tagged_path`), or the source itself with
    ``in_place``; an existing file is never replaced without ``force``.
    """
    from ..graph.catalog_source import load_catalog

    if in_place and out is not None:
        raise UsageError("--in-place and --out cannot be used together.", hint="Pick one.")
    if target.is_cloud:
        raise UsageError(
            "MCWW runs beside ComfyUI on the PC, not on Comfy Cloud.",
            hint="Tag against the PC: comfycine mobile mcww-tag FILE --target local",
        )
    ui = _read_workflow(source)
    _require_ui(ui)  # before asking the server anything
    async with target.client() as client:
        catalog = await load_catalog(client, settings.cache_dir, offline=offline)
    result = tag_workflow(ui, catalog.catalog)
    dest = (source if in_place else (out or tagged_path(source))).absolute()
    path = write_json(dest, result.workflow, force=force or in_place)
    address = phone_address(target.url)
    url = f"http://{address.host}:{MCWW_PORT}"
    data = {
        "source": str(source),
        "catalog": catalog.source,
        "tags": [t.to_dict() for t in result.tags],
        "mcww_url": url,
        "hint": f"Save it among ComfyUI's workflows (open it in ComfyUI and save, or copy it "
        f"into ComfyUI/user/default/workflows/ on the PC), press Refresh in MCWW, then "
        f"open {url} on the phone.",
    }
    warnings = [*result.warnings, *address.warnings]
    return MobileExport(source.stem, TOOL, result.workflow, path, warnings, data)
