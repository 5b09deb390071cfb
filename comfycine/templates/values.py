"""Typed parameter values: parsing text by kind, and checking bounds and choices.

Shared by the sidecar reader (defaults and choices are checked when a template loads)
and by binding (values from the command line).
"""

from __future__ import annotations

import math
import re
from typing import Any

from .placeholders import Kind, Parameter

# Both kinds take the same digits: ASCII 0-9 with an optional sign, spaces around
# stripped; no underscores, no other scripts' digits (float() alone would take "１２").
_INT_RE = re.compile(r"[+-]?[0-9]+")
_FLOAT_RE = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
TRUE_WORDS = frozenset({"true", "1", "yes", "on"})
FALSE_WORDS = frozenset({"false", "0", "no", "off"})


def coerce_value(kind: Kind, raw: object) -> Any:
    """The typed value of ``raw`` (command-line text or a JSON value) for ``kind``.

    Text numbers use the digits 0-9 with an optional sign, spaces around ignored, for
    both kinds (no ``1_000``, no full-width ``１２``). INT takes whole numbers only (no
    ``3.5`` or ``1e3``); FLOAT also a decimal point and an exponent, finite only;
    BOOL true/false, yes/no, on/off, 1/0 (any case); the string kinds and media take
    text as is (media paths are resolved by the caller). Raises ValueError with a
    message meant to follow the parameter name: ``"expects a whole number, got '3.5'"``.
    """
    if kind is Kind.INT:
        if isinstance(raw, int) and not isinstance(raw, bool):
            return raw
        if isinstance(raw, str) and _INT_RE.fullmatch(raw.strip()):
            return int(raw.strip())
        raise ValueError(f"expects a whole number (digits 0-9, an optional sign), got {_show(raw)}")
    if kind is Kind.FLOAT:
        number: float | None = None
        if isinstance(raw, int | float) and not isinstance(raw, bool):
            number = float(raw)
        elif isinstance(raw, str) and _FLOAT_RE.fullmatch(raw.strip()):
            number = float(raw.strip())
        if number is None or not math.isfinite(number):
            raise ValueError(
                f"expects a number (digits 0-9, an optional sign and decimal point), "
                f"got {_show(raw)}"
            )
        return number
    if kind is Kind.BOOL:
        if isinstance(raw, bool):
            return raw
        word = raw.strip().lower() if isinstance(raw, str) else None
        if word in TRUE_WORDS:
            return True
        if word in FALSE_WORDS:
            return False
        raise ValueError(f"expects true or false (or yes/no, on/off, 1/0), got {_show(raw)}")
    if isinstance(raw, str):
        return raw
    raise ValueError(f"expects text, got {_show(raw)}")


def _show(raw: object) -> str:
    return repr(raw) if isinstance(raw, str) else str(raw)


def _number(value: int | float) -> str:
    return str(int(value)) if isinstance(value, float) and value.is_integer() else str(value)


def describe_step(multiple_of: int, offset: int) -> str:
    """``a multiple of 16`` or ``4n+1``: the phrase used in messages and help."""
    rest = offset % multiple_of
    return f"a multiple of {multiple_of}" if rest == 0 else f"{multiple_of}n+{rest}"


def check_value(param: Parameter, value: Any) -> str | None:
    """The problem with a typed value (range, step, choice), or None when it is valid.

    Messages read ``frames must be 4n+1; got 20; nearest valid: 17 or 21``.
    """
    name = param.name
    if param.choices is not None and value not in param.choices:
        listed = ", ".join(str(c) for c in param.choices)
        message = f"{name} must be one of: {listed}; got {_show(value)}"
        if isinstance(value, str):
            import difflib

            close = difflib.get_close_matches(value, [str(c) for c in param.choices], n=1)
            if close:
                message += f" (did you mean {close[0]!r}?)"
        return message
    if not isinstance(value, int | float) or isinstance(value, bool):
        return None
    low, high = param.minimum, param.maximum
    if (low is not None and value < low) or (high is not None and value > high):
        if low is not None and high is not None:
            allowed = f"between {_number(low)} and {_number(high)}"
        elif low is not None:
            allowed = f"at least {_number(low)}"
        else:
            allowed = f"at most {_number(high)}"  # type: ignore[arg-type]
        return f"{name} must be {allowed}; got {_number(value)}"
    step = param.multiple_of
    if step is None or not isinstance(value, int) or (value - param.offset) % step == 0:
        return None
    lower = value - (value - param.offset) % step
    nearest = [
        str(n)
        for n in (lower, lower + step)
        if (low is None or n >= low) and (high is None or n <= high)
    ]
    message = f"{name} must be {describe_step(step, param.offset)}; got {value}"
    if nearest:
        message += "; nearest valid: " + " or ".join(nearest)
    return message
