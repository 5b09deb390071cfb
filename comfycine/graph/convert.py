"""UI (save) format -> API (prompt) format, driven by the server's node schemas.

The result matches what the ComfyUI frontend's ``graphToPrompt`` would queue:

* widget values are named with the catalog's input order (required then optional); an
  INT with ``control_after_generate`` (and an INT called ``seed``/``noise_seed``) and an
  upload combo take one extra, unnamed slot in ``widgets_values``;
* muted nodes (mode 2) are left out, and inputs that pointed at them are removed;
* links pass through bypassed nodes (mode 4), ``Reroute`` nodes and subgraph borders;
* a ``PrimitiveNode`` (frontend-only) gives its value to every input it feeds;
* subgraphs are flattened: an inner node gets the id ``"<instance id>:<inner id>"``;
* a list widget value is wrapped as ``{"__value__": [...]}`` (a bare list is a link).

A node whose class the catalog lacks keeps only its links, so validation names it.
Whatever is lossy or ambiguous is reported in :attr:`ConversionResult.warnings`.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from ..errors import TemplateInvalid
from .schema import Catalog, InputSpec, NodeSchema

MODE_NEVER = 2  # "muted": not run
MODE_BYPASS = 4  # not run; its outputs are wired to its inputs of the same type
NOTE_TYPES = frozenset({"Note", "MarkdownNote"})  # frontend-only, carry no data
REROUTE_TYPES = frozenset({"Reroute", "Reroute (rgthree)"})
PRIMITIVE_NODE = "PrimitiveNode"
SEED_WIDGETS = frozenset({"seed", "noise_seed"})
INPUT_NODE, OUTPUT_NODE = "-10", "-20"  # a subgraph's border nodes in its links
UNPACK_HINT = "Open it in ComfyUI, right-click the node, Convert to nodes (unpack), save again."


@dataclass(frozen=True)
class ConversionResult:
    """An API graph converted from a UI workflow, and what could not be carried over."""

    graph: dict[str, Any]
    warnings: list[str] = field(default_factory=list)


def is_ui_workflow(data: Any) -> bool:
    """True for a UI (save) format workflow: a dict with a list ``nodes`` and list ``links``."""
    return (
        isinstance(data, dict)
        and isinstance(data.get("nodes"), list)
        and isinstance(data.get("links"), list)
    )


def ui_to_api(ui: dict[str, Any], catalog: Catalog) -> ConversionResult:
    """Convert a UI workflow (schema 0.4 or 1) into an API graph.

    Raises :class:`TemplateInvalid` when ``ui`` is not a UI workflow, when its links
    loop, or when it uses a legacy group node (which must be unpacked in ComfyUI).
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
    return _Converter(ui, catalog).run()


@dataclass(frozen=True)
class _Link:
    origin: str
    slot: int
    target: str
    target_slot: int
    type: str


@dataclass(frozen=True)
class _Value:
    """An input resolved to a literal value (from a PrimitiveNode or a promoted widget)."""

    value: Any


_Resolved = tuple[str, int] | _Value | None


@dataclass(eq=False)
class _Scope:
    """One graph level: the root, or one instance of a subgraph definition."""

    nodes: dict[str, dict[str, Any]]
    links: dict[str, _Link]
    path: tuple[str, ...] = ()
    definition: dict[str, Any] | None = None
    instance: dict[str, Any] | None = None
    parent: _Scope | None = None

    def exec_id(self, node_id: str) -> str:
        """The id the node gets in the API graph."""
        return ":".join((*self.path, node_id))


def _int(value: Any, default: int = -1) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


def _parse_links(raw: Any) -> dict[str, _Link]:
    """Links of schema 0.4 (tuples) and schema 1 (objects), by link id."""
    links: dict[str, _Link] = {}
    for item in raw if isinstance(raw, list) else ():
        if isinstance(item, list) and len(item) >= 5:
            key, origin, slot, target, target_slot = item[:5]
            kind = item[5] if len(item) > 5 else ""
        elif isinstance(item, dict):
            key, origin, slot = item.get("id"), item.get("origin_id"), item.get("origin_slot")
            target, target_slot, kind = (
                item.get("target_id"),
                item.get("target_slot"),
                item.get("type", ""),
            )
        else:
            continue
        links[str(key)] = _Link(str(origin), _int(slot), str(target), _int(target_slot), str(kind))
    return links


def _nodes_by_id(raw: Any) -> dict[str, dict[str, Any]]:
    return (
        {str(n.get("id")): n for n in raw if isinstance(n, dict)} if isinstance(raw, list) else {}
    )


def _inputs(node: dict[str, Any]) -> list[dict[str, Any]]:
    return [i for i in node.get("inputs") or () if isinstance(i, dict)]


def _input_name(entry: dict[str, Any]) -> str:
    widget = entry.get("widget")
    if isinstance(widget, dict) and isinstance(widget.get("name"), str):
        return str(widget["name"])
    return str(entry.get("name", ""))


def _types_match(a: Any, b: Any) -> bool:
    """LiteGraph's rule: "*"/"" match anything; "A,B" matches either (case-insensitive)."""
    left, right = str(a or "").lower().split(","), str(b or "").lower().split(",")
    return any(x in ("", "*") or y in ("", "*") or x == y for x in left for y in right)


def _bypass_input(node: dict[str, Any], slot: int, wanted: str) -> int:
    """The input a bypassed node's output ``slot`` is wired to (the frontend's rule), or -1."""
    inputs = _inputs(node)
    outputs = [o for o in node.get("outputs") or () if isinstance(o, dict)]
    out_type = outputs[slot].get("type", "") if 0 <= slot < len(outputs) else ""
    if wanted in ("*", ""):
        return slot if len(inputs) > slot else (0 if inputs else -1)
    if (
        0 <= slot < len(inputs)
        and _types_match(inputs[slot].get("type"), out_type)
        and _types_match(inputs[slot].get("type"), wanted)
    ):
        return slot
    for index, entry in enumerate(inputs):
        if entry.get("type") == wanted:
            return index
    for index, entry in enumerate(inputs):
        if _types_match(entry.get("type"), out_type) and _types_match(entry.get("type"), wanted):
            return index
    return -1


def _wrap(value: Any) -> Any:
    return {"__value__": value} if isinstance(value, list) else value


def _has_extra_slot(spec: InputSpec, seed_rule: bool) -> bool:
    seed_like = seed_rule and spec.type == "INT" and spec.name in SEED_WIDGETS and spec.widget
    return spec.control_after_generate or seed_like or spec.upload is not None


def widget_layouts(specs: list[InputSpec], linked: set[str]) -> list[list[str | None]]:
    """Candidate meanings of ``widgets_values`` slots, most likely first (None = unnamed).

    The first is what current frontends save; the others cover older saves: no control
    slot on a seed named by convention only, a slot for ``forceInput`` primitives, no
    slot for widgets turned into linked inputs, and no extra slots at all.
    """

    def build(
        seed_rule: bool = True, force: bool = False, skip_linked: bool = False, extra: bool = True
    ) -> list[str | None]:
        slots: list[str | None] = []
        for spec in specs:
            if not (spec.widget or (force and spec.force_input)):
                continue
            if skip_linked and spec.name in linked:
                continue
            slots.append(spec.name)
            if extra and _has_extra_slot(spec, seed_rule):
                slots.append(None)
        return slots

    layouts: list[list[str | None]] = []
    for layout in (
        build(),
        build(seed_rule=False),
        build(force=True),
        build(skip_linked=True),
        build(extra=False),
    ):
        if layout not in layouts:
            layouts.append(layout)
    return layouts


def map_widget_values(
    specs: list[InputSpec], values: Any, linked: set[str]
) -> tuple[dict[str, Any], str | None]:
    """Name a node's ``widgets_values`` from its input specs; returns (values, problem).

    The layout whose slot count matches is used; when none does, the current frontend's
    layout is applied in order, missing values take the schema default, and ``problem``
    says so. A dict (some custom nodes save one) is read by name.
    """
    named: dict[str, Any] = {}
    if isinstance(values, dict):
        for spec in specs:
            if spec.widget and spec.name in values and values[spec.name] is not None:
                named[spec.name] = values[spec.name]
        return named, None
    values = values if isinstance(values, list) else []
    layouts = widget_layouts(specs, linked)
    layout = next((lay for lay in layouts if len(lay) == len(values)), None)
    problem = None
    if layout is None:
        layout = layouts[0]
        problem = f"{len(values)} widget values where {len(layout)} were expected; read in order"
    for index, name in enumerate(layout):
        if name is None:
            continue
        if index < len(values):
            if values[index] is not None:
                named[name] = values[index]
        else:
            default = next((s.default for s in specs if s.name == name), None)
            if default is not None:
                named[name] = default
    return named, problem


class _Converter:
    """One conversion: walks the scopes, resolves links, emits API nodes."""

    def __init__(self, ui: dict[str, Any], catalog: Catalog) -> None:
        self.catalog = catalog
        self.warnings: list[str] = []
        definitions = ui.get("definitions") if isinstance(ui.get("definitions"), dict) else {}
        subgraphs = definitions.get("subgraphs") if isinstance(definitions, dict) else None
        self.subgraphs: dict[str, dict[str, Any]] = {
            str(s.get("id")): s for s in subgraphs or () if isinstance(s, dict)
        }
        extra = ui.get("extra") if isinstance(ui.get("extra"), dict) else {}
        self.group_nodes = set((extra or {}).get("groupNodes") or {})
        self.root = _Scope(_nodes_by_id(ui.get("nodes")), _parse_links(ui.get("links")))
        self.children: dict[str, _Scope] = {}
        self.graph: dict[str, Any] = {}
        self.left_out: dict[str, str] = {}  # exec id -> why it is not in the graph
        self.promoted: dict[str, dict[str, Any]] = {}  # instance exec id -> widget values

    # --- walking ------------------------------------------------------------------

    def run(self) -> ConversionResult:
        self._emit_scope(self.root, inherited_mode=0)
        self._drop_dangling_links()
        return ConversionResult(self.graph, self.warnings)

    def _label(self, scope: _Scope, node: dict[str, Any]) -> str:
        kind = str(node.get("type"))
        name = self.subgraphs[kind].get("name") if kind in self.subgraphs else None
        return f"node {scope.exec_id(str(node.get('id')))} ({name or kind})"

    def _child(self, scope: _Scope, instance: dict[str, Any]) -> _Scope:
        key = scope.exec_id(str(instance.get("id")))
        if key not in self.children:
            kind = str(instance.get("type"))
            ancestor: _Scope | None = scope
            while ancestor is not None:
                if ancestor.definition is not None and ancestor.definition.get("id") == kind:
                    raise TemplateInvalid(
                        f"Subgraph {self.subgraphs[kind].get('name') or kind!r} contains itself.",
                        hint=UNPACK_HINT,
                    )
                ancestor = ancestor.parent
            definition = self.subgraphs[kind]
            self.children[key] = _Scope(
                _nodes_by_id(definition.get("nodes")),
                _parse_links(definition.get("links")),
                (*scope.path, str(instance.get("id"))),
                definition,
                instance,
                scope,
            )
        return self.children[key]

    def _emit_scope(self, scope: _Scope, inherited_mode: int) -> None:
        for node_id, node in scope.nodes.items():
            kind = str(node.get("type"))
            mode = inherited_mode or _int(node.get("mode"), 0)
            if kind in self.group_nodes or kind.startswith(("workflow>", "workflow/")):
                raise TemplateInvalid(
                    f"{self._label(scope, node)} is a group node, which cannot be converted.",
                    hint=UNPACK_HINT,
                )
            if kind in self.subgraphs:
                # Inner nodes of a muted or bypassed instance do not run either.
                inner_mode = mode if mode in (MODE_NEVER, MODE_BYPASS) else 0
                self._emit_scope(self._child(scope, node), inner_mode)
                continue
            if kind in NOTE_TYPES or kind in REROUTE_TYPES or kind == PRIMITIVE_NODE:
                continue
            if mode in (MODE_NEVER, MODE_BYPASS):
                why = "muted" if mode == MODE_NEVER else "bypassed"
                self.left_out[scope.exec_id(node_id)] = why
                continue
            self.graph[scope.exec_id(node_id)] = self._convert_node(scope, node)

    def _convert_node(self, scope: _Scope, node: dict[str, Any]) -> dict[str, Any]:
        kind = str(node.get("type"))
        schema = self.catalog.get(kind)
        entries = _inputs(node)
        inputs: dict[str, Any] = {}
        if schema is None:
            self.warnings.append(
                f"{self._label(scope, node)}: class {kind!r} is not installed on the server; "
                "only its links were kept (install the custom node, then convert again)"
            )
        else:
            linked = {_input_name(e) for e in entries if e.get("link") is not None}
            specs = list(schema.inputs.values())
            values, problem = map_widget_values(specs, node.get("widgets_values"), linked)
            if problem:
                self.warnings.append(f"{self._label(scope, node)}: {problem}")
            inputs.update({k: _wrap(v) for k, v in values.items()})
        for entry in entries:
            if entry.get("link") is None:
                continue
            resolved = self._resolve_input(scope, node, entry, None, set())
            if isinstance(resolved, _Value):
                if resolved.value is not None:
                    inputs[_input_name(entry)] = _wrap(resolved.value)
            elif resolved is not None:
                inputs[_input_name(entry)] = [resolved[0], resolved[1]]
        title = node.get("title") or (schema.display_name if schema else None) or kind
        return {
            "inputs": _in_schema_order(inputs, schema),
            "class_type": kind,
            "_meta": {"title": str(title)},
        }

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

    def _resolve_input(
        self,
        scope: _Scope,
        node: dict[str, Any],
        entry: dict[str, Any],
        wanted: str | None,
        visited: set[tuple[int, str, str]],
    ) -> _Resolved:
        key = (id(scope), str(node.get("id")), "I" + _input_name(entry))
        if key in visited:
            raise TemplateInvalid(
                f"The links of {self._label(scope, node)} go round in a circle.",
                hint="Fix the links in ComfyUI and save again.",
            )
        visited.add(key)
        link = scope.links.get(str(entry.get("link")))
        if link is None:
            self.warnings.append(
                f"{self._label(scope, node)}: input {_input_name(entry)!r} names link "
                f"{entry.get('link')}, which does not exist; left unset"
            )
            return None
        if link.origin == INPUT_NODE and scope.instance is not None:
            return self._resolve_border_input(scope, link.slot, visited)
        origin = scope.nodes.get(link.origin)
        if origin is None:
            self.warnings.append(
                f"{self._label(scope, node)}: input {_input_name(entry)!r} comes from node "
                f"{link.origin}, which does not exist; left unset"
            )
            return None
        return self._resolve_output(scope, origin, link.slot, wanted or entry.get("type"), visited)

    def _resolve_output(
        self,
        scope: _Scope,
        node: dict[str, Any],
        slot: int,
        wanted: Any,
        visited: set[tuple[int, str, str]],
    ) -> _Resolved:
        key = (id(scope), str(node.get("id")), f"O{slot}")
        if key in visited:
            raise TemplateInvalid(
                f"The links of {self._label(scope, node)} go round in a circle.",
                hint="Fix the links in ComfyUI and save again.",
            )
        visited.add(key)
        kind = str(node.get("type"))
        if kind == PRIMITIVE_NODE:
            values = node.get("widgets_values")
            return _Value(values[0]) if isinstance(values, list) and values else None
        if _int(node.get("mode"), 0) == MODE_BYPASS:
            index = _bypass_input(node, slot, str(wanted or ""))
            if index < 0:
                self.warnings.append(
                    f"{self._label(scope, node)} is bypassed but has no input of type "
                    f"{wanted}; the input it fed was left unset"
                )
                return None
            return self._resolve_input(scope, node, _inputs(node)[index], None, visited)
        if kind in self.subgraphs:
            return self._resolve_subgraph_output(scope, node, slot, wanted, visited)
        if kind in REROUTE_TYPES:
            entries = _inputs(node)
            if slot < len(entries) and entries[slot].get("link") is not None:
                return self._resolve_input(scope, node, entries[slot], wanted, visited)
            return None
        return (scope.exec_id(str(node.get("id"))), slot)

    def _resolve_subgraph_output(
        self,
        scope: _Scope,
        instance: dict[str, Any],
        slot: int,
        wanted: Any,
        visited: set[tuple[int, str, str]],
    ) -> _Resolved:
        child = self._child(scope, instance)
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
                f"{self._label(scope, instance)}: output {slot} is not connected inside the "
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
        self, child: _Scope, index: int, visited: set[tuple[int, str, str]]
    ) -> _Resolved:
        """What feeds input ``index`` of a subgraph: the outer link, or a promoted widget."""
        assert child.instance is not None and child.parent is not None
        border = _border_inputs(child.definition)
        if not 0 <= index < len(border):
            return None
        name = border[index]
        outer = next((e for e in _inputs(child.instance) if e.get("name") == name), None)
        if outer is not None and outer.get("link") is not None:
            return self._resolve_input(child.parent, child.instance, outer, None, visited)
        promoted = self._promoted_values(child)
        return _Value(promoted[name]) if name in promoted else None

    def _promoted_values(self, child: _Scope) -> dict[str, Any]:
        """Values of the instance's own widgets (subgraph inputs that feed a widget)."""
        assert child.instance is not None
        key = ":".join(child.path)
        if key not in self.promoted:
            self.promoted[key] = self._read_promoted_values(child)
        return self.promoted[key]

    def _read_promoted_values(self, child: _Scope) -> dict[str, Any]:
        assert child.instance is not None
        names = _border_inputs(child.definition)
        specs: list[InputSpec] = []
        for index, name in enumerate(names):
            spec = self._border_widget_spec(child, index)
            if spec is not None:
                specs.append(replace(spec, name=name))
        values = child.instance.get("widgets_values")
        if not specs or not values:
            return {}
        named, problem = map_widget_values(specs, values, set())
        if problem:
            self.warnings.append(
                f"{self._label(child.parent or self.root, child.instance)}: {problem}"
            )
        return named

    def _border_widget_spec(self, child: _Scope, index: int) -> InputSpec | None:
        """The spec of the inner widget that subgraph input ``index`` feeds, if any."""
        for link_id, link in child.links.items():
            if link.origin != INPUT_NODE or link.slot != index:
                continue
            target = child.nodes.get(link.target)
            schema = self.catalog.get(str(target.get("type"))) if target else None
            if target is None or schema is None:
                continue
            entry = next((e for e in _inputs(target) if str(e.get("link")) == link_id), None)
            spec = schema.inputs.get(_input_name(entry)) if entry else None
            if spec is not None and spec.widget:
                return spec
        return None


def _border_inputs(definition: dict[str, Any] | None) -> list[str]:
    raw = (definition or {}).get("inputs")
    return [str(i.get("name")) for i in raw or () if isinstance(i, dict)]


def _in_schema_order(inputs: dict[str, Any], schema: NodeSchema | None) -> dict[str, Any]:
    if schema is None:
        return inputs
    ordered = {k: inputs[k] for k in schema.inputs if k in inputs}
    ordered.update({k: v for k, v in inputs.items() if k not in ordered})
    return ordered
