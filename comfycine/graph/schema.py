"""Node schemas read from a server's ``/object_info``: what each class takes and gives.

``/object_info`` maps a class name to ``{"input": {"required", "optional", "hidden"},
"input_order", "output", "output_name", "output_node", ...}``. Each input spec is a list:

* ``["INT", {"default", "min", "max", "step", "control_after_generate"?}]`` (also FLOAT,
  STRING, BOOLEAN): a widget, or a link-only socket with ``forceInput``;
* ``[["a", "b"], {...}]``: an old-style (V1) combo whose first item is the choices;
* ``["COMBO", {"options": [...], ...}]``: a V3 combo (``options`` may be absent when the
  frontend loads the choices itself);
* ``["MODEL"]``, ``["IMAGE", {...}]``, ``["A,B"]``, ``["*"]``: a link of that type.

A list-typed *output* (a node giving combo choices) is recorded as ``"COMBO"``.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

PRIMITIVE_TYPES = frozenset({"INT", "FLOAT", "STRING", "BOOLEAN"})
COMBO = "COMBO"
ANY_TYPE = "*"
# Keys of a combo's options that make the frontend add an upload button (an extra widget).
_UPLOAD_KEYS = (("image_upload", "image"), ("video_upload", "video"), ("audio_upload", "audio"))


@dataclass(frozen=True)
class InputSpec:
    """One input of a node class.

    ``type`` is "INT", "FLOAT", "STRING", "BOOLEAN", "COMBO" (V1 and V3 combos alike) or
    a link type ("MODEL", "IMAGE", "*", "A,B"). ``options`` holds a combo's choices, or
    None when the server does not list them. ``widget`` is False for link types and for
    ``forceInput`` primitives; ``control_after_generate`` and ``upload`` mark widgets that
    take an extra, unserialised slot in the UI.
    """

    name: str
    type: str
    required: bool
    options: tuple[Any, ...] | None
    default: Any = None
    minimum: float | None = None
    maximum: float | None = None
    step: float | None = None
    force_input: bool = False
    widget: bool = True
    control_after_generate: bool = False
    upload: str | None = None
    multiselect: bool = False


@dataclass(frozen=True)
class NodeSchema:
    """One node class: its inputs in UI order (required then optional), and its outputs."""

    name: str
    display_name: str
    category: str
    python_module: str
    inputs: dict[str, InputSpec]
    outputs: tuple[str, ...]
    output_names: tuple[str, ...]
    output_node: bool


def _number(value: Any) -> float | None:
    # Keep ints as ints: a seed maximum of 2**64-1 must not become a rounded float.
    if isinstance(value, int | float) and not isinstance(value, bool):
        return value
    return None


def parse_input(name: str, spec: Any, *, required: bool) -> InputSpec:
    """One input spec of ``/object_info`` as an :class:`InputSpec`.

    A malformed spec (not a non-empty list) becomes an input of type ``*`` so that a
    custom node with a sloppy declaration never breaks the whole catalog.
    """
    if not isinstance(spec, list | tuple) or not spec:
        return InputSpec(name, ANY_TYPE, required, None, widget=False)
    head = spec[0]
    extra: Mapping[str, Any] = spec[1] if len(spec) > 1 and isinstance(spec[1], dict) else {}
    options: tuple[Any, ...] | None = None
    if isinstance(head, list | tuple):
        kind, options = COMBO, tuple(head)
    elif isinstance(head, str):
        kind = head
        if kind == COMBO and isinstance(extra.get("options"), list | tuple):
            options = tuple(extra["options"])
    else:
        kind = ANY_TYPE
    force_input = bool(extra.get("forceInput"))
    widget = (kind in PRIMITIVE_TYPES or kind == COMBO) and not force_input
    upload = next((kind_ for key, kind_ in _UPLOAD_KEYS if extra.get(key)), None)
    return InputSpec(
        name=name,
        type=kind,
        required=required,
        options=options,
        default=extra.get("default"),
        minimum=_number(extra.get("min")),
        maximum=_number(extra.get("max")),
        step=_number(extra.get("step")),
        force_input=force_input,
        widget=widget,
        control_after_generate=bool(extra.get("control_after_generate")) and widget,
        upload=upload if kind == COMBO else None,
        multiselect=bool(extra.get("multiselect") or extra.get("multi_select")),
    )


def _ordered_names(section: Mapping[str, Any], order: Any) -> list[str]:
    # input_order is authoritative when present; anything it misses keeps dict order.
    names = (
        [n for n in order if isinstance(n, str) and n in section] if isinstance(order, list) else []
    )
    return names + [n for n in section if n not in names]


def parse_node(name: str, data: Mapping[str, Any]) -> NodeSchema:
    """One class of ``/object_info`` as a :class:`NodeSchema` (hidden inputs dropped)."""
    sections = data.get("input") if isinstance(data.get("input"), dict) else {}
    order = data.get("input_order") if isinstance(data.get("input_order"), dict) else {}
    inputs: dict[str, InputSpec] = {}
    for section, required in (("required", True), ("optional", False)):
        specs = sections.get(section) if isinstance(sections.get(section), dict) else {}
        for input_name in _ordered_names(specs, order.get(section)):
            inputs.setdefault(
                input_name, parse_input(input_name, specs[input_name], required=required)
            )
    raw_outputs = data.get("output") if isinstance(data.get("output"), list) else []
    outputs = tuple(o if isinstance(o, str) else COMBO for o in raw_outputs)
    raw_names = data.get("output_name") if isinstance(data.get("output_name"), list) else []
    output_names = tuple(str(n) for n in raw_names) or outputs
    return NodeSchema(
        name=name,
        display_name=str(data.get("display_name") or name),
        category=str(data.get("category") or ""),
        python_module=str(data.get("python_module") or ""),
        inputs=inputs,
        outputs=outputs,
        output_names=output_names,
        output_node=bool(data.get("output_node")),
    )


class Catalog:
    """The node classes a server offers, by class name."""

    def __init__(self, classes: dict[str, NodeSchema]) -> None:
        self.classes = classes
        self._lower: dict[str, str] | None = None

    @classmethod
    def from_object_info(cls, data: dict[str, Any]) -> Catalog:
        """A catalog from the body of ``GET /object_info`` (non-dict entries skipped)."""
        return cls(
            {
                name: parse_node(name, spec)
                for name, spec in data.items()
                if isinstance(name, str) and isinstance(spec, dict)
            }
        )

    def __len__(self) -> int:
        return len(self.classes)

    def __contains__(self, name: object) -> bool:
        return name in self.classes

    def __iter__(self) -> Iterator[str]:
        return iter(self.classes)

    def get(self, name: str) -> NodeSchema | None:
        """The schema of a class, or None when the server does not have it."""
        return self.classes.get(name)

    def suggest(self, name: str, n: int = 3) -> list[str]:
        """Up to ``n`` class names closest to ``name`` (case-insensitive), best first."""
        if self._lower is None:
            self._lower = {}
            for class_name in self.classes:
                self._lower.setdefault(class_name.lower(), class_name)
        matches = difflib.get_close_matches(name.lower(), list(self._lower), n=n, cutoff=0.6)
        return [self._lower[m] for m in matches]
