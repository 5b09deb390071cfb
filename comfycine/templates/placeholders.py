"""Placeholder grammar and the scan of a graph into template parameters.

A placeholder is an input value that is exactly one of::

    PARAM_PROMPT                      kind prompt, parameter "prompt"
    PARAM_{STR,INT,FLOAT,BOOL,COMBO}_NAME
    PARAM_{IMAGE,VIDEO,MASK}_NAME     media: a local file, uploaded before rendering
    PARAM_{IMAGE,VIDEO,MASK}          media without a name: parameter "image", "video", "mask"

``NAME`` is upper-case letters, digits and single underscores; the parameter name is
``NAME`` in lower case. Besides placeholders, every literal integer input called ``seed``
or ``noise_seed`` is a target of the parameter ``seed``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any


class Kind(StrEnum):
    """The type of a parameter, from its placeholder prefix."""

    PROMPT = "prompt"
    STR = "str"
    INT = "int"
    FLOAT = "float"
    BOOL = "bool"
    COMBO = "combo"
    IMAGE = "image"
    VIDEO = "video"
    MASK = "mask"

    @property
    def is_media(self) -> bool:
        """True for kinds whose value is a local file to upload."""
        return self in (Kind.IMAGE, Kind.VIDEO, Kind.MASK)


PLACEHOLDER_PREFIX = "PARAM_"
SEED_INPUTS = frozenset({"seed", "noise_seed"})
SEED_PARAMETER = "seed"

_PLACEHOLDER_RE = re.compile(
    r"PARAM_(PROMPT|STR|INT|FLOAT|BOOL|COMBO|IMAGE|VIDEO|MASK)(?:_([A-Z0-9]+(?:_[A-Z0-9]+)*))?"
)
# Anything that looks like a placeholder token, to catch typos and placeholders buried in text.
_TOKEN_RE = re.compile(r"(?<![A-Za-z0-9])PARAM_[A-Za-z0-9_]*")
_KIND_LIST = "PROMPT, STR, INT, FLOAT, BOOL, COMBO, IMAGE, VIDEO, MASK"


@dataclass(frozen=True)
class Target:
    """One node input a parameter writes to."""

    node_id: str
    input: str
    title: str
    literal: bool = False  # a literal seed input rather than a placeholder

    def label(self) -> str:
        """``node_id.input (title)``, as shown by ``workflow show``."""
        return f"{self.node_id}.{self.input} ({self.title})"


@dataclass(frozen=True)
class Parameter:
    """A template parameter: its type, where it goes, and what values it accepts.

    ``default`` is None when there is none. ``offset`` only matters with ``multiple_of``
    (``multiple_of=4, offset=1`` means 4n+1).
    """

    name: str
    kind: Kind
    placeholder: str | None
    targets: tuple[Target, ...]
    default: Any = None
    minimum: int | float | None = None
    maximum: int | float | None = None
    multiple_of: int | None = None
    offset: int = 0
    choices: tuple[Any, ...] | None = None
    help: str | None = None
    fixed: bool = False  # a seed kept at its default unless set

    @property
    def is_seed(self) -> bool:
        """True for int parameters named ``seed`` or ``*_seed``: randomized when unset."""
        return self.kind is Kind.INT and (
            self.name == SEED_PARAMETER or self.name.endswith("_seed")
        )

    @property
    def randomized(self) -> bool:
        """True when an unset value is replaced by a fresh random seed."""
        return self.is_seed and not self.fixed

    @property
    def required(self) -> bool:
        """True when the user must give a value (no default, not a random seed)."""
        return self.default is None and not self.randomized


class PlaceholderError(ValueError):
    """A string that looks like a placeholder but is not a valid one."""


def parse_placeholder(value: str) -> tuple[Kind, str] | None:
    """The (kind, parameter name) of a placeholder string, or None for ordinary text.

    Raises PlaceholderError for text that contains a ``PARAM_`` token without being
    exactly one valid placeholder (a typo, a missing name, a placeholder inside a longer
    string).
    """
    match = _PLACEHOLDER_RE.fullmatch(value)
    if match is None:
        token = _TOKEN_RE.search(value)
        if token is None:
            return None
        if token.group(0) != value:
            raise PlaceholderError(
                f"{token.group(0)} is inside a longer text; "
                "a placeholder must be the whole input value"
            )
        raise PlaceholderError(
            f"{value} is not a placeholder: expected PARAM_KIND_NAME with KIND one of {_KIND_LIST}"
        )
    kind, name = Kind(match.group(1).lower()), match.group(2)
    if kind is Kind.PROMPT:
        if name is not None:
            raise PlaceholderError(f"{value}: PARAM_PROMPT takes no name (use PARAM_STR_{name})")
        return kind, "prompt"
    if name is None:
        if kind.is_media:
            return kind, kind.value
        raise PlaceholderError(f"{value} needs a name, e.g. {value}_STEPS")
    return kind, name.lower()


def _iter_strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, list):
        for item in value:
            yield from _iter_strings(item)
    elif isinstance(value, dict):
        for item in value.values():
            yield from _iter_strings(item)


def node_title(node: Mapping[str, Any]) -> str:
    """The node's ``_meta.title``, or its class_type when it has none."""
    meta = node.get("_meta")
    title = meta.get("title") if isinstance(meta, dict) else None
    return title if isinstance(title, str) and title.strip() else str(node.get("class_type"))


def is_literal_int(value: Any) -> bool:
    """True for a JSON integer (bool is not one)."""
    return isinstance(value, int) and not isinstance(value, bool)


def scan_graph(graph: Mapping[str, Any]) -> tuple[dict[str, Parameter], list[str]]:
    """The parameters of a structurally valid graph, in order of first appearance.

    Returns the parameters and the list of problems found (malformed placeholders, two
    placeholders yielding one name). Parameters come without meta: no defaults, bounds.
    """
    found: dict[str, tuple[Kind, str | None, list[Target]]] = {}
    problems: list[str] = []
    for node_id, node in graph.items():
        title = node_title(node)
        for input_name, value in node["inputs"].items():
            where = f"node {node_id} ({title}) input {input_name!r}"
            if isinstance(value, str):
                try:
                    parsed = parse_placeholder(value)
                except PlaceholderError as exc:
                    problems.append(f"{where}: {exc}")
                    continue
                if parsed is None:
                    continue
                kind, name = parsed
                placeholder: str | None = value
                target = Target(node_id, input_name, title)
            elif input_name in SEED_INPUTS and is_literal_int(value):
                kind, name, placeholder = Kind.INT, SEED_PARAMETER, None
                target = Target(node_id, input_name, title, literal=True)
            else:
                for text in _iter_strings(value):
                    if _TOKEN_RE.search(text):
                        problems.append(
                            f"{where}: a placeholder must be the whole input value, "
                            f"not inside a list or object"
                        )
                        break
                continue
            if name not in found:
                found[name] = (kind, placeholder, [target])
                continue
            old_kind, old_placeholder, targets = found[name]
            if old_kind is not kind or (
                placeholder and old_placeholder and placeholder != old_placeholder
            ):
                problems.append(
                    f"{where}: {placeholder or 'literal seed'} and "
                    f"{old_placeholder or 'a literal seed input'} both give the parameter {name!r}"
                )
                continue
            targets.append(target)
            if old_placeholder is None and placeholder is not None:
                found[name] = (kind, placeholder, targets)
    parameters = {
        name: Parameter(name=name, kind=kind, placeholder=placeholder, targets=tuple(targets))
        for name, (kind, placeholder, targets) in found.items()
    }
    return parameters, problems


def find_placeholders(graph: Mapping[str, Any]) -> list[str]:
    """``node.input`` of every input value still equal to a placeholder string."""
    left: list[str] = []
    for node_id, node in graph.items():
        inputs = node.get("inputs") if isinstance(node, dict) else None
        for input_name, value in (inputs or {}).items():
            if isinstance(value, str) and _PLACEHOLDER_RE.fullmatch(value):
                left.append(f"{node_id}.{input_name} ({value})")
    return left
