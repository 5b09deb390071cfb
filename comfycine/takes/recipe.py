"""The recipe inside every file: what made an output, readable from the file alone.

Where it goes:

- **PNG**: a ``prompt`` text chunk holding ``json.dumps(graph)``, byte for byte what
  ComfyUI's SaveImage writes (ASCII, so always ``tEXt``): dropping the file into
  ComfyUI loads the graph. Beside it a ``comfycine`` chunk with the rest of the recipe
  *without* the graph (already in ``prompt``; one copy cannot disagree with another),
  ``tEXt`` or ``iTXt`` when Latin-1 cannot hold it. A ``workflow`` chunk is kept.
- **MP4/MOV/M4V, WebM/MKV**: the same two keys, ``prompt`` and ``comfycine``, in the
  container metadata, as ComfyUI's SaveVideo writes ``prompt`` (see videotags.py).
- **Everything else** (GIF, WebP, JPEG…): only the sidecar.
- **The sidecar** ``<file name>.json`` (``shot-001.mp4.json``): the whole recipe,
  graph included. Keeping the full file name means ``shot-001.png`` and
  ``shot-001.mp4`` never share one, and no output named ``shot-001.json`` is
  overwritten. Writing it can be turned off by a setting (the caller's concern).

Files are rewritten atomically (a temp file in the same folder, fsync, ``os.replace``)
and never re-encoded: PNG chunks are copied byte for byte, videos remuxed.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from comfycine import __version__
from comfycine.errors import MediaNotFound, OutputNotWritable, UsageError
from comfycine.takes import pngtext, videotags
from comfycine.urls import bare_url

SCHEMA = "comfycine-recipe/1"
PROMPT_KEY = "prompt"  # ComfyUI's own key, in PNG chunks and video tags alike
RECIPE_KEY = "comfycine"
MODEL_INPUTS = frozenset(
    {
        "ckpt_name",
        "unet_name",
        "vae_name",
        "lora_name",
        "clip_name",
        "clip_name1",
        "clip_name2",
        "clip_name3",
        "control_net_name",
        "model_name",
        "upscale_model",
    }
)
MODEL_SUFFIXES = (".safetensors", ".ckpt", ".pt", ".pth", ".gguf", ".bin")
_NO_RECIPE_HINT = (
    "It was not made by comfycine, or an editor re-exported it and dropped the metadata."
    " Look for its job with: comfycine status"
)
_CORRUPT_HINT = "Render it again from its job: comfycine status"


@dataclass(frozen=True)
class Recipe:
    """What made one output: the graph that ran and how comfycine filled it.

    ``server`` is stored without user and password. ``seeds`` maps a parameter name to
    the seed used; ``inputs`` a media parameter to where it came from (a file name or
    ``job:ID:N``); ``parent`` is the job id of the take this one was retaken from;
    ``workflow`` names the workflow file of a job run from a graph, not a template
    (``template`` is None then). A recipe read from a plain ComfyUI file has only
    ``graph`` and ``models``: template None, empty strings for target, server, job and
    comfycine, created 0.0.
    """

    graph: dict[str, Any]
    template: str | None
    params: dict[str, Any]
    seeds: dict[str, int]
    target: str
    server: str
    job: str
    sweep: str | None = None
    parent: str | None = None
    inputs: dict[str, str] = field(default_factory=dict)
    models: list[str] = field(default_factory=list)
    workflow: str | None = None
    comfycine: str = __version__
    created: float = field(default_factory=time.time)

    def __post_init__(self) -> None:
        # A password in a URL must never end up inside a file that gets shared.
        object.__setattr__(self, "server", bare_url(self.server))

    @property
    def by_comfycine(self) -> bool:
        """False for a recipe read from a file plain ComfyUI made (graph only)."""
        return bool(self.comfycine)

    def to_dict(self, *, with_graph: bool = True) -> dict[str, Any]:
        """The recipe as JSON-ready data, ``"schema"`` first; without the graph on request."""
        data: dict[str, Any] = {"schema": SCHEMA, **asdict(self)}
        if not with_graph:
            del data["graph"]
        return data

    @classmethod
    def from_graph(cls, graph: dict[str, Any]) -> Recipe:
        """The recipe of a file plain ComfyUI made: the graph and its models, nothing else."""
        return cls(
            graph=graph,
            template=None,
            params={},
            seeds={},
            target="",
            server="",
            job="",
            models=models_in(graph),
            comfycine="",
            created=0.0,
        )

    @classmethod
    def from_dict(cls, data: Any) -> Recipe:
        """The recipe in ``data`` (as ``to_dict`` wrote it); unknown keys are ignored.

        Missing fields take their plain-ComfyUI values (``models`` is found in the graph).
        Raises ValueError naming the first problem: not an object, another schema, a
        field of the wrong type.
        """
        if not isinstance(data, Mapping):
            raise ValueError("it is not a JSON object")
        if data.get("schema") != SCHEMA:
            raise ValueError(f"its schema is {data.get('schema')!r}, not {SCHEMA!r}")
        graph = _field(data, "graph", dict, {})
        return cls(
            graph=graph,
            template=_field(data, "template", (str, type(None)), None),
            params=_field(data, "params", dict, {}),
            seeds=_mapping(data, "seeds", int),
            target=_field(data, "target", str, ""),
            server=_field(data, "server", str, ""),
            job=_field(data, "job", str, ""),
            sweep=_field(data, "sweep", (str, type(None)), None),
            parent=_field(data, "parent", (str, type(None)), None),
            inputs=_mapping(data, "inputs", str),
            models=_strings(data, "models", models_in(graph)),
            workflow=_field(data, "workflow", (str, type(None)), None),
            comfycine=_field(data, "comfycine", str, ""),
            created=float(_field(data, "created", (int, float), 0.0)),
        )


def models_in(graph: Mapping[str, Any]) -> list[str]:
    """The model file names ``graph`` uses, sorted and unique.

    An input counts when its name is a loader's (``ckpt_name``, ``lora_name``…, see
    MODEL_INPUTS) or its string value ends like a model file (MODEL_SUFFIXES).
    """
    found: set[str] = set()
    for node in graph.values():
        inputs = node.get("inputs") if isinstance(node, Mapping) else None
        if not isinstance(inputs, Mapping):
            continue
        for name, value in inputs.items():
            if (
                isinstance(value, str)
                and value
                and (name in MODEL_INPUTS or value.lower().endswith(MODEL_SUFFIXES))
            ):
                found.add(value)
    return sorted(found)


def sidecar_path(path: Path) -> Path:
    """Where the sidecar of ``path`` goes: ``shot-001.mp4`` → ``shot-001.mp4.json``."""
    return path.with_name(path.name + ".json")


def embed(path: Path, recipe: Recipe) -> bool:
    """Write ``recipe`` into the file at ``path``; False for a format that cannot hold it.

    PNG and MP4/MOV/M4V/WebM/MKV are rewritten atomically, never re-encoded (see the
    module docstring); other formats are left alone (the sidecar carries the recipe).
    Raises UsageError ``media_corrupt`` for a damaged file (left unchanged),
    MediaNotFound for a missing one, OutputNotWritable when its folder cannot be written.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix != ".png" and suffix not in videotags.SUFFIXES:
        return False
    if not path.is_file():
        raise MediaNotFound(f"No file {path} to write the recipe into.")
    prompt = json.dumps(recipe.graph)  # exactly SaveImage's text: ComfyUI loads it
    tags = {
        PROMPT_KEY: prompt,
        RECIPE_KEY: json.dumps(recipe.to_dict(with_graph=False), ensure_ascii=False),
    }
    try:
        if suffix == ".png":
            parts = pngtext.with_text(path.read_bytes(), tags)
            _replace_atomically(path, lambda temp: _write_parts(temp, parts))
        else:
            _replace_atomically(path, lambda temp: videotags.remux_with_tags(path, temp, tags))
    except (pngtext.PngError, videotags.ContainerError) as exc:
        raise UsageError(
            f"{path}: {exc}; the file is left unchanged.",
            code="media_corrupt",
            hint="Check that the file opens in a viewer; if not, render it again.",
            details={"file": str(path)},
        ) from exc
    except OSError as exc:
        raise _not_writable(exc, path) from exc
    return True


def write_sidecar(path: Path, recipe: Recipe) -> Path:
    """Write the whole recipe (graph included) beside ``path``, atomically; return its path.

    Raises OutputNotWritable when the folder cannot be written.
    """
    sidecar = sidecar_path(Path(path))
    text = json.dumps(recipe.to_dict(), indent=2, ensure_ascii=False) + "\n"
    try:
        _replace_atomically(sidecar, lambda temp: temp.write_text(text, encoding="utf-8"))
    except OSError as exc:
        raise _not_writable(exc, sidecar) from exc
    return sidecar


def read_recipe(path: Path) -> Recipe:
    """The recipe of the file at ``path``: from the file itself, else from its sidecar.

    The first sound source wins: the PNG chunks or video tags, then ``<file>.json``.
    ``path`` may also be a sidecar itself. A file plain ComfyUI made (a ``prompt``
    chunk or tag, no ``comfycine`` one) gives ``Recipe.from_graph``: the graph and its
    models, other fields unknown (template None, job ""). Raises UsageError
    ``no_recipe`` when no source has one, ``recipe_corrupt`` (naming the file and the
    problem) when the only ones found are damaged; MediaNotFound for a missing file.
    """
    path = Path(path)
    if not path.is_file():
        raise MediaNotFound(f"No file {path}.", details={"file": str(path)})
    problems: list[str] = []
    sources = [path, sidecar_path(path)]
    for number, source in enumerate(sources):
        if number and not source.is_file():
            continue
        try:
            recipe = _read_source(source, sidecar=number > 0)
        except ValueError as exc:
            problems.append(f"{source}: {exc}")
            continue
        if recipe is not None:
            return recipe
    if problems:
        raise UsageError(
            "; ".join(problems),
            code="recipe_corrupt",
            hint=_CORRUPT_HINT,
            details={"file": str(path), "problems": problems},
        )
    raise UsageError(
        f"{path} carries no comfycine recipe.",
        code="no_recipe",
        hint=_NO_RECIPE_HINT,
        details={"file": str(path)},
    )


def _read_source(path: Path, *, sidecar: bool) -> Recipe | None:
    """The recipe held by one file, None if it holds none; ValueError if it is damaged."""
    with path.open("rb") as handle:
        head = handle.read(len(pngtext.SIGNATURE))
    if head == pngtext.SIGNATURE:
        return _assemble(pngtext.read_text(path.read_bytes(), (PROMPT_KEY, RECIPE_KEY)), "chunk")
    if path.suffix.lower() in videotags.SUFFIXES:
        return _assemble(videotags.read_tags(path), "tag")
    if sidecar or path.suffix.lower() == ".json":
        return _from_document(path, sidecar=sidecar)
    return None


def _assemble(texts: Mapping[str, str], kind: str) -> Recipe | None:
    """A recipe from the ``prompt`` and ``comfycine`` texts of a PNG or a video."""
    prompt, ours = texts.get(PROMPT_KEY), texts.get(RECIPE_KEY)
    graph = None if prompt is None else _json(prompt, f"its {PROMPT_KEY} {kind}")
    if ours is None:
        if graph is None:
            return None
        if not isinstance(graph, dict):
            raise ValueError(f"its {PROMPT_KEY} {kind} is not a JSON object")
        return Recipe.from_graph(graph)
    data = _json(ours, f"its {RECIPE_KEY} {kind}")
    if graph is not None and isinstance(data, dict):
        data = {**data, "graph": graph}  # the graph ComfyUI would load is the one
    recipe = _recipe(data, f"its {RECIPE_KEY} {kind}")
    if not recipe.graph:
        raise ValueError(f"it has a {RECIPE_KEY} {kind} but no {PROMPT_KEY} {kind}")
    return recipe


def _from_document(path: Path, *, sidecar: bool) -> Recipe | None:
    """The recipe in a JSON file; a ``.json`` named directly that is not one is None."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        if not sidecar:
            return None
        raise ValueError(f"it is not JSON ({exc})") from exc
    if not sidecar and not (isinstance(data, dict) and "schema" in data):
        return None
    recipe = _recipe(data, "it")
    if not recipe.graph:
        raise ValueError("it has no graph")
    return recipe


def _json(text: str, what: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"{what} is not JSON ({exc})") from exc


def _recipe(data: Any, what: str) -> Recipe:
    try:
        return Recipe.from_dict(data)
    except ValueError as exc:
        raise ValueError(f"{what}: {exc}") from exc


def _field(data: Mapping[str, Any], key: str, kinds: type | tuple[type, ...], default: Any) -> Any:
    value = data.get(key, default)
    if not isinstance(value, kinds) or isinstance(value, bool):  # no field is a boolean
        raise ValueError(f"{key!r} has the wrong type ({type(value).__name__})")
    return value


def _mapping(data: Mapping[str, Any], key: str, kind: type) -> dict[str, Any]:
    value: dict[str, Any] = _field(data, key, dict, {})
    for name, item in value.items():
        if not isinstance(item, kind) or isinstance(item, bool):
            raise ValueError(f"{key!r} has a value of the wrong type at {name!r}")
    return value


def _strings(data: Mapping[str, Any], key: str, default: list[str]) -> list[str]:
    value = _field(data, key, list, default)
    if not all(isinstance(item, str) for item in value):
        raise ValueError(f"{key!r} holds something that is not a string")
    return list(value)


def _write_parts(temp: Path, parts: Iterable[bytes | memoryview]) -> None:
    with temp.open("wb") as handle:
        handle.writelines(parts)


def _replace_atomically(path: Path, write: Callable[[Path], object]) -> None:
    """Have ``write`` fill a temp file beside ``path``, then put it in place in one step.

    The temp file is fsynced before ``os.replace`` (a crash leaves the old file or the
    new one, never half of one) and removed on any failure. The mode of an existing
    ``path`` is kept; mkstemp's would be 0600.
    """
    handle, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(handle)
    temp = Path(name)
    try:
        write(temp)
        with temp.open("rb+") as synced:
            os.fsync(synced.fileno())
        if path.exists():
            shutil.copymode(path, temp)
        else:
            os.chmod(temp, 0o644)  # a new file reads like one open() makes, not 0600
        os.replace(temp, path)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    with contextlib.suppress(OSError):  # not every system can fsync a folder
        folder = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(folder)
        finally:
            os.close(folder)


def _not_writable(exc: OSError, path: Path) -> OutputNotWritable:
    full = exc.errno in (errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC))
    return OutputNotWritable(
        f"Cannot write the recipe of {path}: {exc.strerror or exc}.",
        code="disk_full" if full else None,
        details={"file": str(path)},
    )
