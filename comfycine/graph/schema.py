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

The value rules of an input type live here too: :func:`types_match` (may this output
feed that input) and :func:`literal_error` (may this literal be that input's value).
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

PRIMITIVE_TYPES = frozenset({"INT", "FLOAT", "STRING", "BOOLEAN"})
COMBO = "COMBO"
ANY_TYPE = "*"
# Core link types that never carry a widget: a literal value there is always a mistake.
# Custom types may have frontend widgets (WEBCAM, ...), so they are left alone.
LINK_ONLY_TYPES = frozenset(
    {
        "MODEL", "CLIP", "VAE", "CONDITIONING", "LATENT", "IMAGE", "MASK", "CONTROL_NET",
        "CLIP_VISION", "CLIP_VISION_OUTPUT", "STYLE_MODEL", "GLIGEN", "UPSCALE_MODEL",
        "SAMPLER", "SIGMAS", "NOISE", "GUIDER", "AUDIO", "VIDEO", "HOOKS", "LORA_MODEL",
    }
)  # fmt: skip
# Keys of a combo's options that make the frontend add an upload button (an extra widget).
_UPLOAD_KEYS = (
    ("image_upload", "image"),
    ("animated_image_upload", "image"),
    ("video_upload", "video"),
    ("audio_upload", "audio"),
)


@dataclass(frozen=True)
class InputSpec:
    """One input of a node class.

    ``type`` is "INT", "FLOAT", "STRING", "BOOLEAN", "COMBO" (V1 and V3 combos alike) or
    a link type ("MODEL", "IMAGE", "*", "A,B"). ``options`` holds a combo's choices, or
    None when the server does not list them. ``widget`` is False for link types and for
    ``forceInput`` primitives; ``control_after_generate`` and ``upload`` mark widgets that
    take an extra, unserialised slot in the UI. A ``multiselect`` combo takes a list.
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
    # The spec's option dict as the server gave it: the frontend's widget rules read it.
    flags: Mapping[str, Any] = field(default_factory=dict, compare=False, hash=False)


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
    # A partner (paid API) node: it bills the user's Comfy account when it runs.
    api_node: bool = False
    # The server's price declaration (``price_badge``: a JSONata ``expr``), when it has one.
    price_badge: dict[str, Any] | None = None


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
        flags=dict(extra),
    )


def _ordered_names(section: Mapping[str, Any], order: Any) -> list[str]:
    # input_order is authoritative when present; anything it misses keeps dict order.
    names = (
        [n for n in order if isinstance(n, str) and n in section] if isinstance(order, list) else []
    )
    return names + [n for n in section if n not in names]


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, dict) else {}


def parse_node(name: str, data: Mapping[str, Any]) -> NodeSchema:
    """One class of ``/object_info`` as a :class:`NodeSchema` (hidden inputs dropped)."""
    sections, order = _mapping(data.get("input")), _mapping(data.get("input_order"))
    inputs: dict[str, InputSpec] = {}
    for section, required in (("required", True), ("optional", False)):
        specs = _mapping(sections.get(section))
        for input_name in _ordered_names(specs, order.get(section)):
            inputs.setdefault(
                input_name, parse_input(input_name, specs[input_name], required=required)
            )
    raw_outputs, raw_names = data.get("output"), data.get("output_name")
    outputs = tuple(
        o if isinstance(o, str) else COMBO
        for o in (raw_outputs if isinstance(raw_outputs, list) else ())
    )
    output_names = (
        tuple(str(n) for n in (raw_names if isinstance(raw_names, list) else ())) or outputs
    )
    return NodeSchema(
        name=name,
        display_name=str(data.get("display_name") or name),
        category=str(data.get("category") or ""),
        python_module=str(data.get("python_module") or ""),
        inputs=inputs,
        outputs=outputs,
        output_names=output_names,
        output_node=bool(data.get("output_node")),
        api_node=data.get("api_node") is True,
        price_badge=dict(badge) if isinstance(badge := data.get("price_badge"), dict) else None,
    )


def types_match(received: str, expected: str) -> bool:
    """Whether an output type may feed an input type, as the server decides.

    Equal types, ``*`` on either side, or comma lists that share a type ("A,B" feeds
    "B,C"). A combo input takes only a "COMBO" output (a node giving choices).
    """
    if received == expected or ANY_TYPE in (received, expected):
        return True
    if COMBO in (received, expected):
        return False
    wanted = {t.strip() for t in expected.split(",")}
    return any(t.strip() in wanted for t in received.split(","))


def as_int(value: Any) -> int | None:
    """The whole number the server's ``int(value)`` gives, refusing bools and fractions.

    The server would turn True into 1 and truncate 2.5 to 2; both hide a mistake.
    """
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value) if value.is_integer() else None
    if isinstance(value, str):
        try:
            return int(value)
        except ValueError:
            return None
    return None


def as_float(value: Any) -> float | None:
    """The finite number the server's ``float(value)`` gives, refusing bools."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return None
    try:
        number = float(value)
    except ValueError:
        return None
    return number if math.isfinite(number) else None


def range_text(spec: InputSpec) -> str:
    """ " between MIN and MAX" (or the one bound known), for messages."""
    if spec.minimum is not None and spec.maximum is not None:
        return f" between {spec.minimum} and {spec.maximum}"
    if spec.minimum is not None:
        return f" of at least {spec.minimum}"
    if spec.maximum is not None:
        return f" of at most {spec.maximum}"
    return ""


def literal_error(spec: InputSpec, value: Any) -> tuple[str, str] | None:
    """(what is wrong, what to do) when a literal cannot feed the input, else None.

    Types as the server converts them (INT, FLOAT), min/max as it checks them, plus what
    it lets through silently: text for a BOOLEAN (always true), no text for a STRING,
    and a value where a core link type is needed. Combo choices are checked elsewhere.
    """
    kind, shown = spec.type, " ".join(repr(value).split())[:60]
    if kind in LINK_ONLY_TYPES:
        return (
            f"{shown} is a value, but the input takes a link from a {kind} output.",
            f"connect {spec.name} to a node that outputs {kind}.",
        )
    number: float | None = None
    if kind == "INT":
        number = as_int(value)
        if number is None:
            return f"{shown} is not a whole number.", f"set an integer{range_text(spec)}."
    elif kind == "FLOAT":
        number = as_float(value)
        if number is None:
            return f"{shown} is not a finite number.", f"set a number{range_text(spec)}."
    elif kind == "BOOLEAN" and not (isinstance(value, bool) or value in (0, 1)):
        return f"{shown} is not true or false (ComfyUI reads text as true).", "set true or false."
    elif kind == "STRING" and (value is None or isinstance(value, bool | list | dict)):
        return f"{shown} is not text.", "set a string."
    if number is not None and spec.minimum is not None and number < spec.minimum:
        return f"{shown} is below the minimum {spec.minimum}.", f"set a value{range_text(spec)}."
    if number is not None and spec.maximum is not None and number > spec.maximum:
        return f"{shown} is above the maximum {spec.maximum}.", f"set a value{range_text(spec)}."
    return None


class Catalog:
    """The node classes a server offers, by class name.

    Classes are parsed when first asked for: validating a graph before a job touches a
    dozen of the server's hundreds of classes, and parsing them all costs ~35 ms.
    """

    def __init__(
        self,
        classes: dict[str, NodeSchema] | None = None,
        *,
        raw: dict[str, dict[str, Any]] | None = None,
        names: Iterable[str] = (),
        loader: Callable[[str], dict[str, Any] | None] | None = None,
    ) -> None:
        self._parsed: dict[str, NodeSchema] = dict(classes or {})
        self._raw: dict[str, dict[str, Any]] = dict(raw or {})
        self._names = set(self._parsed) | set(self._raw) | set(names)
        # Reads one class's spec on demand (a snapshot split into one file per class).
        self._loader = loader
        self._lower: dict[str, str] | None = None

    @classmethod
    def from_object_info(cls, data: dict[str, Any]) -> Catalog:
        """A catalog from the body of ``GET /object_info`` (non-dict entries skipped)."""
        return cls(
            raw={
                name: spec
                for name, spec in data.items()
                if isinstance(name, str) and isinstance(spec, dict)
            }
        )

    @property
    def classes(self) -> dict[str, NodeSchema]:
        """Every class, parsed (for listings; validation parses only what it needs)."""
        for name in sorted(self._names - set(self._parsed)):
            self.get(name)
        return self._parsed

    def __len__(self) -> int:
        return len(self._names)

    def __contains__(self, name: object) -> bool:
        return name in self._names

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(self._names))

    def get(self, name: str) -> NodeSchema | None:
        """The schema of a class, or None when the server does not have it."""
        schema = self._parsed.get(name)
        if schema is None and name in self._names:
            spec = self._raw.pop(name, None)
            if spec is None and self._loader is not None:
                spec = self._loader(name)
            if spec is not None:
                schema = self._parsed[name] = parse_node(name, spec)
        return schema

    def suggest(self, name: str, n: int = 3) -> list[str]:
        """Up to ``n`` class names closest to ``name`` (case-insensitive), best first."""
        if self._lower is None:
            self._lower = {}
            for class_name in sorted(self._names):
                self._lower.setdefault(class_name.lower(), class_name)
        matches = difflib.get_close_matches(name.lower(), list(self._lower), n=n, cutoff=0.6)
        return [self._lower[m] for m in matches]
