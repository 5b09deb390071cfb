"""Check an API-format graph against a server's node catalog, reporting every problem.

The rules follow ComfyUI's own ``validate_inputs`` (required inputs, link types, value
conversion, min/max, combo choices) and go further: the server stops at the first
unknown class and skips nodes no output depends on, while :func:`validate_graph` reads
every node, checks V3 combos too, catches loops and literals on link-only inputs, and
turns each finding into a :class:`Problem` with a concrete ``fix``.

Problem codes (DESIGN.md "Validation result"): ``unknown_node``, ``missing_custom_node``,
``missing_input``, ``bad_value`` (type, range, choice), ``missing_model``, ``bad_link``,
``type_mismatch``, ``no_output``.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Any

from ..templates.placeholders import Kind, PlaceholderError, parse_placeholder
from .schema import (
    ANY_TYPE,
    COMBO,
    LINK_ONLY_TYPES,
    Catalog,
    InputSpec,
    NodeSchema,
    literal_error,
    types_match,
)

MODEL_INPUTS = frozenset(
    {
        "ckpt_name", "unet_name", "vae_name", "lora_name", "model_name", "control_net_name",
        "style_model_name", "gligen_name", "hypernetwork_name", "photomaker_model_name",
        "clip_name", "clip_name1", "clip_name2", "clip_name3", "clip_name4",
    }
)  # fmt: skip
MODEL_SUFFIXES = (".safetensors", ".ckpt", ".pt", ".pth", ".bin", ".gguf", ".sft", ".onnx")
_FOLDER_BY_INPUT = {
    "ckpt_name": "checkpoints",
    "unet_name": "diffusion_models",
    "vae_name": "vae",
    "lora_name": "loras",
    "control_net_name": "controlnet",
    "style_model_name": "style_models",
    "gligen_name": "gligen",
    "hypernetwork_name": "hypernetworks",
    "photomaker_model_name": "photomaker",
}
# Old folder names the server still accepts as aliases of the new ones.
_LEGACY_FOLDERS = {"clip": "text_encoders", "unet": "diffusion_models"}
_TEXT_KINDS = frozenset({Kind.STR, Kind.PROMPT, Kind.COMBO, Kind.IMAGE, Kind.VIDEO, Kind.MASK})
_KINDS_FOR_TYPE: dict[str, frozenset[Kind]] = {
    "INT": frozenset({Kind.INT}),
    "FLOAT": frozenset({Kind.FLOAT, Kind.INT}),
    "BOOLEAN": frozenset({Kind.BOOL}),
    "STRING": _TEXT_KINDS,
}
_PREFIX_FOR_TYPE = {"INT": "INT", "FLOAT": "FLOAT", "BOOLEAN": "BOOL", "STRING": "STR"}
_PREFERRED_OUTPUTS = ("SaveImage", "PreviewImage", "SaveVideo", "SaveAnimatedWEBP")
SHORT_CHOICES = 10  # a combo with at most this many choices lists them all in the fix

Finding = tuple[str, str, str]  # (code, message, fix)


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a graph: where (node, class, input), what (code), what to do."""

    node: str | None
    class_type: str | None
    input: str | None
    code: str
    message: str
    fix: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """The JSON form of DESIGN.md: node, class_type, input, code, message, fix."""
        return {
            "node": self.node,
            "class_type": self.class_type,
            "input": self.input,
            "code": self.code,
            "message": self.message,
            "fix": self.fix,
        }


def natural_key(text: str) -> tuple[tuple[int, int | str], ...]:
    """Sort key putting "2" before "10" and "5:2" after "5" (subgraph ids)."""
    return tuple((0, int(p)) if p.isdigit() else (1, p) for p in re.split(r"(\d+)", text) if p)


def show(value: Any, limit: int = 60) -> str:
    """A short one-line rendering of a value for a message."""
    text = " ".join(repr(value).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def choices_fix(value: Any, options: Sequence[Any]) -> str:
    """A fix naming the valid choices: all of them when few, else the closest."""
    if not options:
        return "the server lists no value for this input yet"
    if len(options) <= SHORT_CHOICES:
        return "use one of: " + ", ".join(str(o) for o in options)
    near = difflib.get_close_matches(str(value), [str(o) for o in options], n=3, cutoff=0.5)
    if near:
        return "closest valid values: " + ", ".join(near)
    return f"pick one of the {len(options)} values the server lists for this input"


def _base_name(path: str) -> str:
    return path.replace("\\", "/").rsplit("/", 1)[-1]


def _same_path(a: str, b: str) -> bool:
    # Windows servers list "sub\\x.safetensors" where a Linux export says "sub/x...".
    return a.replace("\\", "/") == b.replace("\\", "/")


class ModelIndex:
    """What the server has in its model folders, and what the template declares."""

    def __init__(
        self, models: dict[str, list[str]] | None, declared: Sequence[dict[str, Any]]
    ) -> None:
        self.models = (
            None
            if models is None
            else {_LEGACY_FOLDERS.get(k, k): [str(f) for f in v] for k, v in models.items()}
        )
        self.declared: dict[str, dict[str, Any]] = {}
        for entry in declared:
            if isinstance(entry, dict) and isinstance(entry.get("name"), str):
                self.declared.setdefault(_base_name(entry["name"]), entry)

    def is_model(self, spec: InputSpec, value: Any) -> bool:
        """Whether a value names a model file: by input name, declaration or suffix.

        A STRING input counts only by name or declaration: text such as a
        filename_prefix may end in .safetensors without naming an existing file.
        """
        if not isinstance(value, str):
            return False
        if spec.name in MODEL_INPUTS or _base_name(value) in self.declared:
            return True
        return spec.type == COMBO and value.lower().endswith(MODEL_SUFFIXES)

    def folder_for(self, input_name: str, cls: str, value: str) -> str | None:
        """The models/ folder a value belongs in: declared, else guessed from the input."""
        entry = self.declared.get(_base_name(value))
        folder = entry.get("folder") if entry is not None else None
        if isinstance(folder, str):
            return _LEGACY_FOLDERS.get(folder, folder)
        if input_name.startswith("clip_name"):
            return "clip_vision" if "vision" in cls.lower() else "text_encoders"
        if input_name == "model_name" and "upscale" in cls.lower():
            return "upscale_models"
        return _FOLDER_BY_INPUT.get(input_name)

    def files_in(self, folder: str | None) -> list[str] | None:
        """The folder's files, every model file when the folder is unknown, None unknown."""
        if self.models is None:
            return None
        if folder is not None and folder in self.models:
            return self.models[folder]
        return [f for files in self.models.values() for f in files]

    def fix_for(self, value: str, folder: str | None, options: Sequence[Any]) -> str:
        """The next step for a missing model: spelling, URL, folder, or an installed one."""
        for option in options:
            if isinstance(option, str) and _same_path(option, value):
                return f"use the server's spelling {option!r} (path separators differ)."
        name, entry = _base_name(value), self.declared.get(_base_name(value)) or {}
        where = f"models/{folder}/" if folder else "the matching folder under models/"
        elsewhere = [
            other
            for other, files in (self.models or {}).items()
            if other != folder and any(_base_name(f) == name for f in files)
        ]
        if entry.get("url"):
            step = f"download {entry['url']} into {where} on the server"
        elif elsewhere and folder:
            step = f"move {name} from models/{elsewhere[0]}/ to {where} on the server"
        else:
            step = f"put {name} into {where} on the server"
        return step + ("; or " + choices_fix(value, options) if options else "") + "."


def placeholder_error(spec: InputSpec, value: str, kind: Kind, name: str) -> Finding | None:
    """A placeholder whose kind cannot feed the input (its value is not checked)."""
    if spec.type in LINK_ONLY_TYPES:
        return (
            "bad_value",
            f"takes a link from a {spec.type} output, not the placeholder {value}.",
            f"connect {spec.name} to a node that outputs {spec.type}; media "
            "placeholders go on loader inputs such as LoadImage's image.",
        )
    allowed = _KINDS_FOR_TYPE.get(spec.type)
    if spec.type == COMBO:
        numeric = any(isinstance(o, int | float) for o in spec.options or ())
        allowed = _TEXT_KINDS | ({Kind.INT, Kind.FLOAT} if numeric else frozenset())
    if allowed is None or kind in allowed:
        return None
    prefix = _PREFIX_FOR_TYPE.get(spec.type, "COMBO")
    return (
        "bad_value",
        f"takes {spec.type}, but {value} gives a {kind.value} value.",
        f"use PARAM_{prefix}_{name.upper()} instead.",
    )


def _plain_input_file(value: str) -> bool:
    """True for a bare file name of the input folder (what LoadImage's list shows)."""
    name = value.removesuffix(" [input]")
    return "/" not in name and "\\" not in name and not name.endswith("]")


def _missing_input_fix(spec: InputSpec) -> str:
    if not spec.widget and not spec.force_input:
        return f"connect an output of type {spec.type} to {spec.name}."
    if spec.default is not None:
        return f"set {spec.name} (the server's default is {show(spec.default)})."
    if spec.options:
        return f"set {spec.name}; " + choices_fix(None, spec.options) + "."
    return f"set {spec.name} to a {spec.type} value, or link it."


class _Checker:
    """One validation pass over a graph; collects problems with their sort keys."""

    def __init__(
        self,
        graph: dict[str, Any],
        catalog: Catalog,
        index: ModelIndex,
        packs: dict[str, Any],
        input_files: Collection[str] = (),
    ) -> None:
        self.graph = graph
        self.input_files = frozenset(input_files)
        self.catalog = catalog
        self.index = index
        self.packs = packs
        self.found: list[tuple[tuple[Any, ...], Problem]] = []
        self.edges: dict[str, list[tuple[str, str]]] = {}  # node -> [(input, source node)]
        self.unknown_classes = False
        self.givers: dict[str, list[str]] = {}  # wanted type -> up to 3 fitting outputs

    def add(self, node: str | None, input_name: str | None, finding: Finding) -> None:
        """Record a problem; the key orders by node id, then input position."""
        schema = self.schema_of(node) if node is not None else None
        entry = self.graph.get(node) if node is not None else None
        cls = entry.get("class_type") if isinstance(entry, dict) else None
        names = list(schema.inputs) if schema is not None else []
        position = names.index(input_name) if input_name in names else -1
        key = (1, (), 0) if node is None else (0, natural_key(node), position)
        code, message, fix = finding
        fix = fix[:1].upper() + fix[1:]  # every fix starts with a plain English verb
        problem = Problem(
            node, cls if isinstance(cls, str) else None, input_name, code, message, fix
        )
        self.found.append((key, problem))

    def label(self, node_id: str) -> str:
        """``node 3 "Title" (Class)``: how messages name a node."""
        node = self.graph.get(node_id)
        cls = node.get("class_type") if isinstance(node, dict) else None
        meta = node.get("_meta") if isinstance(node, dict) else None
        title = meta.get("title") if isinstance(meta, dict) else None
        text = f"node {node_id}"
        if isinstance(title, str) and title.strip() and title != cls:
            text += f' "{" ".join(title.split())}"'
        return text + (f" ({cls})" if isinstance(cls, str) else "")

    def schema_of(self, node_id: str) -> NodeSchema | None:
        """The schema of a node of the graph; None when absent, malformed or unknown."""
        node = self.graph.get(node_id)
        cls = node.get("class_type") if isinstance(node, dict) else None
        return self.catalog.get(cls) if isinstance(cls, str) else None

    def check_node(self, node_id: str) -> None:
        """Structure, class and every declared input of one node."""
        node, where = self.graph[node_id], self.label(node_id)
        again = "export the workflow again in API format (Workflow > Export (API))."
        if not isinstance(node, dict):
            message = f"{where} is not an object with class_type and inputs."
            self.add(node_id, None, ("bad_value", message, again))
            return
        cls = node.get("class_type")
        if not isinstance(cls, str) or not cls:
            self.unknown_classes = True  # it may have been meant as the output node
            self.add(node_id, None, ("unknown_node", f"{where} has no class_type.", again))
            return
        schema = self.catalog.get(cls)
        if schema is None:
            self.unknown_classes = True
            self.add(node_id, None, self.unknown_class(cls, where))
            return
        inputs = node.get("inputs")
        if not isinstance(inputs, dict):
            self.add(node_id, None, ("bad_value", f"{where} has no inputs object.", again))
            return
        for spec in schema.inputs.values():
            if spec.name in inputs:
                for code, message, fix in self.check_input(node_id, spec, inputs[spec.name]):
                    self.add(
                        node_id, spec.name, (code, f"{where} input {spec.name} {message}", fix)
                    )
            elif spec.required:
                message = f"{where} lacks its required input {spec.name} ({spec.type})."
                self.add(node_id, spec.name, ("missing_input", message, _missing_input_fix(spec)))

    def unknown_class(self, cls: str, where: str) -> Finding:
        """missing_custom_node when a declared pack provides the class, else unknown_node."""
        pack = self.packs.get(cls)
        if pack is not None:
            name = pack.get("name") or pack.get("id") or "a custom node pack"
            repo = f" from {pack['repo']}" if pack.get("repo") else ""
            command = pack.get("install")
            install = f"install it with: {command}" if command else f"install {name}{repo}"
            message = f"{where}: class {cls} comes from {name}, which the server does not have."
            return "missing_custom_node", message, f"{install}, then restart ComfyUI."
        near = self.catalog.suggest(cls)
        hint = f"; closest: {', '.join(near)}" if near else ""
        start = f"change class_type to {near[0]}, or install" if near else "install"
        return (
            "unknown_node",
            f"{where}: the server has no node class {cls}{hint}.",
            f"{start} the custom node pack that provides {cls} "
            "(ComfyUI-Manager finds packs by class name), then restart ComfyUI.",
        )

    def check_input(self, node_id: str, spec: InputSpec, value: Any) -> list[Finding]:
        """A link, a wrapped list, a placeholder or a literal value (messages follow
        ``node N input NAME``)."""
        if isinstance(value, list):
            return self.check_link(node_id, spec, value)
        if isinstance(value, dict) and "__value__" in value:
            value = value["__value__"]
        elif isinstance(value, dict) and (spec.type in _KINDS_FOR_TYPE or spec.type == COMBO):
            return [
                ("bad_value", f"is a JSON object, not a {spec.type} value.", "set a plain value.")
            ]
        if isinstance(value, str):
            try:
                parsed = parse_placeholder(value)
            except PlaceholderError as exc:
                return [("bad_value", f": {exc}.", "write PARAM_KIND_NAME alone in the value.")]
            if parsed is not None:
                error = placeholder_error(spec, value, *parsed)
                return [error] if error else []
        wrong = literal_error(spec, value)
        if wrong is not None:
            return [("bad_value", f"= {wrong[0]}", wrong[1])]
        if spec.type in (COMBO, "STRING"):
            cls = self.graph[node_id]["class_type"]
            items = value if isinstance(value, list) and spec.multiselect else [value]
            return [f for item in items if (f := self.check_choice(cls, spec, item))]
        return []

    def check_link(self, node_id: str, spec: InputSpec, value: list[Any]) -> list[Finding]:
        """Shape, target node, output index and type of a ``[node_id, index]`` link."""
        if len(value) != 2 or not isinstance(value[0], str) or type(value[1]) is not int:
            fix = 'write links as ["<node id>", <output index>]'
            fix += ' and list values as {"__value__": [...]}.' if spec.widget else "."
            return [("bad_link", f"= {show(value)} is neither a link nor a wrapped value.", fix)]
        source_id, index = value
        if source_id not in self.graph:
            message = f"links to node {source_id}, which is not in the graph."
            return [("bad_link", message, f"link {spec.name} to an output of a node that exists.")]
        self.edges.setdefault(node_id, []).append((spec.name, source_id))
        source = self.schema_of(source_id)
        if source is None:
            return []  # the source node is reported on its own; its outputs are unknown
        if not 0 <= index < len(source.outputs):
            have = ", ".join(f"{i}={t}" for i, t in enumerate(source.outputs)) or "none"
            message = (
                f"links to output {index} of {self.label(source_id)}, whose outputs are {have}."
            )
            return [("bad_link", message, f"use an output of node {source_id} giving {spec.type}.")]
        received = source.outputs[index]
        if types_match(received, spec.type):
            return []
        message = (
            f"needs {spec.type}, but output {index} of {self.label(source_id)} gives {received}."
        )
        return [("type_mismatch", message, self.mismatch_fix(spec))]

    def mismatch_fix(self, spec: InputSpec) -> str:
        """Name outputs of the graph that give the wanted type, when there are any."""
        if spec.type not in self.givers:
            # Once per wanted type: a graph with many mismatches stays linear.
            found: list[str] = []
            for other_id in sorted(self.graph, key=natural_key):
                schema = self.schema_of(other_id)
                found += [
                    f'["{other_id}", {i}]'
                    for i, out in enumerate(schema.outputs if schema is not None else ())
                    if out != ANY_TYPE and types_match(out, spec.type)
                ]
                if len(found) >= 3:
                    break
            self.givers[spec.type] = found[:3]
        givers = self.givers[spec.type]
        if givers:
            return f"link {spec.name} to an output of type {spec.type}, e.g. {', '.join(givers)}."
        return f"link {spec.name} to a node that outputs {spec.type} (add one if needed)."

    def check_choice(self, cls: str, spec: InputSpec, item: Any) -> Finding | None:
        """Combo choices, uploaded input files and model files (also on STRING loaders)."""
        model = self.index.is_model(spec, item)
        options = spec.options if spec.type == COMBO else None
        if options is None:
            # No list from the server (STRING loader, V3 combo filled by the frontend):
            # fall back on the /models listing.
            if not model:
                return None
            files = self.index.files_in(self.index.folder_for(spec.name, cls, item))
            if files is None or any(_same_path(f, item) for f in files):
                return None
            return self.missing_model(cls, spec, item, ())
        if item in options:
            return None
        if spec.upload and isinstance(item, str) and not _plain_input_file(item):
            return None  # subfolders and annotated paths are not listed; the server checks
        if spec.upload and item in self.input_files:
            return None  # just uploaded: newer than the node list that was read
        if model:
            return self.missing_model(cls, spec, item, options)
        if spec.upload:
            return (
                "bad_value",
                f"= {show(item)} is not in the server's input folder.",
                "upload the file first (a PARAM_IMAGE or PARAM_VIDEO placeholder "
                "uploads a local file), or " + choices_fix(item, options) + ".",
            )
        message = f"= {show(item)} is not one of its {len(options)} choices."
        return "bad_value", message, choices_fix(item, options) + "."

    def missing_model(
        self, cls: str, spec: InputSpec, value: str, options: Sequence[Any]
    ) -> Finding:
        """missing_model with the best next step: spelling, download URL or folder."""
        folder = self.index.folder_for(spec.name, cls, value)
        where = f" (models/{folder}/)" if folder else ""
        message = f"names model file {show(value)}, which is not on the server{where}."
        return "missing_model", message, self.index.fix_for(value, folder, options)

    def check_loops(self) -> None:
        """Report each link that closes a loop: the server cannot order such a graph."""
        state: dict[str, int] = {}  # 1 = on the current path, 2 = done
        for start in sorted(self.edges, key=natural_key):
            if start in state:
                continue
            path, stack = [start], [iter(self.edges.get(start, ()))]
            state[start] = 1
            while stack:
                step = next(stack[-1], None)
                if step is None:
                    state[path.pop()] = 2
                    stack.pop()
                elif state.get(step[1]) == 1:
                    loop = " <- ".join([*path[path.index(step[1]) :], step[1]])
                    message = f"{self.label(path[-1])} input {step[0]} closes a loop: {loop}."
                    fix = "remove one link of the loop; a graph must not feed itself."
                    self.add(path[-1], step[0], ("bad_link", message, fix))
                elif step[1] not in state:
                    state[step[1]] = 1
                    path.append(step[1])
                    stack.append(iter(self.edges.get(step[1], ())))

    def check_outputs(self) -> None:
        """no_output when no known node is an output (an unknown class might be one)."""
        if self.unknown_classes:
            return
        if any((s := self.schema_of(n)) is not None and s.output_node for n in self.graph):
            return
        offered = [c for c in _PREFERRED_OUTPUTS if c in self.catalog] or [
            name for name, s in self.catalog.classes.items() if s.output_node
        ][:3]
        message = "The workflow has no output node, so the server would run nothing."
        fix = "add an output node such as " + (" or ".join(offered) or "SaveImage") + "."
        self.add(
            None, None, ("no_output", message if self.graph else "The workflow is empty.", fix)
        )

    def problems(self) -> list[Problem]:
        """Every problem found, ordered by node id, then input position, then finding."""
        ordered = sorted(enumerate(self.found), key=lambda item: (item[1][0], item[0]))
        return [problem for _, (_, problem) in ordered]


def validate_graph(
    graph: dict[str, Any],
    catalog: Catalog,
    *,
    models: dict[str, list[str]] | None = None,
    declared_models: Sequence[dict[str, Any]] = (),
    custom_nodes: Sequence[dict[str, Any]] = (),
    input_files: Collection[str] = (),
) -> list[Problem]:
    """Every problem of an API-format graph, in one pass, in a stable order.

    ``models`` is ``{folder: [file names]}`` from the server's ``/models`` (None when
    unknown: then only the combo lists of the catalog are used). ``declared_models`` and
    ``custom_nodes`` are the template sidecar's lists; they turn a missing class into
    ``missing_custom_node`` with the pack's install command and a missing model into
    ``missing_model`` with its download URL. ``input_files`` are files known to be in
    the server's input folder (just uploaded) even if the catalog's lists predate them.
    Placeholder values (``PARAM_*``) are only checked for kind. An empty list means the
    graph is valid for this catalog.
    """
    if not isinstance(graph, dict):
        message = f"The workflow is a JSON {type(graph).__name__}, not an object of nodes."
        fix = "export the workflow in API format (Workflow > Export (API))."
        return [Problem(None, None, None, "bad_value", message, fix.capitalize())]
    packs: dict[str, Any] = {}
    for pack in custom_nodes:
        classes = pack.get("classes") if isinstance(pack, dict) else None
        for cls in classes if isinstance(classes, list) else ():
            packs.setdefault(str(cls), pack)
    graph = {str(k): v for k, v in graph.items()}
    checker = _Checker(graph, catalog, ModelIndex(models, declared_models), packs, input_files)
    for node_id in graph:
        checker.check_node(node_id)
    checker.check_loops()
    checker.check_outputs()
    return checker.problems()
