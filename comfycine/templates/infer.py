"""Placeholders for the usual parameters of a workflow, inferred from its API graph.

Rules, given the server's catalog (``/object_info``):

* **prompt / negative**: the literal text feeding the samplers' ``positive`` /
  ``negative`` inputs (a guider's ``conditioning``), through conditioning nodes
  (:mod:`.prompts`); without a sampler (partner nodes), a node's own ``prompt`` /
  ``negative_prompt`` text.
* **width, height, frames, batch**: the literal ``width``, ``height``, ``length``
  (``num_frames``, ``video_frames``) and ``batch_size`` of a node that makes the frame:
  it outputs a LATENT and takes none (EmptyLatentImage, EmptyHunyuanLatentVideo,
  WanImageToVideo, LTXVImgToVideo, …), or outputs an IMAGE or VIDEO and takes no image,
  video or latent (EmptyImage, partner text-to-image nodes). ``batch`` only where the
  node has no frame count. Another input of the same name holding the same value
  follows the parameter (ModelSamplingFlux's width, an ImageScale to the frame size).
* **fps** (``fps``, ``frame_rate``), **steps**, **cfg**, **guidance**: every literal
  number input of that name.
* **media**: a loader's upload input: LoadImage → ``PARAM_IMAGE``, LoadImageMask →
  ``PARAM_MASK``, LoadVideo → ``PARAM_VIDEO``; several loaders of a kind are named by
  their custom title or the input they feed (``start_image``), else numbered.
* **seed**: left as it is: every literal ``seed`` / ``noise_seed`` already is the
  parameter ``seed`` (random unless set; :mod:`.placeholders`); when a node takes a
  narrower range (partner nodes: up to 2**31-1), the sidecar bounds it.

A value linked from a primitive node (PrimitiveInt, …), or from a node that passes its
own input of that name on (WanCameraEmbedding's width), is replaced where it is typed.
Equal values share one parameter (Wan 2.2's two samplers share ``steps`` and ``cfg``);
different ones are numbered (``steps``, ``steps_2``); names the graph already uses are
skipped. Defaults are the workflow's values. Bounds come from the inputs' specs: the
tightest min and max, and for whole numbers a step above 1 becomes ``multiple_of`` with
``offset`` = min mod step (the frontend snaps values that way), dropped when the
workflow's own value does not fit. Everything else (samplers, schedulers, denoise,
shift, file prefixes, model names) stays as it is.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass, field
from typing import Any

from ..graph.schema import Catalog, InputSpec, NodeSchema
from .loaders import EMPTY_SCHEMA, place_media, unique_name
from .meta import SEED_MAX, SEED_MIN
from .placeholders import SEED_INPUTS, SEED_PARAMETER, is_literal_int, scan_graph
from .prompts import (
    NEGATIVE_PLACEHOLDER,
    PROMPT_PLACEHOLDER,
    find_own_text_inputs,
    find_prompt_inputs,
    place_text,
)

FRAME_INPUTS = {
    "width": "width",
    "height": "height",
    "length": "frames",
    "num_frames": "frames",
    "video_frames": "frames",
    "batch_size": "batch",
}
ANY_NODE_INPUTS = {
    "fps": "fps",
    "frame_rate": "fps",
    "steps": "steps",
    "cfg": "cfg",
    "guidance": "guidance",
}
FOLLOWING_ROLES = frozenset({"width", "height", "frames"})
NUMBER_TYPES = frozenset({"INT", "FLOAT"})
PRIMITIVE_VALUE = "value"  # PrimitiveInt / PrimitiveFloat keep their number here

Holder = tuple[str, str]  # (node id, input name)


@dataclass(frozen=True)
class InferredParameter:
    """One placeholder put into the graph: where, its default and bounds."""

    name: str
    placeholder: str
    targets: tuple[str, ...]  # "node.input"
    default: Any = None
    bounds: dict[str, int | float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-friendly form."""
        return {
            "name": self.name,
            "placeholder": self.placeholder,
            "targets": list(self.targets),
            "default": self.default,
            "bounds": dict(self.bounds),
        }


@dataclass
class Inference:
    """A graph with placeholders, the parameters put in, and what could not be done."""

    graph: dict[str, Any]
    parameters: list[InferredParameter] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    seed_bounds: dict[str, int] | None = None  # when a node narrows the seed's range

    def sidecar(self) -> dict[str, Any]:
        """The sidecar's ``defaults`` and ``bounds`` for the inferred parameters."""
        defaults = {p.name: p.default for p in self.parameters if p.default is not None}
        bounds: dict[str, Any] = {p.name: dict(p.bounds) for p in self.parameters if p.bounds}
        if self.seed_bounds:
            bounds[SEED_PARAMETER] = dict(self.seed_bounds)
        return {k: v for k, v in (("defaults", defaults), ("bounds", bounds)) if v}

    def targets_of(self, name: str) -> list[str]:
        """The ``node.input`` labels of one inferred parameter ([] when absent)."""
        found = next((p for p in self.parameters if p.name == name), None)
        return list(found.targets) if found else []


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _inputs(graph: dict[str, Any], node_id: str) -> dict[str, Any]:
    inputs = (graph.get(node_id) or {}).get("inputs")
    return inputs if isinstance(inputs, dict) else {}


def _schema(graph: dict[str, Any], catalog: Catalog, node_id: str) -> NodeSchema | None:
    return catalog.get(str((graph.get(node_id) or {}).get("class_type")))


def makes_frame(schema: NodeSchema) -> bool:
    """True for a node that sets the picture's size rather than reading one."""
    takes = {s.type for s in schema.inputs.values() if s.required and not s.widget}
    outputs = set(schema.outputs)
    if "LATENT" in outputs:
        return "LATENT" not in takes
    return bool(outputs & {"IMAGE", "VIDEO"}) and not takes & {"IMAGE", "VIDEO", "LATENT"}


def _number_holder(
    graph: dict[str, Any], catalog: Catalog, node_id: str, name: str
) -> Holder | None:
    """Where the number of ``node_id``'s input ``name`` is typed (following one link)."""
    value = _inputs(graph, node_id).get(name)
    if _number(value):
        return node_id, name
    if not (isinstance(value, list) and len(value) == 2):
        return None
    source_id = str(value[0])
    source = _inputs(graph, source_id)
    schema = _schema(graph, catalog, source_id)
    slot = value[1] if isinstance(value[1], int) else -1
    names = list(schema.output_names) if schema else []
    output = names[slot] if 0 <= slot < len(names) else None
    for candidate in (PRIMITIVE_VALUE, output, name):
        if candidate and _number(source.get(candidate)):
            if candidate == PRIMITIVE_VALUE and len([v for v in source.values() if _number(v)]) > 1:
                continue  # a node with several numbers is not a simple primitive
            return source_id, candidate
    return None


def _spec(graph: dict[str, Any], catalog: Catalog, holder: Holder) -> InputSpec:
    """The spec of a holder; a loosely declared primitive ``value`` is judged by its literal."""
    schema = _schema(graph, catalog, holder[0])
    spec = schema.inputs.get(holder[1]) if schema else None
    if spec is not None and spec.type in NUMBER_TYPES:
        return spec
    value = _inputs(graph, holder[0]).get(holder[1])
    return InputSpec(holder[1], "INT" if isinstance(value, int) else "FLOAT", True, None)


@dataclass
class _Found:
    """A typed-in number, the input name it has where it is used, and every spec it feeds."""

    holder: Holder
    name: str
    specs: list[InputSpec]


def _number_holders(graph: dict[str, Any], catalog: Catalog) -> dict[str, list[_Found]]:
    """The typed-in numbers of each role, in graph order, each holder once."""
    found: dict[str, list[_Found]] = {}
    by_holder: dict[Holder, _Found] = {}
    for node_id in graph:
        schema = _schema(graph, catalog, node_id)
        if schema is None:
            continue
        inputs = _inputs(graph, node_id)
        roles = dict(ANY_NODE_INPUTS)
        if makes_frame(schema):
            roles.update(FRAME_INPUTS)
            if any(n in inputs for n, r in FRAME_INPUTS.items() if r == "frames"):
                roles.pop("batch_size")
        for name, role in roles.items():
            spec = schema.inputs.get(name)
            if name not in inputs or spec is None or spec.type not in NUMBER_TYPES:
                continue
            holder = _number_holder(graph, catalog, node_id, name)
            if holder is None:
                continue
            if holder in by_holder:
                by_holder[holder].specs.append(spec)
                continue
            # The consumer's spec first: it has the step the frontend snaps to.
            specs = [spec] if holder == (node_id, name) else [spec, _spec(graph, catalog, holder)]
            by_holder[holder] = _Found(holder, name, specs)
            found.setdefault(role, []).append(by_holder[holder])
    return found


def _followers(
    graph: dict[str, Any], catalog: Catalog, name: str, value: Any, taken: set[Holder]
) -> list[Holder]:
    """Other literal whole-number inputs called ``name`` holding ``value``."""
    found: list[Holder] = []
    for node_id in graph:
        spec = (_schema(graph, catalog, node_id) or EMPTY_SCHEMA).inputs.get(name)
        literal = _inputs(graph, node_id).get(name)
        holder = (node_id, name)
        is_int = spec is not None and spec.type == "INT" and _number(literal)
        if is_int and holder not in taken and literal == value:
            found.append(holder)
    return found


def _bounds(specs: list[InputSpec], default: Any, whole: bool) -> dict[str, int | float]:
    """The tightest min/max of the specs, and multiple_of/offset from their steps."""
    bounds: dict[str, int | float] = {}
    lows = [s.minimum for s in specs if s.minimum is not None]
    highs = [s.maximum for s in specs if s.maximum is not None]
    if lows and max(lows) <= default:
        bounds["min"] = int(max(lows)) if whole else max(lows)
    if highs and min(highs) >= default:
        bounds["max"] = int(min(highs)) if whole else min(highs)
    steps = [int(s.step) for s in specs if whole and s.step and float(s.step).is_integer()]
    steps = [s for s in steps if s > 1]
    if steps:
        step = math.lcm(*steps)
        anchor = specs[0].minimum if specs[0].minimum is not None else 0
        offset = int(anchor) % step
        if (int(default) - offset) % step == 0:
            bounds["multiple_of"] = step
            if offset:
                bounds["offset"] = offset
    return bounds


def _numbers(
    graph: dict[str, Any], catalog: Catalog, taken: set[str]
) -> list[tuple[InferredParameter, list[Holder]]]:
    """The number parameters: equal values of a role share one, followers join."""
    made: list[tuple[InferredParameter, list[Holder]]] = []
    roles = _number_holders(graph, catalog)
    used = {f.holder for founds in roles.values() for f in founds}
    for role, founds in roles.items():
        groups: dict[float, list[_Found]] = {}
        for item in founds:
            groups.setdefault(float(_inputs(graph, item.holder[0])[item.holder[1]]), []).append(
                item
            )
        for members in groups.values():
            value = _inputs(graph, members[0].holder[0])[members[0].holder[1]]
            holders = [m.holder for m in members]
            specs = [spec for m in members for spec in m.specs]
            if role in FOLLOWING_ROLES:
                extra = _followers(graph, catalog, members[0].name, value, used)
                used.update(extra)
                holders += extra
                specs += [_spec(graph, catalog, h) for h in extra]
            whole = any(s.type == "INT" for s in specs)
            default = int(value) if whole else float(value)
            name = unique_name(role, taken)
            kind = "INT" if whole else "FLOAT"
            parameter = InferredParameter(
                name=name,
                placeholder=f"PARAM_{kind}_{name.upper()}",
                targets=tuple(f"{n}.{i}" for n, i in holders),
                default=default,
                bounds=_bounds(specs, default, whole),
            )
            made.append((parameter, holders))
    return made


def _seed_bounds(graph: dict[str, Any], catalog: Catalog) -> dict[str, int] | None:
    """Bounds for the literal seeds when a node takes less than ComfyUI's full range.

    Partner nodes cap their seed at 2**31-1; a random seed above it would be refused.
    """
    highest: list[float] = []
    for node_id in graph:
        schema = _schema(graph, catalog, node_id) or EMPTY_SCHEMA
        for name, value in _inputs(graph, node_id).items():
            spec = schema.inputs.get(name)
            if name in SEED_INPUTS and is_literal_int(value) and spec and spec.maximum is not None:
                highest.append(spec.maximum)
    if not highest or min(highest) >= SEED_MAX:
        return None
    return {"min": SEED_MIN, "max": int(min(highest))}


def _prompts(graph: dict[str, Any], catalog: Catalog, inference: Inference) -> None:
    positive = find_prompt_inputs(graph, catalog, "positive")
    negative = [t for t in find_prompt_inputs(graph, catalog, "negative") if t not in positive]
    if not positive and not negative:
        positive = find_own_text_inputs(graph, catalog, "positive")
        negative = [
            t for t in find_own_text_inputs(graph, catalog, "negative") if t not in positive
        ]
    for name, targets, placeholder in (
        ("prompt", positive, PROMPT_PLACEHOLDER),
        ("negative", negative, NEGATIVE_PLACEHOLDER),
    ):
        placed, text = place_text(graph, targets, placeholder, inference.warnings)
        if placed:
            inference.parameters.append(InferredParameter(name, placeholder, tuple(placed), text))
    if not inference.targets_of("prompt"):
        inference.warnings.append(
            "no text input feeds a sampler's positive input; no prompt parameter"
        )


def infer_placeholders(graph: dict[str, Any], catalog: Catalog) -> Inference:
    """A copy of ``graph`` with placeholders for the usual parameters (module docstring).

    ``graph`` is a structurally valid API graph; it is not changed.
    """
    inference = Inference(copy.deepcopy(graph))
    work = inference.graph
    existing, _ = scan_graph(
        {k: v for k, v in work.items() if isinstance(v, dict) and isinstance(v.get("inputs"), dict)}
    )
    taken = set(existing)
    _prompts(work, catalog, inference)
    taken.update(p.name for p in inference.parameters)
    for parameter, holders in _numbers(work, catalog, taken):
        for node_id, name in holders:
            work[node_id]["inputs"][name] = parameter.placeholder
        inference.parameters.append(parameter)
    for name, placeholder, target in place_media(work, catalog, taken):
        inference.parameters.append(InferredParameter(name, placeholder, (target,)))
    if SEED_PARAMETER in existing:
        inference.seed_bounds = _seed_bounds(work, catalog)
    return inference
