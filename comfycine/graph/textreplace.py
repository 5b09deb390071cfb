"""``%NodeTitle.widget%`` and ``%date:FORMAT%`` in file names, as the frontend expands them.

ComfyUI's frontend rewrites the ``filename_prefix`` of its save nodes (and the value of a
PrimitiveNode whose "Run widget replace on values" property is on) when it queues:

* ``%A.B%`` becomes the value of widget ``B`` on the first node whose "Node name for
  S&R" property is ``A`` or, when none has it, the first node titled ``A`` (every node
  of the graph and its subgraphs counts, muted ones too). The value is written as
  JavaScript would (``7``, not ``7.0``), with ``/ ? < > \\ : * | "`` and control
  characters turned into ``_``. A name or widget that is not found stays as it was.
* ``%date:FORMAT%`` becomes the local time: ``yyyy``, ``yy``, ``M``/``MM``, ``d``/``dd``,
  ``h``/``hh`` (0-23), ``m``/``mm``, ``s``/``ss``; the doubled forms are zero-padded.
  As in the frontend, a dot in the format splits it: ``%date:yyyy.MM%`` is read as a
  widget reference, and ``%date:yyyy.MM.dd%`` keeps only ``yyyy``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

SEARCH_NAME = "Node name for S&R"
# Save nodes whose filename_prefix the frontend expands (they get no S&R name of their own).
SAVE_NODE_TYPES = frozenset(
    {
        "SaveImage", "SaveVideo", "SaveAnimatedWEBP", "SaveWEBM", "SaveAudio", "SaveGLB",
        "SaveAnimatedPNG", "CLIPSave", "VAESave", "ModelSave", "LoraSave", "SaveLatent",
    }
)  # fmt: skip
_TOKEN = re.compile(r"%([^%]+)%")
_DATE_PART = re.compile(r"dd?|MM?|hh?|mm?|ss?|yyy?y?")
_UNSAFE = re.compile(r'[/?<>\\:*|"\x00-\x1f\x7f]')
_MAX_SAFE = 2**53


@dataclass(frozen=True)
class NamedNode:
    """What a ``%A.B%`` reference can find on one node: its names and widget values."""

    search_name: str | None
    title: str
    widgets: Mapping[str, Any]


def js_number(value: float) -> str:
    """A number as JavaScript's ``String(n)`` writes it (``7``, ``0.1``, ``1e-7``, ``1e+21``)."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    if value == 0:
        return "0"
    sign = "-" if value < 0 else ""
    digits, exponent = _shortest_digits(abs(value))
    point = exponent + 1  # digits before the decimal point
    if len(digits) <= point <= 21:
        return sign + digits + "0" * (point - len(digits))
    if 0 < point <= 21:
        return sign + digits[:point] + "." + digits[point:]
    if -6 < point <= 0:
        return sign + "0." + "0" * -point + digits
    mantissa = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
    return f"{sign}{mantissa}e{'+' if point - 1 >= 0 else '-'}{abs(point - 1)}"


def _shortest_digits(value: float) -> tuple[str, int]:
    """The shortest round-trip digits of ``value`` (> 0) and the exponent of the first."""
    mantissa, _, power = repr(value).partition("e")
    whole, _, fraction = mantissa.partition(".")
    digits = whole + fraction
    leading = len(digits) - len(digits.lstrip("0"))
    exponent = len(whole) - 1 + (int(power) if power else 0) - leading
    return digits.strip("0"), exponent


def js_string(value: Any) -> str:
    """``(value ?? '') + ''``: a widget value as JavaScript turns it into text."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        # The browser parsed the workflow's JSON into doubles.
        return str(value) if abs(value) < _MAX_SAFE else js_number(float(value))
    if isinstance(value, float):
        return js_number(value)
    if isinstance(value, list):
        return ",".join(js_string(item) for item in value)
    if isinstance(value, dict):
        return "[object Object]"
    return str(value)


def format_date(text: str, now: datetime) -> str:
    """``text`` with its date parts (``yyyy``, ``MM``, ``dd``, ``hh``, ...) filled from ``now``."""
    parts = {"d": now.day, "M": now.month, "h": now.hour, "m": now.minute, "s": now.second}

    def part(match: re.Match[str]) -> str:
        token = match.group(0)
        if token == "yy":
            return str(now.year)[2:]
        if token == "yyyy":
            return str(now.year)
        if token[0] in parts:
            return str(parts[token[0]]).rjust(len(token), "0")
        return token

    return _DATE_PART.sub(part, text)


def expand(text: str, nodes: Sequence[NamedNode], now: datetime) -> str:
    """``text`` with its ``%...%`` references expanded (see the module docstring)."""

    def replace(match: re.Match[str]) -> str:
        inner = match.group(1)
        split = inner.split(".")
        if len(split) != 2:
            if split[0].startswith("date:"):
                return format_date(split[0][5:], now)
            return match.group(0)
        name, widget = split
        found = [n for n in nodes if n.search_name == name] or [n for n in nodes if n.title == name]
        if not found or widget not in found[0].widgets:
            return match.group(0)
        return _UNSAFE.sub("_", js_string(found[0].widgets[widget]))

    return _TOKEN.sub(replace, text)
