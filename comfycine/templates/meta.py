"""The ``NAME.meta.json`` sidecar: reading it and applying it to the scanned parameters.

The schema is documented in the package docstring (:mod:`comfycine.templates`). Every
problem is collected, so one error names them all.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from .placeholders import Kind, Parameter, is_literal_int
from .values import check_value, coerce_value

BOUND_KEYS = ("min", "max", "multiple_of", "offset")
SPEC_KEYS = ("default", *BOUND_KEYS, "choices", "help")
# The per-section maps of the flat form, and the spec key each one fills.
_SECTIONS = (("defaults", "default"), ("choices", "choices"), ("help", "help"))
SEED_MIN, SEED_MAX = 0, 2**64 - 1  # ComfyUI's own seed range


@dataclass(frozen=True)
class MetaInfo:
    """The parts of a sidecar that shape the parameters."""

    description: str = ""
    fixed_seed: bool = False
    specs: dict[str, dict[str, Any]] = field(default_factory=dict)


def _suggest(word: str, options: list[str]) -> str:
    import difflib

    close = difflib.get_close_matches(word, options, n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def parse_meta(raw: Any) -> tuple[MetaInfo, list[str]]:
    """Read a parsed sidecar into a :class:`MetaInfo`, with the list of problems found.

    Unknown top-level keys are kept (later features add their own); unknown keys inside
    ``bounds`` and ``parameters`` entries are problems, as are conflicting values given
    in both the flat and the per-parameter form.
    """
    if not isinstance(raw, dict):
        return MetaInfo(), ["must be a JSON object"]
    problems: list[str] = []
    specs: dict[str, dict[str, Any]] = {}

    def put(param: str, key: str, value: Any, where: str) -> None:
        spec = specs.setdefault(param, {})
        if key in spec and spec[key] != value:
            problems.append(f"{param}: {key!r} is given twice with different values ({where})")
        spec[key] = value

    description = raw.get("description", "")
    if not isinstance(description, str):
        problems.append("description must be a string")
        description = ""
    fixed_seed = raw.get("fixed_seed", False)
    if not isinstance(fixed_seed, bool):
        problems.append("fixed_seed must be true or false")
        fixed_seed = False
    for section, key in _SECTIONS:
        entries = raw.get(section)
        if entries is None:
            continue
        if not isinstance(entries, dict):
            problems.append(f"{section} must be an object mapping parameter names to values")
            continue
        for param, value in entries.items():
            put(param, key, value, section)
    for section, allowed in (("bounds", BOUND_KEYS), ("parameters", SPEC_KEYS)):
        entries = raw.get(section)
        if entries is None:
            continue
        if not isinstance(entries, dict) or not all(isinstance(v, dict) for v in entries.values()):
            problems.append(f"{section} must map parameter names to objects")
            continue
        for param, entry in entries.items():
            for key, value in entry.items():
                if key not in allowed:
                    problems.append(
                        f"{section}.{param}: unknown key {key!r}{_suggest(key, list(allowed))}"
                    )
                else:
                    put(param, key, value, section)
    for section in ("models", "custom_nodes"):
        if section in raw and not isinstance(raw[section], list):
            problems.append(f"{section} must be a list")
    return MetaInfo(description, fixed_seed, specs), problems


def _first_literal(param: Parameter, graph: Mapping[str, Any]) -> int | None:
    for target in param.targets:
        value = graph[target.node_id]["inputs"][target.input]
        if target.literal and is_literal_int(value):
            return int(value)
    return None


def _is_number(value: Any, kind: Kind) -> bool:
    if isinstance(value, bool):
        return False
    return isinstance(value, int) or (kind is Kind.FLOAT and isinstance(value, float))


def _apply_one(
    param: Parameter,
    spec: dict[str, Any],
    info: MetaInfo,
    graph: Mapping[str, Any],
    base_dir: Path,
    problems: list[str],
) -> Parameter:
    name, kind = param.name, param.kind
    start = len(problems)
    updates: dict[str, Any] = {}
    numeric = kind in (Kind.INT, Kind.FLOAT)
    for key, attr in (("min", "minimum"), ("max", "maximum")):
        if key in spec:
            if not numeric or not _is_number(spec[key], kind):
                problems.append(
                    f"{name}: {key} must be a number and needs an int or float parameter"
                )
            else:
                updates[attr] = spec[key]
    if param.is_seed:
        updates.setdefault("minimum", SEED_MIN)
        updates.setdefault("maximum", SEED_MAX)
    if "multiple_of" in spec:
        step = spec["multiple_of"]
        if kind is not Kind.INT or not _is_number(step, Kind.INT) or step < 1:
            problems.append(f"{name}: multiple_of must be a positive whole number, for int only")
        else:
            updates["multiple_of"] = step
    if "offset" in spec:
        if "multiple_of" not in spec or not _is_number(spec["offset"], Kind.INT):
            problems.append(f"{name}: offset must be a whole number, used with multiple_of")
        else:
            updates["offset"] = spec["offset"]
    if "choices" in spec:
        choices = spec["choices"]
        if kind.is_media or not isinstance(choices, list) or not choices:
            problems.append(f"{name}: choices must be a non-empty list, for a non-media parameter")
        else:
            try:
                updates["choices"] = tuple(coerce_value(kind, c) for c in choices)
            except ValueError as exc:
                problems.append(f"{name}: a choice {exc}")
    if "help" in spec:
        if isinstance(spec["help"], str):
            updates["help"] = spec["help"]
        else:
            problems.append(f"{name}: help must be a string")
    default = spec.get("default")
    if param.is_seed:
        updates["fixed"] = info.fixed_seed
        if default is not None and not info.fixed_seed:
            problems.append(f'{name}: a default seed is only used with "fixed_seed": true')
            default = None
        elif info.fixed_seed and default is None:
            default = _first_literal(param, graph)
            if default is None:
                problems.append(f'{name}: "fixed_seed" is true but {name} has no default')
    if default is not None:
        try:
            updates["default"] = coerce_value(kind, default)
        except ValueError as exc:
            problems.append(f"{name}: the default {exc}")
        else:
            if kind.is_media:
                path = Path(os.path.expanduser(default))
                updates["default"] = str(path if path.is_absolute() else base_dir / path)
    if len(problems) > start:
        return param
    param = replace(param, **updates)
    low, high = param.minimum, param.maximum
    if low is not None and high is not None and low > high:
        problems.append(f"{name}: min is greater than max")
    elif param.default is not None and not kind.is_media:
        message = check_value(param, param.default)
        if message:
            problems.append(f"default: {message}")
    return param


def apply_meta(
    parameters: Mapping[str, Parameter],
    info: MetaInfo,
    graph: Mapping[str, Any],
    base_dir: Path,
) -> tuple[dict[str, Parameter], list[str]]:
    """The parameters with the sidecar's defaults, bounds, choices and help applied.

    ``base_dir`` anchors relative media defaults (the template's own directory). Returns
    the new parameters and the problems found (a spec naming no parameter, a default out
    of bounds, a bound on a text parameter, ...).
    """
    problems: list[str] = []
    names = list(parameters)
    for name in info.specs:
        if name not in parameters:
            listed = ", ".join(names) or "none"
            problems.append(
                f"{name!r} is not a parameter of this template{_suggest(name, names)}; "
                f"parameters: {listed}"
            )
    applied = {
        name: _apply_one(param, info.specs.get(name, {}), info, graph, base_dir, problems)
        for name, param in parameters.items()
    }
    return applied, problems
