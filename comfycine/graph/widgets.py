"""A node's widgets as ComfyUI's frontend makes them, and how a saved workflow fills them.

The frontend (``comfyui-frontend-package`` 1.32; what it does is recorded under
``tests/fixtures/frontend/``) gives a node one widget per input whose type has one (INT,
FLOAT, STRING, BOOLEAN, COMBO, and a few of its own such as WEBCAM), ``forceInput``
inputs excepted, in ``input_order``. Some widgets carry no input's value:

* an INT gets a ``control_after_generate`` combo after it when its spec asks for one or,
  when the spec is silent, when it is called ``seed`` or ``noise_seed``; a combo that asks
  for one gets the control and a filter list;
* a remote combo gets an auto-refresh toggle, and a refresh button when its spec asks;
* a required combo with ``image_upload``/``video_upload``/``animated_image_upload`` (or
  an ``audio`` combo with ``audio_upload``) gets an ``upload`` button, after every input.

A saved ``widgets_values`` fills these widgets in order, whatever version of the node
saved it: extra values are dropped and missing ones keep the widget's default. Only when
the count equals the widgets *plus* the ``forceInput`` inputs (a save from before
frontend 1.16) are the ``forceInput`` slots dropped first, paired one value per input.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from itertools import zip_longest
from typing import Any

from .schema import COMBO, InputSpec, NodeSchema

SEED_NAMES = frozenset({"seed", "noise_seed"})
# Types the frontend draws a widget for (its own registry plus its core extensions').
VALUE_WIDGET_TYPES = frozenset(
    {"INT", "FLOAT", "BOOLEAN", "STRING", COMBO, "MARKDOWN", "COLOR", "TEXTAREA"}
    | {"IMAGECOMPARE", "CHART", "GALLERIA"}
)
# Widgets whose value the browser makes when it queues (a webcam frame, a 3D view).
BROWSER_WIDGET_TYPES = frozenset(
    {"WEBCAM", "LOAD_3D", "LOAD_3D_ANIMATION", "PREVIEW_3D", "AUDIO_RECORD"}
)
_IMAGE_UPLOAD_FLAGS = ("image_upload", "video_upload", "animated_image_upload")
# Classes the frontend's audio extension gives an (unsaved) audio player widget.
_AUDIO_PLAYER_CLASSES = frozenset(
    {"LoadAudio", "SaveAudio", "PreviewAudio", "SaveAudioMP3", "SaveAudioOpus"}
)
_SAMPLERS = frozenset({"KSampler", "KSamplerAdvanced"})
# Buttons and views the frontend's 3D and webcam extensions add: (after which input, or
# None for the end; the widgets with their values).
_EXTENSION_WIDGETS: dict[str, tuple[str | None, tuple[tuple[str, Any], ...]]] = {
    "Load3D": (
        "model_file",
        (
            ("upload 3d model", "upload3dmodel"),
            ("upload extra resources", "uploadExtraResources"),
            ("clear", "clear"),
        ),
    ),
    "WebcamCapture": (None, (("waiting for camera...", "capture"),)),
    "Preview3D": (None, (("image", ""),)),
    "SaveGLB": (None, (("image", ""),)),
}


class _Unset:
    """No value at all (JavaScript's ``undefined``): the input is left out of the prompt."""

    def __repr__(self) -> str:
        return "UNSET"


UNSET: Any = _Unset()


@dataclass(frozen=True)
class Widget:
    """One saved widget of a node, in ``widgets_values`` order.

    ``spec`` is the input whose value it holds (None for a control, toggle or button);
    ``upload_folder`` marks the combo an upload button serves (its values are annotated
    like ``name.png [output]``); ``browser`` marks a value only a browser can make.
    """

    name: str
    spec: InputSpec | None
    default: Any
    upload_folder: str | None = None
    allow_batch: bool = False
    browser: bool = False

    @property
    def dynamic_prompts(self) -> bool:
        """Whether queueing resolves ``{a|b}`` choices and comments in its text."""
        return (
            self.spec is not None
            and self.spec.type == "STRING"
            and self.spec.flags.get("dynamicPrompts") is True
        )


@dataclass(frozen=True)
class _Input:
    """One input as the frontend's node definition holds it (its own additions included)."""

    name: str
    kind: str
    spec: InputSpec | None = None


def truthy(value: Any) -> bool:
    """JavaScript's truthiness: None, False, 0, NaN and "" are false; [] and {} are true."""
    if value is None or value is False or value == "":
        return False
    if isinstance(value, int | float) and not isinstance(value, bool):
        return value != 0 and not math.isnan(value)
    return True


def _upload_combo(schema: NodeSchema) -> InputSpec | None:
    """The required combo an image/video upload button serves, if the class has one."""
    for spec in schema.inputs.values():
        flagged = any(spec.flags.get(flag) is True for flag in _IMAGE_UPLOAD_FLAGS)
        if flagged and spec.required and spec.type == COMBO:
            return spec
    return None


def _added_inputs(schema: NodeSchema) -> list[_Input]:
    """Inputs the frontend's extensions add to a class definition, in the order they do."""
    added: list[_Input] = []
    if schema.name in _AUDIO_PLAYER_CLASSES:
        added.append(_Input("audioUI", "AUDIO_UI"))
    audio = schema.inputs.get("audio")
    if audio is not None and audio.required and audio.flags.get("audio_upload") is True:
        added.append(_Input("upload", "AUDIOUPLOAD"))
    elif _upload_combo(schema) is not None:
        added.append(_Input("upload", "IMAGEUPLOAD"))
    return added


def _definition(schema: NodeSchema) -> list[_Input]:
    """Inputs in the definition's own order: required, the added ones, optional."""
    specs = [
        _Input(s.name, str(s.flags.get("widgetType") or s.type), s) for s in schema.inputs.values()
    ]
    required = [i for i in specs if i.spec is not None and i.spec.required]
    optional = [i for i in specs if i.spec is not None and not i.spec.required]
    return required + _added_inputs(schema) + optional


def _combo_default(spec: InputSpec) -> Any:
    if truthy(spec.default):
        return spec.default
    if spec.options:
        return spec.options[0]
    return "Loading..." if spec.flags.get("remote") else UNSET


def _default(spec: InputSpec, kind: str) -> Any:
    if kind == COMBO:
        return [] if spec.multiselect else _combo_default(spec)
    if spec.default is not None:
        return spec.default
    return {"INT": 0, "FLOAT": 0, "BOOLEAN": False, "STRING": ""}.get(kind)


def js_template_string(value: Any) -> str:
    """``${value}`` for the values a combo holds (strings, numbers, nothing)."""
    if value is UNSET:
        return "undefined"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def annotated(value: Any, folder: str) -> str:
    """A file name as an upload combo shows it: ``name [output]`` outside the input folder."""
    if isinstance(value, dict):
        path = str(value.get("filename") or "")
        if value.get("subfolder"):
            path = f"{value['subfolder']}/{path}"
        kind = value.get("type")
        return path + (_annotation(str(kind), folder) if truthy(kind) else "")
    if not isinstance(value, str):
        return ""
    return value + _annotation(value, folder)


def _annotation(text: str, folder: str) -> str:
    tagged = any(f"[{tag}]" in text.lower() for tag in ("input", "output", "temp"))
    return f" [{folder}]" if not tagged and folder != "input" else ""


def _control_widgets(spec: InputSpec, combo: bool) -> list[Widget]:
    """The control (and, for a combo, its filter list) the frontend adds after a widget."""
    declared = spec.flags.get("control_after_generate")
    prefix = spec.flags.get("control_prefix")

    def named(default_name: str) -> str:
        if isinstance(spec.flags.get(default_name), str):
            return str(spec.flags[default_name])
        return f"{prefix} {default_name}" if prefix else default_name

    control = str(declared) if isinstance(declared, str) else named("control_after_generate")
    widgets = [Widget(control, None, "randomize")]
    if combo:
        widgets.append(Widget(named("control_filter_list"), None, ""))
    return widgets


def _has_control(spec: InputSpec, kind: str) -> bool:
    declared = spec.flags.get("control_after_generate")
    if kind == "INT":
        return truthy(declared) if declared is not None else spec.name in SEED_NAMES
    return kind == COMBO and truthy(declared)


def _input_widgets(item: _Input, upload: InputSpec | None) -> list[Widget]:
    """The saved widgets one input makes (none for a socket-only input)."""
    spec, kind = item.spec, item.kind
    if spec is None:
        if kind == "IMAGEUPLOAD":
            return [Widget(item.name, None, "image")]
        return [Widget(item.name, None, "")] if kind == "AUDIOUPLOAD" else []
    if spec.force_input:
        return []
    if kind in BROWSER_WIDGET_TYPES:
        default = spec.default if spec.default is not None else ""
        return [Widget(spec.name, spec, default, browser=True)]
    if kind not in VALUE_WIDGET_TYPES:
        return []
    default = _default(spec, kind)
    widget = Widget(spec.name, spec, default)
    if spec is upload:
        folder = str(spec.flags.get("image_folder") or "input")
        # The upload button pins the combo's first value as text, then annotates it.
        first = js_template_string(default)
        widget = Widget(
            spec.name,
            spec,
            annotated(first, folder),
            upload_folder=folder,
            allow_batch=bool(spec.flags.get("allow_batch")),
        )
    widgets = [widget]
    remote = spec.flags.get("remote")
    if kind == COMBO and isinstance(remote, dict) and not spec.multiselect:
        widgets.append(Widget("Auto-refresh after generation", None, False))
        if remote.get("refresh_button"):
            widgets.append(Widget("refresh", None, "refresh"))
    if _has_control(spec, kind):
        widgets.extend(_control_widgets(spec, combo=kind == COMBO))
    return widgets


def node_widgets(schema: NodeSchema) -> list[Widget]:
    """The widgets ``widgets_values`` fills for this class, in order."""
    upload = _upload_combo(schema)
    definition = _definition(schema)
    # Widgets follow input_order (required, then optional), then the added inputs.
    ordered = [i for i in definition if i.spec is not None and i.spec.required]
    ordered += [i for i in definition if i.spec is not None and not i.spec.required]
    ordered += [i for i in definition if i.spec is None]
    widgets = [w for item in ordered for w in _input_widgets(item, upload)]
    after, extra = _EXTENSION_WIDGETS.get(schema.name, (None, ()))
    added = [Widget(name, None, value, browser=True) for name, value in extra]
    at = next((i + 1 for i, w in enumerate(widgets) if w.name == after), len(widgets))
    return widgets[:at] + added + widgets[at:]


def _migrate(schema: NodeSchema, widgets: list[Widget], values: list[Any]) -> list[Any]:
    """Drop the ``forceInput`` slots of a save from before frontend 1.16.

    The frontend counts two slots for an input with a control (or named like a seed),
    one for any other input with a widget or ``forceInput``; when ``values`` has exactly
    that many it pairs values with those inputs one to one and drops the forceInput ones.
    """
    names = {w.name for w in widgets} | {"audioUI"}
    counted = [
        i
        for i in _definition(schema)
        if i.name in names or (i.spec is not None and i.spec.force_input)
    ]
    size = sum(
        2
        if (i.spec and truthy(i.spec.flags.get("control_after_generate"))) or i.name in SEED_NAMES
        else 1
        for i in counted
    )
    if size != len(values) or not any(i.spec and i.spec.force_input for i in counted):
        return values
    return [
        value
        for item, value in zip_longest(counted, values)
        if not (item is not None and item.spec is not None and item.spec.force_input)
    ]


def _uploaded(widget: Widget, value: Any) -> Any:
    """The value an upload combo gives back once set (the frontend's value transform)."""
    assert widget.upload_folder is not None
    if not truthy(value):
        return _first_file(widget)
    if isinstance(value, list):
        if widget.allow_batch:
            return [annotated(v, widget.upload_folder) for v in value]
        return annotated(value[0] if value else None, widget.upload_folder)
    return annotated(value, widget.upload_folder)


def _first_file(widget: Widget) -> str:
    """The combo's text before any value was set (its default, not annotated)."""
    assert widget.spec is not None
    return js_template_string(_combo_default(widget.spec))


def load_widget_values(
    schema: NodeSchema, values: Any, *, root: bool = True
) -> tuple[dict[str, Any], list[str]]:
    """Widget name -> value after the frontend loads ``values``; and what did not fit.

    A list fills the widgets in order (see the module docstring); a dict, which some
    custom nodes save, is read by name. ``root`` applies the loader's fix-ups for
    top-level nodes (KSampler's ``sample_`` sampler names). The problems name the inputs
    left at their default and the values dropped.
    """
    widgets = node_widgets(schema)
    loaded = {w.name: w.default for w in widgets}
    problems: list[str] = []
    if isinstance(values, Mapping):
        for widget in widgets:
            if widget.spec is not None and widget.name in values:
                loaded[widget.name] = values[widget.name]
        return loaded, problems
    saved = _migrate(schema, widgets, list(values) if isinstance(values, list) else [])
    for widget, value in zip(widgets, saved, strict=False):
        loaded[widget.name] = _uploaded(widget, value) if widget.upload_folder else value
    if isinstance(values, list):
        missing = [w.name for w in widgets[len(saved) :] if w.spec is not None]
        if missing:
            problems.append(
                f"{len(saved)} widget values for {len(widgets)} widgets: "
                f"{', '.join(missing)} took the default (saved by another version of the node?)"
            )
        elif len(saved) > len(widgets):
            problems.append(
                f"{len(saved)} widget values for {len(widgets)} widgets: the last "
                f"{len(saved) - len(widgets)} were dropped (saved by another version of the node?)"
            )
    sampler = loaded.get("sampler_name")
    if root and schema.name in _SAMPLERS and isinstance(sampler, str):
        loaded["sampler_name"] = sampler.removeprefix("sample_")
    return loaded, problems
