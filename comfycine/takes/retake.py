"""Retakes: render a take again — its exact recipe, or a variation of it — and record
the take it came from (its parent).

A take is named by a file (its recipe read from the file alone, on any Mac) or by a job
of the ledger. It is rendered again one of two ways:

- **From its template** (a take of ``generate``, ``batch``, ``watch``): the template is
  bound again with the recipe's values and seeds, ``--set``/``--prompt``/``--seed`` on
  top. The template is checked first: bound with the recipe's own values it must give
  the graph that ran. If not, what differs is said and nothing runs; ``--force``
  renders with the template as it is now.
- **From its graph** (a ``workflow run``, a file plain ComfyUI made, or a template gone,
  with ``--force``): the graph that ran is sent again, ``--set NODE.INPUT=VALUE`` and
  ``--seed`` written into it.

Media inputs, unless given again: a file still on this Mac is uploaded; ``job:ID:N`` is
read where it lies (takes.chain); otherwise, on the server that made the take, the file
it used is read from that server's input folder, nothing uploaded. Another server and
no copy here: exit 2 ``retake_input_missing``, naming the input.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import ComfycineError, ParameterError, TemplateNotFound, UsageError
from ..generation import PreparedJob, prepare_chained_job
from ..graph.tiling import tile_vae_decodes
from ..ledger import Ledger
from ..settings import Settings
from ..templates import Template, load_template, render_graph, template_dirs
from ..templates.binding import normalize_name
from ..templates.choices import draw_choices
from ..urls import origin
from .graphdiff import graph_differences
from .graphtake import RANDOM, graph_job
from .lineage import TakeSource
from .recipe import Recipe

_SHOWN_CHANGES = 4  # differences named in the one-line error; all are in details


@dataclass
class Retake:
    """A retake ready to run: the job, how it was made, and what to tell the user."""

    job: PreparedJob
    source: TakeSource
    mode: str  # "template" or "graph"
    changes: list[str] = field(default_factory=list)  # template changes rendered with --force
    notes: list[str] = field(default_factory=list)

    def describe(self) -> dict[str, Any]:
        """``data.retake`` of the envelope."""
        return {
            "of": self.source.recipe.job or None,
            "from": self.source.ref,
            "mode": self.mode,
            "template_changes": self.changes,
            "notes": self.notes,
        }


def plan_retake(
    settings: Settings,
    source: TakeSource,
    server_url: str,
    *,
    assignments: Sequence[str] = (),
    prompt: str | None = None,
    seed: str | None = None,
    force: bool = False,
    validate: bool = True,
) -> Retake:
    """The job that renders ``source`` again on ``server_url``'s server.

    Raises UsageError ``template_changed`` (what differs in ``details.differences``)
    when the template no longer gives the graph that ran, unless ``force``;
    ``retake_input_missing`` for a media input neither on this Mac nor on that server;
    ParameterError for values the template refuses.
    """
    recipe = source.recipe
    notes: list[str] = []
    template = _template_of(settings, source, force, notes)
    if template is None:
        job = graph_job(source, assignments, prompt, seed, validate, notes)
        mode, changes = "graph", []
    else:
        changes = template_changes(template, recipe)
        if changes and not force:
            raise _changed(template, source, changes)
        if changes:
            notes.append(
                f"Template {template.name} changed since take {source.short}: rendering"
                " with the template as it is now (--force)."
            )
        job = _template_job(
            settings, template, source, server_url, assignments, prompt, seed, validate, notes
        )
        mode = "template"
    if recipe.job:
        job.extra["parent"] = recipe.job
    return Retake(job, source, mode, changes, notes)


def _template_of(
    settings: Settings, source: TakeSource, force: bool, notes: list[str]
) -> Template | None:
    """The template to bind again, or None to resend the graph as it ran."""
    recipe = source.recipe
    if recipe.template is None or recipe.workflow is not None:
        return None
    if not recipe.params and not recipe.seeds:
        return None  # a workflow run recorded before comfycine marked them
    try:
        return load_template(recipe.template, template_dirs(settings.workflow_dir))
    except TemplateNotFound:
        if not force:
            raise UsageError(
                f"Template {recipe.template} of take {source.short} is no longer in your"
                " workflow folder.",
                code="template_changed",
                hint=f"Render the graph as it ran: comfycine retake {source.ref} --force"
                " (or bring the template back: comfycine workflow list)",
                details={"template": recipe.template, "job": recipe.job, "differences": []},
            ) from None
        notes.append(f"Template {recipe.template} is gone: rendering the graph as it ran.")
        return None


def template_changes(template: Template, recipe: Recipe) -> list[str]:
    """How ``template`` differs from the one that rendered ``recipe``; [] when it would
    render the same graph from the recipe's values (its decode tiled or not)."""
    params = template.parameters
    found = [f"parameter {name} is gone" for name in recipe.params if name not in params]
    found += [
        f"parameter {name} is new"
        for name, param in params.items()
        if name not in recipe.params and not (param.is_seed and name in recipe.seeds)
    ]
    if found:
        return found
    old = recipe.graph
    uploaded = {
        name: value
        for name, param in params.items()
        if param.kind.is_media and isinstance(value := _graph_input(old, param), str)
    }
    values = {name: value for name, value in recipe.params.items() if name not in uploaded}
    values.update({name: seed for name, seed in recipe.seeds.items() if name in params})
    values, _ = draw_choices(template, values, recipe.seeds)  # as the take drew them
    try:
        graph = render_graph(template, values, uploaded)
    except ParameterError as exc:
        return [str(p) for p in exc.details.get("problems") or [exc.message]]
    if not graph_differences(old, graph) or not graph_differences(old, tile_vae_decodes(graph)[0]):
        return []
    return graph_differences(old, graph)


def _graph_input(graph: Mapping[str, Any], param: Any) -> Any:
    """The value the graph holds where ``param`` writes first (None if there is none)."""
    target = param.targets[0] if param.targets else None
    node = graph.get(target.node_id) if target is not None else None
    inputs = node.get("inputs") if isinstance(node, Mapping) else None
    return inputs.get(target.input) if isinstance(inputs, Mapping) and target else None


def _changed(template: Template, source: TakeSource, changes: list[str]) -> UsageError:
    shown = "; ".join(changes[:_SHOWN_CHANGES])
    more = f" (+{len(changes) - _SHOWN_CHANGES} more)" if len(changes) > _SHOWN_CHANGES else ""
    return UsageError(
        f"Template {template.name} changed since take {source.short} was rendered: {shown}{more}.",
        code="template_changed",
        hint=f"Render it with the template as it is now: comfycine retake {source.ref} --force",
        details={"template": template.name, "job": source.recipe.job, "differences": changes},
    )


def _text(value: Any) -> str:
    """A recorded value as the command-line text that binds back to it."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, int | float):
        return repr(value)
    return json.dumps(value)


def _template_job(
    settings: Settings,
    template: Template,
    source: TakeSource,
    server_url: str,
    assignments: Sequence[str],
    prompt: str | None,
    seed: str | None,
    validate: bool,
    notes: list[str],
) -> PreparedJob:
    recipe = source.recipe
    given = {normalize_name(a.partition("=")[0]) for a in assignments if "=" in a}
    if prompt is not None:
        given.add("prompt")
    seeds = _seed_values(template, seed)
    given |= set(seeds)
    old = {**recipe.params, **{k: v for k, v in recipe.seeds.items() if k in recipe.params}}
    overrides = {name: text for name, text in seeds.items() if text != RANDOM}
    server_inputs: dict[str, tuple[Any, str]] = {}
    dropped = [name for name in old if name not in template.parameters]
    if dropped:
        notes.append(f"Not in the template any more, dropped: {', '.join(sorted(dropped))}.")
    for name, param in template.parameters.items():
        if name in given or name not in old:
            continue
        if not param.kind.is_media:
            overrides[name] = _text(old[name])
            continue
        where = _media_source(settings, source, param, old[name], server_url)
        if isinstance(where, str):
            overrides[name] = where
        else:
            server_inputs[name] = where
    tiled = _was_tiled(template, recipe)
    return prepare_chained_job(
        settings,
        template,
        server_url,
        prompt=prompt,
        assignments=assignments,
        overrides=overrides,
        validate=validate,
        tiled_vae=tiled,
        server_inputs=server_inputs,
        # The take's {a|b} draws again, unless new seeds were asked for.
        choices=None if seed is not None and seed.strip().lower() == RANDOM else recipe.seeds,
    )


def _was_tiled(template: Template, recipe: Recipe) -> bool:
    """Whether the take was decoded in tiles (``--tiled-vae``): kept for its retake."""
    tiled = tile_vae_decodes(template.graph)[0]
    classes = {str(n.get("class_type")) for n in recipe.graph.values() if isinstance(n, Mapping)}
    return tiled != template.graph and "VAEDecodeTiled" in classes


def _seed_values(template: Template, seed: str | None) -> dict[str, str]:
    """``--seed N`` (or ``random``) as the seed parameters it sets."""
    if seed is None:
        return {}
    seeds = [name for name, param in template.parameters.items() if param.is_seed]
    if seed.strip().lower() == RANDOM:
        return dict.fromkeys(seeds, RANDOM)
    if not seeds:
        raise ParameterError(
            f"{template.name} has no seed parameter.",
            hint=f"See its parameters with: comfycine workflow show {template.name}",
        )
    if "seed" in seeds:
        return {"seed": seed}
    if len(seeds) > 1:
        raise ParameterError(
            f"{template.name} has several seeds ({', '.join(seeds)}): --seed cannot choose.",
            hint=f"Set one with --set {seeds[0]}=N",
        )
    return {seeds[0]: seed}


def _media_source(
    settings: Settings, source: TakeSource, param: Any, recorded: Any, server_url: str
) -> str | tuple[Any, str]:
    """Where a media input comes from: a value to bind (a file here, ``job:ID:N``), or
    (the value to record, the file's name on the server that made the take)."""
    text = recorded if isinstance(recorded, str) else ""
    if text.startswith("job:") and _reference_usable(settings, param.name, text):
        return text
    if text and not text.startswith("job:"):
        path = Path(text).expanduser()
        if path.is_file() and path.stat().st_size > 0:
            return str(path)
    on_server = _graph_input(source.recipe.graph, param)
    same = origin(server_url) is not None and origin(server_url) == origin(source.recipe.server)
    if isinstance(on_server, str) and same:
        return (recorded, on_server)
    raise UsageError(
        f"The {param.name} of take {source.short} ({text or on_server}) is neither on this"
        f" Mac nor on the server that will render it.",
        code="retake_input_missing",
        hint=f"Give it again with --set {param.name}=FILE, or retake it where it ran:"
        f" --target {source.recipe.target or 'NAME'}",
        details={"parameter": param.name, "recorded": recorded, "server_name": on_server},
    )


def _reference_usable(settings: Settings, param: str, text: str) -> bool:
    """Whether ``job:ID:N`` still names an output on this Mac (its job succeeded)."""
    from .chain import parse_reference

    if not settings.ledger_path.is_file():
        return False
    try:
        with Ledger.open(settings.ledger_path, secrets=settings.secret_values) as ledger:
            parse_reference(param, text, ledger)
    except ComfycineError:
        return False
    return True
