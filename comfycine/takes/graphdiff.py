"""What differs between two API graphs, in words a person can check.

Used by ``retake`` to say how a template changed since a take was rendered: one line per
difference (a node gone or new, its class changed, an input changed, added or dropped).
Titles (``_meta``) are ignored: renaming a node changes nothing the server renders.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

_SHOWN = 40  # characters of a value shown in a difference


def _show(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= _SHOWN else text[: _SHOWN - 1] + "…"


def _node_label(node_id: str, node: Mapping[str, Any]) -> str:
    return f"node {node_id} ({node.get('class_type', '?')})"


def _inputs(node: Mapping[str, Any]) -> Mapping[str, Any]:
    inputs = node.get("inputs")
    return inputs if isinstance(inputs, Mapping) else {}


def _node_order(node_id: str) -> tuple[int, str]:
    return (int(node_id), "") if node_id.isdigit() else (1 << 62, node_id)


def graph_differences(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[str]:
    """Each difference from ``old`` to ``new``, in node order; [] when they render alike."""
    found: list[str] = []
    for node_id in sorted(set(old) | set(new), key=_node_order):
        before, after = old.get(node_id), new.get(node_id)
        if not isinstance(after, Mapping):
            if isinstance(before, Mapping):
                found.append(f"{_node_label(node_id, before)} is gone")
            continue
        if not isinstance(before, Mapping):
            found.append(f"{_node_label(node_id, after)} is new")
            continue
        if before.get("class_type") != after.get("class_type"):
            found.append(
                f"node {node_id} is {after.get('class_type')}, was {before.get('class_type')}"
            )
            continue
        found += _input_differences(_node_label(node_id, after), _inputs(before), _inputs(after))
    return found


def _input_differences(
    label: str, before: Mapping[str, Any], after: Mapping[str, Any]
) -> list[str]:
    found = []
    for name in sorted(set(before) | set(after)):
        if name not in after:
            found.append(f"{label} {name} dropped (was {_show(before[name])})")
        elif name not in before:
            found.append(f"{label} {name} added ({_show(after[name])})")
        elif before[name] != after[name]:
            found.append(f"{label} {name}: {_show(before[name])} → {_show(after[name])}")
    return found
