"""UI (save) format -> API (prompt) format, as ComfyUI's frontend queues a graph.

The result is what the frontend's ``graphToPrompt`` sends (``comfyui-frontend-package``
1.32; its answers are recorded under ``tests/fixtures/frontend/``):

* widget values are read as the frontend loads them (:mod:`.widgets`): in the order of
  the node's current widgets, whatever version of the node saved them;
* a text with ``dynamicPrompts`` loses its comments and has its ``{a|b}`` choices drawn
  (:mod:`.dynprompt`); the draws are returned, so the same text can be made again;
* a save node's ``filename_prefix`` has its ``%Node.widget%`` and ``%date:...%``
  expanded (:mod:`.textreplace`);
* muted nodes (mode 2) are left out, and inputs that pointed at them are removed;
* links pass through bypassed nodes (mode 4), ``Reroute`` nodes and subgraph borders;
* a ``PrimitiveNode`` (frontend-only) sets the widget of each input it feeds directly;
* subgraphs are flattened: an inner node gets the id ``"<instance id>:<inner id>"``; an
  inner widget fed from the border gets the instance's (promoted) value as it is;
* a list widget value is wrapped as ``{"__value__": [...]}`` (a bare list is a link).

On purpose, a node whose class the catalog lacks keeps only its links (the frontend sends
its values as ``UNKNOWN``), so validation names it; and the frontend's own buttons
(LoadImageOutput's ``refresh``) are not sent. Whatever is lossy or ambiguous is reported
in :attr:`ConversionResult.warnings`.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ..errors import TemplateInvalid
from .dynprompt import Draws, resolve
from .schema import Catalog, NodeSchema
from .textreplace import SAVE_NODE_TYPES, expand
from .uigraph import (
    INPUT_NODE,
    MODE_BYPASS,
    MODE_NEVER,
    NOTE_TYPES,
    OUTPUT_NODE,
    PRIMITIVE_NODE,
    REROUTE_TYPES,
    Scope,
    as_int,
    border_inputs,
    bypass_input,
    input_name,
    inputs_of,
)
from .uistate import UNPACK_HINT, UiState
from .widgets import UNSET, Widget, node_widgets

__all__ = [
    "MODE_BYPASS",
    "MODE_NEVER",
    "ConversionResult",
    "PromptChoice",
    "is_ui_workflow",
    "ui_to_api",
]


@dataclass(frozen=True)
class PromptChoice:
    """One dynamic prompt as resolved: where, from which text, to which, by which draws."""

    node: str
    input: str
    template: str
    text: str
    choices: tuple[int, ...]

    @property
    def key(self) -> str:
        """``"<node id>.<input>"``, the key :func:`ui_to_api` takes recorded choices by."""
        return f"{self.node}.{self.input}"

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready form."""
        return {
            "node": self.node,
            "input": self.input,
            "template": self.template,
            "text": self.text,
            "choices": list(self.choices),
        }


@dataclass(frozen=True)
class ConversionResult:
    """An API graph converted from a UI workflow, what could not be carried over, and
    the dynamic prompts drawn (with the seed they were drawn from)."""

    graph: dict[str, Any]
    warnings: list[str] = field(default_factory=list)
    prompts: list[PromptChoice] = field(default_factory=list)
    seed: int | None = None

    def choices(self) -> dict[str, list[int]]:
        """The draws of every dynamic prompt, by ``"<node id>.<input>"``."""
        return {p.key: list(p.choices) for p in self.prompts}


def is_ui_workflow(data: Any) -> bool:
    """True for a UI (save) format workflow: a dict with a list ``nodes`` and list ``links``."""
    return (
        isinstance(data, dict)
        and isinstance(data.get("nodes"), list)
        and isinstance(data.get("links"), list)
    )


def ui_to_api(
    ui: dict[str, Any],
    catalog: Catalog,
    *,
    seed: int | None = None,
    choices: Mapping[str, Sequence[int]] | None = None,
    now: datetime | None = None,
) -> ConversionResult:
    """Convert a UI workflow (schema 0.4 or 1) into an API graph.

    Dynamic prompts draw from ``seed`` (a fresh one when None; the result says which),
    after the recorded ``choices`` of :meth:`ConversionResult.choices`, so the same seed
    or the same choices make the same texts. ``%date:...%`` reads ``now`` (default: the
    local time). Raises :class:`TemplateInvalid` when ``ui`` is not a UI workflow, when
    its links loop, or when it uses a legacy group node (which must be unpacked).
    """
    if not isinstance(ui, dict):
        raise TemplateInvalid(
            f"A UI workflow must be a JSON object, not {type(ui).__name__}.",
            hint="Save the workflow from ComfyUI (Workflow > Save) and try again.",
        )
    nodes = ui.get("nodes")
    if not isinstance(nodes, list) or not nodes:
        already_api = any(isinstance(v, dict) and "class_type" in v for v in ui.values())
        raise TemplateInvalid(
            "This workflow is already in API format; it needs no conversion."
            if already_api
            else "This is not a ComfyUI workflow: it has no list of nodes.",
            hint="Use the API file as it is."
            if already_api
            else "Save the workflow from ComfyUI (Workflow > Save) and try again.",
        )
    drawn_seed = seed if seed is not None else random.SystemRandom().randrange(2**32)
    return _Converter(ui, catalog, drawn_seed, choices or {}, now).run()


@dataclass(frozen=True)
class _Value:
    """An input resolved to a literal value (a promoted widget of a subgraph instance)."""

    value: Any


_Resolved = tuple[str, int] | _Value | None


def _wrap(value: Any) -> Any:
    return {"__value__": value} if isinstance(value, list) else value


class _Converter(UiState):
    """One conversion: walks the scopes, resolves links, emits API nodes."""

    def __init__(
        self,
        ui: dict[str, Any],
        catalog: Catalog,
        seed: int,
        choices: Mapping[str, Sequence[int]],
        now: datetime | None,
    ) -> None:
        super().__init__(ui, catalog, now)
        self.seed = seed
        self.choices = choices
        self.warnings: list[str] = []
        self.prompts: list[PromptChoice] = []
        self.graph: dict[str, Any] = {}
        self.left_out: dict[str, str] = {}  # exec id -> why it is not in the graph

    # --- walking ------------------------------------------------------------------

    def run(self) -> ConversionResult:
        self._emit_scope(self.root)
        self._drop_dangling_links()
        return ConversionResult(self.graph, self.warnings, self.prompts, self.seed)

    def _emit_scope(self, scope: Scope) -> None:
        for node_id, node in scope.nodes.items():
            kind = str(node.get("type"))
            mode = as_int(node.get("mode"), 0)
            if kind in self.group_nodes or kind.startswith(("workflow>", "workflow/")):
                raise TemplateInvalid(
                    f"{self.label(scope, node)} is a group node, which cannot be converted.",
                    hint=UNPACK_HINT,
                )
            if kind in self.subgraphs:
                child = self.child(scope, node)
                if mode in (MODE_NEVER, MODE_BYPASS):
                    self._warn_running_inside(scope, node, child, mode)
                self._emit_scope(child)
                continue
            if kind in NOTE_TYPES or kind in REROUTE_TYPES or kind == PRIMITIVE_NODE:
                continue
            if mode in (MODE_NEVER, MODE_BYPASS):
                why = "muted" if mode == MODE_NEVER else "bypassed"
                self.left_out[scope.exec_id(node_id)] = why
                continue
            self.graph[scope.exec_id(node_id)] = self._convert_node(scope, node)

    def _warn_running_inside(
        self, scope: Scope, instance: dict[str, Any], child: Scope, mode: int
    ) -> None:
        """A muted or bypassed subgraph whose inner nodes are not: they still run.

        Muting a subgraph in ComfyUI mutes every node inside it too; the frontend queues
        each inner node by its own mode, so a file edited by hand runs them.
        """
        running = [
            i
            for i, n in child.nodes.items()
            if as_int(n.get("mode"), 0) not in (MODE_NEVER, MODE_BYPASS)
            and str(n.get("type")) in self.catalog
        ]
        if running:
            why = "muted" if mode == MODE_NEVER else "bypassed"
            self.warnings.append(
                f"{self.label(scope, instance)} is {why} but nodes "
                f"{', '.join(child.exec_id(i) for i in running)} inside it are not, so they "
                f"run (as in ComfyUI); set the mode in ComfyUI to have them {why} too"
            )

    def _convert_node(self, scope: Scope, node: dict[str, Any]) -> dict[str, Any]:
        kind = str(node.get("type"))
        schema = self.catalog.get(kind)
        linked: dict[str, Any] = {}
        for entry in inputs_of(node):
            if entry.get("link") is None:
                continue
            resolved = self._resolve_input(scope, node, entry, None, set())
            if isinstance(resolved, _Value):
                if resolved.value is not UNSET:
                    linked[input_name(entry)] = _wrap(resolved.value)
            elif resolved is not None:
                linked[input_name(entry)] = [resolved[0], resolved[1]]
        inputs: dict[str, Any] = {}
        if schema is None:
            self.warnings.append(
                f"{self.label(scope, node)}: class {kind!r} is not installed on the server; "
                "only its links were kept (install the custom node, then convert again)"
            )
        else:
            values = self.widget_values(scope, node)
            for problem in self.problems.get((id(scope), str(node.get("id"))), ()):
                self.warnings.append(f"{self.label(scope, node)}: {problem}")
            for widget in node_widgets(schema):
                if widget.spec is None or widget.name in linked:
                    continue
                if widget.browser:
                    self.warnings.append(
                        f"{self.label(scope, node)}: input {widget.name!r} is made by the "
                        "browser when ComfyUI queues the graph; it was left unset"
                    )
                    continue
                value = values.get(widget.name, UNSET)
                if value is not UNSET:
                    inputs[widget.name] = _wrap(self._serialize(scope, node, schema, widget, value))
        inputs.update(linked)
        return {
            "inputs": _in_schema_order(inputs, schema),
            "class_type": kind,
            "_meta": {"title": self.title(node)},
        }

    def _serialize(
        self, scope: Scope, node: dict[str, Any], schema: NodeSchema, widget: Widget, value: Any
    ) -> Any:
        """A widget's value as the frontend sends it: prompts drawn, file names expanded."""
        node_id = scope.exec_id(str(node.get("id")))
        if (id(scope), str(node.get("id")), widget.name) in self.expanded:
            value = expand(value, self.table(), self.now)
        if widget.dynamic_prompts and isinstance(value, str):
            key = f"{node_id}.{widget.name}"
            draws = Draws(f"{self.seed}:{key}", replay=self.choices.get(key, ()))
            text = resolve(value, draws)
            if text != value or draws.drawn:
                self.prompts.append(
                    PromptChoice(node_id, widget.name, value, text, tuple(draws.drawn))
                )
            value = text
        is_prefix = schema.name in SAVE_NODE_TYPES and widget.name == "filename_prefix"
        if is_prefix and isinstance(value, str):
            value = expand(value, self.table(), self.now)
        return value

    def _drop_dangling_links(self) -> None:
        for node_id, node in self.graph.items():
            for name, value in list(node["inputs"].items()):
                if isinstance(value, list) and len(value) == 2 and value[0] not in self.graph:
                    del node["inputs"][name]
                    why = self.left_out.get(value[0], "missing")
                    self.warnings.append(
                        f"node {node_id} ({node['class_type']}): input {name!r} came from "
                        f"node {value[0]}, which is {why}; the input was removed"
                    )

    # --- link resolution (the frontend's ExecutableNodeDTO rules) -------------------

    def _circle(self, scope: Scope, node: dict[str, Any]) -> TemplateInvalid:
        return TemplateInvalid(
            f"The links of {self.label(scope, node)} go round in a circle.",
            hint="Fix the links in ComfyUI and save again.",
        )

    def _resolve_input(
        self,
        scope: Scope,
        node: dict[str, Any],
        entry: dict[str, Any],
        wanted: str | None,
        visited: set[tuple[int, str, str]],
    ) -> _Resolved:
        key = (id(scope), str(node.get("id")), "I" + input_name(entry))
        if key in visited:
            raise self._circle(scope, node)
        visited.add(key)
        link = scope.links.get(str(entry.get("link")))
        if link is None:
            self.warnings.append(
                f"{self.label(scope, node)}: input {input_name(entry)!r} names link "
                f"{entry.get('link')}, which does not exist; left unset"
            )
            return None
        if link.origin == INPUT_NODE and scope.instance is not None:
            return self._resolve_border_input(scope, link.slot, visited)
        origin = scope.nodes.get(link.origin)
        if origin is None:
            self.warnings.append(
                f"{self.label(scope, node)}: input {input_name(entry)!r} comes from node "
                f"{link.origin}, which does not exist; left unset"
            )
            return None
        if origin.get("type") == PRIMITIVE_NODE:
            # A primitive only sets the widget it is linked to straight (_primitives_into).
            if node.get("type") in REROUTE_TYPES or as_int(node.get("mode"), 0) == MODE_BYPASS:
                self.warnings.append(
                    f"{self.label(scope, node)} passes on a PrimitiveNode's value, which "
                    "ComfyUI's frontend ignores; the widget it reaches keeps its own value"
                )
            return None
        return self._resolve_output(scope, origin, link.slot, wanted or entry.get("type"), visited)

    def _resolve_output(
        self,
        scope: Scope,
        node: dict[str, Any],
        slot: int,
        wanted: Any,
        visited: set[tuple[int, str, str]],
    ) -> _Resolved:
        key = (id(scope), str(node.get("id")), f"O{slot}")
        if key in visited:
            raise self._circle(scope, node)
        visited.add(key)
        kind = str(node.get("type"))
        if as_int(node.get("mode"), 0) == MODE_BYPASS:
            index = bypass_input(node, slot, str(wanted or ""))
            if index < 0:
                self.warnings.append(
                    f"{self.label(scope, node)} is bypassed but has no input of type "
                    f"{wanted}; the input it fed was left unset"
                )
                return None
            return self._resolve_input(scope, node, inputs_of(node)[index], None, visited)
        if kind in self.subgraphs:
            return self._resolve_subgraph_output(scope, node, slot, wanted, visited)
        if kind in REROUTE_TYPES:
            entries = inputs_of(node)
            if slot < len(entries) and entries[slot].get("link") is not None:
                return self._resolve_input(scope, node, entries[slot], wanted, visited)
            return None
        return (scope.exec_id(str(node.get("id"))), slot)

    def _resolve_subgraph_output(
        self,
        scope: Scope,
        instance: dict[str, Any],
        slot: int,
        wanted: Any,
        visited: set[tuple[int, str, str]],
    ) -> _Resolved:
        child = self.child(scope, instance)
        link = next(
            (
                lk
                for lk in child.links.values()
                if lk.target == OUTPUT_NODE and lk.target_slot == slot
            ),
            None,
        )
        if link is None:
            self.warnings.append(
                f"{self.label(scope, instance)}: output {slot} is not connected inside the "
                "subgraph; the input it fed was left unset"
            )
            return None
        if link.origin == INPUT_NODE:
            return self._resolve_border_input(child, link.slot, visited)
        origin = child.nodes.get(link.origin)
        if origin is None:
            return None
        return self._resolve_output(child, origin, link.slot, wanted, visited)

    def _resolve_border_input(
        self, child: Scope, index: int, visited: set[tuple[int, str, str]]
    ) -> _Resolved:
        """What feeds input ``index`` of a subgraph: the outer link, or a promoted widget."""
        assert child.instance is not None and child.parent is not None
        border = border_inputs(child.definition)
        if not 0 <= index < len(border):
            return None
        name = border[index]
        outer = next((e for e in inputs_of(child.instance) if e.get("name") == name), None)
        if outer is not None and outer.get("link") is not None:
            return self._resolve_input(child.parent, child.instance, outer, None, visited)
        promoted = self.promoted_values(child)
        return _Value(promoted[name]) if name in promoted else None


def _in_schema_order(inputs: dict[str, Any], schema: NodeSchema | None) -> dict[str, Any]:
    if schema is None:
        return inputs
    ordered = {k: inputs[k] for k in schema.inputs if k in inputs}
    ordered.update({k: v for k, v in inputs.items() if k not in ordered})
    return ordered
