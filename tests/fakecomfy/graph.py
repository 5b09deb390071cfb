"""Execution order and cache keys for a prompt, following ComfyUI's rules.

The order matters to clients only through the sequence of ``executing`` messages, but a
fake that orders nodes differently from the real server makes recorded sequences
useless as test oracles. ComfyUI 0.3.75 walks the graph depth-first from each output
node (inputs pushed on a stack, so the last input is visited first), then repeatedly
runs the first ready node, preferring output nodes, then nodes feeding an output
directly, then nodes two links away. Cached nodes are never scheduled, except output
nodes, which replay their UI (``executed``) from the cache.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from typing import Any


def is_link(value: Any) -> bool:
    """Tell whether an input value is a ``[node_id, slot]`` link."""
    return (
        isinstance(value, list)
        and len(value) == 2
        and isinstance(value[0], str)
        and isinstance(value[1], int | float)
    )


class ExecutionOrder:
    """The set of nodes still to run, dissolved one ready node at a time."""

    def __init__(
        self,
        prompt: dict[str, Any],
        is_output: Callable[[str], bool],
        is_cached: Callable[[str], bool],
    ) -> None:
        self._prompt = prompt
        self._is_output = is_output
        self._is_cached = is_cached
        self._pending: dict[str, None] = {}
        self._block_count: dict[str, int] = {}
        self._blocking: dict[str, dict[str, None]] = {}

    def add_node(self, node_id: str) -> None:
        """Schedule ``node_id`` and, recursively, every uncached node it depends on."""
        stack = [node_id]
        links: list[tuple[str, str]] = []
        while stack:
            current = stack.pop()
            if current in self._pending:
                continue
            self._pending[current] = None
            self._block_count[current] = 0
            self._blocking[current] = {}
            for value in self._prompt[current]["inputs"].values():
                if is_link(value):
                    if not self._is_cached(value[0]):
                        stack.append(value[0])
                    links.append((value[0], current))
        for source, target in links:
            if self._is_cached(source):
                continue
            self.add_node(source)
            if target not in self._blocking[source]:
                self._blocking[source][target] = None
                self._block_count[target] += 1

    def is_empty(self) -> bool:
        """Tell whether every scheduled node has completed."""
        return not self._pending

    def next_node(self) -> str:
        """Return the node to run next.

        Raises:
            RuntimeError: nothing is ready although nodes remain (a dependency cycle).
        """
        ready = [node for node in self._pending if self._block_count[node] == 0]
        if not ready:
            raise RuntimeError("Dependency cycle detected")
        for node in ready:
            if self._is_output(node):
                return node
        for node in ready:
            if any(self._is_output(blocked) for blocked in self._blocking[node]):
                return node
        for node in ready:
            for blocked in self._blocking[node]:
                if any(self._is_output(further) for further in self._blocking[blocked]):
                    return node
        return ready[0]

    def complete(self, node_id: str) -> None:
        """Mark ``node_id`` done, unblocking the nodes that consume it."""
        del self._pending[node_id]
        for blocked in self._blocking.pop(node_id):
            self._block_count[blocked] -= 1


def cache_keys(prompt: dict[str, Any], tokens: dict[str, str]) -> dict[str, str]:
    """Return a cache key per node: its class, constant inputs and upstream keys.

    ``tokens`` adds what a node's ``IS_CHANGED`` would report (e.g. an input file hash).
    Two runs of an identical graph get identical keys, so the second is fully cached.
    """
    keys: dict[str, str] = {}

    def key_of(node_id: str) -> str:
        if node_id in keys:
            return keys[node_id]
        node = prompt[node_id]
        parts: list[Any] = [node["class_type"], tokens.get(node_id, "")]
        for name in sorted(node["inputs"]):
            value = node["inputs"][name]
            if is_link(value) and value[0] in prompt:
                parts.append([name, key_of(value[0]), value[1]])
            else:
                parts.append([name, value])
        digest = hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode())
        keys[node_id] = digest.hexdigest()
        return keys[node_id]

    for node_id in prompt:
        key_of(node_id)
    return keys
