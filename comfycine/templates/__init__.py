"""Workflow templates: discovery, the placeholder schema, binding values, rendering.

A template is ``NAME.json``, an API-format graph
(``{"<id>": {"class_type": str, "inputs": {...}, "_meta": {"title": str}}}``) whose input
values may be placeholders, with an optional ``NAME.meta.json`` sidecar beside it.

Placeholders (an input value that is exactly the placeholder, never part of a text)::

    PARAM_PROMPT                 prompt   text, also set with --prompt
    PARAM_STR_NAME               name     text
    PARAM_INT_NAME               name     whole number (no 3.5, 1e3, 1_000)
    PARAM_FLOAT_NAME             name     finite number
    PARAM_BOOL_NAME              name     true/false, yes/no, on/off, 1/0
    PARAM_COMBO_NAME             name     text, checked against "choices" when given
    PARAM_IMAGE_NAME, PARAM_VIDEO_NAME, PARAM_MASK_NAME
                                 name     a local file: uploaded, replaced by its server name
    PARAM_IMAGE, PARAM_VIDEO, PARAM_MASK  image, video, mask

``NAME`` is upper-case letters and digits joined by single underscores; the parameter
is its lower-case form (``PARAM_COMBO_CAMERA_TYPE`` -> ``camera_type``). One placeholder
may appear in many inputs; two different placeholders giving one name (``PARAM_PROMPT``
and ``PARAM_STR_PROMPT``, ``PARAM_IMAGE_INPUT`` and ``PARAM_VIDEO_INPUT``) are an error,
as is any other text containing a ``PARAM_`` token (typos never reach the server).

Seeds: every int parameter named ``seed`` or ``*_seed`` is a seed, and every literal int
input called ``seed`` or ``noise_seed`` is a target of ``seed`` too (exported graphs carry
the UI's last seed, and re-sending it would return ComfyUI's cached result). A seed left
unset gets a fresh random value in [0, 2**32-1], reported in ``Binding.randomized_seeds``;
with ``"fixed_seed": true`` it keeps its default (or the graph's first literal seed).

Sidecar schema (every key optional; unknown top-level keys are kept as data)::

    {
      "description": "One line shown by workflow list.",
      "defaults": {"width": 256, "input": "examples/still.png"},
      "bounds":   {"width":  {"min": 16, "max": 4096, "multiple_of": 16},
                   "frames": {"min": 1, "multiple_of": 4, "offset": 1}},
      "choices":  {"camera_type": ["static", "pan_left"]},
      "help":     {"width": "Frame width in pixels."},
      "parameters": {"steps": {"default": 20, "min": 1, "max": 100, "help": "..."}},
      "fixed_seed": false,
      "models": [...], "custom_nodes": [...], "outputs": ...
    }

``parameters`` is the per-parameter form of the same facts (keys ``default``, ``min``,
``max``, ``multiple_of``, ``offset``, ``choices``, ``help``); both forms may be mixed but
must not disagree. ``multiple_of`` with ``offset`` k means values of the form n*m+k
(``4n+1``). Bounds apply to int and float parameters (``multiple_of`` to int only),
choices to any non-media kind; defaults are checked against both when the template
loads. A relative media default is relative to the template's directory. Every key
must name a parameter of the template. ``models``, ``custom_nodes`` and ``outputs`` are
kept as data for other modules.

Flow: :func:`template_dirs` -> :func:`list_templates` / :func:`load_template` ->
:func:`bind_values` -> (upload ``Binding.media``) -> :func:`render_graph`.
"""

from __future__ import annotations

from .binding import Binding, bind_values, check_assignments
from .discovery import (
    Template,
    TemplateInfo,
    list_templates,
    load_template,
    read_template,
    shipped_dir,
    template_dirs,
)
from .placeholders import Kind, Parameter, Target, parse_placeholder
from .rendering import describe_parameters, render_graph

__all__ = [
    "Binding",
    "Kind",
    "Parameter",
    "Target",
    "Template",
    "TemplateInfo",
    "bind_values",
    "check_assignments",
    "describe_parameters",
    "list_templates",
    "load_template",
    "parse_placeholder",
    "read_template",
    "render_graph",
    "shipped_dir",
    "template_dirs",
]
